//! API errors turned into messages that say what failed and what to do next.

use acp_api::names;

/// The kinds this command line reads and writes, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ClusterVersionShadow,
    ProductManifest,
    Secret,
    ConfigMap,
    Namespace,
    UpgradeRun,
    UpgradeStrategy,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ClusterVersionShadow => "ClusterVersionShadow",
            Kind::ProductManifest => "ProductManifest",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Namespace => "Namespace",
            Kind::UpgradeRun => "UpgradeRun",
            Kind::UpgradeStrategy => "UpgradeStrategy",
        }
    }

    /// The RBAC resource (`resource.group`) a Role must grant for this kind.
    fn rbac_resource(self) -> &'static str {
        match self {
            Kind::ClusterVersionShadow => "clusterversionshadows.config.alauda.io",
            Kind::ProductManifest => "productmanifests.config.alauda.io",
            Kind::Secret => "secrets",
            Kind::ConfigMap => "configmaps",
            Kind::Namespace => "namespaces",
            Kind::UpgradeRun => "upgraderuns.cvo.alauda.io",
            Kind::UpgradeStrategy => "upgradestrategies.cvo.alauda.io",
        }
    }

    /// What a missing object of this kind means and how to find the right one.
    fn missing(self, name: &str, namespace: Option<&str>) -> String {
        match (self, namespace) {
            (Kind::ClusterVersionShadow, Some(ns)) => format!(
                "no ClusterVersionShadow `{name}` in namespace {ns}; list clusters with `ac adm cluster list`{}",
                if ns == names::NAMESPACE {
                    String::new()
                } else {
                    format!(" (the platform keeps them in {})", names::NAMESPACE)
                }
            ),
            (Kind::UpgradeRun, Some(ns)) => format!(
                "no UpgradeRun `{name}` in namespace {ns}; list runs with `ac adm upgrade rollout list -n {ns}`"
            ),
            (Kind::UpgradeStrategy, Some(ns)) => format!(
                "no UpgradeStrategy `{name}` in namespace {ns}; list them with `kubectl get upgradestrategies -n {ns}`, or pass a strategy file with -f"
            ),
            (Kind::ProductManifest, _) => format!(
                "no ProductManifest `{name}`; list releases with `ac adm release list`, import one with `ac adm release import-manifest --version=V`"
            ),
            (kind, Some(ns)) => format!("no {} `{name}` in namespace {ns}", kind.name()),
            (kind, None) => format!("no {} `{name}`", kind.name()),
        }
    }

    /// True for the kinds acp-cvo installs (a 404 without an object name means the CRD is missing).
    fn is_custom(self) -> bool {
        matches!(
            self,
            Kind::ClusterVersionShadow | Kind::ProductManifest | Kind::UpgradeRun | Kind::UpgradeStrategy
        )
    }
}

/// One request, described for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// API server URL.
    pub server: &'a str,
    /// What was attempted, e.g. "read", "update", "create", "list".
    pub verb: &'static str,
    pub kind: Kind,
    /// Object name; empty for a list.
    pub name: &'a str,
    pub namespace: Option<&'a str>,
}

impl Request<'_> {
    fn object(&self) -> String {
        match (self.name, self.namespace) {
            ("", Some(ns)) => format!("{}s in namespace {ns}", self.kind.name()),
            ("", None) => format!("{}s", self.kind.name()),
            (name, Some(ns)) => format!("{} `{name}` in namespace {ns}", self.kind.name()),
            (name, None) => format!("{} `{name}`", self.kind.name()),
        }
    }

    /// The error as a user should read it.
    pub fn explain(&self, err: kube::Error) -> anyhow::Error {
        anyhow::anyhow!(self.message(&err))
    }

    /// The message for `err`.
    pub fn message(&self, err: &kube::Error) -> String {
        let kube::Error::Api(status) = err else {
            return format!(
                "cannot reach the API server at {}: {err}; check that the cluster is running and that --kubeconfig/--context point at it",
                self.server
            );
        };
        let named = status.details.as_ref().is_some_and(|d| !d.name.is_empty());
        match status.code {
            404 if named || (!self.kind.is_custom() && !self.name.is_empty()) => {
                self.kind.missing(self.name, self.namespace)
            }
            404 if self.kind.is_custom() => format!(
                "the {} API is not installed on {}: install acp-cvo (kubectl apply -k deploy/)",
                self.kind.name(),
                self.server
            ),
            401 => format!(
                "the API server at {} rejected the credentials of the kubeconfig: {}; log in again or pick another --context",
                self.server, status.message
            ),
            403 => format!(
                "not allowed to {} {}: {}; ask a cluster administrator for that permission (RBAC verb `{}` on `{}`{})",
                self.verb,
                self.object(),
                status.message,
                rbac_verb(self.verb),
                self.kind.rbac_resource(),
                self.namespace
                    .map(|ns| format!(" in namespace {ns}"))
                    .unwrap_or_default()
            ),
            409 => format!(
                "cannot {} {}: {}; someone changed it at the same time, run the command again",
                self.verb,
                self.object(),
                status.message
            ),
            422 => format!(
                "the API server refused to {} {}: {}",
                self.verb,
                self.object(),
                status.message
            ),
            code => format!(
                "cannot {} {}: {} (HTTP {code}); retry, and check the API server at {} if it persists",
                self.verb,
                self.object(),
                status.message,
                self.server
            ),
        }
    }
}

/// The RBAC verb behind a verb of these messages: `read` is `get`, `update` and `write` are `patch`.
fn rbac_verb(verb: &str) -> &str {
    match verb {
        "read" => "get",
        "update" | "write" => "patch",
        other => other,
    }
}

/// True when the error says nothing about the request itself: the API server could not be reached, timed out,
/// or answered that it is overloaded or unavailable. During an upgrade the global cluster's own API server
/// restarts, so a watch rides through these.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// True when the error is a 404 for a named object (the object, not its API, is missing).
pub fn is_object_missing(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404 && s.details.as_ref().is_some_and(|d| !d.name.is_empty()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn outages_are_transient_and_answers_are_not() {
        let status = |code| kube::Error::Api(Box::new(Status::failure("x", "y").with_code(code)));
        for code in [429, 500, 503] {
            assert!(is_transient(&status(code)), "HTTP {code}");
        }
        for code in [401, 403, 404, 409, 422] {
            assert!(!is_transient(&status(code)), "HTTP {code}");
        }
        let refused = kube::Error::Service(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert!(is_transient(&refused));
    }

    use kube::core::Status;
    use kube::core::response::StatusDetails;

    use super::*;

    fn request(kind: Kind, name: &'static str) -> Request<'static> {
        Request {
            server: "https://127.0.0.1:6443",
            verb: "read",
            kind,
            name,
            namespace: Some("cpaas-system"),
        }
    }

    fn not_found(name: &str) -> kube::Error {
        let status = Status::failure(&format!("\"{name}\" not found"), "NotFound").with_code(404);
        let status = if name.is_empty() {
            status
        } else {
            status.with_details(StatusDetails {
                name: name.into(),
                group: "config.alauda.io".into(),
                kind: "clusterversionshadows".into(),
                uid: String::new(),
                causes: Vec::new(),
                retry_after_seconds: 0,
            })
        };
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn a_missing_cvsh_points_at_the_cluster_list() {
        let message = request(Kind::ClusterVersionShadow, "edge-1").message(&not_found("edge-1"));
        assert_eq!(
            message,
            "no ClusterVersionShadow `edge-1` in namespace cpaas-system; list clusters with `ac adm cluster list`"
        );
        assert!(is_object_missing(&not_found("edge-1")));
    }

    #[test]
    fn a_missing_api_says_to_install_acp_cvo() {
        let plain = Status::failure("404 page not found", "Failed to parse error data").with_code(404);
        let message = request(Kind::ClusterVersionShadow, "global").message(&kube::Error::Api(plain.boxed()));
        assert_eq!(
            message,
            "the ClusterVersionShadow API is not installed on https://127.0.0.1:6443: install acp-cvo (kubectl apply -k deploy/)"
        );
        assert!(!is_object_missing(&not_found("")));
    }

    #[test]
    fn forbidden_names_the_verb_and_object() {
        let status = Status::failure("RBAC: access denied", "Forbidden").with_code(403);
        let message = request(Kind::ProductManifest, "v4.3.1").message(&kube::Error::Api(status.boxed()));
        assert!(
            message.starts_with("not allowed to read ProductManifest `v4.3.1`"),
            "{message}"
        );
        assert!(message.contains("ask a cluster administrator"), "{message}");
        assert!(
            message.ends_with(
                "(RBAC verb `get` on `productmanifests.config.alauda.io` in namespace cpaas-system)"
            ),
            "{message}"
        );
        let write = Request {
            verb: "update",
            ..request(Kind::UpgradeRun, "upgrade-4-3-1")
        };
        let message = write.message(&kube::Error::Api(
            Status::failure("denied", "Forbidden").with_code(403).boxed(),
        ));
        assert!(
            message.starts_with("not allowed to update UpgradeRun `upgrade-4-3-1` in namespace cpaas-system")
                && message.contains("RBAC verb `patch` on `upgraderuns.cvo.alauda.io`"),
            "{message}"
        );
    }
}
