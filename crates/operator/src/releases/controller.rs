//! The release controller: resolves each ProductManifest into a release and publishes it in status
//! (Ready, artifacts, release). The cvsh controller reads the same cache to offer Ready releases.

use std::sync::Arc;
use std::time::Duration;

use acp_api::ProductManifest;
use acp_api::conditions::{self, Clock, ConditionUpdate, types};
use acp_api::cvsh::bounds::{MAX_MESSAGE_CHARS, clip};
use acp_api::product_manifest::{
    Artifact, ArtifactChannel, ArtifactStatus, PackageType, ProductManifestStatus, ResolvedRelease,
};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::{Releases, ResolveError, Resolved};
use crate::metrics::{ControllerName, Metrics};
use crate::status;

/// Everything a ProductManifest reconcile needs.
pub struct Context {
    pub client: kube::Client,
    pub releases: Arc<Releases>,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    /// Told when what clusters read of the releases may have changed, so every cluster reads it again.
    pub resolved: tokio::sync::mpsc::UnboundedSender<()>,
    /// The status each ProductManifest had in the cache when clusters were last told.
    pub announced: Announced,
}

/// What the clusters were last told about each ProductManifest. Every cluster is reconciled again on each
/// announcement, so one is made only when something they read changed: the catalogue, a status this
/// reconcile writes, or a status the cache shows for the first time (the clusters read readiness from
/// the cache, which holds a written status only once its watch event arrived).
#[derive(Default)]
pub struct Announced(std::sync::Mutex<std::collections::BTreeMap<String, ProductManifestStatus>>);

impl Announced {
    /// Whether to tell the clusters, given what the cache showed (`cached`), what was written (`new`)
    /// and whether the catalogue changed; remembers `cached` as told.
    pub fn should_announce(
        &self,
        name: &str,
        cached: &ProductManifestStatus,
        new: &ProductManifestStatus,
        catalogue_changed: bool,
    ) -> bool {
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let seen_before = told.get(name) == Some(cached);
        told.insert(name.to_owned(), cached.clone());
        catalogue_changed || new != cached || !seen_before
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of ProductManifest {name}: {source}")]
    WriteStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "write_status",
        }
    }
}

#[tracing::instrument(skip(manifest, ctx), fields(name = %manifest.name_any()))]
pub async fn reconcile(manifest: Arc<ProductManifest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(ControllerName::Release);
    let old = manifest.status.clone().unwrap_or_default();
    let resolved = ctx.releases.resolve(&manifest).await;
    let retry = match &resolved {
        Ok(_) => Duration::from_secs(600),
        Err(err) if err.is_transient() => Duration::from_secs(15),
        Err(_) => Duration::from_secs(120),
    };
    if let Err(err) = &resolved {
        tracing::info!(reason = err.reason(), error = %err, "release not resolved");
    }
    let catalogue_changed = ctx.releases.record_outcome(&manifest.name_any(), &resolved);
    let resolved = resolved.and_then(|r| ctx.releases.unique(&manifest.name_any(), r));
    if let Err(err @ ResolveError::DuplicateVersion { .. }) = &resolved {
        tracing::info!(reason = err.reason(), error = %err, "release not offered");
    }
    let new = desired_status(&manifest, resolved, &old, ctx.clock.as_ref());
    if new != old {
        let api: Api<ProductManifest> = Api::all(ctx.client.clone());
        match status::apply(&api, manifest.as_ref(), &new).await {
            Ok(_) => tracing::info!(ready = manifest_ready(&new), "release status updated"),
            Err(err) if status::is_conflict(&err) => return Ok(Action::requeue(Duration::from_millis(500))),
            Err(source) => {
                return Err(Error::WriteStatus {
                    name: manifest.name_any(),
                    source,
                });
            }
        }
    }
    if ctx
        .announced
        .should_announce(&manifest.name_any(), &old, &new, catalogue_changed)
    {
        // The receiver is gone only while shutting down.
        let _ = ctx.resolved.send(());
    }
    Ok(Action::requeue(retry))
}

pub fn error_policy(manifest: Arc<ProductManifest>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %manifest.name_any(), error = %error, "release reconcile failed");
    ctx.metrics
        .reconcile_failed(ControllerName::Release, error.metric_label());
    Action::requeue(Duration::from_secs(10))
}

fn manifest_ready(status: &ProductManifestStatus) -> bool {
    conditions::is_true(&status.conditions, types::READY)
}

/// The status a ProductManifest should have for the resolution result.
pub fn desired_status(
    manifest: &ProductManifest,
    resolved: Result<Resolved, ResolveError>,
    old: &ProductManifestStatus,
    clock: &dyn Clock,
) -> ProductManifestStatus {
    let generation = manifest.metadata.generation;
    let mut status = ProductManifestStatus {
        conditions: old.conditions.clone(),
        observed_generation: generation,
        // A digest resolved before stays pinned even while the registry is away.
        resolved_image_digest: old.resolved_image_digest.clone(),
        ..ProductManifestStatus::default()
    };
    let signature = super::trust::condition(&resolved);
    let condition = match resolved {
        Ok(resolved) => {
            let release = &resolved.release;
            let source = match &resolved.repository {
                Some(repository) => format!("pulled from {repository}"),
                None => "resolved from the built-in catalogue".to_string(),
            };
            let message = format!(
                "ACP {} {source}: {} modules, Kubernetes {}",
                release.version,
                release.modules.len(),
                release
                    .kubernetes
                    .version
                    .map_or_else(|| release.kubernetes.compatible_text(), |v| v.to_string())
            );
            status.artifacts = artifacts(&resolved);
            status.release = Some(ResolvedRelease::from(release));
            if resolved.digest.is_some() {
                status.resolved_image_digest = resolved.digest.clone();
            }
            ConditionUpdate::new(types::READY, true, "Resolved", message)
        }
        // Registry answers and spec values end up in this text: bounded like every cvsh message.
        Err(err) => ConditionUpdate::new(
            types::READY,
            false,
            err.reason(),
            clip(&err.to_string(), MAX_MESSAGE_CHARS).into_owned(),
        ),
    };
    conditions::set(
        &mut status.conditions,
        condition.observed_generation(generation),
        clock,
    );
    match signature {
        Some(signature) => {
            conditions::set(
                &mut status.conditions,
                signature.observed_generation(generation),
                clock,
            );
        }
        None => {
            conditions::remove(&mut status.conditions, types::SIGNATURE_VERIFIED);
        }
    }
    status
}

fn artifacts(resolved: &Resolved) -> Vec<Artifact> {
    resolved
        .release
        .modules
        .iter()
        .map(|module| Artifact {
            name: module.name.clone(),
            package_type: Some(PackageType::ModulePlugin),
            channels: vec![ArtifactChannel {
                channel: "stable".into(),
                repository: Some(resolved.repository.clone().unwrap_or_else(|| "builtin".into())),
                tag: Some(module.version.clone()),
                artifact_status: Some(ArtifactStatus::Ready),
                digest: resolved.digest.clone(),
                default: Some(true),
            }],
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn clusters_are_told_of_a_release_only_when_what_they_read_changed() {
        let announced = Announced::default();
        let pending = ProductManifestStatus::default();
        let ready = ProductManifestStatus {
            resolved_image_digest: Some("sha256:1".into()),
            ..Default::default()
        };
        // Resolved and written: told (they may still read the old status from the cache).
        assert!(announced.should_announce("v4.3.1", &pending, &ready, true));
        // The watch brings the written status into the cache: told again, now they read it.
        assert!(announced.should_announce("v4.3.1", &ready, &ready, false));
        // The periodic resolve finds nothing new: not told, 5,000 clusters stay idle.
        assert!(!announced.should_announce("v4.3.1", &ready, &ready, false));
        // A new leader's first look at a Ready manifest fills its catalogue: told.
        assert!(Announced::default().should_announce("v4.3.1", &ready, &ready, false));
        assert!(announced.should_announce("v4.3.1", &ready, &ready, true));
    }
    use super::*;
    use acp_api::ProductManifestSpec;
    use acp_api::conditions::FixedClock;
    use k8s_openapi::jiff::Timestamp;

    fn clock() -> FixedClock {
        FixedClock(Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn manifest(version: &str) -> ProductManifest {
        let mut pm = ProductManifest::new(
            &ProductManifest::name_for_version(version),
            ProductManifestSpec {
                version: Some(version.into()),
                image: None,
            },
        );
        pm.metadata.generation = Some(1);
        pm
    }

    #[tokio::test]
    async fn a_known_version_is_ready_with_its_release_and_artifacts() {
        let releases = Releases::default();
        let pm = manifest("4.3.1");
        let status = desired_status(&pm, releases.resolve(&pm).await, &Default::default(), &clock());
        assert!(manifest_ready(&status));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.release.as_ref().unwrap().version, "4.3.1");
        assert_eq!(status.artifacts.len(), 4);
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert!(ready.message.contains("4 modules"), "{}", ready.message);
        let signature = conditions::find(&status.conditions, types::SIGNATURE_VERIFIED).unwrap();
        assert_eq!(
            (signature.status.as_str(), signature.reason.as_str()),
            ("True", "BuiltIn")
        );
    }

    #[tokio::test]
    async fn a_refused_duplicate_is_not_ready_and_drops_what_it_said_about_signatures() {
        let releases = Releases::default();
        let pm = manifest("4.3.1");
        let first = desired_status(&pm, releases.resolve(&pm).await, &Default::default(), &clock());
        let duplicate = Err(ResolveError::DuplicateVersion {
            version: "4.3.1".parse().unwrap(),
            others: vec!["other-4-3-1".into()],
        });
        let status = desired_status(&pm, duplicate, &first, &clock());
        assert!(!manifest_ready(&status));
        assert!(status.release.is_none());
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "DuplicateVersion");
        assert!(
            ready.message.contains("ProductManifest other-4-3-1"),
            "{}",
            ready.message
        );
        assert!(conditions::find(&status.conditions, types::SIGNATURE_VERIFIED).is_none());
    }

    #[test]
    fn a_pulled_bundle_records_its_digest_and_repository() {
        let release = Releases::default()
            .catalogue()
            .release(&"4.3.1".parse().unwrap())
            .cloned()
            .unwrap();
        let resolved = Resolved {
            release,
            repository: Some("127.0.0.1:5000/acp/release".into()),
            digest: Some("sha256:abc".into()),
            trust: super::super::trust::Trust::Unchecked,
        };
        let status = desired_status(&manifest("4.3.1"), Ok(resolved), &Default::default(), &clock());
        assert_eq!(status.resolved_image_digest.as_deref(), Some("sha256:abc"));
        let channel = &status.artifacts[0].channels[0];
        assert_eq!(channel.repository.as_deref(), Some("127.0.0.1:5000/acp/release"));
        assert_eq!(channel.digest.as_deref(), Some("sha256:abc"));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert!(
            ready.message.contains("pulled from 127.0.0.1:5000/acp/release"),
            "{}",
            ready.message
        );
    }

    #[tokio::test]
    async fn an_unknown_version_is_not_ready_and_says_why() {
        let releases = Releases::default();
        let pm = manifest("4.9.9");
        let status = desired_status(&pm, releases.resolve(&pm).await, &Default::default(), &clock());
        assert!(!manifest_ready(&status));
        assert!(status.release.is_none());
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "ReleaseNotFound");
    }

    #[test]
    fn a_megabyte_of_error_text_is_clipped_before_it_reaches_status() {
        let huge = ResolveError::InvalidImage {
            image: "registry.example.com/acp/release".into(),
            message: "x".repeat(1 << 20),
        };
        let status = desired_status(&manifest("4.3.1"), Err(huge), &Default::default(), &clock());
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(ready.message.ends_with(acp_api::cvsh::bounds::TRUNCATION_MARKER));
        assert!(ready.message.starts_with("spec.image"), "{}", ready.message);
    }

    #[test]
    fn a_release_with_privileged_content_is_not_ready_and_names_the_object() {
        let mut release = Releases::default()
            .catalogue()
            .release(&"4.3.1".parse().unwrap())
            .cloned()
            .unwrap();
        release.modules[0].manifests.push(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"}}));
        let refused = acp_bundle::ContentPolicy::default().check(&release).unwrap_err();
        let err = ResolveError::from(refused);
        assert!(!err.is_transient());
        let status = desired_status(&manifest("4.3.1"), Err(err), &Default::default(), &clock());
        assert!(!manifest_ready(&status));
        assert!(status.release.is_none() && status.artifacts.is_empty());
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "ReleaseContentRefused");
        assert!(
            ready
                .message
                .contains("module platform-api: DaemonSet kube-system/agent"),
            "{}",
            ready.message
        );
    }

    #[tokio::test]
    async fn resolving_again_changes_nothing() {
        let releases = Releases::default();
        let pm = manifest("4.2.5");
        let first = desired_status(&pm, releases.resolve(&pm).await, &Default::default(), &clock());
        let later = FixedClock(Timestamp::from_second(1_800_000_600).unwrap());
        assert_eq!(
            desired_status(&pm, releases.resolve(&pm).await, &first, &later),
            first
        );
    }
}
