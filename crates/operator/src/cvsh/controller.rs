//! The ClusterVersionShadow reconcile: gather → decide → apply → project, and one status write.
//!
//! Each step lives in its own module: [`gather`] reads the facts once, [`phase::decide`] says what this
//! reconcile does, [`apply`] advances the stages of a running upgrade (the only step that changes a
//! cluster), [`project::status`] computes the status to write. This function only sequences them.

use std::sync::Arc;
use std::time::Duration;

use acp_api::conditions::Clock;
use acp_api::cvsh::{CheckState, Tier};
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus, ProductManifest};
use acp_policy::AcpVersion;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};

use super::gather::{self, Facts};
use super::phase::{self, Phase};
use super::project::{self, Projection, Stepped};
use super::slots::Slots;
use super::stages::{self, Execution};
use super::transitions;
use crate::clusters::ClusterAccess;
use crate::clusters::objects::ObjectStore;
use crate::metrics::{ControllerName, Metrics};
use crate::releases::{self, Releases};
use crate::status;

/// Everything a reconcile needs, shared by all reconciles.
pub struct Context {
    pub client: kube::Client,
    /// Namespace of the cvsh objects, their kubeconfig Secrets and the operator's ConfigMaps.
    pub namespace: String,
    pub access: ClusterAccess,
    pub releases: Arc<Releases>,
    pub manifests: Store<ProductManifest>,
    pub shadows: Store<ClusterVersionShadow>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub clock: Arc<dyn Clock>,
    pub install_version: Option<AcpVersion>,
    pub stall_after: Duration,
    pub resync: Duration,
    /// Upgrades this process started, before the cache shows them.
    pub slots: Slots,
    /// Upgrade notifications to a webhook (disabled without --notification-secret).
    pub notifier: crate::notify::Notifier,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of ClusterVersionShadow {name}: {source}")]
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

pub fn error_policy(shadow: Arc<ClusterVersionShadow>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(cluster = %shadow.name_any(), error = %error, "reconcile failed");
    ctx.metrics
        .reconcile_failed(ControllerName::ClusterVersion, error.metric_label());
    Action::requeue(Duration::from_secs(5))
}

impl Context {
    /// Drops per-cluster state of clusters whose ClusterVersionShadow was deleted.
    pub(super) fn forget_deleted(&self, shadows: &[Arc<ClusterVersionShadow>]) {
        let exists = |name: &str| shadows.iter().any(|s| s.name_any() == name);
        self.slots.retain(exists);
        self.metrics.retain_clusters(exists);
    }
}

#[tracing::instrument(skip(shadow, ctx), fields(cluster = %shadow.name_any()))]
pub async fn reconcile(shadow: Arc<ClusterVersionShadow>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(ControllerName::ClusterVersion);
    let previous = shadow.status.clone().unwrap_or_default();

    let facts = gather::facts(&ctx, &shadow, &previous).await;
    let preflight = gather::preflight(&ctx, &shadow, &facts, &previous).await;

    let inputs = phase::Inputs {
        request: &facts.request,
        current: facts.current.version.as_ref(),
        paused: shadow.is_paused(),
        preflight: preflight.as_ref(),
        catalogue: &facts.catalogue,
        origins: &facts.origins,
        seen: facts.seen(),
    };
    let phase = phase::decide(&previous, &inputs, |target| {
        ctx.slots.reserve(facts.claim(target), &facts.fleet)
    });

    let stepped = match &phase {
        Phase::Execute { target, .. } => Some(apply(&ctx, &shadow, &facts, &previous, target).await),
        _ => None,
    };

    let ready = releases::ready_versions(&ctx.manifests);
    let projection = Projection {
        facts: &facts,
        phase: &phase,
        preflight: preflight.as_ref(),
        stepped: stepped.as_ref(),
        ready: &ready,
        driver: shadow.kubernetes_driver(),
        generation: shadow.metadata.generation,
        stall_after: ctx.stall_after,
    };
    let status = project::status(&previous, &projection, ctx.clock.as_ref());

    if project::needs_write(&previous, &status, ctx.resync) {
        let api: Api<ClusterVersionShadow> =
            Api::namespaced(ctx.client.clone(), &shadow.namespace().unwrap_or_default());
        if let Err(err) = status::apply(&api, &shadow, &status).await {
            if matches!(phase, Phase::Start { .. }) {
                ctx.slots.release(&facts.name);
            }
            return write_failed(&facts.name, err);
        }
    }
    if let Phase::Start { target, .. } = &phase {
        tracing::info!(%target, "upgrade started");
    }
    if projection.completed() {
        ctx.slots.release(&facts.name);
    }
    publish(&ctx, &shadow, &facts, &previous, &status).await;
    Ok(requeue(&phase, stepped.as_ref(), &facts, ctx.resync))
}

/// Advances the stages of the running upgrade to `target` against its cluster.
async fn apply(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    facts: &Facts,
    previous: &ClusterVersionShadowStatus,
    target: &AcpVersion,
) -> Stepped {
    let catalogue = &facts.catalogue;
    // The release the upgrade started from: the newest Completed entry below the running one.
    let from = previous
        .history
        .iter()
        .skip(1)
        .find(|e| e.state == acp_api::cvsh::HistoryState::Completed)
        .and_then(|e| e.acp_version().ok())
        .or_else(|| facts.current.version.clone());
    let mut stages = previous.stages.clone();
    let Some(target_release) = catalogue.release(target) else {
        // decide() stops an upgrade whose release is not loaded; nothing to apply.
        return Stepped {
            stages,
            advance: stages::Advance::default(),
        };
    };
    let exec = Execution {
        cluster: match &facts.cluster {
            Ok(cluster) => Ok(cluster as &dyn ObjectStore),
            Err(err) => Err(err.to_string()),
        },
        current: from.as_ref().and_then(|c| catalogue.release(c)),
        target: target_release,
        kubernetes: facts.kubernetes(),
        driver: shadow.kubernetes_driver(),
        paused: shadow.is_paused(),
        now: ctx.clock.now(),
    };
    let advance = stages::advance(&mut stages, &exec).await;
    Stepped { stages, advance }
}

/// What follows a written status: Events and notifications for each transition, and the metrics.
async fn publish(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    facts: &Facts,
    previous: &ClusterVersionShadowStatus,
    status: &ClusterVersionShadowStatus,
) {
    for check in newly_failed(previous, status) {
        ctx.metrics.preflight_failed(check);
    }
    if previous.running_upgrade().is_some()
        && status.running_upgrade().is_none()
        && let Some(took) = status.last_completed().and_then(|e| e.duration())
    {
        ctx.metrics.upgrade_completed(took);
    }
    publish_metrics(ctx, shadow, facts, status);
    publish_transitions(ctx, shadow, facts.tier, previous, status).await;
}

/// Checks Failed in `new` that were not Failed for the same target in `old`.
fn newly_failed<'a>(old: &ClusterVersionShadowStatus, new: &'a ClusterVersionShadowStatus) -> Vec<&'a str> {
    let Some(preflight) = &new.preflight else {
        return Vec::new();
    };
    let failed_before: Vec<&str> = old
        .preflight
        .iter()
        .filter(|p| p.target_version == preflight.target_version)
        .flat_map(|p| &p.checks)
        .filter(|c| c.state == CheckState::Failed)
        .map(|c| c.name.as_str())
        .collect();
    preflight
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Failed && !failed_before.contains(&c.name.as_str()))
        .map(|c| c.name.as_str())
        .collect()
}

/// The cluster's series on /metrics, from the status this reconcile projected.
fn publish_metrics(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    facts: &Facts,
    status: &ClusterVersionShadowStatus,
) {
    let state = acp_api::cvsh::Reading::of(&shadow.spec, Some(status)).metric_label();
    ctx.metrics.cluster_state(&facts.name, state);
    let series = super::facts::cluster_facts(facts.tier, state, status, &facts.fleet, &facts.catalogue);
    ctx.metrics.cluster_facts(&facts.name, series);
    ctx.metrics
        .unsigned_releases(&super::facts::unsigned_releases(&ctx.manifests.state()));
}

fn write_failed(name: &str, err: kube::Error) -> Result<Action, Error> {
    if status::is_conflict(&err) {
        // Computed from an outdated object: run again on the fresh one.
        tracing::debug!(cluster = name, "status changed meanwhile; reconciling again");
        return Ok(Action::requeue(Duration::from_millis(300)));
    }
    Err(Error::WriteStatus {
        name: name.to_string(),
        source: err,
    })
}

fn requeue(phase: &Phase, stepped: Option<&Stepped>, facts: &Facts, resync: Duration) -> Action {
    let after = match (phase, stepped) {
        // The start is recorded; the next reconcile applies its first step.
        (Phase::Start { .. }, _) => Duration::from_millis(500),
        (_, Some(stepped)) if stepped.advance.finished => Duration::from_secs(1),
        (_, Some(stepped)) if stepped.advance.blocked.is_none() => Duration::from_secs(2),
        (Phase::Execute { .. } | Phase::Stopped { .. } | Phase::Blocked { .. } | Phase::Held { .. }, _) => {
            Duration::from_secs(5)
        }
        _ if !facts.observation.reachable => Duration::from_secs(10).min(resync),
        _ => resync,
    };
    Action::requeue(after)
}

async fn publish_transitions(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    tier: Tier,
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
) {
    let reference = shadow.object_ref(&());
    let transitions = transitions::transitions(old, new);
    ctx.notifier
        .publish(shadow, tier, old, new, &transitions, &ctx.clock.time());
    for transition in transitions {
        tracing::info!(reason = transition.reason, note = %transition.note, "transition");
        let event = Event {
            type_: transition.type_,
            reason: transition.reason.to_string(),
            note: Some(transition.note.chars().take(1000).collect()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %err, "cannot publish an Event; the status still records the transition");
        }
    }
}
