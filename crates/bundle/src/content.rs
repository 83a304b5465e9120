//! What a release bundle may write to a managed cluster.
//!
//! Applying a release is cluster-admin-equivalent on every managed cluster, so a bundle from a
//! registry is held to a narrower rule than the operator's own privilege: it may not write into the
//! namespaces Kubernetes keeps for itself, install admission control (which sees or blocks every
//! write in the cluster) or API services (which route an API group to any service), or hand out
//! cluster-admin or the RBAC powers that reach it. The check runs when a release is resolved, so
//! such a release is refused and never offered, long before an upgrade would apply it. An operator
//! started with `--allow-privileged-release-content` lets it through.
//!
//! This guards against named vectors; it does not contain a bundle. Its workloads may still run
//! privileged pods in the namespaces it may write to: signing decides whose bundles run at all.

use std::fmt;

use acp_policy::ProductRelease;
use serde_json::Value;

/// Namespaces a registry bundle may not write into: Kubernetes' own.
pub const PROTECTED_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// API group of admission webhooks and admission policies.
const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";
/// API group of APIService, which routes an API group to a service of the APIService's choosing.
const AGGREGATION_GROUP: &str = "apiregistration.k8s.io";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const CLUSTER_ADMIN: &str = "cluster-admin";
/// The group every member of which is cluster-admin, whatever RBAC says.
const MASTERS_GROUP: &str = "system:masters";
/// Verbs that lift a role's holder past RBAC: grant what one does not hold, bind any role, act as
/// anyone.
const PRIVILEGE_VERBS: [&str; 3] = ["escalate", "bind", "impersonate"];
/// Resources of the RBAC group.
const RBAC_RESOURCES: [&str; 4] = ["roles", "clusterroles", "rolebindings", "clusterrolebindings"];

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
    /// An APIService: it routes an API group to any service, which then answers for it.
    ApiService,
    /// A RoleBinding or ClusterRoleBinding with the subject group `system:masters`.
    MastersBinding,
    /// A Role or ClusterRole naming one of [`PRIVILEGE_VERBS`], on any resource.
    PrivilegeVerb(String),
    /// A Role or ClusterRole granting every verb on a resource of the RBAC group.
    RbacWildcard,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::ProtectedNamespace(ns) => write!(f, "writes into namespace {ns}"),
            Rule::AdmissionControl => f.write_str("is admission control (it sees or blocks every write)"),
            Rule::ClusterAdminBinding => write!(f, "binds the {CLUSTER_ADMIN} role"),
            Rule::WildcardRole => f.write_str("grants every verb on every resource"),
            Rule::ApiService => f.write_str("is an APIService (it routes an API group to any service)"),
            Rule::MastersBinding => write!(f, "binds the group {MASTERS_GROUP}"),
            Rule::PrivilegeVerb(verb) => write!(f, "grants the verb {verb}"),
            Rule::RbacWildcard => write!(f, "grants every verb on a resource of {RBAC_GROUP}"),
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
     namespaces, install admission control and API services, and grant cluster-admin on every \
     managed cluster)",
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
    if is(AGGREGATION_GROUP, "APIService") {
        broken.push(Rule::ApiService);
    }
    if is(RBAC_GROUP, "RoleBinding") || is(RBAC_GROUP, "ClusterRoleBinding") {
        if text("/roleRef/name") == Some(CLUSTER_ADMIN) {
            broken.push(Rule::ClusterAdminBinding);
        }
        if binds_masters(manifest) {
            broken.push(Rule::MastersBinding);
        }
    }
    if is(RBAC_GROUP, "Role") || is(RBAC_GROUP, "ClusterRole") {
        let rules = role_rules(manifest);
        if rules.iter().any(grants_everything) {
            broken.push(Rule::WildcardRole);
        } else if rules.iter().any(grants_everything_on_rbac) {
            broken.push(Rule::RbacWildcard);
        }
        for verb in PRIVILEGE_VERBS {
            if rules.iter().any(|r| strings(r, "verbs").any(|v| v == verb)) {
                broken.push(Rule::PrivilegeVerb(verb.to_string()));
            }
        }
    }
    broken
}

fn binds_masters(binding: &Value) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s.get("kind").and_then(Value::as_str) == Some("Group")
                    && s.get("name").and_then(Value::as_str) == Some(MASTERS_GROUP)
            })
        })
}

fn role_rules(role: &Value) -> &[Value] {
    role.get("rules")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The strings of the list `field` of one policy rule.
fn strings<'a>(rule: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    rule.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn has_star(rule: &Value, field: &str) -> bool {
    strings(rule, field).any(|item| item == "*")
}

/// Every verb on every resource of every group.
fn grants_everything(rule: &Value) -> bool {
    has_star(rule, "verbs") && has_star(rule, "resources") && has_star(rule, "apiGroups")
}

/// Every verb on a resource (or subresource) of the RBAC group, named or by wildcard.
fn grants_everything_on_rbac(rule: &Value) -> bool {
    let rbac_group = strings(rule, "apiGroups").any(|g| g == RBAC_GROUP || g == "*");
    let rbac_resource = strings(rule, "resources").any(|r| {
        let base = r.split('/').next().unwrap_or(r);
        base == "*" || RBAC_RESOURCES.contains(&base)
    });
    has_star(rule, "verbs") && rbac_group && rbac_resource
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

    fn binding_to(kind: &str, role: &str, subjects: Value) -> Value {
        let mut b = binding(kind, None, role);
        b["subjects"] = subjects;
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
            // Aggregated API servers: an APIService routes a group to any service.
            (
                object(
                    "apiregistration.k8s.io/v1",
                    "APIService",
                    None,
                    "v1beta1.metrics.k8s.io",
                ),
                vec![Rule::ApiService],
            ),
            (
                object(
                    "apiregistration.k8s.io/v1beta1",
                    "APIService",
                    None,
                    "v1.example.io",
                ),
                vec![Rule::ApiService],
            ),
            (object("example.io/v1", "APIService", None, "lookalike"), vec![]),
            // system:masters is cluster-admin whatever role it is bound to.
            (
                binding_to(
                    "ClusterRoleBinding",
                    "view",
                    json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}]),
                ),
                vec![Rule::MastersBinding],
            ),
            (
                binding_to(
                    "RoleBinding",
                    "edit",
                    json!([{"kind": "ServiceAccount", "name": "x", "namespace": "cpaas-system"},
                           {"kind": "Group", "name": "system:masters"}]),
                ),
                vec![Rule::MastersBinding],
            ),
            (
                binding_to(
                    "ClusterRoleBinding",
                    "view",
                    json!([{"kind": "Group", "name": "system:authenticated"}]),
                ),
                vec![],
            ),
            (
                binding_to(
                    "ClusterRoleBinding",
                    "cluster-admin",
                    json!([{"kind": "Group", "name": "system:masters"}]),
                ),
                vec![Rule::ClusterAdminBinding, Rule::MastersBinding],
            ),
            // Verbs that reach past RBAC, on anything.
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}),
                ),
                vec![Rule::PrivilegeVerb("escalate".into())],
            ),
            (
                role(
                    "Role",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get", "bind"]}),
                ),
                vec![Rule::PrivilegeVerb("bind".into())],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}),
                ),
                vec![Rule::PrivilegeVerb("impersonate".into())],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["escalate", "bind", "impersonate"]}),
                ),
                vec![
                    Rule::PrivilegeVerb("escalate".into()),
                    Rule::PrivilegeVerb("bind".into()),
                    Rule::PrivilegeVerb("impersonate".into()),
                ],
            ),
            // Every verb on the RBAC group's resources: roles and bindings at will.
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterrolebindings"], "verbs": ["*"]}),
                ),
                vec![Rule::RbacWildcard],
            ),
            (
                role(
                    "Role",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["*"], "verbs": ["*"]}),
                ),
                vec![Rule::RbacWildcard],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["*"], "resources": ["roles"], "verbs": ["*"]}),
                ),
                vec![Rule::RbacWildcard],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["get", "list", "create"]}),
                ),
                vec![],
            ),
            (
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}),
                ),
                vec![],
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
    fn each_new_vector_is_named_in_the_refusal() {
        let release = release(vec![(
            "aggregator",
            vec![
                object("apiregistration.k8s.io/v1", "APIService", None, "v1.example.io"),
                binding_to(
                    "ClusterRoleBinding",
                    "view",
                    json!([{"kind": "Group", "name": "system:masters"}]),
                ),
                role(
                    "ClusterRole",
                    json!({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}),
                ),
                role(
                    "ClusterRole",
                    json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["*"]}),
                ),
            ],
        )]);
        let text = ContentPolicy::default().check(&release).unwrap_err().to_string();
        for part in [
            "module aggregator: APIService v1.example.io is an APIService (it routes an API group to any service)",
            "module aggregator: ClusterRoleBinding grant binds the group system:masters",
            "module aggregator: ClusterRole role grants the verb impersonate",
            "module aggregator: ClusterRole role grants every verb on a resource of rbac.authorization.k8s.io",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
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
