//! Releases: the built-in bundles, how a ProductManifest resolves to one, and the ProductManifest
//! controller that publishes the result.

pub mod builtin;
pub mod controller;

use std::sync::Arc;

use acp_api::ProductManifest;
use acp_policy::{AcpVersion, Catalogue, ProductRelease};
use kube::runtime::reflector::Store;

/// Why a ProductManifest does not resolve to a release. Each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "spec.version {value:?} is not an ACP version ({message}); create a ProductManifest with a version such as 4.3.1"
    )]
    InvalidVersion { value: String, message: String },
    #[error(
        "no release bundle for ACP {version}: the built-in catalogue ships 4.0.0–4.3.1 and no release repository \
         holds it; check the version, or run the operator with --release-repository pointing at a registry that has it"
    )]
    UnknownVersion { version: AcpVersion },
    #[error(
        "resolving a release by spec.image ({image}) needs an OCI registry client, which this operator version \
         does not have; use spec.version instead"
    )]
    ImageUnsupported { image: String },
    #[error("the ProductManifest sets neither spec.version nor spec.image; set spec.version")]
    Empty,
}

impl ResolveError {
    /// Condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidVersion { .. } | Self::Empty => "InvalidSpec",
            Self::UnknownVersion { .. } => "ReleaseNotFound",
            Self::ImageUnsupported { .. } => "ImageResolutionUnsupported",
        }
    }
}

/// The releases the operator knows, shared by both controllers.
pub struct Releases {
    catalogue: Arc<Catalogue>,
}

impl Default for Releases {
    fn default() -> Self {
        Self::new(builtin::catalogue())
    }
}

impl Releases {
    pub fn new(catalogue: Catalogue) -> Self {
        Self {
            catalogue: Arc::new(catalogue),
        }
    }

    /// Every known release with its modules.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue.clone()
    }

    /// The release a ProductManifest names.
    pub fn resolve(&self, manifest: &ProductManifest) -> Result<ProductRelease, ResolveError> {
        if let Some(image) = &manifest.spec.image {
            return Err(ResolveError::ImageUnsupported { image: image.clone() });
        }
        let value = manifest.spec.version.as_deref().ok_or(ResolveError::Empty)?;
        let version: AcpVersion =
            value
                .parse()
                .map_err(|e: acp_policy::VersionError| ResolveError::InvalidVersion {
                    value: value.to_string(),
                    message: e.to_string(),
                })?;
        self.catalogue
            .release(&version)
            .cloned()
            .ok_or(ResolveError::UnknownVersion { version })
    }

    /// The release of `version`, whether or not a ProductManifest offers it (explicit upgrades may
    /// name a version nobody imported).
    pub fn release(&self, version: &AcpVersion) -> Option<&ProductRelease> {
        self.catalogue.release(version)
    }
}

/// Versions offered by a Ready ProductManifest whose status is current for its spec.
pub fn ready_versions(manifests: &Store<ProductManifest>) -> Vec<AcpVersion> {
    let mut versions: Vec<AcpVersion> = manifests
        .state()
        .iter()
        .filter(|pm| pm.is_ready())
        .filter(|pm| {
            let status_generation = pm.status.as_ref().and_then(|s| s.observed_generation);
            status_generation.is_none() || status_generation == pm.metadata.generation
        })
        .filter_map(|pm| pm.release().and_then(|r| r.version.parse().ok()))
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::ProductManifestSpec;

    fn manifest(version: Option<&str>, image: Option<&str>) -> ProductManifest {
        ProductManifest::new(
            "v",
            ProductManifestSpec {
                version: version.map(String::from),
                image: image.map(String::from),
            },
        )
    }

    #[test]
    fn a_listed_version_resolves_with_modules() {
        let release = Releases::default()
            .resolve(&manifest(Some("4.3.1"), None))
            .unwrap();
        assert_eq!(release.version, AcpVersion::new(4, 3, 1));
        assert!(!release.modules.is_empty());
    }

    #[test]
    fn bad_specs_get_reasons_that_say_what_to_do() {
        let releases = Releases::default();
        let cases = [
            (
                manifest(Some("4.9.9"), None),
                "ReleaseNotFound",
                "--release-repository",
            ),
            (manifest(Some("four"), None), "InvalidSpec", "such as 4.3.1"),
            (
                manifest(None, Some("registry.example/acp:4.3.1")),
                "ImageResolutionUnsupported",
                "spec.version",
            ),
            (manifest(None, None), "InvalidSpec", "set spec.version"),
        ];
        for (pm, reason, hint) in cases {
            let err = releases.resolve(&pm).unwrap_err();
            assert_eq!(err.reason(), reason, "{err}");
            assert!(err.to_string().contains(hint), "{err}");
        }
    }
}
