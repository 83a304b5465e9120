//! The ClusterVersionShadow reconcile: gather → decide → apply → project, and one status write.
//!
//! Each step lives in its own module: [`gather`] reads the facts once, [`phase::decide`] says what this
//! reconcile does, [`apply`] advances the stages of a running upgrade (the only step that changes a
//! cluster), [`project::status`] computes the status to write. This function only sequences them.

use std::sync::Arc;
use std::time::Duration;

use acp_api::conditions::Clock;
use acp_api::cvsh::{CheckState, KubernetesDriver, Tier};
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus, ProductManifest};
use acp_policy::AcpVersion;
use k8s_openapi::jiff::SignedDuration;
use kube::runtime::events::{Event, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};

use super::gather::{self, Facts};
use super::phase::{self, Phase};
use super::preflight::checks::maintenance_window_open;
use super::preflight::platform_cache::CachedPlatform;
use super::preflight::sources::Platform;
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
    /// The operator's settings in the global cluster, as preflight reads them.
    pub platform: CachedPlatform<Platform>,
    pub releases: Arc<Releases>,
    pub manifests: Store<ProductManifest>,
    pub shadows: Store<ClusterVersionShadow>,
    /// The other clusters, from `shadows`.
    pub fleet: super::fleet::FleetView,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub clock: Arc<dyn Clock>,
    pub install_version: Option<AcpVersion>,
    pub stall_after: Duration,
    /// How long a module operation waits before the operator looks for its culprits.
    pub insight_after: SignedDuration,
    /// How old an unchanged observation may get before the status is written again to say it is fresh.
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
    /// A defect: the reconcile panicked. The cluster is reconciled again like after any failure.
    #[error("the reconcile of ClusterVersionShadow {name} panicked; this is a defect, please report it")]
    Panicked { name: String },
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "write_status",
            Error::Panicked { .. } => "panic",
        }
    }
}

/// When a reconcile that failed runs again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Logs and counts a failed reconcile; it runs again after [`RETRY_AFTER`].
pub fn error_policy(cluster: &str, error: &Error, ctx: &Context) {
    tracing::warn!(cluster, error = %error, "reconcile failed");
    ctx.metrics
        .reconcile_failed(ControllerName::ClusterVersion, error.metric_label());
}

/// What a reconcile asks of the scheduler.
#[derive(Debug)]
pub struct Outcome {
    pub next: Next,
    /// The object as stored after this reconcile's status write, if it wrote.
    pub written: Option<ClusterVersionShadow>,
    /// Whether the status changed in anything but its timestamps.
    pub changed: bool,
}

/// When the cluster is reconciled again (a change of its object may come first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// An upgrade runs or waits for its turn: its next step is due after this.
    Step(Duration),
    /// The reconcile ran on an outdated copy: again shortly, on the fresh one.
    Again(Duration),
    /// A requested upgrade waits on something outside it (another cluster, a release): looked at again
    /// at the first cadence, which does not stretch.
    Pending,
    /// Nothing runs: observed again at the cadence of idle clusters.
    Idle { reachable: bool },
    /// A requested upgrade waits for a known time (its maintenance window opening): looked at again then.
    Until(Duration),
}

impl Context {
    /// Drops the per-cluster state of a cluster whose ClusterVersionShadow was deleted.
    pub(super) fn forget(&self, cluster: &str) {
        let exists = |name: &str| name != cluster;
        self.slots.retain(exists);
        self.metrics.retain_clusters(exists);
    }
}

#[tracing::instrument(skip(shadow, ctx), fields(cluster = %shadow.name_any()))]
pub async fn reconcile(shadow: Arc<ClusterVersionShadow>, ctx: Arc<Context>) -> Result<Outcome, Error> {
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

    let changed = project::changed(&previous, &status);
    let written = if changed || project::observation_aged(&previous, &status, ctx.resync) {
        let api: Api<ClusterVersionShadow> =
            Api::namespaced(ctx.client.clone(), &shadow.namespace().unwrap_or_default());
        status::apply(&api, &shadow, &status).await.map(Some)
    } else {
        Ok(None)
    };
    if !keeps_reservation(&phase, Written::of(&written), projection.completed()) {
        ctx.slots.release(&facts.name);
    }
    let written = match written {
        Ok(written) => written,
        Err(err) => return write_failed(&facts.name, err),
    };
    match &phase {
        Phase::Start { target, .. } => tracing::info!(%target, "upgrade started"),
        Phase::Execute { target, .. } if projection.completed() => {
            tracing::info!(%target, "upgrade completed")
        }
        _ => {}
    }
    publish(&ctx, &shadow, &facts, &previous, &status).await;
    let window_opens = match &phase {
        Phase::Blocked { summary, .. } => {
            maintenance_window_open::nap(&ctx.platform, &shadow, summary, ctx.clock.now()).await
        }
        _ => None,
    };
    Ok(Outcome {
        next: window_opens.map_or_else(
            || next(&phase, stepped.as_ref(), facts.observation.reachable),
            Next::Until,
        ),
        written,
        changed,
    })
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
    let driver = shadow.kubernetes_driver();
    let global = ctx.access.global(acp_api::names::GLOBAL_CLUSTER);
    let exec = Execution {
        cluster: match &facts.cluster {
            Ok(cluster) => Ok(cluster as &dyn ObjectStore),
            Err(err) => Err(err.to_string()),
        },
        current: from.as_ref().and_then(|c| catalogue.release(c)),
        target: target_release,
        kubernetes: facts.kubernetes(),
        driver,
        paused: shadow.is_paused(),
        now: ctx.clock.now(),
        insight_after: ctx.insight_after,
        cluster_api: (driver == KubernetesDriver::ClusterAPI).then(|| {
            stages::kubernetes::cluster_api::Target {
                objects: &global,
                cluster: shadow.cluster_api_ref(),
            }
        }),
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

fn write_failed(name: &str, err: kube::Error) -> Result<Outcome, Error> {
    if status::is_conflict(&err) {
        // Computed from an outdated object: run again on the fresh one.
        tracing::debug!(cluster = name, "status changed meanwhile; reconciling again");
        return Ok(Outcome {
            next: Next::Again(Duration::from_millis(300)),
            written: None,
            changed: false,
        });
    }
    Err(Error::WriteStatus {
        name: name.to_string(),
        source: err,
    })
}

/// How a status write ended, for the reservations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    Done,
    /// The object changed meanwhile: the reconcile ran on a stale copy and runs again.
    Conflict,
    Failed,
}

impl Written {
    fn of<T>(result: &Result<T, kube::Error>) -> Self {
        match result {
            Ok(_) => Written::Done,
            Err(err) if status::is_conflict(err) => Written::Conflict,
            Err(_) => Written::Failed,
        }
    }
}

/// Whether the cluster keeps its concurrent-upgrade slot and identity reservation after this reconcile.
/// A start that conflicted keeps them: the conflict may come from a cache that has not yet seen the
/// start this process already recorded, and the next reconcile decides again. A reservation is given
/// back once the upgrade completed and that is recorded, when the start could not be recorded, and in
/// every phase that runs no upgrade.
fn keeps_reservation(phase: &Phase, written: Written, completed: bool) -> bool {
    match phase {
        Phase::Start { .. } => written != Written::Failed,
        Phase::Execute { .. } if completed => written != Written::Done,
        Phase::Execute { .. } | Phase::Stopped { .. } => true,
        _ => false,
    }
}

/// When this cluster is reconciled again (a change of its object may come first).
fn next(phase: &Phase, stepped: Option<&Stepped>, reachable: bool) -> Next {
    let step = |secs| Next::Step(Duration::from_secs(secs));
    match (phase, stepped) {
        // The start is recorded; the first step starts from the object that write returned.
        (Phase::Start { .. }, _) => step(0),
        (_, Some(stepped)) if stepped.advance.finished => step(1),
        (_, Some(stepped)) if stepped.advance.blocked.is_none() => step(2),
        (Phase::Execute { .. } | Phase::Stopped { .. } | Phase::Blocked { .. }, _) => step(5),
        (Phase::Held { reason, .. }, _) if *reason == "ConcurrentUpgradeLimit" => step(5),
        (Phase::Held { .. }, _) => Next::Pending,
        _ => Next::Idle { reachable },
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fixtures::v;
    use crate::cvsh::stages::{Advance, Blocked};
    use acp_api::cvsh::{CheckPolicy, Preflight, PreflightCheck};

    fn start() -> Phase {
        Phase::Start {
            target: v("4.3.1"),
            image: None,
            risks: vec![],
        }
    }

    fn execute() -> Phase {
        Phase::Execute {
            target: v("4.3.1"),
            note: None,
        }
    }

    #[test]
    fn a_reservation_lives_from_the_recorded_start_to_the_recorded_completion() {
        use Written::{Conflict, Done, Failed};
        let idle = Phase::Idle { offer: None };
        let held = Phase::Held {
            target: v("4.3.1"),
            reason: "DuplicateCluster",
            message: "m".into(),
        };
        // (phase, write, completed, kept)
        let table = [
            (start(), Done, false, true),
            (start(), Conflict, false, true),
            (start(), Failed, false, false),
            (execute(), Done, false, true),
            (execute(), Failed, false, true),
            (execute(), Done, true, false),
            (execute(), Conflict, true, true),
            (execute(), Failed, true, true),
            (idle.clone(), Done, false, false),
            (held, Done, false, false),
        ];
        for (phase, written, completed, kept) in table {
            assert_eq!(
                keeps_reservation(&phase, written, completed),
                kept,
                "{phase:?} {written:?} completed={completed}"
            );
        }
    }

    #[test]
    fn running_upgrades_are_looked_at_often_and_idle_clusters_at_their_cadence() {
        let step = |finished: bool, blocked: bool| Stepped {
            stages: vec![],
            advance: Advance {
                finished,
                blocked: blocked.then(|| Blocked {
                    reason: "OperationFailed",
                    message: "m".into(),
                }),
                waiting: None,
            },
        };
        let held = |reason| Phase::Held {
            target: v("4.3.1"),
            reason,
            message: "m".into(),
        };
        let idle = Phase::Idle { offer: None };
        let after = |secs| Next::Step(Duration::from_secs(secs));
        assert_eq!(next(&start(), None, true), after(0));
        assert_eq!(next(&execute(), Some(&step(false, false)), true), after(2));
        assert_eq!(next(&execute(), Some(&step(true, false)), true), after(1));
        assert_eq!(next(&execute(), Some(&step(false, true)), true), after(5));
        assert_eq!(next(&held("ConcurrentUpgradeLimit"), None, true), after(5));
        assert_eq!(next(&held("DuplicateCluster"), None, true), Next::Pending);
        assert_eq!(next(&idle, None, false), Next::Idle { reachable: false });
        assert_eq!(next(&idle, None, true), Next::Idle { reachable: true });
    }

    #[test]
    fn a_check_counts_as_newly_failed_once_per_target() {
        let with = |target: &str, failed: &[&str]| ClusterVersionShadowStatus {
            preflight: Some(Preflight {
                observed_at: None,
                target_version: Some(target.into()),
                checks: failed
                    .iter()
                    .map(|name| PreflightCheck {
                        name: name.to_string(),
                        policy: Some(CheckPolicy::Always),
                        state: CheckState::Failed,
                        reason: None,
                        message: None,
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        let before = with("4.3.1", &["ClusterRunning"]);
        assert!(newly_failed(&before, &with("4.3.1", &["ClusterRunning"])).is_empty());
        assert_eq!(
            newly_failed(&before, &with("4.3.1", &["ClusterRunning", "PlatformLicense"])),
            ["PlatformLicense"]
        );
        assert_eq!(
            newly_failed(&before, &with("4.3.2", &["ClusterRunning"])),
            ["ClusterRunning"]
        );
        assert!(newly_failed(&before, &ClusterVersionShadowStatus::default()).is_empty());
    }
}
