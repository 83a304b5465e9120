//! Reconcile of an UpgradeRun: gather (the run, its strategy, the cvsh cache) → decide
//! ([`acp_api::rollout::decide::step`]) → act (set or withdraw cluster requests) → project (status,
//! Events).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use acp_api::ClusterVersionShadow;
use acp_api::conditions::{self, Clock, ConditionUpdate};
use acp_api::cvsh::Tier;
use acp_api::maintenance_window::{MaintenanceWindow, MaintenanceWindowSpec};
use acp_api::rollout::decide::{self, GlobalTier, Inputs, Step, Transition, types};
use acp_api::rollout::facts::{self, ClusterFact};
use acp_api::rollout::plan::{self, Candidate};
use acp_api::rollout::resolve::{self, Resolved};
use acp_api::rollout::run::{ClusterState, RunPhase};
use acp_api::rollout::{UpgradeRun, UpgradeRunStatus, UpgradeStrategy, UpgradeStrategySpec};
use acp_policy::AcpVersion;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use super::requests::{self, Written};
use crate::metrics::{ControllerName, Metrics};
use crate::status;

/// How often a running run is looked at when nothing wakes it earlier.
pub const RESYNC: Duration = Duration::from_secs(60);
/// How long after a failed reconcile it runs again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long to wait for the cvsh cache before deciding anything (a plan frozen over an empty cache
/// would be wrong for good).
const CACHE_WAIT: Duration = Duration::from_secs(30);

/// Everything a run's reconcile needs.
pub struct Context {
    pub client: kube::Client,
    pub namespace: String,
    /// The cluster-version controller's cvsh cache.
    pub shadows: Store<ClusterVersionShadow>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub clock: Arc<dyn Clock>,
    pub written: Written,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of UpgradeRun {name}: {source}")]
    WriteStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot update the finalizers of UpgradeRun {name}: {source}")]
    Finalizer {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read UpgradeStrategy {name}: {source}")]
    ReadStrategy {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    fn metric_label(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "write_status",
            Error::ReadStrategy { .. } => "read_strategy",
            Error::Finalizer { .. } => "finalizer",
        }
    }
}

/// Why a run cannot start as written.
struct Invalid {
    reason: &'static str,
    message: String,
}

#[tracing::instrument(skip(run, ctx), fields(name = %run.name_any()))]
pub async fn reconcile(run: Arc<UpgradeRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(ControllerName::Rollout);
    if tokio::time::timeout(CACHE_WAIT, ctx.shadows.wait_until_ready())
        .await
        .is_err()
    {
        return Ok(Action::requeue(RETRY_AFTER));
    }
    let name = run.name_any();
    let api: Api<UpgradeRun> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    if run.meta().deletion_timestamp.is_some() {
        return deleted(&api, &run, &ctx).await;
    }
    if !run.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(&api, &run).await?;
    }
    let previous = run.status.clone().unwrap_or_default();
    let now = ctx.clock.now();
    let started = match &previous.plan {
        Some(_) => previous.clone(),
        None => match freeze(&run, &ctx).await? {
            // The frozen plan is written alone, before any cluster starts: were it lost with a first
            // start, a plan frozen again over a changed fleet could pick another canary.
            Ok(frozen) => {
                status::apply(&api, &run, &frozen)
                    .await
                    .map_err(|source| Error::WriteStatus {
                        name: name.clone(),
                        source,
                    })?;
                return Ok(Action::requeue(Duration::from_millis(500)));
            }
            Err(invalid) => return refuse(&api, &run, &ctx, invalid).await,
        },
    };
    let Some(plan) = started.plan.clone() else {
        return Ok(Action::requeue(RESYNC));
    };
    // The plan carries the strategy it was frozen from, which resolved then; it cannot fail now unless
    // the code's rules changed, which a person has to hear about.
    let resolved = match resolve::resolve(&plan.strategy, "status.plan.strategy") {
        Ok(resolved) => resolved,
        Err(err) => {
            let invalid = Invalid {
                reason: "InvalidFrozenPlan",
                message: format!(
                    "the plan frozen in status no longer reads: {err}; delete the run and start another"
                ),
            };
            return refuse(&api, &run, &ctx, invalid).await;
        }
    };
    let shadows = cached_shadows(&ctx);
    let windows = windows(&ctx, &started, &shadows).await;
    let facts = facts(&started, &shadows, &windows, now);
    let inputs = Inputs {
        run: &name,
        spec: &run.spec,
        generation: run.meta().generation,
        plan: &plan,
        resolved: &resolved,
        facts: &facts,
        global_tier: global_tier(&shadows, &run.spec.target_version),
        now,
    };
    let mut step = decide::step(&inputs, &started);
    // Starts are written before the status records them (a crash in between is adopted on the next
    // step); withdrawals after it (a crash in between is withdrawn again on the next step), so a lost
    // status write never reads a withdrawn request as someone else's doing.
    start_requests(&ctx, &run, &shadows, &mut step).await;
    publish(&ctx, &run, &step.transitions).await;
    if step.status != previous {
        status::apply(&api, &run, &step.status)
            .await
            .map_err(|source| Error::WriteStatus {
                name: name.clone(),
                source,
            })?;
    }
    withdraw_requests(&ctx, &run, &shadows, &step).await;
    Ok(next(&step, now))
}

/// Held on every run until its requests that have not begun executing are withdrawn: deleting a run
/// stops new starts like a pause, and never interrupts an upgrade that runs.
pub const FINALIZER: &str = "cvo.alauda.io/withdraw-requests";

async fn add_finalizer(api: &Api<UpgradeRun>, run: &UpgradeRun) -> Result<(), Error> {
    let mut finalizers = run.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": run.resource_version(), "finalizers": finalizers },
    });
    api.patch(
        &run.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map(drop)
    .map_err(|source| Error::Finalizer {
        name: run.name_any(),
        source,
    })
}

/// A deleted run: withdraw every request it wrote whose cluster has not begun executing, then let the
/// object go.
async fn deleted(api: &Api<UpgradeRun>, run: &UpgradeRun, ctx: &Context) -> Result<Action, Error> {
    let name = run.name_any();
    if !run.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let shadows_api: Api<ClusterVersionShadow> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut left = 0;
    for shadow in cached_shadows(ctx).values() {
        let ours = shadow.labels().get(acp_api::names::labels::UPGRADE_RUN) == Some(&name);
        if !ours || shadow.status_or_default().is_executing() {
            continue;
        }
        if let Err(err) = requests::withdraw(&shadows_api, &ctx.written, shadow, &name).await {
            left += 1;
            tracing::warn!(run = %name, cluster = %shadow.name_any(), error = %err, "cannot withdraw the deleted run's request; trying again");
        }
    }
    if left > 0 {
        return Ok(Action::requeue(RETRY_AFTER));
    }
    let finalizers: Vec<String> = run
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": run.resource_version(), "finalizers": finalizers },
    });
    api.patch(
        &name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|source| Error::Finalizer {
        name: name.clone(),
        source,
    })?;
    tracing::info!(run = %name, "run deleted: its requests that had not begun executing are withdrawn");
    Ok(Action::await_change())
}

pub fn error_policy(run: Arc<UpgradeRun>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .reconcile_failed(ControllerName::Rollout, err.metric_label());
    if matches!(err, Error::WriteStatus { source, .. } if status::is_conflict(source)) {
        tracing::debug!(run = %run.name_any(), "status changed meanwhile; deciding again on fresh data");
    } else {
        tracing::warn!(run = %run.name_any(), error = %err, "reconcile failed; retrying");
    }
    Action::requeue(RETRY_AFTER)
}

/// The next look: when something time-based happens, at the latest after [`RESYNC`]; never again for
/// a finished run until it changes.
fn next(step: &Step, now: acp_api::k8s::Timestamp) -> Action {
    if matches!(step.status.phase, Some(RunPhase::Succeeded | RunPhase::Halted)) {
        return Action::await_change();
    }
    let until = step
        .wake_at
        .and_then(|at| Duration::try_from(at.duration_since(now)).ok())
        .map_or(RESYNC, |d| d.min(RESYNC));
    Action::requeue(until.max(Duration::from_millis(500)))
}

/// The strategy of a run: its inline one, or the UpgradeStrategy it names. `Ok(Err(_))` when the run
/// cannot start as written.
async fn strategy(
    run: &UpgradeRun,
    ctx: &Context,
) -> Result<Result<(UpgradeStrategySpec, String), Invalid>, Error> {
    if let Some(inline) = &run.spec.strategy {
        return Ok(Ok((inline.clone(), "spec.strategy".to_owned())));
    }
    let Some(name) = run.spec.strategy_ref.as_deref() else {
        return Ok(Err(Invalid {
            reason: "NoStrategy",
            message: "neither spec.strategyRef nor spec.strategy is set; name an UpgradeStrategy or write one inline".to_owned(),
        }));
    };
    let api: Api<UpgradeStrategy> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match api.get_opt(name).await {
        Ok(Some(strategy)) => Ok(Ok((strategy.spec, format!("UpgradeStrategy {name} spec")))),
        Ok(None) => Ok(Err(Invalid {
            reason: "StrategyNotFound",
            message: format!(
                "spec.strategyRef names UpgradeStrategy {name}, which does not exist in {}; create it or fix the name",
                ctx.namespace
            ),
        })),
        Err(source) => Err(Error::ReadStrategy {
            name: name.to_owned(),
            source,
        }),
    }
}

/// Freezes the plan of a run that has not started: strategy, target and the clusters it selects now.
async fn freeze(run: &UpgradeRun, ctx: &Context) -> Result<Result<UpgradeRunStatus, Invalid>, Error> {
    let (strategy, at) = match strategy(run, ctx).await? {
        Ok(found) => found,
        Err(invalid) => return Ok(Err(invalid)),
    };
    let resolved: Resolved = match resolve::resolve(&strategy, &at) {
        Ok(resolved) => resolved,
        Err(err) => {
            return Ok(Err(Invalid {
                reason: "InvalidStrategy",
                message: format!("{err}; fix the strategy, the run starts once it reads"),
            }));
        }
    };
    if let Err(err) = run.spec.target_version.parse::<AcpVersion>() {
        return Ok(Err(Invalid {
            reason: "InvalidTargetVersion",
            message: format!(
                "spec.targetVersion {:?} is not a platform version ({err}); create a run for e.g. 4.3.1",
                run.spec.target_version
            ),
        }));
    }
    let shadows = ctx.shadows.state();
    let candidates = shadows
        .iter()
        .filter(|s| s.tier() == Tier::Workload)
        .map(|s| Candidate {
            name: s.metadata.name.as_deref().unwrap_or_default(),
            labels: s.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS),
            current_version: s.current_version(),
        });
    match plan::freeze(&strategy, &resolved, candidates, &run.spec.skip) {
        Ok((plan, clusters)) => Ok(Ok(UpgradeRunStatus {
            plan: Some(plan),
            clusters,
            started_at: Some(ctx.clock.time()),
            phase: Some(RunPhase::Running),
            ..UpgradeRunStatus::default()
        })),
        Err(err) => Ok(Err(Invalid {
            reason: match err {
                plan::PlanError::Empty => "NoClusters",
                plan::PlanError::TooMany { .. } => "TooManyClusters",
            },
            message: err.to_string(),
        })),
    }
}

static EMPTY_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// Records why a run cannot start, and looks again later (the strategy may be created or fixed).
async fn refuse(
    api: &Api<UpgradeRun>,
    run: &UpgradeRun,
    ctx: &Context,
    invalid: Invalid,
) -> Result<Action, Error> {
    let previous = run.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    let clock = ctx.clock.as_ref();
    let generation = run.meta().generation;
    status.phase = Some(if previous.plan.is_some() {
        RunPhase::Halted
    } else {
        RunPhase::Invalid
    });
    status.observed_generation = generation;
    conditions::set(
        &mut status.conditions,
        ConditionUpdate::new(types::PROGRESSING, false, invalid.reason, invalid.message.clone())
            .observed_generation(generation),
        clock,
    );
    if status != previous {
        publish(
            ctx,
            run,
            &[Transition {
                cluster: None,
                reason: invalid.reason.to_owned(),
                message: invalid.message,
                warning: true,
            }],
        )
        .await;
        status::apply(api, run, &status)
            .await
            .map_err(|source| Error::WriteStatus {
                name: run.name_any(),
                source,
            })?;
    }
    Ok(Action::requeue(RESYNC))
}

/// Every cvsh of the namespace, newest known version of each.
fn cached_shadows(ctx: &Context) -> BTreeMap<String, Arc<ClusterVersionShadow>> {
    ctx.shadows
        .state()
        .into_iter()
        .map(|s| {
            let s = ctx.written.newest(s);
            (s.name_any(), s)
        })
        .collect()
}

fn facts(
    status: &UpgradeRunStatus,
    shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>,
    windows: &Windows,
    now: acp_api::k8s::Timestamp,
) -> BTreeMap<String, ClusterFact> {
    // A window is evaluated once per step, however many clusters name it.
    let mut by_window: std::collections::HashMap<String, facts::WindowFact> =
        std::collections::HashMap::new();
    status
        .clusters
        .iter()
        .filter_map(|entry| {
            let shadow = shadows.get(&entry.name)?;
            let label = shadow
                .labels()
                .get(acp_api::names::labels::MAINTENANCE_WINDOW)
                .cloned();
            let window = match label {
                Some(label) => by_window
                    .entry(label)
                    .or_insert_with(|| facts::window_fact(shadow, windows, now))
                    .clone(),
                None => facts::WindowFact::Open,
            };
            Some((entry.name.clone(), ClusterFact::read(shadow, window)))
        })
        .collect()
}

/// The MaintenanceWindows of the namespace by name, or why they could not be read.
type Windows = Result<BTreeMap<String, MaintenanceWindowSpec>, String>;

/// Reads the MaintenanceWindows once per step, and only when a cluster of the run still to finish names
/// one.
async fn windows(
    ctx: &Context,
    status: &UpgradeRunStatus,
    shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>,
) -> Windows {
    let labelled = status.clusters.iter().any(|e| {
        !e.state.is_final()
            && shadows.get(&e.name).is_some_and(|s| {
                s.labels()
                    .contains_key(acp_api::names::labels::MAINTENANCE_WINDOW)
            })
    });
    if !labelled {
        return Ok(BTreeMap::new());
    }
    let api: Api<MaintenanceWindow> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match api.list(&kube::api::ListParams::default()).await {
        Ok(list) => Ok(list.items.into_iter().map(|w| (w.name_any(), w.spec)).collect()),
        Err(err) => Err(err.to_string()),
    }
}

/// Whether the global tier (primary and any standby) runs `target` or newer.
fn global_tier(shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>, target: &str) -> GlobalTier {
    match target.parse::<AcpVersion>() {
        Ok(target) => facts::global_tier(shadows.values().map(AsRef::as_ref), &target),
        Err(_) => GlobalTier::Behind(format!("{target} is not a platform version")),
    }
}

/// Sets and withdraws the requests the step decided. A start that could not be written goes back to
/// Pending (it is decided again on the next step), so the status never claims a request that is not
/// there.
async fn start_requests(
    ctx: &Context,
    run: &UpgradeRun,
    shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>,
    step: &mut Step,
) {
    let api: Api<ClusterVersionShadow> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let name = run.name_any();
    let target = &run.spec.target_version;
    for cluster in std::mem::take(&mut step.start) {
        let Some(shadow) = shadows.get(&cluster) else {
            continue;
        };
        match requests::start(&api, &ctx.written, shadow, &name, target).await {
            Ok(()) => {
                tracing::info!(run = %name, cluster = %cluster, target = %target, "requested the upgrade: the cluster's turn came");
                step.start.push(cluster);
            }
            Err(err) => {
                tracing::warn!(run = %name, cluster = %cluster, error = %err, "cannot set the cluster's request; trying again on the next step");
                step.transitions
                    .retain(|t| t.cluster.as_deref() != Some(cluster.as_str()));
                if let Some(entry) = step.status.clusters.iter_mut().find(|e| e.name == cluster) {
                    entry.state = ClusterState::Pending;
                    entry.started_at = None;
                    let why = match &err {
                        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
                        other => other.to_string(),
                    };
                    let message = format!(
                        "could not set spec.desiredUpdate on ClusterVersionShadow {cluster}: {why}; trying again"
                    );
                    entry.message = Some(
                        acp_api::cvsh::bounds::clip(
                            &message,
                            acp_api::rollout::run::MAX_CLUSTER_MESSAGE_CHARS,
                        )
                        .into_owned(),
                    );
                }
                step.status.counts = decide::counts(&step.status.clusters);
                step.wake_at = Some(ctx.clock.now());
            }
        }
    }
}

/// Withdraws the requests the step took back; one that fails is withdrawn again on a later step (the
/// step withdraws every request of the run it no longer wants, not only new ones).
async fn withdraw_requests(
    ctx: &Context,
    run: &UpgradeRun,
    shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>,
    step: &Step,
) {
    let api: Api<ClusterVersionShadow> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let name = run.name_any();
    for cluster in &step.withdraw {
        let Some(shadow) = shadows.get(cluster) else {
            continue;
        };
        if let Err(err) = requests::withdraw(&api, &ctx.written, shadow, &name).await {
            tracing::warn!(run = %name, cluster = %cluster, error = %err, "cannot withdraw the run's request; trying again on the next step");
        }
    }
}

async fn publish(ctx: &Context, run: &UpgradeRun, transitions: &[Transition]) {
    let reference = run.object_ref(&());
    for transition in transitions {
        let note = match &transition.cluster {
            Some(cluster) => format!("{cluster}: {}", transition.message),
            None => transition.message.clone(),
        };
        let event = Event {
            type_: if transition.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: transition.reason.clone(),
            note: Some(note.chars().take(1000).collect()),
            action: "Rollout".to_owned(),
            secondary: transition.cluster.as_ref().map(|c| {
                ObjectRef::<ClusterVersionShadow>::new(c)
                    .within(&ctx.namespace)
                    .into()
            }),
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %err, "cannot publish an Event; the run's status still records the transition");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_waits_for_a_change_and_a_running_one_wakes_when_something_is_due() {
        let now: acp_api::k8s::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        let step = |phase, wake_at| Step {
            status: UpgradeRunStatus {
                phase: Some(phase),
                ..UpgradeRunStatus::default()
            },
            start: vec![],
            withdraw: vec![],
            transitions: vec![],
            wake_at,
        };
        assert_eq!(
            next(&step(RunPhase::Succeeded, None), now),
            Action::await_change()
        );
        assert_eq!(
            next(&step(RunPhase::Halted, Some(now)), now),
            Action::await_change()
        );
        assert_eq!(next(&step(RunPhase::Running, None), now), Action::requeue(RESYNC));
        let soon = now.checked_add(Duration::from_secs(7)).unwrap();
        assert_eq!(
            next(&step(RunPhase::Running, Some(soon)), now),
            Action::requeue(Duration::from_secs(7))
        );
        let later = now.checked_add(Duration::from_secs(3600)).unwrap();
        assert_eq!(
            next(&step(RunPhase::Running, Some(later)), now),
            Action::requeue(RESYNC)
        );
    }
}
