//! API errors as sentences a person can act on: a 403 names the permission it needs.

/// What the console was doing, for messages: "request an upgrade of cluster edge-1".
pub struct Attempt<'a> {
    /// "request an upgrade of cluster edge-1".
    pub what: &'a str,
    /// The RBAC verb and resource it needs: ("patch", "clusterversionshadows").
    pub verb: &'a str,
    pub resource: &'a str,
    /// Namespace of the resource; None for cluster-scoped ones.
    pub namespace: Option<&'a str>,
}

impl Attempt<'_> {
    /// "You may not request an upgrade of cluster X (RBAC: needs patch on clusterversionshadows in cpaas-system)".
    pub fn forbidden(&self) -> String {
        let scope = match self.namespace {
            Some(ns) => format!(" in {ns}"),
            None => String::new(),
        };
        format!(
            "You may not {} (RBAC: needs {} on {}{scope}). Ask an administrator for a role that grants it.",
            self.what, self.verb, self.resource
        )
    }

    /// The message for an error of this attempt.
    pub fn explain(&self, error: &kube::Error) -> String {
        match error {
            kube::Error::Api(status) if status.code == 403 => self.forbidden(),
            kube::Error::Api(status) if status.code == 401 => {
                "The API server did not accept your credentials (401); sign in again with a valid token."
                    .to_owned()
            }
            kube::Error::Api(status) if status.code == 404 => {
                format!("Cannot {}: {} (not found).", self.what, status.message)
            }
            kube::Error::Api(status) => {
                format!("Cannot {}: {} ({}).", self.what, status.message, status.code)
            }
            other => format!("Cannot {}: the API server did not answer ({other}).", self.what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_verb_resource_and_namespace() {
        let attempt = Attempt {
            what: "request an upgrade of cluster edge-1",
            verb: "patch",
            resource: "clusterversionshadows",
            namespace: Some("cpaas-system"),
        };
        assert_eq!(
            attempt.forbidden(),
            "You may not request an upgrade of cluster edge-1 (RBAC: needs patch on clusterversionshadows in \
             cpaas-system). Ask an administrator for a role that grants it."
        );
    }
}
