//! What a release bundle may write to a managed cluster.
//!
//! Applying a release is cluster-admin-equivalent on every managed cluster, so a bundle from a
//! registry is held to a narrower rule than the operator's own privilege: it may not write into the
//! namespaces Kubernetes keeps for itself, install admission control (which sees or blocks every
//! write in the cluster), or hand out cluster-admin. The check runs when a release is resolved, so
//! such a release is refused and never offered, long before an upgrade would apply it. An operator
//! started with `--allow-privileged-release-content` lets it through.

use std::fmt;

use acp_policy::ProductRelease;
use serde_json::Value;

/// Namespaces a registry bundle may not write into: Kubernetes' own.
pub const PROTECTED_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// API group of admission webhooks and admission policies.
const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const CLUSTER_ADMIN: &str = "cluster-admin";

/// How many offending objects a refusal lists before it counts the rest.
const LISTED: usize = 5;

/// Whether privileged content is allowed (`--allow-privileged-release-content`); off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentPolicy {
    pub allow_privileged: bool,
}

impl ContentPolicy {
    /// Refuses `release` when it holds privileged content this policy does not allow.
    pub fn check(&self, release: &ProductRelease) -> Result<(), ContentRefused> {
        let found = violations(release);
        if found.is_empty() || self.allow_privileged {
            return Ok(());
        }
        Err(ContentRefused {
            version: release.version.to_string(),
            violations: found,
        })
    }
}

/// Why one object of a bundle is privileged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Writes into (or is) one of [`PROTECTED_NAMESPACES`].
    ProtectedNamespace(String),
    /// An admission webhook or admission policy: it sees or blocks every write in the cluster.
    AdmissionControl,
    /// A RoleBinding or ClusterRoleBinding whose roleRef is `cluster-admin`.
    ClusterAdminBinding,
    /// A Role or ClusterRole granting every verb on every resource: cluster-admin by another name.
    WildcardRole,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::ProtectedNamespace(ns) => write!(f, "writes into namespace {ns}"),
            Rule::AdmissionControl => f.write_str("is admission control (it sees or blocks every write)"),
            Rule::ClusterAdminBinding => write!(f, "binds the {CLUSTER_ADMIN} role"),
            Rule::WildcardRole => f.write_str("grants every verb on every resource"),
        }
    }
}

/// One privileged object: the module it is in, the object (`Kind namespace/name`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub module: String,
    pub object: String,
    pub rule: Rule,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module {}: {} {}", self.module, self.object, self.rule)
    }
}

/// A release refused for its content; the message lists the objects and says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "release {version} holds content a release bundle may not apply: {}; remove it from the bundle \
     and publish it again, or, if this release must do this, run the operator with \
     --allow-privileged-release-content (every bundle may then write into Kubernetes' own \
     namespaces, install admission control and grant cluster-admin on every managed cluster)",
    listed(.violations)
)]
pub struct ContentRefused {
    pub version: String,
    pub violations: Vec<Violation>,
}

fn listed(violations: &[Violation]) -> String {
    let mut text: Vec<String> = violations.iter().take(LISTED).map(ToString::to_string).collect();
    if violations.len() > LISTED {
        text.push(format!("and {} more", violations.len() - LISTED));
    }
    text.join("; ")
}

/// Every privileged object of `release`, in bundle order.
pub fn violations(release: &ProductRelease) -> Vec<Violation> {
    release
        .modules
        .iter()
        .flat_map(|module| {
            module.manifests.iter().flat_map(move |manifest| {
                rules(manifest).into_iter().map(move |rule| Violation {
                    module: module.name.clone(),
                    object: describe(manifest),
                    rule,
                })
            })
        })
        .collect()
}

/// The rules one manifest breaks.
pub fn rules(manifest: &Value) -> Vec<Rule> {
    let text = |pointer: &str| manifest.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or_default();
    let group = text("/apiVersion")
        .and_then(|v| v.split_once('/'))
        .map_or("", |(group, _)| group);
    let is = |g: &str, k: &str| group == g && kind.eq_ignore_ascii_case(k);
    let mut broken = Vec::new();

    let namespace = if is("", "Namespace") {
        text("/metadata/name")
    } else {
        text("/metadata/namespace")
    };
    if let Some(ns) = namespace.filter(|ns| PROTECTED_NAMESPACES.contains(ns)) {
        broken.push(Rule::ProtectedNamespace(ns.to_string()));
    }
    if group == ADMISSION_GROUP {
        broken.push(Rule::AdmissionControl);
    }
    if (is(RBAC_GROUP, "RoleBinding") || is(RBAC_GROUP, "ClusterRoleBinding"))
        && text("/roleRef/name") == Some(CLUSTER_ADMIN)
    {
        broken.push(Rule::ClusterAdminBinding);
    }
    if (is(RBAC_GROUP, "Role") || is(RBAC_GROUP, "ClusterRole")) && grants_everything(manifest) {
        broken.push(Rule::WildcardRole);
    }
    broken
}

fn grants_everything(role: &Value) -> bool {
    let has_star = |rule: &Value, field: &str| {
        rule.get(field)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| i.as_str() == Some("*")))
    };
    role.get("rules").and_then(Value::as_array).is_some_and(|rules| {
        rules
            .iter()
            .any(|r| has_star(r, "verbs") && has_star(r, "resources") && has_star(r, "apiGroups"))
    })
}

/// `Kind namespace/name` (or `Kind name`) as written in the manifest.
fn describe(manifest: &Value) -> String {
    let text = |pointer: &str| manifest.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or("object without kind");
    let name = text("/metadata/name").unwrap_or("without name");
    match text("/metadata/namespace") {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_policy::{AcpVersion, Catalogue, Lifecycle, Module};
    use serde_json::json;

    fn object(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Value {
        let mut metadata = json!({"name": name});
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
    }

    fn binding(kind: &str, namespace: Option<&str>, role: &str) -> Value {
        let mut b = object("rbac.authorization.k8s.io/v1", kind, namespace, "grant");
        b["roleRef"] = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role});
        b["subjects"] = json!([{"kind": "ServiceAccount", "name": "x", "namespace": "cpaas-system"}]);
        b
    }

    fn role(kind: &str, rule: Value) -> Value {
        let mut r = object("rbac.authorization.k8s.io/v1", kind, None, "role");
        r["rules"] = json!([rule]);
        r
    }

    #[test]
    fn each_manifest_is_judged_by_namespace_kind_and_role() {
        let admission = |kind: &str| object("admissionregistration.k8s.io/v1", kind, None, "hook");
        let table: Vec<(Value, Vec<Rule>)> = vec![
            // Ordinary platform content.
            (
                object("apps/v1", "Deployment", Some("cpaas-system"), "api"),
                vec![],
            ),
            (object("v1", "Namespace", None, "cpaas-system"), vec![]),
            (object("v1", "ConfigMap", None, "no-namespace"), vec![]),
            (binding("ClusterRoleBinding", None, "view"), vec![]),
            (binding("RoleBinding", Some("cpaas-system"), "edit"), vec![]),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}),
                ),
                vec![],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}),
                ),
                vec![],
            ),
            // Kubernetes' own namespaces, written into or redefined.
            (
                object("apps/v1", "DaemonSet", Some("kube-system"), "agent"),
                vec![Rule::ProtectedNamespace("kube-system".into())],
            ),
            (
                object("v1", "ConfigMap", Some("kube-public"), "cluster-info"),
                vec![Rule::ProtectedNamespace("kube-public".into())],
            ),
            (
                object("coordination.k8s.io/v1", "Lease", Some("kube-node-lease"), "n1"),
                vec![Rule::ProtectedNamespace("kube-node-lease".into())],
            ),
            (
                object("v1", "Namespace", None, "kube-system"),
                vec![Rule::ProtectedNamespace("kube-system".into())],
            ),
            // Admission control, webhooks and policies alike, any version.
            (
                admission("ValidatingWebhookConfiguration"),
                vec![Rule::AdmissionControl],
            ),
            (
                admission("MutatingWebhookConfiguration"),
                vec![Rule::AdmissionControl],
            ),
            (
                admission("ValidatingAdmissionPolicy"),
                vec![Rule::AdmissionControl],
            ),
            (
                admission("ValidatingAdmissionPolicyBinding"),
                vec![Rule::AdmissionControl],
            ),
            (
                object(
                    "admissionregistration.k8s.io/v1beta1",
                    "MutatingAdmissionPolicy",
                    None,
                    "p",
                ),
                vec![Rule::AdmissionControl],
            ),
            // cluster-admin, bound directly or granted by a wildcard role.
            (
                binding("ClusterRoleBinding", None, "cluster-admin"),
                vec![Rule::ClusterAdminBinding],
            ),
            (
                binding("RoleBinding", Some("cpaas-system"), "cluster-admin"),
                vec![Rule::ClusterAdminBinding],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
                ),
                vec![Rule::WildcardRole],
            ),
            // Several rules at once are all reported.
            (
                binding("RoleBinding", Some("kube-system"), "cluster-admin"),
                vec![
                    Rule::ProtectedNamespace("kube-system".into()),
                    Rule::ClusterAdminBinding,
                ],
            ),
        ];
        for (manifest, expected) in table {
            assert_eq!(rules(&manifest), expected, "{manifest}");
        }
    }

    fn release(modules: Vec<(&str, Vec<Value>)>) -> ProductRelease {
        let mut release = Catalogue::builtin()
            .release(&AcpVersion::new(4, 3, 1))
            .cloned()
            .unwrap();
        release.modules = modules
            .into_iter()
            .map(|(name, manifests)| Module {
                name: name.into(),
                lifecycle: Lifecycle::Core,
                version: "4.3.1".into(),
                depends_on: vec![],
                manifests,
            })
            .collect();
        release
    }

    #[test]
    fn a_refusal_names_the_module_and_the_object_and_the_way_out() {
        let release = release(vec![
            (
                "platform-api",
                vec![object("apps/v1", "Deployment", Some("cpaas-system"), "api")],
            ),
            (
                "node-agent",
                vec![object("apps/v1", "DaemonSet", Some("kube-system"), "agent")],
            ),
        ]);
        let refused = ContentPolicy::default().check(&release).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("module node-agent: DaemonSet kube-system/agent writes into namespace kube-system"),
            "{text}"
        );
        assert!(text.contains("release 4.3.1"), "{text}");
        assert!(text.contains("--allow-privileged-release-content"), "{text}");
        assert!(!text.contains("platform-api"), "{text}");
        let allowed = ContentPolicy {
            allow_privileged: true,
        };
        assert_eq!(allowed.check(&release), Ok(()));
    }

    #[test]
    fn a_long_refusal_lists_a_few_and_counts_the_rest() {
        let many = (0..8)
            .map(|i| object("v1", "ConfigMap", Some("kube-system"), &format!("cm-{i}")))
            .collect();
        let refused = ContentPolicy::default()
            .check(&release(vec![("spill", many)]))
            .unwrap_err();
        let text = refused.to_string();
        assert!(text.contains("ConfigMap kube-system/cm-4"), "{text}");
        assert!(!text.contains("cm-5"), "{text}");
        assert!(text.contains("and 3 more"), "{text}");
        assert_eq!(refused.violations.len(), 8);
    }

    #[test]
    fn an_ordinary_release_passes() {
        let release = release(vec![(
            "platform-api",
            vec![
                object("v1", "Namespace", None, "cpaas-system"),
                object("apps/v1", "Deployment", Some("cpaas-system"), "api"),
            ],
        )]);
        assert_eq!(ContentPolicy::default().check(&release), Ok(()));
    }
}
