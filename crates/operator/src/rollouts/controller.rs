//! Reconcile of an UpgradeRun: gather (the run, its strategy, the cvsh cache) → decide
//! ([`acp_api::rollout::decide::step`]) → act (set or withdraw cluster requests) → project (status,
//! Events).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use acp_api::ClusterVersionShadow;
use acp_api::conditions::{self, Clock, ConditionUpdate};
use acp_api::cvsh::Tier;
use acp_api::maintenance_window::{MaintenanceWindow, MaintenanceWindowSpec, WindowState};
use acp_api::names::labels::MAINTENANCE_WINDOW;
use acp_api::rollout::decide::{self, GlobalTier, Inputs, Step, Transition, types};
use acp_api::rollout::facts::{ClusterFact, WindowFact};
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
use crate::cvsh::fleet::Fleet;
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
    let previous = run.status.clone().unwrap_or_default();
    let now = ctx.clock.now();
    let started = match &previous.plan {
        Some(_) => previous.clone(),
        None => match freeze(&run, &ctx).await? {
            Ok(status) => status,
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
    let windows = windows(&ctx, &started, &shadows, now).await;
    let facts = facts(&started, &shadows, &windows);
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
    act(&ctx, &run, &shadows, &mut step).await;
    publish(&ctx, &run, &step.transitions).await;
    if step.status != previous {
        status::apply(&api, &run, &step.status)
            .await
            .map_err(|source| Error::WriteStatus {
                name: name.clone(),
                source,
            })?;
    }
    Ok(next(&step, now))
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
    windows: &BTreeMap<String, WindowFact>,
) -> BTreeMap<String, ClusterFact> {
    status
        .clusters
        .iter()
        .filter_map(|entry| {
            let shadow = shadows.get(&entry.name)?;
            let window = shadow
                .labels()
                .get(MAINTENANCE_WINDOW)
                .and_then(|name| windows.get(name))
                .cloned()
                .unwrap_or(WindowFact::Open);
            Some((entry.name.clone(), ClusterFact::read(shadow, window)))
        })
        .collect()
}

/// The maintenance windows named by the run's clusters that have not started yet, each read once and
/// judged at `now`, by window name. The run holds a cluster's start itself while its window is closed,
/// so the cluster's timeout only counts from the start.
async fn windows(
    ctx: &Context,
    status: &UpgradeRunStatus,
    shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>,
    now: acp_api::k8s::Timestamp,
) -> BTreeMap<String, WindowFact> {
    let names: std::collections::BTreeSet<&str> = status
        .clusters
        .iter()
        .filter(|e| !e.state.is_final() && !e.is_started())
        .filter_map(|e| {
            shadows
                .get(&e.name)?
                .labels()
                .get(MAINTENANCE_WINDOW)
                .map(String::as_str)
        })
        .collect();
    let api: Api<MaintenanceWindow> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut windows = BTreeMap::new();
    for name in names {
        let lookup = api
            .get_opt(name)
            .await
            .map(|w| w.map(|w| w.spec))
            .map_err(|err| err.to_string());
        windows.insert(name.to_owned(), window_fact(name, &ctx.namespace, &lookup, now));
    }
    windows
}

/// A cluster's window at `now`, from the MaintenanceWindow its label names. One that is missing or
/// cannot be read holds the start, as it does for a manual upgrade.
fn window_fact(
    name: &str,
    namespace: &str,
    lookup: &Result<Option<MaintenanceWindowSpec>, String>,
    now: acp_api::k8s::Timestamp,
) -> WindowFact {
    let spec = match lookup {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            return WindowFact::Invalid {
                message: format!(
                    "MaintenanceWindow {namespace}/{name}, named by label {MAINTENANCE_WINDOW}, does not exist: create it or fix the label"
                ),
            };
        }
        Err(err) => {
            return WindowFact::Invalid {
                message: format!(
                    "cannot read MaintenanceWindow {namespace}/{name} ({err}); the start waits until it can be read"
                ),
            };
        }
    };
    match spec.parse() {
        Err(err) => WindowFact::Invalid {
            message: format!("MaintenanceWindow {namespace}/{name} cannot be read: {err}"),
        },
        Ok(window) => match window.at(now) {
            WindowState::Open { .. } => WindowFact::Open,
            WindowState::Closed { opens_at } => WindowFact::Closed {
                opens_at,
                message: window.describe(name, now),
            },
        },
    }
}

/// Whether the global tier (primary and any standby) runs `target` or newer.
fn global_tier(shadows: &BTreeMap<String, Arc<ClusterVersionShadow>>, target: &str) -> GlobalTier {
    let Ok(target) = target.parse::<AcpVersion>() else {
        return GlobalTier::Behind(format!("{target} is not a platform version"));
    };
    let list: Vec<Arc<ClusterVersionShadow>> = shadows.values().cloned().collect();
    let fleet = Fleet::from_shadows(&list);
    let members = [
        ("global", fleet.primary.as_ref()),
        ("standby", fleet.standby.as_ref()),
    ];
    let mut behind = Vec::new();
    for (role, view) in members {
        match (role, view) {
            ("global", None) => behind.push("ClusterVersionShadow global does not exist".to_owned()),
            (_, None) => {}
            (_, Some(view)) => match &view.current {
                Some(current) if *current >= target => {}
                Some(current) => behind.push(format!("{} ({role}) runs {current}", view.name)),
                None => behind.push(format!("the version of {} ({role}) is not known yet", view.name)),
            },
        }
    }
    if behind.is_empty() {
        GlobalTier::Reached
    } else {
        GlobalTier::Behind(behind.join("; "))
    }
}

/// Sets and withdraws the requests the step decided. A start that could not be written goes back to
/// Pending (it is decided again on the next step), so the status never claims a request that is not
/// there.
async fn act(
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
                    entry.message = Some(format!(
                        "could not set spec.desiredUpdate on ClusterVersionShadow {cluster}: {err}; trying again"
                    ));
                }
                step.status.counts = decide::counts(&step.status.clusters);
                step.wake_at = Some(ctx.clock.now());
            }
        }
    }
    for cluster in &step.withdraw {
        let Some(shadow) = shadows.get(cluster) else {
            continue;
        };
        if let Err(err) = requests::withdraw(&api, &ctx.written, shadow, &name).await {
            tracing::warn!(run = %name, cluster = %cluster, error = %err, "cannot withdraw the run's request; the cluster's entry says so");
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
    use acp_api::cvsh::{ClusterVersionShadowSpec, ClusterVersionShadowStatus, Release};

    use super::*;

    fn shadow(name: &str, tier: Option<Tier>, version: Option<&str>) -> (String, Arc<ClusterVersionShadow>) {
        let mut shadow = ClusterVersionShadow::new(
            name,
            ClusterVersionShadowSpec {
                tier,
                ..ClusterVersionShadowSpec::default()
            },
        );
        shadow.status = Some(ClusterVersionShadowStatus {
            current: version.map(|v| Release {
                version: Some(v.to_owned()),
                image: None,
            }),
            ..ClusterVersionShadowStatus::default()
        });
        (name.to_owned(), Arc::new(shadow))
    }

    #[test]
    fn the_global_tier_is_reached_when_primary_and_standby_run_the_target_or_newer() {
        let cases: Vec<(Vec<(String, Arc<ClusterVersionShadow>)>, Option<&str>)> = vec![
            (vec![shadow("global", None, Some("4.3.1"))], None),
            (vec![shadow("global", None, Some("4.4.0"))], None),
            (
                vec![shadow("global", None, Some("4.3.0"))],
                Some("global (global) runs 4.3.0"),
            ),
            (
                vec![shadow("global", None, None)],
                Some("the version of global (global) is not known yet"),
            ),
            (
                vec![shadow("w1", None, Some("4.3.1"))],
                Some("ClusterVersionShadow global does not exist"),
            ),
            (
                vec![
                    shadow("global", None, Some("4.3.1")),
                    shadow("dr", Some(Tier::GlobalStandby), Some("4.2.3")),
                ],
                Some("dr (standby) runs 4.2.3"),
            ),
        ];
        for (shadows, behind) in cases {
            let shadows: BTreeMap<_, _> = shadows.into_iter().collect();
            let expected = behind.map_or(GlobalTier::Reached, |b| GlobalTier::Behind(b.to_owned()));
            assert_eq!(global_tier(&shadows, "4.3.1"), expected);
        }
    }

    #[test]
    fn a_cluster_waits_while_its_window_is_closed_or_missing_or_unreadable() {
        let now: acp_api::k8s::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        let always_but_a_freeze_until = |end: &str| MaintenanceWindowSpec {
            schedule: "* * * * *".to_owned(),
            duration: "1h".to_owned(),
            time_zone: None,
            exclusions: vec![acp_api::maintenance_window::ExclusionSpec {
                start: "2026-11-30T11:00:00Z".to_owned(),
                end: end.to_owned(),
                reason: Some("change freeze".to_owned()),
            }],
        };
        let fact = |lookup| window_fact("nightly", "cpaas-system", &lookup, now);

        assert_eq!(
            fact(Ok(Some(always_but_a_freeze_until("2026-11-30T11:30:00Z")))),
            WindowFact::Open
        );
        match fact(Ok(Some(always_but_a_freeze_until("2026-11-30T12:00:20Z")))) {
            WindowFact::Closed { opens_at, message } => {
                assert_eq!(opens_at, Some("2026-11-30T12:00:20Z".parse().unwrap()));
                assert!(
                    message.contains("nightly") && message.contains("change freeze"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let invalid = |fact: WindowFact| match fact {
            WindowFact::Invalid { message } => message,
            other => panic!("{other:?}"),
        };
        let missing = invalid(fact(Ok(None)));
        assert!(
            missing.contains("cpaas-system/nightly") && missing.contains("does not exist"),
            "{missing}"
        );
        let unreadable = invalid(fact(Err("connection refused".to_owned())));
        assert!(unreadable.contains("connection refused"), "{unreadable}");
        let mut broken = always_but_a_freeze_until("2026-11-30T12:00:20Z");
        broken.schedule = "every night".to_owned();
        let broken = invalid(fact(Ok(Some(broken))));
        assert!(broken.contains("spec.schedule"), "{broken}");
    }

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
