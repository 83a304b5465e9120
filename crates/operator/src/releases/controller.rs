//! The release controller: resolves each ProductManifest into a release and publishes it in status
//! (Ready, artifacts, release). The cvsh controller reads the same cache to offer Ready releases.

use std::sync::Arc;
use std::time::Duration;

use acp_api::ProductManifest;
use acp_api::conditions::{self, Clock, ConditionUpdate, types};
use acp_api::product_manifest::{
    Artifact, ArtifactChannel, ArtifactStatus, PackageType, ProductManifestStatus, ResolvedRelease,
};
use acp_policy::ProductRelease;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::{Releases, ResolveError};
use crate::metrics::{ControllerName, Metrics};
use crate::status;

/// Everything a ProductManifest reconcile needs.
pub struct Context {
    pub client: kube::Client,
    pub releases: Arc<Releases>,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    /// Told after every reconcile, so the cluster controller re-reads the offered releases.
    pub resolved: tokio::sync::mpsc::UnboundedSender<()>,
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
    let new = desired_status(
        &manifest,
        ctx.releases.resolve(&manifest),
        &old,
        ctx.clock.as_ref(),
    );
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
    Ok(Action::requeue(Duration::from_secs(600)))
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
    resolved: Result<ProductRelease, ResolveError>,
    old: &ProductManifestStatus,
    clock: &dyn Clock,
) -> ProductManifestStatus {
    let generation = manifest.metadata.generation;
    let mut status = ProductManifestStatus {
        conditions: old.conditions.clone(),
        observed_generation: generation,
        ..ProductManifestStatus::default()
    };
    let condition = match resolved {
        Ok(release) => {
            let message = format!(
                "ACP {} resolved from the built-in catalogue: {} modules, Kubernetes {}",
                release.version,
                release.modules.len(),
                release
                    .kubernetes
                    .version
                    .map_or_else(|| release.kubernetes.compatible_text(), |v| v.to_string())
            );
            status.artifacts = artifacts(&release);
            status.release = Some(ResolvedRelease::from(&release));
            ConditionUpdate::new(types::READY, true, "Resolved", message)
        }
        Err(err) => ConditionUpdate::new(types::READY, false, err.reason(), err.to_string()),
    };
    conditions::set(
        &mut status.conditions,
        condition.observed_generation(generation),
        clock,
    );
    status
}

fn artifacts(release: &ProductRelease) -> Vec<Artifact> {
    release
        .modules
        .iter()
        .map(|module| Artifact {
            name: module.name.clone(),
            package_type: Some(PackageType::ModulePlugin),
            channels: vec![ArtifactChannel {
                channel: "stable".into(),
                repository: Some("builtin".into()),
                tag: Some(module.version.clone()),
                artifact_status: Some(ArtifactStatus::Ready),
                digest: None,
                default: Some(true),
            }],
        })
        .collect()
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn a_known_version_is_ready_with_its_release_and_artifacts() {
        let releases = Releases::default();
        let pm = manifest("4.3.1");
        let status = desired_status(&pm, releases.resolve(&pm), &Default::default(), &clock());
        assert!(manifest_ready(&status));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.release.as_ref().unwrap().version, "4.3.1");
        assert_eq!(status.artifacts.len(), 4);
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert!(ready.message.contains("4 modules"), "{}", ready.message);
    }

    #[test]
    fn an_unknown_version_is_not_ready_and_says_why() {
        let releases = Releases::default();
        let pm = manifest("4.9.9");
        let status = desired_status(&pm, releases.resolve(&pm), &Default::default(), &clock());
        assert!(!manifest_ready(&status));
        assert!(status.release.is_none());
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "ReleaseNotFound");
    }

    #[test]
    fn resolving_again_changes_nothing() {
        let releases = Releases::default();
        let pm = manifest("4.2.5");
        let first = desired_status(&pm, releases.resolve(&pm), &Default::default(), &clock());
        let later = FixedClock(Timestamp::from_second(1_800_000_600).unwrap());
        assert_eq!(desired_status(&pm, releases.resolve(&pm), &first, &later), first);
    }
}
