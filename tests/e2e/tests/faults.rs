//! Faults injected into a running upgrade, each scenario checked by the same invariants
//! ([`invariants::violations`]): every module applied once (one new spec generation and one new ReplicaSet
//! per Deployment), one history entry per upgrade (Partial, then Completed), no operation back from
//! Succeeded, `status.current` only forward, and the upgrade ends at its target, Ready and not Degraded.
//! What a scenario checks is what a watch delivered ([`record::Recorder`]), so no transition is missed
//! between two polls.
//!
//! - [`operator_kills`]: the operator SIGKILLed at fault points spread over the stages and operation
//!   boundaries of one upgrade (when the Start is recorded, when an operation turns Running or Succeeded,
//!   when a stage finishes, and the moment a module Deployment changes: applied, not yet recorded), then
//!   started again. `ACP_FAULT_POINTS` (default 6) sets how many points; when one upgrade has fewer
//!   boundaries than asked for, more upgrades run on fresh clusters. `ACP_FAULT_POINTS=20` is the full run.
//! - [`leader_kills`]: two replicas, the leader SIGKILLed each time an operation turns Running (up to
//!   `ACP_FAULT_POINTS` times, once per module operation); the takeover time is measured against the 6 s
//!   Lease.
//! - [`hub_restart`]: the global cluster's control plane stopped mid-Core and started again; the time from
//!   the hub's return to the next status progress is measured.
//! - [`workload_outage`]: a workload cluster's API server gone mid-Core for longer than the operator's
//!   request timeout: Degraded while gone, never a Failed operation, then completion.
//! - [`degraded_network`]: a workload cluster behind a loopback proxy ([`proxy`]) that slows every
//!   request, holds some answers past the request timeout and answers a fraction with 503/500/429: the
//!   waits stay bounded, nothing Fails, and the upgrade completes once.
//! - [`conflicting_writer`]: a person server-side applying spec fields at each step of the running
//!   upgrade: the upgrade completes once and the person's fields stay theirs.
//!
//! `cargo test -p acp-e2e --test e2e faults:: -- --nocapture` prints one `faults:` summary line per scenario.

mod conflicting_writer;
mod degraded_network;
mod hub_restart;
mod invariants;
mod leader_kills;
mod operator_kills;
mod proxy;
mod record;
mod workload_outage;

use std::time::{Duration, Instant};

use acp_api::conditions::types;
use acp_api::cvsh::{ClusterVersionShadowStatus, OperationPhase, StagePhase};
use acp_testkit::Cluster;

use invariants::Upgrade;
use record::{ModuleState, Recorder};

/// How many operator kill points `operator_kills` tries when `ACP_FAULT_POINTS` is unset.
const DEFAULT_FAULT_POINTS: usize = 6;

/// How long a completed upgrade is watched further: two of the operator's 3 s resyncs.
const SETTLE: Duration = Duration::from_secs(6);

/// The number of fault points asked for.
fn fault_points() -> usize {
    std::env::var("ACP_FAULT_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_FAULT_POINTS)
        .max(1)
}

/// The upgrade reached `target`, Ready.
fn completed(status: &ClusterVersionShadowStatus, target: &str) -> bool {
    status.current.as_ref().and_then(|c| c.version.as_deref()) == Some(target)
        && acp_api::conditions::find(&status.conditions, types::READY).is_some_and(|c| c.status == "True")
}

/// How far an upgrade has got, as a number that grows with each recorded step: one per operation
/// Running, two per operation done, one per stage Finished, one for the completion.
fn progress(status: &ClusterVersionShadowStatus) -> usize {
    let operations: usize = status
        .stages
        .iter()
        .flat_map(|s| &s.operations)
        .map(|o| match &o.phase {
            Some(OperationPhase::Running) => 1,
            Some(p) if p.is_done() => 2,
            _ => 0,
        })
        .sum();
    let stages = status
        .stages
        .iter()
        .filter(|s| s.phase == StagePhase::Finished)
        .count();
    let completed = status
        .history
        .first()
        .is_some_and(|h| h.state == acp_api::cvsh::HistoryState::Completed) as usize;
    operations + stages + completed
}

/// Name of the operation of `stage` that is Running in `status`.
fn running_in<'a>(status: &'a ClusterVersionShadowStatus, stage: &str) -> Option<&'a str> {
    status
        .stages
        .iter()
        .filter(|s| s.name == stage)
        .flat_map(|s| &s.operations)
        .find(|o| o.phase == Some(OperationPhase::Running))
        .map(|o| o.name.as_str())
}

/// Waits for completion through the recorder and watches SETTLE longer, then checks the invariants on everything it saw; returns
/// the violations.
async fn finish_and_check(
    recorder: &Recorder,
    cluster: &Cluster,
    from: &str,
    target: &str,
    modules_before: &std::collections::BTreeMap<String, ModuleState>,
) -> Vec<String> {
    recorder
        .wait_status(&format!("{target} completed"), 0, acp_e2e::operator::LONG, |s| {
            completed(s, target)
        })
        .await;
    // What follows completion counts too: the next reconciles (idle now) must not undo any of it.
    recorder.try_wait(recorder.cursor(), SETTLE, |_| false).await;
    let modules_after = record::modules(cluster).await;
    let statuses = recorder.statuses();
    invariants::violations(&Upgrade {
        from,
        target,
        statuses: &statuses,
        modules_before,
        modules_after: &modules_after,
    })
}

/// How long after a cluster came `back` the operator wrote the cvsh `name` again (None: it already had by
/// the first answer), and how long until the upgrade got further than `at_stop` (which may also wait for
/// the returning cluster's own controllers, e.g. a rollout). Polled, not watched: a watch's reconnect
/// back-off must not count.
async fn recovery(
    global: &Cluster,
    name: &str,
    at_stop: usize,
    back: Instant,
) -> (Option<Duration>, Duration) {
    let api = acp_e2e::operator::shadows(global).await;
    let seen = std::sync::Mutex::new((None::<String>, None::<Duration>));
    let progressed = acp_testkit::wait_for_some(
        &format!("cvsh {name}: progress after the cluster's return"),
        acp_e2e::operator::LONG,
        || async {
            let shadow = api.get(name).await.ok()?;
            let version = kube::ResourceExt::resource_version(&shadow);
            {
                let mut seen = seen.lock().unwrap();
                match &seen.0 {
                    None => seen.0 = version,
                    Some(first) if version.as_ref() != Some(first) && seen.1.is_none() => {
                        seen.1 = Some(back.elapsed())
                    }
                    _ => {}
                }
            }
            (progress(&shadow.status?) > at_stop).then(|| back.elapsed())
        },
    )
    .await
    .unwrap();
    let first_write = seen.lock().unwrap().1;
    (first_write, progressed)
}

/// Seconds with one decimal, for the summary.
/// Fails the scenario with every broken invariant, and the operator's last log lines to explain them.
fn assert_no_violations(violations: &[String], operator: &acp_testkit::ChildProcess) {
    if !violations.is_empty() {
        eprintln!("operator log tail:\n{}", operator.log_tail(60));
    }
    assert!(
        violations.is_empty(),
        "invariants broken:\n{}",
        violations.join("\n")
    );
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// min/median/max of some durations.
fn spread(mut times: Vec<Duration>) -> String {
    if times.is_empty() {
        return "-".into();
    }
    times.sort();
    format!(
        "min {} median {} max {} (n={})",
        secs(times[0]),
        secs(times[times.len() / 2]),
        secs(times[times.len() - 1]),
        times.len()
    )
}
