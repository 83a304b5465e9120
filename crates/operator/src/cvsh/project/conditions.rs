//! The conditions of a ClusterVersionShadow, one function each. A function returns the condition's new
//! value, or `None` to keep the one the previous status holds.

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::{self, Clock, ConditionStatus, ConditionUpdate, types};

use super::Projection;
use crate::cvsh::phase::Phase;
use acp_api::cvsh::PreflightSummary as Summary;

use ConditionStatus::{False, True, Unknown};

/// A condition's value: status, reason, message.
pub type Value = (ConditionStatus, &'static str, String);

/// Sets every condition of `status` (already projected but for its conditions).
pub fn set_all(status: &mut ClusterVersionShadowStatus, p: &Projection<'_>, clock: &dyn Clock) {
    let name = p.facts.name.as_str();
    let progress = progress(status, p);
    let values = [
        (types::READY, ready(name, p, &progress)),
        (types::RECONCILING, reconciling(p, &progress)),
        (types::PREFLIGHT_READY, preflight_ready(p)),
        (types::DEGRADED, Some(degraded(p))),
    ];
    for (type_, value) in values {
        if let Some(value) = value {
            set(status, type_, value, p.generation, clock);
        }
    }
    let stalled = stalled(status, p, clock);
    set(status, types::STALLED, stalled, p.generation, clock);
    for (type_, value) in [
        (types::TIER_REFUSED, tier_refused(p)),
        (types::DUPLICATE_CLUSTER, duplicate_cluster(p)),
    ] {
        match value {
            Some(value) => set(status, type_, value, p.generation, clock),
            None => {
                conditions::remove(&mut status.conditions, type_);
            }
        }
    }
}

fn set(
    status: &mut ClusterVersionShadowStatus,
    type_: &str,
    (state, reason, message): Value,
    generation: Option<i64>,
    clock: &dyn Clock,
) {
    let update = ConditionUpdate::new(type_, state, reason, message).observed_generation(generation);
    conditions::set(&mut status.conditions, update, clock);
}

/// The progress message of a running upgrade: done of planned operations, what it waits on, and how
/// the spec changed since it started.
fn progress(status: &ClusterVersionShadowStatus, p: &Projection<'_>) -> String {
    let (target, note) = match p.phase {
        Phase::Start { target, .. } => (target, None),
        Phase::Execute { target, note } | Phase::Stopped { target, note, .. } => (target, note.as_ref()),
        _ => return String::new(),
    };
    let mut message = status
        .progress_message()
        .unwrap_or_else(|| format!("Working towards {target}"));
    if let Some(waiting) = p.stepped.and_then(|s| s.advance.waiting.as_ref()) {
        message.push_str(&format!("; waiting on {waiting}"));
    }
    if let Some(note) = note {
        message.push_str(&format!("; {note}"));
    }
    message
}

pub fn ready(cluster: &str, p: &Projection<'_>, progress: &str) -> Option<Value> {
    Some(match p.phase {
        Phase::Idle { .. } => match &p.facts.current.version {
            Some(current) => (True, "AtVersion", format!("cluster {cluster} runs ACP {current}")),
            None => (
                False,
                "VersionUnknown",
                p.facts
                    .current
                    .problem
                    .clone()
                    .unwrap_or_else(|| "the platform version is unknown".into()),
            ),
        },
        Phase::Blocked { target, summary } => (
            False,
            blocked_reason(summary),
            format!(
                "the upgrade to {target} is held by preflight: {}",
                summary_text(summary)
            ),
        ),
        Phase::Paused { target } => (False, "Paused", paused_message(target)),
        Phase::Held { reason, message, .. } | Phase::Rejected { reason, message } => {
            (False, *reason, message.clone())
        }
        Phase::Execute { target, .. } if p.completed() => (
            True,
            "UpgradeCompleted",
            format!("cluster {cluster} runs ACP {target}"),
        ),
        Phase::Start { .. } | Phase::Execute { .. } | Phase::Stopped { .. } => {
            (False, "Upgrading", progress.to_string())
        }
    })
}

pub fn reconciling(p: &Projection<'_>, progress: &str) -> Option<Value> {
    Some(match p.phase {
        Phase::Idle { .. } => (False, "Idle", "no upgrade in progress".into()),
        Phase::Blocked { target, summary } => (
            False,
            blocked_reason(summary),
            format!(
                "no stage started; preflight for {target}: {}",
                summary_text(summary)
            ),
        ),
        Phase::Paused { target } => (False, "Paused", paused_message(target)),
        Phase::Held { reason, message, .. } | Phase::Rejected { reason, message } => {
            (False, *reason, message.clone())
        }
        Phase::Execute { target, .. } if p.completed() => (
            False,
            "UpgradeCompleted",
            format!("the upgrade to {target} completed"),
        ),
        Phase::Start { .. } | Phase::Execute { .. } | Phase::Stopped { .. } => {
            (True, "Upgrading", progress.to_string())
        }
    })
}

/// Whether the version preflight looked at could start: the requested one, or the newest offered.
pub fn preflight_ready(p: &Projection<'_>) -> Option<Value> {
    match p.phase {
        Phase::Idle { offer: Some(offer) } if offer.summary.all_passed() => Some((
            True,
            "ChecksPassed",
            format!(
                "an upgrade to {}, the newest available, could start now",
                offer.target
            ),
        )),
        Phase::Idle { offer: Some(offer) } => Some((
            False,
            blocked_reason(&offer.summary),
            format!(
                "an upgrade to {}, the newest available, would be held: {}",
                offer.target,
                summary_text(&offer.summary)
            ),
        )),
        Phase::Idle { offer: None } => Some((Unknown, "NoTarget", "no update is available to check".into())),
        Phase::Blocked { summary, .. } => Some((False, blocked_reason(summary), summary_text(summary))),
        Phase::Rejected { reason, message } => Some((False, *reason, message.clone())),
        Phase::Start { target, risks, .. } if risks.is_empty() => {
            Some((True, "ChecksPassed", format!("every check passed for {target}")))
        }
        Phase::Start { target, risks, .. } => Some((
            True,
            "RisksAccepted",
            format!("risks accepted for {target}: {}", risks.join("; ")),
        )),
        Phase::Paused { target } | Phase::Held { target, .. } => p.preflight.map(|evaluated| {
            let summary = &evaluated.summary;
            if summary.all_passed() {
                (True, "ChecksPassed", format!("every check passed for {target}"))
            } else {
                (False, blocked_reason(summary), summary_text(summary))
            }
        }),
        Phase::Execute { .. } | Phase::Stopped { .. } => None,
    }
}

/// An error that blocks progress: the running upgrade's, else the cluster's access problem.
pub fn degraded(p: &Projection<'_>) -> Value {
    let blocked = match p.phase {
        Phase::Stopped { reason, message, .. } => Some((*reason, message.clone())),
        _ => p
            .stepped
            .and_then(|s| s.advance.blocked.as_ref())
            .map(|b| (b.reason, b.message.clone())),
    };
    match blocked.or_else(|| p.facts.access_problem()) {
        Some((reason, message)) => (True, reason, message),
        None => (False, "AsExpected", "no error blocks progress".into()),
    }
}

/// A running upgrade Degraded past the deadline needs a human. Reads the Degraded condition just set.
pub fn stalled(status: &ClusterVersionShadowStatus, p: &Projection<'_>, clock: &dyn Clock) -> Value {
    let executing = p.phase.is_executing() && !p.completed();
    let degraded = conditions::find(&status.conditions, types::DEGRADED).filter(|c| c.status == "True");
    let deadline = i64::try_from(p.stall_after.as_secs()).unwrap_or(i64::MAX);
    match degraded {
        Some(degraded) if executing => {
            let for_how_long = clock.now().duration_since(degraded.last_transition_time.0);
            if for_how_long.as_secs() >= deadline {
                let minutes = for_how_long.as_secs() / 60;
                return (
                    True,
                    "RetryDeadlineExceeded",
                    format!(
                        "no progress for {minutes} minutes: {}; fix the cause, the operator keeps retrying",
                        degraded.message
                    ),
                );
            }
            (False, "Progressing", "not stalled".into())
        }
        _ => (False, "Progressing", "not stalled".into()),
    }
}

/// Present only while the claimed tier is refused.
pub fn tier_refused(p: &Projection<'_>) -> Option<Value> {
    p.facts
        .tier_refused
        .as_ref()
        .map(|(reason, message)| (True, *reason, message.clone()))
}

/// Present only while another ClusterVersionShadow reaches the same cluster.
pub fn duplicate_cluster(p: &Projection<'_>) -> Option<Value> {
    p.facts
        .duplicate
        .as_ref()
        .map(|message| (True, "SameKubeSystemUID", message.clone()))
}

fn paused_message(target: &acp_policy::AcpVersion) -> String {
    format!("the upgrade to {target} is requested but spec.paused is set: set it to false to start")
}

fn blocked_reason(summary: &Summary) -> &'static str {
    if summary.failed.is_empty() {
        "PreflightPending"
    } else {
        "PreflightFailed"
    }
}

fn summary_text(summary: &Summary) -> String {
    summary.text()
}
