//! `approve`, `pause`, `resume`, `skip`: what each changes in a run's spec, or why it refuses. Pure: the
//! run as read in, the merge patch of its spec (or the refusal) out. `ac adm upgrade rollout` and the web
//! console both send it with the resourceVersion it was computed from.

use super::UpgradeRun;
use super::strategy::{GateType, UpgradeStrategySpec};
use kube::ResourceExt;
use serde_json::{Value, json};

/// What an edit of a run's spec decided, from the run as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Nothing to change; the message says why.
    Nothing(String),
    /// Merge this into `spec` (with the resourceVersion the run was read at), then show the message.
    Patch { spec: Value, message: String },
}

/// Why an edit is refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// How many names a refusal lists before `…`.
const LISTED: usize = 12;

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    let mut text = names.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > LISTED {
        text += &format!(", … ({} in all)", names.len());
    }
    text
}

/// The strategy the run's gates come from: the frozen plan's copy, else the inline one.
fn strategy(run: &UpgradeRun) -> Option<&UpgradeStrategySpec> {
    run.status
        .as_ref()
        .and_then(|s| s.plan.as_ref())
        .map(|p| &p.strategy)
        .or(run.spec.strategy.as_ref())
}

/// Names of the plan's approval gates, in stage order.
fn approval_gates(strategy: &UpgradeStrategySpec) -> Vec<String> {
    let mut names = Vec::new();
    for stage in &strategy.stages {
        for (suffix, gates) in [("before", &stage.before_gates), ("after", &stage.after_gates)] {
            if gates.iter().any(|g| g.type_ == GateType::Approval) {
                names.push(format!("{}-{suffix}", stage.name));
            }
        }
    }
    names
}

pub fn approve(run: &UpgradeRun, gate: &str) -> Result<Edit, Refusal> {
    let name = run.name_any();
    if run.spec.approvals.iter().any(|a| a == gate) {
        return Ok(Edit::Nothing(format!(
            "gate {gate} of run {name} is already approved"
        )));
    }
    let pending: Vec<_> = run
        .status
        .as_ref()
        .map(|s| s.pending_gates.clone())
        .unwrap_or_default();
    let pending_approvals: Vec<String> = pending
        .iter()
        .filter(|g| g.type_ == GateType::Approval)
        .map(|g| g.name.clone())
        .collect();
    if pending_approvals.iter().any(|g| g == gate) {
        let mut approvals = run.spec.approvals.clone();
        approvals.push(gate.to_owned());
        return Ok(Edit::Patch {
            spec: json!({"approvals": approvals}),
            message: format!(
                "approved gate {gate} of run {name}; follow it with `ac adm upgrade rollout status {name}`"
            ),
        });
    }
    if let Some(scheduled) = pending
        .iter()
        .find(|g| g.name == gate && g.type_ == GateType::ScheduledStart)
    {
        let at = scheduled
            .not_before
            .as_ref()
            .map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        return Err(Refusal(format!(
            "gate {gate} of run {name} is a ScheduledStart gate: it opens by itself at {at} and cannot be approved"
        )));
    }
    let planned = strategy(run).map(approval_gates).unwrap_or_default();
    let pending_text = if pending_approvals.is_empty() {
        "no approval gate is pending now".to_owned()
    } else {
        format!("pending now: {}", listed(&pending_approvals))
    };
    if planned.iter().any(|g| g == gate) {
        return Err(Refusal(format!(
            "gate {gate} of run {name} is not pending: the run has not reached it ({pending_text}); approve it once \
             `ac adm upgrade rollout status {name}` lists it under Pending gates"
        )));
    }
    Err(Refusal(format!(
        "run {name} has no approval gate {gate}; its approval gates are {} ({pending_text}). Gate names are <stage>-before and <stage>-after",
        listed(&planned)
    )))
}

pub fn pause(run: &UpgradeRun) -> Edit {
    let name = run.name_any();
    if run.spec.paused {
        return Edit::Nothing(format!(
            "run {name} is already paused; resume it with `ac adm upgrade rollout resume {name}`"
        ));
    }
    Edit::Patch {
        spec: json!({"paused": true}),
        message: format!(
            "paused run {name}: no further cluster starts; clusters already upgrading finish. Resume with `ac adm upgrade rollout resume {name}`"
        ),
    }
}

pub fn resume(run: &UpgradeRun) -> Edit {
    let name = run.name_any();
    if !run.spec.paused {
        return Edit::Nothing(format!("run {name} is not paused"));
    }
    Edit::Patch {
        spec: json!({"paused": null}),
        message: format!("resumed run {name}: clusters start again as the plan says"),
    }
}

pub fn skip(run: &UpgradeRun, cluster: &str) -> Result<Edit, Refusal> {
    let name = run.name_any();
    if run.spec.skip.iter().any(|s| s == cluster) {
        return Ok(Edit::Nothing(format!(
            "cluster {cluster} is already skipped by run {name}"
        )));
    }
    let mut skip = run.spec.skip.clone();
    skip.push(cluster.to_owned());
    let patch = json!({"skip": skip});
    let entries = run
        .status
        .as_ref()
        .map(|s| s.clusters.as_slice())
        .unwrap_or_default();
    if entries.is_empty() {
        return Ok(Edit::Patch {
            spec: patch,
            message: format!(
                "run {name} has not frozen its plan yet; it will leave cluster {cluster} out when it does"
            ),
        });
    }
    let Some(entry) = entries.iter().find(|e| e.name == cluster) else {
        let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
        return Err(Refusal(format!(
            "cluster {cluster} is not in the plan of run {name}; its clusters are {}. See `ac adm upgrade rollout status {name}`",
            listed(&names)
        )));
    };
    if entry.is_started() && !entry.state.is_final() {
        return Err(Refusal(format!(
            "cluster {cluster} is already started by run {name} ({}): a run never interrupts an upgrade; \
             to withdraw a request that has not begun executing, use `ac adm upgrade --cluster {cluster} --clear`",
            entry.state.as_str()
        )));
    }
    if entry.state.is_final() {
        return Err(Refusal(format!(
            "cluster {cluster} is already {} in run {name}: there is nothing left to skip",
            entry.state.as_str()
        )));
    }
    Ok(Edit::Patch {
        spec: patch,
        message: format!("run {name} will not start cluster {cluster}"),
    })
}
