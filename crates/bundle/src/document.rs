//! A release bundle's content: one `kind: ProductRelease` YAML document, checked before it is
//! pushed and after it is pulled, so what a registry holds is always something the operator loads.

use acp_policy::{AcpVersion, Catalogue, ProductRelease};

/// A bundle document that is not a usable release description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a valid release bundle: {detail}; a bundle holds exactly one `kind: ProductRelease` \
     document (see `ac adm release show` of a published release for an example)"
)]
pub struct DocumentError {
    pub detail: String,
}

/// A checked release bundle: the parsed release and the exact YAML text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    release: ProductRelease,
    yaml: String,
}

impl Bundle {
    /// Parses and checks a bundle document (one `ProductRelease`, passing the catalogue's checks).
    /// The text is kept as written, so the published layer is byte-for-byte what the author wrote.
    pub fn from_yaml(yaml: impl Into<String>) -> Result<Bundle, DocumentError> {
        let yaml = yaml.into();
        let catalogue = Catalogue::from_yaml(&yaml).map_err(|e| DocumentError {
            detail: e.to_string(),
        })?;
        // The catalogue keys releases by version, so count the documents themselves.
        let documents = serde_saphyr::from_multiple::<serde::de::IgnoredAny>(&yaml)
            .map_err(|e| DocumentError {
                detail: e.to_string(),
            })?
            .len();
        if documents > 1 {
            return Err(DocumentError {
                detail: format!(
                    "it holds {documents} YAML documents; publish each release as its own bundle"
                ),
            });
        }
        let release = catalogue.iter().next().cloned().ok_or_else(|| DocumentError {
            detail: "it is empty".to_owned(),
        })?;
        Ok(Bundle { release, yaml })
    }

    /// Writes a release as a bundle document.
    pub fn from_release(release: &ProductRelease) -> Result<Bundle, DocumentError> {
        let yaml = serde_saphyr::to_string(release).map_err(|e| DocumentError {
            detail: format!("cannot write release {} as YAML: {e}", release.version),
        })?;
        // Read it back: a release the catalogue refuses must not reach a registry.
        Bundle::from_yaml(yaml)
    }

    pub fn release(&self) -> &ProductRelease {
        &self.release
    }

    pub fn version(&self) -> &AcpVersion {
        &self.release.version
    }

    pub fn yaml(&self) -> &str {
        &self.yaml
    }

    pub fn into_parts(self) -> (ProductRelease, String) {
        (self.release, self.yaml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const BUNDLE: &str = "\
kind: ProductRelease
version: 4.3.1
kubernetes:
  version: v1.34.5
  compatible: [\"1.31\", \"1.32\", \"1.33\", \"1.34\"]
upgradeFrom: [\">=4.0.0, <4.3.1\"]
modules:
  - name: platform-api
    lifecycle: Core
    version: 4.3.1
    manifests:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: platform-api, namespace: cpaas-system}}
";

    #[test]
    fn keeps_the_text_as_written() {
        let bundle = Bundle::from_yaml(format!("# comment kept\n---\n{BUNDLE}")).unwrap();
        assert_eq!(bundle.version(), &AcpVersion::new(4, 3, 1));
        assert!(bundle.yaml().starts_with("# comment kept"));
        assert_eq!(bundle.release().modules.len(), 1);
    }

    #[test]
    fn release_round_trips_through_yaml() {
        let bundle = Bundle::from_yaml(BUNDLE).unwrap();
        let rewritten = Bundle::from_release(bundle.release()).unwrap();
        assert_eq!(rewritten.release(), bundle.release());
    }

    #[test]
    fn refuses_what_the_operator_could_not_load() {
        let cases = [
            ("", "it is empty"),
            ("# only a comment\n", "it is empty"),
            ("kind: ProductRelease\nversion: [", "not valid YAML"),
            (
                "kind: Deployment\nversion: 4.3.1\nkubernetes: {compatible: [\"1.34\"]}\n",
                "kind \"Deployment\"",
            ),
            (
                "kind: ProductRelease\nversion: 4.3.1\nkubernetes: {compatible: []}\n",
                "kubernetes.compatible is empty",
            ),
        ];
        for (yaml, expected) in cases {
            let e = Bundle::from_yaml(yaml).unwrap_err();
            assert!(e.to_string().contains(expected), "{yaml:?}: {e}");
        }
        let two = format!("{BUNDLE}---\n{}", BUNDLE.replace("4.3.1", "4.3.2"));
        let e = Bundle::from_yaml(two).unwrap_err();
        assert!(e.to_string().contains("holds 2 YAML documents"), "{e}");
    }

    #[test]
    fn a_bundle_declares_risks_and_one_out_of_bounds_is_refused_naming_the_field() {
        let risky = format!(
            "{BUNDLE}risks:\n  - name: CustomCNIRemoved\n    message: migrate off the custom CNI first\n    \
             appliesFrom: [\"<4.3.0\"]\n    matchingRules:\n      - type: ObjectPresent\n        \
             objectPresent: {{apiVersion: apps/v1, kind: DaemonSet, namespace: kube-system, labelSelector: app=cni}}\n"
        );
        let bundle = Bundle::from_yaml(risky.clone()).unwrap();
        assert_eq!(bundle.release().risks[0].name, "CustomCNIRemoved");
        let rewritten = Bundle::from_release(bundle.release()).unwrap();
        assert_eq!(rewritten.release().risks, bundle.release().risks);

        let both = risky.replace("labelSelector: app=cni", "name: cni, labelSelector: app=cni");
        let e = Bundle::from_yaml(both).unwrap_err();
        assert!(
            e.to_string().contains(
                "risks[0] (CustomCNIRemoved).matchingRules[0]: set exactly one of objectPresent.name and \
                 objectPresent.labelSelector"
            ),
            "{e}"
        );
    }
}
