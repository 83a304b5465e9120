//! Releases: the built-in bundles, how a ProductManifest resolves to one (built-in catalogue or an OCI
//! bundle pulled from a registry), and the ProductManifest controller that publishes the result.

pub mod builtin;
pub mod controller;
pub mod trust;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use acp_api::{ProductManifest, catalogue};
use acp_bundle::signature::SignatureError;
use acp_bundle::{
    BundleClient, BundleError, BundleSource, ContentPolicy, ContentRefused, Requested, bundle_source, pull,
};
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
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error(
        "ACP {version} is also claimed by ProductManifest {}; with two releases for one version neither is \
         offered: delete the ProductManifest you do not want",
        others.join(", ")
    )]
    DuplicateVersion {
        version: AcpVersion,
        others: Vec<String>,
    },
    #[error("{0}")]
    ContentRefused(#[from] ContentRefused),
}

impl ResolveError {
    /// Condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidVersion { .. } | Self::InvalidImage { .. } | Self::Empty => "InvalidSpec",
            Self::UnknownVersion { .. } => "ReleaseNotFound",
            Self::Bundle(err) => err.reason(),
            Self::VersionMismatch { .. } => "VersionMismatch",
            Self::Signature(err) => err.reason(),
            Self::DuplicateVersion { .. } => "DuplicateVersion",
            Self::ContentRefused(_) => "ReleaseContentRefused",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Bundle(err) => err.is_transient(),
            Self::Signature(err) => err.is_transient(),
            _ => false,
        }
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
    /// Whether its signature was checked, and by which key.
    pub trust: trust::Trust,
}

/// The releases the operator knows: the built-in ones and those resolved from ProductManifests (which
/// add to and override the built-in ones). Shared by both controllers.
pub struct Releases {
    builtin: Catalogue,
    repository: Option<String>,
    registry: BundleClient,
    trust: trust::ReleaseTrust,
    /// What a bundle pulled from a registry may write to managed clusters.
    content: ContentPolicy,
    /// Release resolved for each ProductManifest, by name.
    resolved: RwLock<BTreeMap<String, ProductRelease>>,
    /// Bundle digest of each ProductManifest's release pulled from a registry, by name.
    digests: RwLock<BTreeMap<String, String>>,
    /// `builtin` merged with `resolved`, rebuilt when `resolved` changes.
    merged: RwLock<Arc<Catalogue>>,
    /// Bumped whenever the set of versions claimed by more than one ProductManifest changes, so that
    /// every ProductManifest of such a version is reconciled again.
    duplicates_changed: tokio::sync::watch::Sender<u64>,
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
            trust: trust::ReleaseTrust::default(),
            content: ContentPolicy::default(),
            resolved: RwLock::default(),
            digests: RwLock::default(),
            merged,
            duplicates_changed: tokio::sync::watch::Sender::new(0),
            origins,
        }
    }

    /// Verifies bundles from registries against these keys (none: not checked).
    pub fn with_trust(mut self, trust: trust::ReleaseTrust) -> Self {
        self.trust = trust;
        self
    }

    /// Changes whenever a version becomes, or stops being, claimed by more than one ProductManifest.
    pub fn duplicates_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.duplicates_changed.subscribe()
    }

    /// Holds bundles pulled from registries to `content` (built-in releases are trusted as shipped).
    pub fn with_content_policy(mut self, content: ContentPolicy) -> Self {
        self.content = content;
        self
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
                    trust: trust::Trust::BuiltIn,
                }),
                None => Err(ResolveError::UnknownVersion { version }),
            },
            BundleSource::Registry(reference) => {
                let pulled = pull(&self.registry, &reference).await?;
                let trust = self.trust.check(&self.registry, &pulled).await?;
                if let Some(wanted) = version
                    && pulled.release.version != wanted
                {
                    return Err(ResolveError::VersionMismatch {
                        reference: reference.to_string(),
                        wanted,
                        found: pulled.release.version,
                    });
                }
                self.content.check(&pulled.release)?;
                Ok(Resolved {
                    release: pulled.release,
                    repository: Some(reference.repository_ref().to_string()),
                    digest: Some(pulled.digest),
                    trust,
                })
            }
        }
    }

    /// Records what ProductManifest `name` resolved to, with the digest of a pulled bundle (`None`:
    /// nothing); true when the catalogue changed. The digest changes under the same lock as the
    /// release, so no merge pairs the old release with the new digest.
    pub fn record_resolved(&self, name: &str, resolved: Option<&Resolved>) -> bool {
        let Ok(mut claims) = self.resolved.write() else {
            return false;
        };
        let digest = resolved.and_then(|r| r.digest.clone());
        let digest_changed = match self.digests.write() {
            Ok(mut digests) => match digest {
                Some(digest) => digests.insert(name.to_string(), digest.clone()) != Some(digest),
                None => digests.remove(name).is_some(),
            },
            Err(_) => false,
        };
        let changed = self.record_claim(&mut claims, name, resolved.map(|r| &r.release));
        if digest_changed && !changed {
            // Same content under a new digest: the origins still change.
            self.merge(&claims);
        }
        changed || digest_changed
    }

    /// Records the outcome of resolving ProductManifest `name`. A transient failure (the registry is
    /// away or slow) keeps what was resolved before: an upgrade pinned to that release goes on, rather
    /// than stopping for a registry blip. Any other failure withdraws the release.
    pub fn record_outcome(&self, name: &str, outcome: &Result<Resolved, ResolveError>) -> bool {
        match outcome {
            Err(err) if err.is_transient() => false,
            outcome => self.record_resolved(name, outcome.as_ref().ok()),
        }
    }

    /// Records what ProductManifest `name` resolved to (`None`: nothing); true when the catalogue changed.
    pub fn record(&self, name: &str, release: Option<&ProductRelease>) -> bool {
        let Ok(mut resolved) = self.resolved.write() else {
            return false;
        };
        self.record_claim(&mut resolved, name, release)
    }

    /// [`Self::record`] with the lock on `resolved` held.
    fn record_claim(
        &self,
        resolved: &mut BTreeMap<String, ProductRelease>,
        name: &str,
        release: Option<&ProductRelease>,
    ) -> bool {
        let duplicated_before = catalogue::duplicated_versions(resolved.values());
        let changed = match release {
            Some(release) => resolved.insert(name.to_string(), release.clone()).as_ref() != Some(release),
            None => resolved.remove(name).is_some(),
        };
        if changed {
            let duplicated = self.merge(resolved);
            if duplicated != duplicated_before {
                self.duplicates_changed.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
        changed
    }

    /// Refuses a release whose version another ProductManifest also resolved to (see [`Self::record`]).
    pub fn unique(&self, name: &str, resolved: Resolved) -> Result<Resolved, ResolveError> {
        let others: Vec<String> = self
            .resolved
            .read()
            .map(|claims| {
                claims
                    .iter()
                    .filter(|(other, release)| {
                        other.as_str() != name && release.version == resolved.release.version
                    })
                    .map(|(other, _)| other.clone())
                    .collect()
            })
            .unwrap_or_default();
        if others.is_empty() {
            Ok(resolved)
        } else {
            Err(ResolveError::DuplicateVersion {
                version: resolved.release.version,
                others,
            })
        }
    }

    /// Rebuilds the catalogue from the built-in releases and `resolved` (see [`catalogue::merge`]: a
    /// version claimed twice is left out); returns the versions claimed twice.
    fn merge(&self, resolved: &BTreeMap<String, ProductRelease>) -> BTreeSet<AcpVersion> {
        let digests = self.digests.read().map(|d| d.clone()).unwrap_or_default();
        let known = catalogue::merge(&self.builtin, resolved.iter().map(|(n, r)| (n.as_str(), r)));
        for (name, err) in &known.invalid {
            tracing::warn!(product_manifest = %name, error = %err, "a resolved release is not valid; it is left out");
        }
        let mut origins = builtin_origins(&self.builtin);
        for (version, name) in &known.claimed_by {
            let origin = digests
                .get(name)
                .cloned()
                .unwrap_or_else(|| crate::cvsh::pinning::BUILTIN_DIGEST.to_string());
            origins.insert(version.clone(), origin);
        }
        if let Ok(mut slot) = self.merged.write() {
            *slot = Arc::new(known.catalogue);
            if let Ok(mut origins_slot) = self.origins.write() {
                *origins_slot = Arc::new(origins);
            }
        }
        known.duplicated
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
        .filter(|pm| pm.is_offered())
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

    #[tokio::test]
    async fn two_manifests_of_one_version_are_both_refused_naming_each_other() {
        let releases = Releases::default();
        let mut changes = releases.duplicates_changed();
        let resolve = |name: &'static str| {
            let releases = &releases;
            async move {
                let resolved = releases.resolve(&manifest(Some("4.3.1"), None)).await.unwrap();
                releases.record(name, Some(&resolved.release));
                releases.unique(name, resolved)
            }
        };
        let mut next = releases
            .catalogue()
            .release(&AcpVersion::new(4, 3, 1))
            .cloned()
            .unwrap();
        next.version = AcpVersion::new(4, 4, 0);
        next.upgrade_from = vec![">=4.3.0, <4.4.0".parse().unwrap()];
        releases.record("acp-4-4-0", Some(&next));
        assert!(resolve("v4.3.1").await.is_ok(), "one claim is fine");
        assert!(!changes.has_changed().unwrap());

        // "zz" sorts last: before, it silently won; now both are refused and each names the other.
        let mut other = next.clone();
        other.modules.clear();
        releases.record("zz-4-4-0", Some(&other));
        assert!(
            changes.has_changed().unwrap(),
            "the earlier claimant is told to look again"
        );
        changes.mark_unchanged();
        assert!(
            releases.catalogue().release(&AcpVersion::new(4, 4, 0)).is_none(),
            "neither release of 4.4.0 is in the catalogue"
        );
        for (name, other) in [("acp-4-4-0", "zz-4-4-0"), ("zz-4-4-0", "acp-4-4-0")] {
            let resolved = Resolved {
                release: next.clone(),
                repository: None,
                digest: None,
                trust: trust::Trust::Unchecked,
            };
            let err = releases.unique(name, resolved).unwrap_err();
            assert_eq!(err.reason(), "DuplicateVersion");
            assert!(
                err.to_string().contains(&format!("ProductManifest {other}")),
                "{err}"
            );
        }

        // Deleting one makes the other whole again.
        releases.record("zz-4-4-0", None);
        assert!(changes.has_changed().unwrap());
        assert_eq!(
            releases.catalogue().release(&AcpVersion::new(4, 4, 0)),
            Some(&next)
        );
    }

    #[test]
    fn a_registry_blip_keeps_the_release_an_upgrade_may_be_pinned_to() {
        let releases = Releases::default();
        let v431 = AcpVersion::new(4, 3, 1);
        let pulled = Resolved {
            release: releases.catalogue().release(&v431).cloned().unwrap(),
            repository: Some("127.0.0.1:5000/acp/release".into()),
            digest: Some("sha256:aaa".into()),
            trust: trust::Trust::Unchecked,
        };
        let origin = |releases: &Releases| releases.catalogue_with_origins().1.get(&v431).cloned();
        assert!(releases.record_outcome("v4.3.1", &Ok(pulled)));
        assert_eq!(origin(&releases).as_deref(), Some("sha256:aaa"));

        let away = ResolveError::Bundle(acp_bundle::BundleError::Timeout {
            operation: acp_bundle::Operation::FetchingManifest,
            reference: "127.0.0.1:5000/acp/release:4.3.1".into(),
            registry: "127.0.0.1:5000".into(),
            after: std::time::Duration::from_secs(30),
        });
        assert!(away.is_transient());
        assert!(!releases.record_outcome("v4.3.1", &Err(away)));
        assert_eq!(
            origin(&releases).as_deref(),
            Some("sha256:aaa"),
            "kept through the blip"
        );

        assert!(releases.record_outcome("v4.3.1", &Err(ResolveError::Empty)));
        assert_eq!(
            origin(&releases).as_deref(),
            Some("builtin"),
            "withdrawn for good"
        );
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
            trust: trust::Trust::Unchecked,
        };
        assert!(releases.record_resolved("v4.3.1", Some(&pulled("sha256:aaa"))));
        assert_eq!(origin(&releases).as_deref(), Some("sha256:aaa"));
        // The same content under another digest is another release.
        assert!(releases.record_resolved("v4.3.1", Some(&pulled("sha256:bbb"))));
        assert_eq!(origin(&releases).as_deref(), Some("sha256:bbb"));
        assert!(releases.record_resolved("v4.3.1", None));
        assert_eq!(origin(&releases).as_deref(), Some("builtin"));
    }

    #[test]
    fn a_digest_changes_only_while_its_release_does() {
        let releases = Releases::default();
        let v431 = AcpVersion::new(4, 3, 1);
        let pulled = Resolved {
            release: releases.catalogue().release(&v431).cloned().unwrap(),
            repository: Some("127.0.0.1:5000/acp/release".into()),
            digest: Some("sha256:bbb".into()),
            trust: trust::Trust::Unchecked,
        };
        std::thread::scope(|scope| {
            // Held here, the digests make the writer wait with whatever else it holds by then.
            let digests = releases.digests.write().unwrap();
            let writer = scope.spawn(|| releases.record_resolved("v4.3.1", Some(&pulled)));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut holds_releases = false;
            while std::time::Instant::now() < deadline {
                if releases.resolved.try_write().is_err() {
                    holds_releases = true;
                    break;
                }
                std::thread::yield_now();
            }
            drop(digests);
            assert!(writer.join().unwrap());
            assert!(
                holds_releases,
                "the digest is changed without holding the releases: a concurrent merge can pair the old \
                 release with the new digest"
            );
        });
        assert_eq!(
            releases.catalogue_with_origins().1.get(&v431).map(String::as_str),
            Some("sha256:bbb")
        );
    }
}
