//! Releases: the built-in bundles, how a ProductManifest resolves to one (built-in catalogue or an OCI
//! bundle pulled from a registry), and the ProductManifest controller that publishes the result.

pub mod builtin;
pub mod controller;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use acp_api::ProductManifest;
use acp_bundle::{BundleClient, BundleError, BundleSource, Requested, bundle_source, pull};
use acp_policy::{AcpVersion, Catalogue, ProductRelease};
use kube::ResourceExt;
use kube::runtime::reflector::Store;

/// Why a ProductManifest does not resolve to a release. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "spec.version {value:?} is not an ACP version ({message}); create a ProductManifest with a version such as 4.3.1"
    )]
    InvalidVersion { value: String, message: String },
    #[error(
        "no release bundle for ACP {version}: the built-in catalogue ships 4.0.0–4.3.1; check the version, or run \
         the operator with --release-repository pointing at a registry that has it"
    )]
    UnknownVersion { version: AcpVersion },
    #[error("spec.image {image:?} is not a usable reference: {message}")]
    InvalidImage { image: String, message: String },
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error(
        "the bundle at {reference} holds ACP {found}, but spec.version asks for {wanted}; publish the right bundle \
         or fix spec.version"
    )]
    VersionMismatch {
        reference: String,
        wanted: AcpVersion,
        found: AcpVersion,
    },
    #[error("the ProductManifest sets neither spec.version nor spec.image; set spec.version")]
    Empty,
}

impl ResolveError {
    /// Condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidVersion { .. } | Self::InvalidImage { .. } | Self::Empty => "InvalidSpec",
            Self::UnknownVersion { .. } => "ReleaseNotFound",
            Self::Bundle(err) => err.reason(),
            Self::VersionMismatch { .. } => "VersionMismatch",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Bundle(err) if err.is_transient())
    }
}

/// A release and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub release: ProductRelease,
    /// `registry/repository` of a pulled bundle; `None` for the built-in catalogue.
    pub repository: Option<String>,
    /// Manifest digest of a pulled bundle.
    pub digest: Option<String>,
}

/// The releases the operator knows: the built-in ones and those resolved from ProductManifests (which
/// add to and override the built-in ones). Shared by both controllers.
pub struct Releases {
    builtin: Catalogue,
    repository: Option<String>,
    registry: BundleClient,
    /// Release resolved for each ProductManifest, by name.
    resolved: RwLock<BTreeMap<String, ProductRelease>>,
    /// Bundle digest of each ProductManifest's release pulled from a registry, by name.
    digests: RwLock<BTreeMap<String, String>>,
    /// `builtin` merged with `resolved`, rebuilt when `resolved` changes.
    merged: RwLock<Arc<Catalogue>>,
    /// Where each release of `merged` came from: its bundle digest, or `builtin`. Replaced together with
    /// `merged` (under its lock), so a reader never pairs a release with another's digest.
    origins: RwLock<Arc<BTreeMap<AcpVersion, String>>>,
}

impl Default for Releases {
    fn default() -> Self {
        Self::new(builtin::catalogue(), None, BundleClient::default())
    }
}

impl Releases {
    pub fn new(builtin: Catalogue, repository: Option<String>, registry: BundleClient) -> Self {
        let merged = RwLock::new(Arc::new(builtin.clone()));
        let origins = RwLock::new(Arc::new(builtin_origins(&builtin)));
        Self {
            builtin,
            repository,
            registry,
            resolved: RwLock::default(),
            digests: RwLock::default(),
            merged,
            origins,
        }
    }

    /// Every known release with its modules.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.merged
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Resolves what a ProductManifest names: its image, `<release repository>:<version>`, or the
    /// built-in release of its version. A digest recorded before pins a registry source.
    pub async fn resolve(&self, manifest: &ProductManifest) -> Result<Resolved, ResolveError> {
        let version = match (&manifest.spec.version, &manifest.spec.image) {
            (Some(value), _) => {
                Some(
                    value
                        .parse::<AcpVersion>()
                        .map_err(|e| ResolveError::InvalidVersion {
                            value: value.clone(),
                            message: e.to_string(),
                        })?,
                )
            }
            (None, Some(_)) => None,
            (None, None) => return Err(ResolveError::Empty),
        };
        let requested = match (&version, &manifest.spec.image) {
            (Some(version), _) => Requested::Version(version),
            (None, Some(image)) => Requested::Image(image),
            (None, None) => return Err(ResolveError::Empty),
        };
        let digest = manifest
            .status
            .as_ref()
            .and_then(|s| s.resolved_image_digest.as_deref());
        let source = bundle_source(requested, self.repository.as_deref(), digest).map_err(|e| {
            ResolveError::InvalidImage {
                image: manifest
                    .spec
                    .image
                    .clone()
                    .or_else(|| self.repository.clone())
                    .unwrap_or_default(),
                message: e.to_string(),
            }
        })?;
        match source {
            BundleSource::BuiltIn(version) => match self.builtin.release(&version) {
                Some(release) => Ok(Resolved {
                    release: release.clone(),
                    repository: None,
                    digest: None,
                }),
                None => Err(ResolveError::UnknownVersion { version }),
            },
            BundleSource::Registry(reference) => {
                let pulled = pull(&self.registry, &reference).await?;
                if let Some(wanted) = version
                    && pulled.release.version != wanted
                {
                    return Err(ResolveError::VersionMismatch {
                        reference: reference.to_string(),
                        wanted,
                        found: pulled.release.version,
                    });
                }
                Ok(Resolved {
                    release: pulled.release,
                    repository: Some(reference.repository_ref().to_string()),
                    digest: Some(pulled.digest),
                })
            }
        }
    }

    /// Records what ProductManifest `name` resolved to, with the digest of a pulled bundle (`None`:
    /// nothing); true when the catalogue changed.
    pub fn record_resolved(&self, name: &str, resolved: Option<&Resolved>) -> bool {
        let digest = resolved.and_then(|r| r.digest.clone());
        let digest_changed = match self.digests.write() {
            Ok(mut digests) => match digest {
                Some(digest) => digests.insert(name.to_string(), digest.clone()) != Some(digest),
                None => digests.remove(name).is_some(),
            },
            Err(_) => false,
        };
        let changed = self.record(name, resolved.map(|r| &r.release));
        if digest_changed && !changed {
            // Same content under a new digest: the origins still change.
            if let Ok(resolved) = self.resolved.read() {
                self.merge(&resolved);
            }
        }
        changed || digest_changed
    }

    /// Records what ProductManifest `name` resolved to (`None`: nothing); true when the catalogue changed.
    pub fn record(&self, name: &str, release: Option<&ProductRelease>) -> bool {
        let Ok(mut resolved) = self.resolved.write() else {
            return false;
        };
        let changed = match release {
            Some(release) => resolved.insert(name.to_string(), release.clone()).as_ref() != Some(release),
            None => resolved.remove(name).is_some(),
        };
        if changed {
            self.merge(&resolved);
        }
        changed
    }

    fn merge(&self, resolved: &BTreeMap<String, ProductRelease>) {
        let digests = self.digests.read().map(|d| d.clone()).unwrap_or_default();
        let mut merged = self.builtin.clone();
        let mut origins = builtin_origins(&self.builtin);
        for (name, release) in resolved {
            match merged.insert(release.clone()) {
                Ok(_) => {
                    let origin = digests
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| crate::cvsh::pinning::BUILTIN_DIGEST.to_string());
                    origins.insert(release.version.clone(), origin);
                }
                Err(err) => tracing::warn!(error = %err, "a resolved release is not valid; it is left out"),
            }
        }
        if let Ok(mut slot) = self.merged.write() {
            *slot = Arc::new(merged);
            if let Ok(mut origins_slot) = self.origins.write() {
                *origins_slot = Arc::new(origins);
            }
        }
    }

    /// Every known release, with the digest each came from (`builtin` for the built-in catalogue), read
    /// together.
    pub fn catalogue_with_origins(&self) -> (Arc<Catalogue>, Arc<BTreeMap<AcpVersion, String>>) {
        let merged = self.merged.read().unwrap_or_else(|p| p.into_inner());
        let origins = self
            .origins
            .read()
            .map(|o| o.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        (merged.clone(), origins)
    }

    /// Drops releases of ProductManifests that no longer exist. An empty cache (not listed yet) drops nothing.
    pub fn forget_missing(&self, manifests: &Store<ProductManifest>) {
        if manifests.is_empty() {
            return;
        }
        let existing: Vec<String> = manifests.state().iter().map(|pm| pm.name_any()).collect();
        let gone: Vec<String> = self
            .resolved
            .read()
            .map(|r| {
                r.keys()
                    .filter(|name| !existing.contains(name))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for name in gone {
            self.record(&name, None);
        }
    }
}

fn builtin_origins(builtin: &Catalogue) -> BTreeMap<AcpVersion, String> {
    builtin
        .iter()
        .map(|r| {
            (
                r.version.clone(),
                crate::cvsh::pinning::BUILTIN_DIGEST.to_string(),
            )
        })
        .collect()
}

/// Versions offered by a Ready ProductManifest whose status is current for its spec.
pub fn ready_versions(manifests: &Store<ProductManifest>) -> Vec<AcpVersion> {
    let mut versions: Vec<AcpVersion> = ready_manifests(manifests)
        .into_iter()
        .map(|(version, _)| version)
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// Ready ProductManifests with the version they resolved to.
pub fn ready_manifests(manifests: &Store<ProductManifest>) -> Vec<(AcpVersion, Arc<ProductManifest>)> {
    manifests
        .state()
        .into_iter()
        .filter(|pm| pm.is_ready())
        .filter(|pm| {
            let status_generation = pm.status.as_ref().and_then(|s| s.observed_generation);
            status_generation.is_none() || status_generation == pm.metadata.generation
        })
        .filter_map(|pm| Some((pm.release()?.version.parse().ok()?, pm)))
        .collect()
}

/// The version a Ready ProductManifest with `spec.image == image` resolved to.
pub fn version_of_image(manifests: &Store<ProductManifest>, image: &str) -> Option<AcpVersion> {
    ready_manifests(manifests)
        .into_iter()
        .find(|(_, pm)| pm.spec.image.as_deref() == Some(image))
        .map(|(version, _)| version)
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

    #[tokio::test]
    async fn a_listed_version_resolves_from_the_builtin_catalogue() {
        let resolved = Releases::default()
            .resolve(&manifest(Some("4.3.1"), None))
            .await
            .unwrap();
        assert_eq!(resolved.release.version, AcpVersion::new(4, 3, 1));
        assert!(!resolved.release.modules.is_empty());
        assert_eq!((resolved.repository, resolved.digest), (None, None));
    }

    #[tokio::test]
    async fn bad_specs_get_reasons_that_say_what_to_do() {
        let releases = Releases::default();
        let cases = [
            (
                manifest(Some("4.9.9"), None),
                "ReleaseNotFound",
                "--release-repository",
            ),
            (manifest(Some("four"), None), "InvalidSpec", "such as 4.3.1"),
            (
                manifest(None, Some("not a reference!")),
                "InvalidSpec",
                "not a usable reference",
            ),
            (manifest(None, None), "InvalidSpec", "set spec.version"),
        ];
        for (pm, reason, hint) in cases {
            let err = releases.resolve(&pm).await.unwrap_err();
            assert_eq!(err.reason(), reason, "{err}");
            assert!(err.to_string().contains(hint), "{err}");
        }
    }

    #[test]
    fn resolved_releases_add_to_and_override_the_builtin_ones() {
        let releases = Releases::default();
        let builtin = releases
            .catalogue()
            .release(&AcpVersion::new(4, 3, 1))
            .cloned()
            .unwrap();
        let mut next = builtin.clone();
        next.version = AcpVersion::new(4, 4, 0);
        next.upgrade_from = vec![">=4.3.0, <4.4.0".parse().unwrap()];
        assert!(releases.record("v4.4.0", Some(&next)));
        assert!(
            !releases.record("v4.4.0", Some(&next)),
            "the same release again changes nothing"
        );
        assert_eq!(
            releases.catalogue().release(&AcpVersion::new(4, 4, 0)),
            Some(&next)
        );
        assert!(releases.record("v4.4.0", None));
        assert!(releases.catalogue().release(&AcpVersion::new(4, 4, 0)).is_none());
        assert!(releases.catalogue().release(&AcpVersion::new(4, 3, 1)).is_some());
    }

    #[test]
    fn each_release_is_known_with_the_digest_it_came_from() {
        let releases = Releases::default();
        let v431 = AcpVersion::new(4, 3, 1);
        let origin = |releases: &Releases| releases.catalogue_with_origins().1.get(&v431).cloned();
        assert_eq!(origin(&releases).as_deref(), Some("builtin"));
        let release = releases.catalogue().release(&v431).cloned().unwrap();
        let pulled = |digest: &str| Resolved {
            release: release.clone(),
            repository: Some("127.0.0.1:5000/acp/release".into()),
            digest: Some(digest.into()),
        };
        assert!(releases.record_resolved("v4.3.1", Some(&pulled("sha256:aaa"))));
        assert_eq!(origin(&releases).as_deref(), Some("sha256:aaa"));
        // The same content under another digest is another release.
        assert!(releases.record_resolved("v4.3.1", Some(&pulled("sha256:bbb"))));
        assert_eq!(origin(&releases).as_deref(), Some("sha256:bbb"));
        assert!(releases.record_resolved("v4.3.1", None));
        assert_eq!(origin(&releases).as_deref(), Some("builtin"));
    }
}
