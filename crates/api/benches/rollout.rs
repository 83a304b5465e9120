//! The rollout's pure decisions over a fleet of 5,000 workload clusters: freezing the plan, and one
//! scheduling step mid-run. One run holds at most `run::MAX_CLUSTERS` (1,000) clusters, so the fleet
//! is five runs split by a `shard` label; the step is measured per run (what the operator does) and
//! once over a single 5,000-cluster plan made of the five runs' stages side by side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use acp_api::cvsh::{Progress, State};
use acp_api::k8s::{Time, Timestamp};
use acp_api::rollout::decide::{GlobalTier, Inputs, step};
use acp_api::rollout::facts::{ClusterFact, WindowFact};
use acp_api::rollout::plan::{Candidate, freeze};
use acp_api::rollout::resolve::{Resolved, resolve};
use acp_api::rollout::run::{ClusterEntry, ClusterState, Plan, UpgradeRunStatus};
use acp_api::rollout::strategy::{GroupSpec, StageSpec, UpgradeStrategySpec};
use acp_api::rollout::{UpgradeRunSpec, run::MAX_CLUSTERS};
use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const FLEET: usize = 5_000;
const SHARDS: usize = 5;
const TARGET: &str = "4.3.1";
const FROM: &str = "4.2.3";

fn selector(labels: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..LabelSelector::default()
    }
}

/// Labels of cluster `i`: its shard (which run), ring (which stage) and region (which group).
fn labels(i: usize) -> BTreeMap<String, String> {
    let ring = match i % 100 {
        0 => "0",
        1..=20 => "1",
        _ => "2",
    };
    let region = ["east", "west", "north"][i % 3];
    [
        ("shard", (i % SHARDS).to_string()),
        ("ring", ring.to_owned()),
        ("region", region.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Three stages (ring 0, ring 1, the rest of the shard), each with two groups and a default group,
/// canaries and a 10% maxConcurrency.
fn strategy(shard: usize) -> UpgradeStrategySpec {
    let shard = shard.to_string();
    let groups = || {
        ["east", "west"]
            .into_iter()
            .map(|region| GroupSpec {
                name: region.to_owned(),
                selector: selector(&[("region", region)]),
                max_concurrency: None,
            })
            .collect()
    };
    let stage = |name: &str, ring: Option<&str>| StageSpec {
        name: name.to_owned(),
        selector: Some(match ring {
            Some(ring) => selector(&[("shard", &shard), ("ring", ring)]),
            None => selector(&[("shard", &shard)]),
        }),
        groups: groups(),
        max_concurrency: Some(IntOrString::String("10%".into())),
        canaries: Some(2),
        soak: Some("30m".into()),
        ..StageSpec::default()
    };
    UpgradeStrategySpec {
        stages: vec![
            stage("ring0", Some("0")),
            stage("ring1", Some("1")),
            stage("rest", None),
        ],
        ..UpgradeStrategySpec::default()
    }
}

struct Fleet {
    names: Vec<String>,
    labels: Vec<BTreeMap<String, String>>,
}

impl Fleet {
    fn new() -> Self {
        Fleet {
            names: (0..FLEET).map(|i| format!("edge-{i:05}")).collect(),
            labels: (0..FLEET).map(labels).collect(),
        }
    }

    fn candidates(&self) -> impl Iterator<Item = Candidate<'_>> {
        self.names
            .iter()
            .zip(&self.labels)
            .map(|(name, labels)| Candidate {
                name,
                labels,
                current_version: Some(FROM),
            })
    }
}

fn at(minutes: u64) -> Timestamp {
    let t0: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
    t0.checked_add(Duration::from_secs(60 * minutes)).unwrap()
}

fn fact(state: State, current: &str) -> ClusterFact {
    let requested = state.target().map(str::to_owned);
    ClusterFact {
        current_version: Some(current.to_owned()),
        state,
        reason: None,
        requested_by_run: requested.as_ref().map(|_| "run".to_owned()),
        requested,
        failing_check: None,
        last_duration: Some(Duration::from_secs(40 * 60)),
        window: WindowFact::Open,
    }
}

/// A run part-way: the first two stages completed, the last one half done with one batch of every
/// group upgrading. The facts show that batch at the target already (`finished`) or still executing.
fn mid_run(
    plan: &Plan,
    clusters: &[ClusterEntry],
    finished: bool,
) -> (UpgradeRunStatus, BTreeMap<String, ClusterFact>) {
    let mut plan = plan.clone();
    let mut entries: BTreeMap<String, ClusterEntry> =
        clusters.iter().map(|e| (e.name.clone(), e.clone())).collect();
    let mut facts = BTreeMap::new();
    let last = plan.stages.len() - 1;
    let succeed = |name: &str,
                   entries: &mut BTreeMap<String, ClusterEntry>,
                   facts: &mut BTreeMap<String, ClusterFact>| {
        let e = entries.get_mut(name).unwrap();
        e.state = ClusterState::Succeeded;
        e.started_at = Some(Time(at(0)));
        e.finished_at = Some(Time(at(40)));
        facts.insert(name.to_owned(), fact(State::Idle, TARGET));
    };
    for (si, stage) in plan.stages.iter_mut().enumerate() {
        stage.started_at = Some(Time(at(0)));
        for group in &stage.groups {
            let half = group.batches.len() / 2;
            for (bi, batch) in group.batches.iter().enumerate() {
                for name in &batch.clusters {
                    if si < last || bi < half || batch.canary {
                        succeed(name, &mut entries, &mut facts);
                    } else if bi == half {
                        let e = entries.get_mut(name).unwrap();
                        e.state = ClusterState::Upgrading;
                        e.started_at = Some(Time(at(100)));
                        let executing = State::Executing {
                            target: TARGET.to_owned(),
                            progress: Progress { done: 3, total: 5 },
                        };
                        let f = if finished {
                            fact(State::Idle, TARGET)
                        } else {
                            fact(executing, FROM)
                        };
                        facts.insert(name.clone(), f);
                    } else {
                        facts.insert(name.clone(), fact(State::Idle, FROM));
                    }
                }
            }
        }
        if si < last {
            stage.finished_at = Some(Time(at(60)));
            stage.completed_at = Some(Time(at(90)));
        }
    }
    let clusters = clusters
        .iter()
        .map(|e| entries.remove(&e.name).unwrap())
        .collect();
    let status = UpgradeRunStatus {
        plan: Some(plan),
        clusters,
        started_at: Some(Time(at(0))),
        ..UpgradeRunStatus::default()
    };
    (status, facts)
}

struct Run {
    spec: UpgradeRunSpec,
    resolved: Resolved,
    status: UpgradeRunStatus,
    facts: BTreeMap<String, ClusterFact>,
}

impl Run {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            run: "run",
            spec: &self.spec,
            generation: Some(1),
            plan: self.status.plan.as_ref().unwrap(),
            resolved: &self.resolved,
            facts: &self.facts,
            global_tier: GlobalTier::Reached,
            now: at(130),
        }
    }

    fn new(strategy: UpgradeStrategySpec, plan: Plan, clusters: Vec<ClusterEntry>, finished: bool) -> Self {
        let resolved = resolve(&strategy, "spec").unwrap();
        let (status, facts) = mid_run(&plan, &clusters, finished);
        let mut run = Run {
            spec: UpgradeRunSpec {
                target_version: TARGET.to_owned(),
                ..UpgradeRunSpec::default()
            },
            resolved,
            status,
            facts,
        };
        // The conditions and phase earlier steps would have written.
        let earlier = step(&run.inputs(), &run.status).status;
        run.status.conditions = earlier.conditions;
        run.status.phase = earlier.phase;
        run
    }
}

/// The five runs' plans as one: stage by stage, every run's groups side by side.
fn merged(plans: &[(Plan, Vec<ClusterEntry>)]) -> (Plan, Vec<ClusterEntry>) {
    let mut plan = plans[0].0.clone();
    for (si, stage) in plan.stages.iter_mut().enumerate() {
        stage.groups = plans
            .iter()
            .enumerate()
            .flat_map(|(shard, (p, _))| {
                p.stages[si].groups.iter().cloned().map(move |mut g| {
                    g.name = format!("{}-{shard}", g.name);
                    g
                })
            })
            .collect();
    }
    let clusters = plans.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
    (plan, clusters)
}

fn bench(c: &mut Criterion) {
    let fleet = Fleet::new();
    let strategies: Vec<UpgradeStrategySpec> = (0..SHARDS).map(strategy).collect();
    let resolved: Vec<Resolved> = strategies.iter().map(|s| resolve(s, "spec").unwrap()).collect();
    let plans: Vec<(Plan, Vec<ClusterEntry>)> = strategies
        .iter()
        .zip(&resolved)
        .map(|(s, r)| freeze(s, r, fleet.candidates(), &[]).unwrap())
        .collect();
    let sizes: Vec<usize> = plans.iter().map(|(_, c)| c.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), FLEET);
    assert!(sizes.iter().all(|n| *n <= MAX_CLUSTERS));

    c.bench_function(
        "freeze: 5 runs over a 5,000-cluster fleet (3 stages x 3 groups each)",
        |b| {
            b.iter(|| {
                for (s, r) in strategies.iter().zip(&resolved) {
                    black_box(freeze(s, r, fleet.candidates(), &[]).unwrap());
                }
            })
        },
    );

    let runs: Vec<Run> = plans
        .iter()
        .zip(&strategies)
        .map(|((p, c), s)| Run::new(s.clone(), p.clone(), c.clone(), true))
        .collect();
    c.bench_function(
        "step: 5 runs over 5,000 clusters mid-run, a batch per group finished, the next starts",
        |b| {
            b.iter(|| {
                for run in &runs {
                    black_box(step(&run.inputs(), &run.status));
                }
            })
        },
    );

    let (plan, clusters) = merged(&plans);
    let busy = Run::new(strategies[0].clone(), plan.clone(), clusters.clone(), true);
    let first = step(&busy.inputs(), &busy.status);
    assert!(!first.start.is_empty(), "the next batches start");
    c.bench_function(
        "step: one 5,000-cluster plan mid-run, a batch per group finished, the next starts",
        |b| b.iter(|| black_box(step(&busy.inputs(), &busy.status))),
    );
    let steady = Run::new(strategies[0].clone(), plan, clusters, false);
    assert!(step(&steady.inputs(), &steady.status).start.is_empty());
    c.bench_function(
        "step: one 5,000-cluster plan mid-run, a batch per group upgrading, nothing changed",
        |b| b.iter(|| black_box(step(&steady.inputs(), &steady.status))),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
