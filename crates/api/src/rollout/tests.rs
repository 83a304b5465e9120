//! The scheduling step driven over a simulated fleet with an injected clock: every test runs `step`
//! again and again, lets the fleet answer the run's requests, and asserts what a person reading the
//! run's status (or its Events) would see.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::decide::{GlobalTier, Inputs, Step, step, types};
use super::facts::{ClusterFact, WindowFact};
use super::plan::{Candidate, freeze};
use super::resolve::{Resolved, resolve};
use super::run::{ClusterState, RunPhase, UpgradeRunSpec, UpgradeRunStatus};
use super::strategy::{
    FailurePolicy, Gate, GateType, GroupSpec, PreflightFailureAction, StageSpec, UpgradeStrategySpec,
};
use crate::conditions;
use crate::cvsh::{Progress, State};

const RUN: &str = "r1";
const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
const MINUTE: Duration = Duration::from_secs(60);

/// What a simulated cluster does once the run requests the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Requested → Executing → at the target, one phase per tick.
    Succeeds,
    /// Requested → Executing → Stalled.
    Stalls,
    /// Requested → Executing, and stays there.
    Hangs,
    /// Requested → Blocked by a failing preflight check.
    FailsPreflight,
}

struct Cluster {
    labels: BTreeMap<String, String>,
    fact: ClusterFact,
    outcome: Outcome,
    /// How many times the run asked for the target.
    starts: usize,
}

/// A run over a simulated fleet: `step` asks the run what to do, and does it to the fleet; `tick`
/// moves the clock a minute and every requested cluster one phase on.
struct Sim {
    strategy: UpgradeStrategySpec,
    resolved: Resolved,
    spec: UpgradeRunSpec,
    status: UpgradeRunStatus,
    fleet: BTreeMap<String, Cluster>,
    now: Timestamp,
    global_tier: GlobalTier,
    /// Every step's starts, in order.
    starts: Vec<Vec<String>>,
    last: Option<Step>,
}

fn at(minutes: i64) -> Timestamp {
    let t0: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
    t0.checked_add(Duration::from_secs(60 * minutes as u64)).unwrap()
}

fn idle(version: &str) -> ClusterFact {
    ClusterFact {
        current_version: Some(version.to_owned()),
        state: State::Idle,
        reason: None,
        requested: None,
        requested_by_run: None,
        failing_check: None,
        last_duration: Some(2 * MINUTE),
        window: WindowFact::Open,
    }
}

fn selector(key: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some([(key.to_owned(), value.to_owned())].into()),
        ..LabelSelector::default()
    }
}

fn stage(name: &str) -> StageSpec {
    StageSpec {
        name: name.to_owned(),
        ..StageSpec::default()
    }
}

fn one_stage(canaries: u32, max_concurrency: i32) -> UpgradeStrategySpec {
    UpgradeStrategySpec {
        stages: vec![StageSpec {
            canaries: Some(canaries),
            max_concurrency: Some(IntOrString::Int(max_concurrency)),
            ..stage("all")
        }],
        ..UpgradeStrategySpec::default()
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i:02}")).collect()
}

impl Sim {
    /// A fleet of `names`, all at FROM, all succeeding, labelled by `label`.
    fn new(
        strategy: UpgradeStrategySpec,
        names: &[String],
        label: impl Fn(&str) -> Vec<(&'static str, &'static str)>,
    ) -> Self {
        let fleet = names
            .iter()
            .map(|n| {
                let labels = label(n)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                (
                    n.clone(),
                    Cluster {
                        labels,
                        fact: idle(FROM),
                        outcome: Outcome::Succeeds,
                        starts: 0,
                    },
                )
            })
            .collect();
        let resolved = resolve(&strategy, "spec").unwrap();
        Sim {
            strategy,
            resolved,
            spec: UpgradeRunSpec {
                target_version: TARGET.to_owned(),
                ..UpgradeRunSpec::default()
            },
            status: UpgradeRunStatus::default(),
            fleet,
            now: at(0),
            global_tier: GlobalTier::Reached,
            starts: Vec::new(),
            last: None,
        }
    }

    fn outcome(mut self, name: &str, outcome: Outcome) -> Self {
        self.fleet.get_mut(name).unwrap().outcome = outcome;
        self
    }

    /// Freezes the plan over the fleet as it stands.
    fn freeze(&mut self) {
        let (plan, clusters) = freeze(
            &self.strategy,
            &self.resolved,
            self.fleet.iter().map(|(name, c)| Candidate {
                name,
                labels: &c.labels,
                current_version: c.fact.current_version.as_deref(),
            }),
            &self.spec.skip,
        )
        .unwrap();
        self.status = UpgradeRunStatus {
            plan: Some(plan),
            clusters,
            ..UpgradeRunStatus::default()
        };
    }

    fn facts(&self) -> BTreeMap<String, ClusterFact> {
        self.fleet
            .iter()
            .map(|(n, c)| (n.clone(), c.fact.clone()))
            .collect()
    }

    /// One step on the current facts, its requests and withdrawals applied to the fleet.
    fn step(&mut self) -> Step {
        if self.status.plan.is_none() {
            self.freeze();
        }
        let plan = self.status.plan.clone().unwrap();
        let facts = self.facts();
        let inputs = Inputs {
            run: RUN,
            spec: &self.spec,
            generation: Some(1),
            plan: &plan,
            resolved: &self.resolved,
            facts: &facts,
            global_tier: self.global_tier.clone(),
            now: self.now,
        };
        let step = step(&inputs, &self.status);
        for name in &step.start {
            let c = self
                .fleet
                .get_mut(name)
                .expect("the run starts a cluster of the fleet");
            c.starts += 1;
            c.fact.requested = Some(TARGET.to_owned());
            c.fact.requested_by_run = Some(RUN.to_owned());
            c.fact.state = State::Requested {
                target: TARGET.to_owned(),
            };
        }
        for name in &step.withdraw {
            let c = self.fleet.get_mut(name).unwrap();
            // A request withdrawn before the cluster began executing started nothing.
            c.starts = c.starts.saturating_sub(1);
            assert!(
                !c.fact.state.is_executing(),
                "{name} is withdrawn while it upgrades"
            );
            c.fact.requested = None;
            c.fact.requested_by_run = None;
            c.fact.failing_check = None;
            c.fact.state = State::Idle;
        }
        self.status = step.status.clone();
        self.starts.push(step.start.clone());
        self.last = Some(step.clone());
        self.check_invariants();
        step
    }

    /// The clock moves a minute; every cluster the run requested moves one phase on.
    fn tick(&mut self) {
        self.now = self.now.checked_add(MINUTE).unwrap();
        for c in self.fleet.values_mut() {
            let executing = |done| State::Executing {
                target: TARGET.to_owned(),
                progress: Progress { done, total: 2 },
            };
            c.fact.state = match (&c.fact.state, c.outcome) {
                (State::Requested { .. }, Outcome::FailsPreflight) => {
                    c.fact.failing_check = Some((
                        "KubernetesVersionSupported".to_owned(),
                        "Kubernetes 1.27 is too old".to_owned(),
                    ));
                    State::Blocked {
                        target: TARGET.to_owned(),
                    }
                }
                (State::Requested { .. }, _) => executing(0),
                (State::Executing { progress, .. }, Outcome::Succeeds) if progress.done == 0 => executing(1),
                (State::Executing { .. }, Outcome::Succeeds) => {
                    c.fact.current_version = Some(TARGET.to_owned());
                    State::Idle
                }
                (State::Executing { .. }, Outcome::Stalls) => {
                    c.fact.reason = Some("RetryDeadlineExceeded".to_owned());
                    State::Stalled {
                        target: TARGET.to_owned(),
                        progress: Progress { done: 1, total: 2 },
                    }
                }
                (state, _) => state.clone(),
            };
        }
    }

    /// Step, tick, step … until the run is done or `limit` steps passed.
    fn run(&mut self, limit: usize) {
        for _ in 0..limit {
            self.step();
            if matches!(self.status.phase, Some(RunPhase::Succeeded | RunPhase::Halted)) {
                return;
            }
            self.tick();
        }
    }

    fn state(&self, name: &str) -> ClusterState {
        self.entry(name).state
    }

    fn entry(&self, name: &str) -> &super::run::ClusterEntry {
        self.status.clusters.iter().find(|e| e.name == name).unwrap()
    }

    fn condition(&self, type_: &str) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        conditions::find(&self.status.conditions, type_).unwrap()
    }

    /// Clusters whose requests are out (Upgrading or Blocked in the run).
    fn in_flight(&self) -> Vec<String> {
        self.status
            .clusters
            .iter()
            .filter(|e| {
                matches!(e.state, ClusterState::Upgrading | ClusterState::Blocked) && e.started_at.is_some()
            })
            .map(|e| e.name.clone())
            .collect()
    }

    /// What must hold after every step: no cluster started twice, and no group has more clusters in
    /// flight than its maxConcurrency (one while the stage's canaries run).
    fn check_invariants(&self) {
        for (name, c) in &self.fleet {
            assert!(c.starts <= 1, "{name} was started {} times", c.starts);
        }
        let in_flight: BTreeSet<String> = self.in_flight().into_iter().collect();
        let plan = self.status.plan.as_ref().unwrap();
        for stage in &plan.stages {
            let canaries: Vec<&String> = stage
                .groups
                .iter()
                .flat_map(|g| g.batches.iter().filter(|b| b.canary))
                .flat_map(|b| b.clusters.iter())
                .collect();
            let canaries_in_flight = canaries.iter().filter(|c| in_flight.contains(**c)).count();
            assert!(
                canaries_in_flight <= 1,
                "{canaries_in_flight} canaries of stage {} in flight",
                stage.name
            );
            for group in &stage.groups {
                let members: Vec<&String> = group
                    .batches
                    .iter()
                    .filter(|b| !b.canary)
                    .flat_map(|b| b.clusters.iter())
                    .collect();
                let busy = members.iter().filter(|m| in_flight.contains(**m)).count();
                assert!(
                    busy as u32 <= group.max_concurrency,
                    "group {} of stage {} has {busy} clusters in flight, more than maxConcurrency {}",
                    group.name,
                    stage.name,
                    group.max_concurrency
                );
                if busy > 0 {
                    assert_eq!(
                        canaries_in_flight, 0,
                        "group {} runs alongside a canary",
                        group.name
                    );
                    let canaries_done = canaries.iter().all(|c| {
                        self.status
                            .clusters
                            .iter()
                            .any(|e| &&e.name == c && e.state.is_final())
                    });
                    assert!(
                        canaries_done,
                        "group {} started before the canaries were done",
                        group.name
                    );
                }
            }
        }
    }

    fn transitions(&self) -> Vec<(Option<String>, String)> {
        self.last
            .as_ref()
            .unwrap()
            .transitions
            .iter()
            .map(|t| (t.cluster.clone(), t.reason.clone()))
            .collect()
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.last.as_ref().unwrap().wake_at
    }
}

fn starts(sim: &Sim) -> Vec<Vec<String>> {
    sim.starts.iter().filter(|s| !s.is_empty()).cloned().collect()
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn canaries_start_one_at_a_time_then_batches_of_max_concurrency_in_name_order() {
    let mut sim = Sim::new(one_stage(2, 2), &names(7), |_| vec![]);
    sim.run(100);
    assert_eq!(
        starts(&sim),
        vec![
            list(&["c00"]),
            list(&["c01"]),
            list(&["c02", "c03"]),
            list(&["c04", "c05"]),
            list(&["c06"])
        ]
    );
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.status.counts.succeeded, 7);
    assert_eq!(sim.status.counts.total, 7);
    assert!(
        sim.status
            .clusters
            .iter()
            .all(|e| e.state == ClusterState::Succeeded)
    );
}

#[test]
fn a_percentage_max_concurrency_is_rounded_down_and_honoured_at_every_step() {
    // 25% of 9 clusters after the canary is 2.
    let mut strategy = one_stage(1, 0);
    strategy.stages[0].max_concurrency = Some(IntOrString::String("25%".into()));
    let mut sim = Sim::new(strategy, &names(10), |_| vec![]);
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    let sizes: Vec<usize> = starts(&sim).iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2, 2, 2, 2, 1]);
}

#[test]
fn groups_run_in_parallel_but_only_after_the_stage_canaries() {
    let strategy = UpgradeStrategySpec {
        stages: vec![StageSpec {
            canaries: Some(1),
            max_concurrency: Some(IntOrString::Int(2)),
            groups: vec![
                GroupSpec {
                    name: "east".into(),
                    selector: selector("region", "east"),
                    max_concurrency: None,
                },
                GroupSpec {
                    name: "west".into(),
                    selector: selector("region", "west"),
                    max_concurrency: Some(IntOrString::Int(1)),
                },
            ],
            ..stage("all")
        }],
        ..UpgradeStrategySpec::default()
    };
    let mut sim = Sim::new(strategy, &names(7), |n| {
        if n.ends_with(['0', '2', '4', '6']) {
            vec![("region", "east")]
        } else {
            vec![("region", "west")]
        }
    });
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(
        starts(&sim),
        vec![
            // The canary, alone.
            list(&["c00"]),
            // Then both groups at once: east two at a time, west one at a time.
            list(&["c02", "c04", "c01"]),
            list(&["c06", "c03"]),
            list(&["c05"]),
        ]
    );
}

#[test]
fn a_stalled_canary_halts_the_run_with_the_cluster_named_and_nothing_starts_after() {
    let mut sim = Sim::new(one_stage(2, 3), &names(6), |_| vec![]).outcome("c00", Outcome::Stalls);
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    assert_eq!(sim.state("c00"), ClusterState::Failed);
    assert_eq!(sim.entry("c00").reason.as_deref(), Some("Stalled"));
    let halted = sim.condition(types::HALTED);
    assert_eq!(halted.status, "True");
    assert_eq!(halted.reason, "CanaryFailed");
    assert!(halted.message.contains("c00"), "{}", halted.message);
    assert!(
        halted.message.contains("RetryDeadlineExceeded"),
        "{}",
        halted.message
    );
    assert!(
        sim.transitions()
            .contains(&(None, "RunHaltedCanaryFailed".to_owned()))
    );
    assert_eq!(sim.wake_at(), None);
    // Nothing further starts, however long the run is looked at, and the halt is told once.
    for _ in 0..5 {
        sim.tick();
        let step = sim.step();
        assert!(step.start.is_empty());
        assert!(step.transitions.is_empty(), "{:?}", step.transitions);
    }
    assert_eq!(starts(&sim), vec![list(&["c00"])]);
    assert!(
        sim.status
            .clusters
            .iter()
            .skip(1)
            .all(|e| e.state == ClusterState::Pending)
    );
    assert!(sim.status.completed_at.is_some());
}

#[test]
fn max_failures_as_a_count_tolerates_that_many_failures_per_run_and_halts_on_one_more() {
    let mut strategy = one_stage(0, 1);
    strategy.failure_policy.max_failures = Some(IntOrString::Int(1));
    strategy.failure_policy.max_failures_per_stage = Some(IntOrString::String("100%".into()));
    let mut sim = Sim::new(strategy, &names(5), |_| vec![])
        .outcome("c01", Outcome::Stalls)
        .outcome("c03", Outcome::Stalls);
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    assert_eq!(
        starts(&sim),
        vec![list(&["c00"]), list(&["c01"]), list(&["c02"]), list(&["c03"])]
    );
    let halted = sim.condition(types::HALTED);
    assert_eq!(halted.reason, "TooManyFailures");
    assert!(
        halted.message.starts_with("2 of 5 clusters failed"),
        "{}",
        halted.message
    );
    assert!(halted.message.contains("c03"), "{}", halted.message);
    assert_eq!(sim.state("c04"), ClusterState::Pending);
    assert_eq!(sim.status.counts.failed, 2);
}

#[test]
fn max_failures_as_a_percentage_of_the_run_is_rounded_down() {
    // 20% of 10 is 2: two failures go on, the third halts.
    let mut strategy = one_stage(0, 1);
    strategy.failure_policy.max_failures = Some(IntOrString::String("20%".into()));
    strategy.failure_policy.max_failures_per_stage = Some(IntOrString::String("100%".into()));
    let mut sim = Sim::new(strategy, &names(10), |_| vec![])
        .outcome("c00", Outcome::Stalls)
        .outcome("c01", Outcome::Stalls)
        .outcome("c02", Outcome::Stalls);
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    assert_eq!(sim.condition(types::HALTED).reason, "TooManyFailures");
    assert_eq!(starts(&sim).concat(), list(&["c00", "c01", "c02"]));
}

#[test]
fn max_failures_per_stage_halts_on_a_stage_over_its_threshold_though_the_run_allows_more() {
    let strategy = UpgradeStrategySpec {
        stages: vec![
            StageSpec {
                selector: Some(selector("ring", "0")),
                ..stage("first")
            },
            stage("rest"),
        ],
        failure_policy: FailurePolicy {
            max_failures: Some(IntOrString::Int(5)),
            max_failures_per_stage: Some(IntOrString::String("50%".into())),
            ..FailurePolicy::default()
        },
    };
    // Stage first: c00..c03 (50% of 4 = 2 tolerated); c00 and c01 fail, the stage still completes.
    let mut sim = Sim::new(strategy, &names(8), |n| {
        if n < "c04" { vec![("ring", "0")] } else { vec![] }
    })
    .outcome("c00", Outcome::Stalls)
    .outcome("c01", Outcome::Stalls)
    .outcome("c04", Outcome::Stalls)
    .outcome("c05", Outcome::Stalls)
    .outcome("c06", Outcome::Stalls);
    sim.run(200);
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    let halted = sim.condition(types::HALTED);
    assert_eq!(halted.reason, "TooManyFailuresInStage");
    assert!(
        halted.message.contains("3 of 4 clusters of stage rest"),
        "{}",
        halted.message
    );
    assert_eq!(sim.state("c07"), ClusterState::Pending);
    assert!(sim.status.plan.as_ref().unwrap().stages[0].completed_at.is_some());
}

#[test]
fn a_cluster_past_its_timeout_fails_but_its_upgrade_is_not_withdrawn() {
    let mut strategy = one_stage(0, 2);
    strategy.failure_policy.timeout = Some("30m".into());
    strategy.failure_policy.max_failures = Some(IntOrString::Int(1));
    strategy.failure_policy.max_failures_per_stage = Some(IntOrString::Int(1));
    let mut sim = Sim::new(strategy, &names(3), |_| vec![]).outcome("c00", Outcome::Hangs);
    let step = sim.step();
    assert_eq!(step.start, list(&["c00", "c01"]));
    sim.tick();
    assert_eq!(
        sim.step().wake_at,
        Some(at(30)),
        "the run wakes when the timeout ends"
    );
    sim.tick();
    sim.step();
    sim.tick();
    sim.step();
    assert_eq!(sim.state("c01"), ClusterState::Succeeded);
    sim.now = at(29);
    sim.step();
    assert_eq!(sim.state("c00"), ClusterState::Upgrading);
    sim.now = at(30);
    let step = sim.step();
    assert_eq!(sim.state("c00"), ClusterState::Failed);
    assert_eq!(sim.entry("c00").reason.as_deref(), Some("TimedOut"));
    assert!(
        sim.entry("c00")
            .message
            .as_deref()
            .unwrap()
            .contains("within 30m")
    );
    assert!(step.withdraw.is_empty());
    assert!(sim.fleet["c00"].fact.state.is_executing());
    // One failure is tolerated: the next batch goes on.
    assert_eq!(step.start, list(&["c02"]));
}

fn preflight_sim(action: Option<PreflightFailureAction>) -> Sim {
    let mut strategy = one_stage(0, 1);
    strategy.failure_policy.preflight_failure = action;
    Sim::new(strategy, &names(3), |_| vec![]).outcome("c00", Outcome::FailsPreflight)
}

#[test]
fn a_failed_preflight_under_wait_keeps_the_request_and_holds_the_batch() {
    let mut sim = preflight_sim(None);
    sim.step();
    sim.tick();
    let step = sim.step();
    assert_eq!(sim.state("c00"), ClusterState::Blocked);
    assert_eq!(
        sim.entry("c00").reason.as_deref(),
        Some("KubernetesVersionSupported")
    );
    assert!(
        sim.entry("c00")
            .message
            .as_deref()
            .unwrap()
            .contains("Kubernetes 1.27 is too old")
    );
    assert!(step.withdraw.is_empty());
    assert!(
        step.transitions
            .iter()
            .any(|t| t.reason == "ClusterBlocked" && t.warning)
    );
    for _ in 0..5 {
        sim.tick();
        assert!(sim.step().start.is_empty());
    }
    assert_eq!(sim.status.phase, Some(RunPhase::Running));
    // The check passes: the cluster goes on, and so does the run.
    let c = sim.fleet.get_mut("c00").unwrap();
    c.outcome = Outcome::Succeeds;
    c.fact.failing_check = None;
    c.fact.state = State::Requested {
        target: TARGET.into(),
    };
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
}

#[test]
fn a_failed_preflight_under_skip_withdraws_the_request_and_goes_on() {
    let mut sim = preflight_sim(Some(PreflightFailureAction::Skip));
    sim.step();
    sim.tick();
    let step = sim.step();
    assert_eq!(step.withdraw, list(&["c00"]));
    assert_eq!(sim.state("c00"), ClusterState::Skipped);
    assert_eq!(step.start, list(&["c01"]));
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!((sim.status.counts.succeeded, sim.status.counts.skipped), (2, 1));
    // Asked once, then withdrawn before it began executing: no upgrade of c00 is left standing.
    assert_eq!(sim.fleet["c00"].starts, 0);
    assert_eq!(sim.fleet["c00"].fact.requested, None);
}

#[test]
fn a_failed_preflight_under_fail_withdraws_the_request_and_counts_a_failure() {
    let mut sim = preflight_sim(Some(PreflightFailureAction::Fail));
    sim.step();
    sim.tick();
    let step = sim.step();
    assert_eq!(step.withdraw, list(&["c00"]));
    assert!(step.start.is_empty());
    assert_eq!(sim.state("c00"), ClusterState::Failed);
    assert_eq!(
        sim.entry("c00").reason.as_deref(),
        Some("KubernetesVersionSupported")
    );
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    assert_eq!(sim.condition(types::HALTED).reason, "TooManyFailures");
}

#[test]
fn pause_holds_new_starts_while_an_upgrading_cluster_finishes_and_resume_goes_on() {
    let mut sim = Sim::new(one_stage(0, 1), &names(3), |_| vec![]);
    sim.step();
    sim.spec.paused = true;
    for _ in 0..5 {
        sim.tick();
        let step = sim.step();
        assert!(step.start.is_empty());
    }
    assert_eq!(sim.state("c00"), ClusterState::Succeeded);
    assert_eq!(sim.state("c01"), ClusterState::Pending);
    assert_eq!(sim.status.phase, Some(RunPhase::Paused));
    let progressing = sim.condition(types::PROGRESSING);
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("False", "Paused")
    );
    assert!(
        progressing.message.contains("ac adm upgrade rollout resume r1"),
        "{}",
        progressing.message
    );
    sim.spec.paused = false;
    assert_eq!(sim.step().start, list(&["c01"]));
    assert_eq!(sim.status.phase, Some(RunPhase::Running));
}

#[test]
fn a_global_tier_behind_the_target_holds_every_start_and_says_so() {
    let mut sim = Sim::new(one_stage(1, 2), &names(3), |_| vec![]);
    sim.global_tier = GlobalTier::Behind("global (global) runs 4.2.3".into());
    for _ in 0..3 {
        assert!(sim.step().start.is_empty());
        sim.tick();
    }
    let progressing = sim.condition(types::PROGRESSING);
    assert_eq!(progressing.reason, "WaitingForGlobalTier");
    assert!(
        progressing.message.contains("global tier runs 4.3.1"),
        "{}",
        progressing.message
    );
    assert!(
        progressing.message.contains("global (global) runs 4.2.3"),
        "{}",
        progressing.message
    );
    assert_eq!(sim.status.phase, Some(RunPhase::Running));
    assert!(
        sim.status
            .clusters
            .iter()
            .all(|e| e.state == ClusterState::Pending)
    );
    sim.global_tier = GlobalTier::Reached;
    assert_eq!(sim.step().start, list(&["c00"]));
}

fn approval(before: bool, after: bool) -> UpgradeStrategySpec {
    let gate = || Gate {
        type_: GateType::Approval,
        not_before: None,
    };
    UpgradeStrategySpec {
        stages: vec![
            StageSpec {
                selector: Some(selector("ring", "0")),
                after_gates: if after { vec![gate()] } else { vec![] },
                ..stage("canary")
            },
            StageSpec {
                before_gates: if before { vec![gate()] } else { vec![] },
                max_concurrency: Some(IntOrString::Int(5)),
                ..stage("rest")
            },
        ],
        ..UpgradeStrategySpec::default()
    }
}

fn ring0(name: &str) -> Vec<(&'static str, &'static str)> {
    if name == "c00" {
        vec![("ring", "0")]
    } else {
        vec![]
    }
}

#[test]
fn an_approval_gate_before_a_stage_is_listed_and_opens_when_approved() {
    let mut sim = Sim::new(approval(true, false), &names(3), ring0);
    sim.run(10);
    assert_eq!(sim.state("c00"), ClusterState::Succeeded);
    assert_eq!(sim.status.current_stage.as_deref(), Some("rest"));
    assert_eq!(sim.status.pending_gates.len(), 1);
    assert_eq!(sim.status.pending_gates[0].name, "rest-before");
    assert_eq!(sim.status.pending_gates[0].type_, GateType::Approval);
    assert_eq!(sim.state("c01"), ClusterState::WaitingForGate);
    assert!(
        sim.entry("c01")
            .message
            .as_deref()
            .unwrap()
            .contains("ac adm upgrade rollout approve r1 rest-before")
    );
    let progressing = sim.condition(types::PROGRESSING);
    assert_eq!(progressing.reason, "WaitingForGate");
    assert!(
        progressing
            .message
            .contains("ac adm upgrade rollout approve r1 rest-before"),
        "{}",
        progressing.message
    );
    assert_eq!(starts(&sim).concat(), list(&["c00"]));
    // Approving another gate opens nothing.
    sim.spec.approvals = list(&["canary-after"]);
    assert!(sim.step().start.is_empty());
    sim.spec.approvals.push("rest-before".into());
    let step = sim.step();
    assert_eq!(step.start, list(&["c01", "c02"]));
    assert!(sim.status.pending_gates.is_empty());
    sim.run(10);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
}

#[test]
fn an_approval_gate_after_a_stage_holds_the_next_stage_until_approved() {
    let mut sim = Sim::new(approval(false, true), &names(3), ring0);
    sim.run(10);
    assert_eq!(sim.status.phase, Some(RunPhase::Running));
    assert_eq!(sim.status.current_stage.as_deref(), Some("canary"));
    assert_eq!(sim.status.pending_gates.len(), 1);
    assert_eq!(sim.status.pending_gates[0].name, "canary-after");
    assert!(sim.status.plan.as_ref().unwrap().stages[0].finished_at.is_some());
    assert!(sim.status.plan.as_ref().unwrap().stages[0].completed_at.is_none());
    assert_eq!(sim.state("c01"), ClusterState::Pending);
    sim.spec.approvals = list(&["canary-after"]);
    let step = sim.step();
    assert_eq!(step.start, list(&["c01", "c02"]));
    assert!(step.transitions.contains(&crate::rollout::decide::Transition {
        cluster: None,
        reason: "StageCompleted".into(),
        message: "stage canary completed".into(),
        warning: false,
    }));
}

#[test]
fn a_scheduled_start_gate_holds_its_stage_until_not_before_and_wakes_the_run_then() {
    let mut strategy = approval(false, false);
    strategy.stages[1].before_gates = vec![Gate {
        type_: GateType::ScheduledStart,
        not_before: Some(Time(at(60))),
    }];
    let mut sim = Sim::new(strategy, &names(3), ring0);
    sim.run(10);
    assert_eq!(sim.state("c01"), ClusterState::WaitingForGate);
    assert_eq!(sim.status.pending_gates[0].type_, GateType::ScheduledStart);
    assert_eq!(sim.status.pending_gates[0].not_before, Some(Time(at(60))));
    assert_eq!(sim.wake_at(), Some(at(60)));
    sim.now = at(59);
    assert!(sim.step().start.is_empty());
    sim.now = at(60);
    assert_eq!(sim.step().start, list(&["c01", "c02"]));
}

#[test]
fn a_stage_soaks_before_the_next_starts_and_wakes_the_run_when_the_soak_ends() {
    let mut strategy = approval(false, false);
    strategy.stages[0].soak = Some("1h".into());
    let mut sim = Sim::new(strategy, &names(3), ring0);
    sim.step(); // c00 requested at 0
    sim.tick();
    sim.step();
    sim.tick();
    sim.step();
    sim.tick();
    let step = sim.step(); // c00 at the target at minute 3
    assert_eq!(sim.state("c00"), ClusterState::Succeeded);
    let finished = sim.status.plan.as_ref().unwrap().stages[0]
        .finished_at
        .clone()
        .unwrap()
        .0;
    assert_eq!(finished, at(3));
    assert!(step.start.is_empty());
    assert_eq!(step.wake_at, Some(at(63)));
    let progressing = sim.condition(types::PROGRESSING);
    assert_eq!(progressing.reason, "Soaking");
    assert!(
        progressing.message.contains("soaks until"),
        "{}",
        progressing.message
    );
    sim.now = at(62);
    assert!(sim.step().start.is_empty());
    sim.now = at(63);
    assert_eq!(sim.step().start, list(&["c01", "c02"]));
}

#[test]
fn a_closed_maintenance_window_holds_a_cluster_until_it_opens() {
    let mut sim = Sim::new(one_stage(0, 2), &names(2), |_| vec![]);
    sim.fleet.get_mut("c00").unwrap().fact.window = WindowFact::Closed {
        opens_at: Some(at(120)),
        message: "maintenance window nightly opens at 2026-11-30T14:00:00Z".into(),
    };
    let step = sim.step();
    assert_eq!(step.start, list(&["c01"]));
    assert_eq!(sim.state("c00"), ClusterState::WaitingForWindow);
    assert_eq!(
        sim.entry("c00").reason.as_deref(),
        Some("MaintenanceWindowClosed")
    );
    assert_eq!(sim.entry("c00").window_opens_at, Some(Time(at(120))));
    assert!(sim.entry("c00").message.as_deref().unwrap().contains("opens at"));
    assert_eq!(step.wake_at, Some(at(120)));
    assert_eq!(sim.status.counts.waiting, 1);
    sim.now = at(120);
    sim.fleet.get_mut("c00").unwrap().fact.window = WindowFact::Open;
    let step = sim.step();
    assert_eq!(step.start, list(&["c00"]));
    assert_eq!(sim.entry("c00").window_opens_at, None);
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
}

#[test]
fn a_cluster_someone_asked_for_another_version_is_blocked_and_never_overwritten() {
    let mut sim = Sim::new(one_stage(0, 2), &names(2), |_| vec![]);
    {
        let c = sim.fleet.get_mut("c00").unwrap();
        c.fact.requested = Some("4.2.9".into());
        c.fact.state = State::Requested {
            target: "4.2.9".into(),
        };
    }
    for _ in 0..4 {
        let step = sim.step();
        assert!(!step.start.contains(&"c00".to_owned()));
        assert_eq!(sim.state("c00"), ClusterState::Blocked);
        assert_eq!(sim.entry("c00").reason.as_deref(), Some("ConflictingRequest"));
        assert!(sim.entry("c00").message.as_deref().unwrap().contains("4.2.9"));
        sim.now = sim.now.checked_add(MINUTE).unwrap();
    }
    assert_eq!(sim.fleet["c00"].fact.requested.as_deref(), Some("4.2.9"));
    // The person clears the request: the cluster's turn comes again.
    let c = sim.fleet.get_mut("c00").unwrap();
    c.fact.requested = None;
    c.fact.state = State::Idle;
    assert_eq!(sim.step().start, list(&["c00"]));
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
}

#[test]
fn a_cluster_whose_request_is_the_version_it_already_runs_is_started() {
    // An earlier run (or a person) asked for the version the cluster now runs: that request is done,
    // not a competing one.
    let mut sim = Sim::new(one_stage(0, 2), &names(2), |_| vec![]);
    let c = sim.fleet.get_mut("c00").unwrap();
    c.fact.requested = c.fact.current_version.clone();
    c.fact.requested_by_run = Some("an-earlier-run".into());
    assert_eq!(sim.step().start, list(&["c00", "c01"]));
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.state("c00"), ClusterState::Succeeded);
}

#[test]
fn a_deleted_cluster_is_skipped_and_the_run_goes_on() {
    let mut sim = Sim::new(one_stage(0, 1), &names(3), |_| vec![]);
    sim.step();
    sim.fleet.remove("c01");
    sim.tick();
    let step = sim.step();
    assert_eq!(sim.state("c01"), ClusterState::Skipped);
    assert_eq!(sim.entry("c01").reason.as_deref(), Some("Deleted"));
    assert!(step.transitions.contains(
        &(crate::rollout::decide::Transition {
            cluster: Some("c01".into()),
            reason: "ClusterSkipped".into(),
            message: "ClusterVersionShadow c01 no longer exists".into(),
            warning: false,
        })
    ));
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(starts(&sim).concat(), list(&["c00", "c02"]));
}

#[test]
fn after_a_crash_a_pending_cluster_already_carrying_the_run_request_is_adopted_not_started_again() {
    let mut sim = Sim::new(one_stage(0, 2), &names(3), |_| vec![]);
    sim.freeze();
    // The last leader set c00's request and died before writing the status.
    let c = sim.fleet.get_mut("c00").unwrap();
    c.starts = 1;
    c.fact.requested = Some(TARGET.into());
    c.fact.requested_by_run = Some(RUN.into());
    c.fact.state = State::Executing {
        target: TARGET.into(),
        progress: Progress { done: 1, total: 2 },
    };
    let step = sim.step();
    assert_eq!(step.start, list(&["c01"]));
    assert_eq!(sim.state("c00"), ClusterState::Upgrading);
    assert_eq!(sim.entry("c00").progress, Some(50));
    assert!(sim.entry("c00").started_at.is_some());
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert!(sim.fleet.values().all(|c| c.starts == 1));
}

#[test]
fn spec_skip_after_start_skips_what_has_not_started_and_never_interrupts_what_has() {
    let mut sim = Sim::new(one_stage(0, 1), &names(3), |_| vec![]);
    sim.step();
    sim.spec.skip = list(&["c00", "c01"]);
    sim.tick();
    let step = sim.step();
    assert!(step.withdraw.is_empty());
    assert_eq!(sim.state("c00"), ClusterState::Upgrading);
    assert_eq!(sim.state("c01"), ClusterState::Skipped);
    assert_eq!(sim.entry("c01").reason.as_deref(), Some("SkippedByRequest"));
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.state("c00"), ClusterState::Succeeded);
    assert_eq!(starts(&sim).concat(), list(&["c00", "c02"]));
}

#[test]
fn a_cluster_already_at_the_target_succeeds_without_a_request() {
    let mut sim = Sim::new(one_stage(0, 1), &names(2), |_| vec![]);
    sim.fleet.get_mut("c01").unwrap().fact = idle(TARGET);
    sim.step();
    assert_eq!(sim.state("c01"), ClusterState::Succeeded);
    assert!(
        sim.entry("c01")
            .message
            .as_deref()
            .unwrap()
            .contains("already ran")
    );
    sim.run(20);
    assert_eq!(starts(&sim).concat(), list(&["c00"]));
}

#[test]
fn counts_phase_conditions_and_eta_follow_the_run() {
    // Two clusters a batch, last upgrades took 2 minutes: 4 batches of 2 minutes ahead.
    let mut sim = Sim::new(one_stage(0, 2), &names(8), |_| vec![]);
    let step = sim.step();
    assert_eq!(step.start.len(), 2);
    let c = &sim.status.counts;
    assert_eq!((c.total, c.pending, c.upgrading, c.succeeded), (8, 6, 2, 0));
    assert_eq!(sim.status.phase, Some(RunPhase::Running));
    assert_eq!(sim.status.current_stage.as_deref(), Some("all"));
    assert_eq!(sim.status.eta, Some(Time(at(8))));
    assert_eq!(sim.entry("c00").eta, None, "no ETA before it executes");
    let progressing = sim.condition(types::PROGRESSING);
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("True", "Running")
    );
    assert_eq!(sim.condition(types::HALTED).status, "False");
    assert_eq!(sim.condition(types::SUCCEEDED).status, "False");
    sim.tick();
    sim.step();
    assert_eq!(sim.entry("c00").eta, Some(Time(at(2))));
    assert_eq!(sim.entry("c00").progress, Some(0));
    sim.run(100);
    let c = &sim.status.counts;
    assert_eq!((c.total, c.succeeded, c.pending, c.upgrading), (8, 8, 0, 0));
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.status.eta, None);
    assert_eq!(sim.condition(types::SUCCEEDED).status, "True");
    assert_eq!(sim.condition(types::PROGRESSING).reason, "Completed");
    assert!(sim.status.completed_at.is_some());
    assert!(sim.transitions().contains(&(None, "RunSucceeded".to_owned())));
    assert_eq!(sim.status.current_stage, None);
}

#[test]
fn the_eta_counts_the_soak_still_ahead_of_a_soaking_stage() {
    let mut strategy = approval(false, false);
    strategy.stages[0].soak = Some("1h".into());
    let mut sim = Sim::new(strategy, &names(3), ring0);
    for _ in 0..3 {
        sim.step();
        sim.tick();
    }
    sim.step(); // c00 done at minute 3; the soak ends at 63, then one batch of 2 minutes.
    assert_eq!(sim.condition(types::PROGRESSING).reason, "Soaking");
    assert_eq!(sim.status.eta, Some(Time(at(65))));
}

#[test]
fn a_second_step_on_unchanged_facts_starts_nothing_and_tells_nothing() {
    let mut strategy = approval(false, true);
    strategy.stages[1].canaries = Some(1);
    let mut sim = Sim::new(strategy, &names(6), ring0);
    for _ in 0..40 {
        let first = sim.step();
        let again = sim.step();
        assert!(again.start.is_empty(), "started again: {:?}", again.start);
        assert!(again.withdraw.is_empty());
        assert!(
            again.transitions.is_empty(),
            "told again: {:?}",
            again.transitions
        );
        assert_eq!(again.status.counts, first.status.counts);
        assert_eq!(again.status.phase, first.status.phase);
        // The status settles: a third look writes nothing new.
        assert_eq!(sim.step().status, again.status);
        if sim.status.pending_gates.iter().any(|g| g.name == "canary-after") {
            sim.spec.approvals = list(&["canary-after"]);
        }
        if sim.status.phase == Some(RunPhase::Succeeded) {
            break;
        }
        sim.tick();
    }
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
}

#[test]
fn once_a_before_gate_opens_clusters_of_later_batches_no_longer_wait_for_it() {
    let mut strategy = approval(true, false);
    strategy.stages[1].max_concurrency = Some(IntOrString::Int(1));
    let mut sim = Sim::new(strategy, &names(3), ring0);
    sim.run(10);
    assert_eq!(sim.state("c02"), ClusterState::WaitingForGate);
    sim.spec.approvals = list(&["rest-before"]);
    assert_eq!(sim.step().start, list(&["c01"]));
    assert_eq!(sim.state("c02"), ClusterState::Pending);
    assert_eq!(sim.entry("c02").reason, None);
    assert_eq!(
        sim.entry("c02").message,
        None,
        "no stale hint to approve an open gate"
    );
    assert_eq!(sim.status.counts.waiting, 0);
}

#[test]
fn a_started_cluster_whose_request_a_person_replaced_is_left_alone_not_reported_as_upgrading() {
    let mut sim = Sim::new(one_stage(0, 1), &names(2), |_| vec![]).outcome("c00", Outcome::Stalls);
    sim.step();
    // Someone asks c00 for another version; the run's label stays on the cvsh.
    let c = sim.fleet.get_mut("c00").unwrap();
    c.fact.requested = Some("4.2.9".into());
    c.fact.state = State::Requested {
        target: "4.2.9".into(),
    };
    let step = sim.step();
    assert_eq!(sim.state("c00"), ClusterState::Skipped);
    assert_eq!(sim.entry("c00").reason.as_deref(), Some("RequestReplaced"));
    assert!(sim.entry("c00").message.as_deref().unwrap().contains("4.2.9"));
    assert!(step.withdraw.is_empty(), "the person's request stays");
    assert_eq!(step.start, list(&["c01"]));
    // Its upgrade to the other version stalling is not the run's failure.
    sim.tick();
    sim.tick();
    sim.step();
    assert_eq!(sim.status.counts.failed, 0);
    assert_ne!(sim.status.phase, Some(RunPhase::Halted));
}

#[test]
fn without_a_stage_limit_the_run_limit_alone_decides_and_a_run_within_it_completes_with_failures() {
    let mut strategy = one_stage(0, 1);
    strategy.failure_policy.max_failures = Some(IntOrString::Int(1));
    let mut sim = Sim::new(strategy, &names(3), |_| vec![]).outcome("c01", Outcome::Stalls);
    sim.run(100);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.state("c01"), ClusterState::Failed);
    assert_eq!(sim.state("c02"), ClusterState::Succeeded);
    let succeeded = sim.condition(types::SUCCEEDED);
    assert_eq!(succeeded.reason, "CompletedWithFailures");
    assert!(succeeded.message.contains("1 failed"), "{}", succeeded.message);
}

#[test]
fn a_halt_takes_back_requests_that_have_not_begun_executing() {
    let mut strategy = one_stage(0, 2);
    strategy.failure_policy.preflight_failure = Some(PreflightFailureAction::Wait);
    let mut sim = Sim::new(strategy, &names(4), |_| vec![])
        .outcome("c00", Outcome::Stalls)
        .outcome("c01", Outcome::FailsPreflight);
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Halted));
    assert_eq!(sim.state("c00"), ClusterState::Failed);
    // c01 was requested and held by its preflight: the halted run withdrew it, and it waits again.
    assert_eq!(sim.state("c01"), ClusterState::Pending);
    assert_eq!(sim.entry("c01").reason.as_deref(), Some("RequestTakenBack"));
    assert_eq!(sim.entry("c01").started_at, None);
    assert_eq!(sim.fleet["c01"].fact.requested, None);
    // c00's stalled upgrade is never withdrawn.
    assert_eq!(sim.fleet["c00"].fact.requested.as_deref(), Some(TARGET));
}

#[test]
fn a_pause_takes_back_a_waiting_request_and_resume_asks_again() {
    let mut sim = Sim::new(one_stage(0, 1), &names(2), |_| vec![]);
    let first = sim.step();
    assert_eq!(first.start, list(&["c00"]));
    sim.spec.paused = true;
    let paused = sim.step();
    assert_eq!(paused.withdraw, list(&["c00"]));
    assert_eq!(sim.state("c00"), ClusterState::Pending);
    assert_eq!(sim.status.phase, Some(RunPhase::Paused));
    sim.spec.paused = false;
    assert_eq!(sim.step().start, list(&["c00"]));
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.fleet["c00"].starts, 1);
}

#[test]
fn a_cluster_already_newer_than_the_target_is_skipped_never_moved_back() {
    let mut sim = Sim::new(one_stage(0, 2), &names(2), |_| vec![]);
    sim.fleet.get_mut("c01").unwrap().fact = idle("4.4.0");
    sim.run(20);
    assert_eq!(sim.status.phase, Some(RunPhase::Succeeded));
    assert_eq!(sim.state("c01"), ClusterState::Skipped);
    assert_eq!(sim.entry("c01").reason.as_deref(), Some("NewerThanTarget"));
    assert_eq!(starts(&sim).concat(), list(&["c00"]));
}

#[test]
fn a_gate_holding_a_stage_is_told_once_for_the_run_not_once_per_cluster() {
    let mut sim = Sim::new(approval(true, false), &names(6), ring0);
    let mut told = Vec::new();
    for _ in 0..10 {
        told.extend(sim.step().transitions);
        sim.tick();
    }
    assert_eq!(sim.state("c01"), ClusterState::WaitingForGate);
    let gate: Vec<_> = told.iter().filter(|t| t.reason == "GateWaiting").collect();
    assert_eq!(gate.len(), 1, "{told:?}");
    assert!(gate[0].message.contains("rest-before"));
    assert!(
        told.iter().all(|t| t.reason != "ClusterWaitingForGate"),
        "{told:?}"
    );
}

#[test]
fn a_timed_out_cluster_that_never_began_loses_its_request_and_a_lost_withdrawal_is_made_again() {
    let mut strategy = one_stage(0, 1);
    strategy.failure_policy.timeout = Some("3m".into());
    strategy.failure_policy.max_failures = Some(IntOrString::Int(5));
    // c00 waits for preflight (Blocked under Wait) past its timeout: it never began executing.
    let mut sim = Sim::new(strategy, &names(2), |_| vec![]).outcome("c00", Outcome::FailsPreflight);
    for _ in 0..5 {
        sim.step();
        sim.tick();
    }
    assert_eq!(sim.state("c00"), ClusterState::Failed);
    assert_eq!(sim.entry("c00").reason.as_deref(), Some("TimedOut"));
    assert_eq!(
        sim.fleet["c00"].fact.requested, None,
        "the failed cluster's request is withdrawn"
    );
    // A withdrawal lost (the operator died before making it) is made on the next step.
    let c00 = sim.fleet.get_mut("c00").unwrap();
    c00.fact.requested = Some(TARGET.to_owned());
    c00.fact.requested_by_run = Some(RUN.to_owned());
    c00.fact.state = State::Requested {
        target: TARGET.to_owned(),
    };
    assert_eq!(sim.step().withdraw, list(&["c00"]));
}

/// The largest status a run may write (every cluster with the longest name, reason and message, every
/// time set, a full plan) stays well under etcd's 1.5 MiB request limit, with room for the object's
/// managed fields.
#[test]
fn the_largest_run_status_fits_an_object() {
    use super::run::{
        Batch, ClusterEntry, MAX_CLUSTER_MESSAGE_CHARS, MAX_CLUSTERS, Plan, PlannedGroup, PlannedStage,
    };
    let t = Some(Time(at(0)));
    let name = |i: usize| format!("{i:04}{}", "n".repeat(59));
    let clusters: Vec<ClusterEntry> = (0..MAX_CLUSTERS)
        .map(|i| ClusterEntry {
            name: name(i),
            state: ClusterState::WaitingForWindow,
            from_version: Some("4.2.3".into()),
            reason: Some("r".repeat(63)),
            message: Some("m".repeat(MAX_CLUSTER_MESSAGE_CHARS)),
            progress: Some(100),
            window_opens_at: t.clone(),
            started_at: t.clone(),
            finished_at: t.clone(),
            eta: t.clone(),
        })
        .collect();
    let status = UpgradeRunStatus {
        plan: Some(Plan {
            strategy: one_stage(0, 1),
            stages: vec![PlannedStage {
                name: "all".into(),
                groups: vec![PlannedGroup {
                    name: "default".into(),
                    max_concurrency: 1,
                    batches: (0..MAX_CLUSTERS)
                        .map(|i| Batch {
                            clusters: vec![name(i)],
                            canary: false,
                        })
                        .collect(),
                }],
                ..PlannedStage::default()
            }],
        }),
        clusters,
        ..UpgradeRunStatus::default()
    };
    let bytes = serde_json::to_vec(&status).unwrap().len();
    assert!(bytes < 800_000, "the largest status is {bytes} bytes");
}
