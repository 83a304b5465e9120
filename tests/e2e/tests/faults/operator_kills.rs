//! The operator SIGKILLed at fault points driven by what the watches see, many points in one upgrade, and
//! started again each time; the upgrade completes with every invariant kept.

use std::time::{Duration, Instant};

use acp_api::cvsh::{ClusterVersionShadowStatus, HistoryState, OperationPhase, StagePhase};
use acp_e2e::operator::*;

use super::record::{self, Recorder, Seen};
use super::{completed, fault_points, finish_and_check, progress, spread};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";

/// A moment of the upgrade at which the operator dies.
#[derive(Clone, Debug)]
enum Point {
    /// The Start reconcile recorded the Partial history entry and the planned stages.
    Started,
    /// A module Deployment's spec changed: applied, perhaps not yet recorded.
    Applied(String),
    OperationRunning(String, String),
    OperationSucceeded(String, String),
    StageFinished(String),
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::Started => write!(f, "start recorded"),
            Point::Applied(m) => write!(f, "{m} applied"),
            Point::OperationRunning(s, o) => write!(f, "{s}/{o} Running"),
            Point::OperationSucceeded(s, o) => write!(f, "{s}/{o} Succeeded"),
            Point::StageFinished(s) => write!(f, "stage {s} Finished"),
        }
    }
}

/// How far along `point` the upgrade is: None before it, Some(true) exactly at it, Some(false) past it.
fn reached(point: &Point, seen: &Seen, generation_before: &dyn Fn(&str) -> i64) -> Option<bool> {
    match (point, seen) {
        (Point::Applied(module), Seen::Module { name, generation, .. }) => {
            (name == module && *generation > generation_before(module)).then_some(true)
        }
        (Point::Applied(_), Seen::Status(_)) | (_, Seen::Module { .. }) => None,
        (Point::Started, Seen::Status(s)) => {
            let entry = s.history.iter().find(|h| h.version.as_deref() == Some(TARGET))?;
            Some(
                entry.state == HistoryState::Partial
                    && s.stages.iter().all(|st| st.phase == StagePhase::Pending),
            )
        }
        (Point::OperationRunning(stage, op), Seen::Status(s)) => match phase(s, stage, op)? {
            OperationPhase::Running => Some(true),
            p if p.is_done() => Some(false),
            _ => None,
        },
        (Point::OperationSucceeded(stage, op), Seen::Status(s)) => {
            let p = phase(s, stage, op)?;
            p.is_done()
                .then(|| stage_phase(s, stage) != Some(StagePhase::Finished))
        }
        (Point::StageFinished(stage), Seen::Status(s)) => {
            (stage_phase(s, stage)? == StagePhase::Finished).then(|| {
                // Past it once the next stage moved.
                !s.stages
                    .iter()
                    .any(|st| st.name != *stage && st.phase == StagePhase::Running)
            })
        }
    }
}

fn phase(s: &ClusterVersionShadowStatus, stage: &str, op: &str) -> Option<OperationPhase> {
    s.stages
        .iter()
        .filter(|st| st.name == stage)
        .flat_map(|st| &st.operations)
        .find(|o| o.name == op)
        .map(|o| o.phase.clone().unwrap_or(OperationPhase::Pending))
}

fn phase_anywhere(s: &ClusterVersionShadowStatus, op: &str) -> Option<OperationPhase> {
    s.stages
        .iter()
        .flat_map(|st| &st.operations)
        .find(|o| o.name == op)
        .map(|o| o.phase.clone().unwrap_or(OperationPhase::Pending))
}

fn stage_phase(s: &ClusterVersionShadowStatus, stage: &str) -> Option<StagePhase> {
    s.stages.iter().find(|st| st.name == stage).map(|st| st.phase)
}

/// Every boundary of the planned upgrade, in the order they happen.
fn boundaries(planned: &ClusterVersionShadowStatus) -> Vec<Point> {
    let mut points = vec![Point::Started];
    for stage in planned.stages_in_order() {
        for op in &stage.operations {
            if record::is_module(&op.name) {
                points.push(Point::Applied(op.name.clone()));
            }
            points.push(Point::OperationRunning(stage.name.clone(), op.name.clone()));
            points.push(Point::OperationSucceeded(stage.name.clone(), op.name.clone()));
        }
        points.push(Point::StageFinished(stage.name.clone()));
    }
    points
}

/// `count` of `all`'s indices, evenly spread, shifted by `round` so later rounds hit other points.
fn spread_over(all: usize, count: usize, round: usize) -> Vec<usize> {
    let count = count.min(all);
    let step = all as f64 / count as f64;
    let mut picked: Vec<usize> = (0..count)
        .map(|i| ((i as f64 * step) as usize + round) % all)
        .collect();
    picked.sort();
    picked.dedup();
    picked
}

/// What one upgrade under kills gave.
#[derive(Default)]
struct Round {
    tried: Vec<String>,
    passed: usize,
    between_applied_and_recorded: usize,
    resumes: Vec<Duration>,
    violations: Vec<String>,
}

async fn one_upgrade(budget: usize, round: usize) -> Round {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let operator = operate_global(&env, FROM, TARGET).await;
    let recorder = Recorder::start(global, "global", global).await;
    let before = record::modules(global).await;
    let generation_before = |m: &str| before.get(m).map(|s| s.generation).unwrap_or_default();

    request(global, "global", TARGET).await;
    // The plan is known once the Start is recorded; the first point may be that very moment.
    let (at, _) = recorder
        .wait_status("the start recorded", 0, LONG, |s| {
            s.history.iter().any(|h| h.version.as_deref() == Some(TARGET))
        })
        .await;
    let planned = recorder
        .statuses()
        .into_iter()
        .rfind(|s| !s.stages.is_empty())
        .unwrap();
    let all = boundaries(&planned);
    let chosen: Vec<Point> = spread_over(all.len(), budget, round)
        .into_iter()
        .map(|i| all[i].clone())
        .collect();

    let stored = shadows(global).await;
    let mut result = Round::default();
    let mut cursor = at;
    for point in chosen {
        // Already behind us (two boundaries in one write, or passed while the operator restarted).
        let seen = recorder
            .try_wait(0, Duration::ZERO, |s| match &point {
                // A request in flight when the operator died may still land: applied is applied.
                Point::Applied(_) => reached(&point, s, &generation_before).is_some(),
                _ => reached(&point, s, &generation_before) == Some(false),
            })
            .await;
        if seen.is_some() {
            result.passed += 1;
            continue;
        }
        let (index, _) = recorder
            .wait(&format!("fault point {point}"), cursor, LONG, |s| {
                reached(&point, s, &generation_before).is_some()
            })
            .await;
        operator.kill();
        let exact = recorder
            .try_wait(index, Duration::ZERO, |s| {
                reached(&point, s, &generation_before) == Some(true)
            })
            .await
            .is_some_and(|(i, _)| i == index);
        // What the dead process managed to record: the stored status, not what the watch has delivered yet.
        let last = stored.get("global").await.unwrap().status.unwrap_or_default();
        if let Point::Applied(module) = &point {
            // The kill landed before the operation was recorded Running: applied, not recorded.
            if !phase_anywhere(&last, module).is_some_and(|p| p == OperationPhase::Running || p.is_done()) {
                result.between_applied_and_recorded += 1;
            }
        }
        result.tried.push(if exact {
            point.to_string()
        } else {
            format!("{point} (landed past it)")
        });
        let before_restart = progress(&last);
        let restarted = Instant::now();
        operator.restart().unwrap();
        cursor = recorder.cursor();
        if completed(&last, TARGET) {
            continue;
        }
        // Resume time: the restarted process's first recorded progress.
        if let Some((_, seen_at)) = recorder
            .try_wait(
                cursor,
                LONG,
                |s| matches!(s, Seen::Status(s) if progress(s) > before_restart || completed(s, TARGET)),
            )
            .await
        {
            result.resumes.push(seen_at.saturating_duration_since(restarted));
        }
    }
    result.violations = finish_and_check(&recorder, global, FROM, TARGET, &before).await;
    if !result.violations.is_empty() {
        eprintln!("operator log tail:\n{}", operator.log_tail(60));
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_killed_at_every_boundary_finishes_each_upgrade_once() {
    let wanted = fault_points();
    let mut total = Round::default();
    let mut upgrades = 0;
    let mut round = 0;
    while total.tried.len() < wanted {
        let r = one_upgrade(wanted - total.tried.len(), round).await;
        upgrades += 1;
        round += 1;
        let progressed = !r.tried.is_empty();
        total.tried.extend(r.tried);
        total.passed += r.passed;
        total.between_applied_and_recorded += r.between_applied_and_recorded;
        total.resumes.extend(r.resumes);
        total.violations.extend(r.violations);
        if !progressed || !total.violations.is_empty() {
            break;
        }
    }
    println!(
        "faults: operator_kills: {} kill points tried ({} between applied and recorded; {} skipped as \
         already passed), {upgrades} upgrade(s) completed, {} invariant violations; resume after restart \
         {}\n  points: {}",
        total.tried.len(),
        total.between_applied_and_recorded,
        total.passed,
        total.violations.len(),
        spread(total.resumes),
        total.tried.join(", ")
    );
    assert!(
        total.violations.is_empty(),
        "invariants broken:\n{}",
        total.violations.join("\n")
    );
    assert!(total.tried.len() >= wanted.min(3), "too few kill points landed");
}
