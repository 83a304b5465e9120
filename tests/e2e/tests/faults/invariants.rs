//! The invariants every fault scenario must keep, checked on what the scenario recorded: the statuses the
//! watch delivered, and each module's Deployment before and after.

use std::collections::{BTreeMap, BTreeSet};

use acp_api::conditions::{self, types};
use acp_api::cvsh::{ClusterVersionShadowStatus, HistoryState, OperationPhase, StagePhase};
use acp_policy::AcpVersion;

use super::record::ModuleState;

/// What one upgrade under faults left behind.
pub struct Upgrade<'a> {
    /// The version the cluster ran before.
    pub from: &'a str,
    /// The version asked for.
    pub target: &'a str,
    /// Every status seen, in order, from before the request to after completion.
    pub statuses: &'a [ClusterVersionShadowStatus],
    /// The modules before the request and after completion.
    pub modules_before: &'a BTreeMap<String, ModuleState>,
    pub modules_after: &'a BTreeMap<String, ModuleState>,
}

/// Every invariant the upgrade broke, one line each (empty: none).
pub fn violations(upgrade: &Upgrade) -> Vec<String> {
    let mut found = Vec::new();
    history(upgrade, &mut found);
    operations(upgrade, &mut found);
    current_moves_forward(upgrade, &mut found);
    outcome(upgrade, &mut found);
    applied_once(upgrade, &mut found);
    found
}

/// Exactly one history entry per upgrade: Partial, then Completed, never two Partials, never back.
fn history(upgrade: &Upgrade, found: &mut Vec<String>) {
    let mut completed = false;
    for (at, status) in upgrade.statuses.iter().enumerate() {
        let partials = status
            .history
            .iter()
            .filter(|h| h.state == HistoryState::Partial)
            .count();
        if partials > 1 {
            found.push(format!("status #{at}: {partials} Partial history entries"));
        }
        let of_target: Vec<_> = status
            .history
            .iter()
            .filter(|h| h.version.as_deref() == Some(upgrade.target))
            .collect();
        if of_target.len() > 1 {
            found.push(format!(
                "status #{at}: {} history entries for {}",
                of_target.len(),
                upgrade.target
            ));
        }
        match of_target.first().map(|h| h.state) {
            Some(HistoryState::Completed) => completed = true,
            Some(HistoryState::Partial) if completed => found.push(format!(
                "status #{at}: the {} entry went from Completed back to Partial",
                upgrade.target
            )),
            _ => {}
        }
    }
    let (Some(first), Some(last)) = (upgrade.statuses.first(), upgrade.statuses.last()) else {
        found.push("no status was seen".into());
        return;
    };
    if last.history.len() != first.history.len() + 1 {
        found.push(format!(
            "history grew from {} to {} entries for one upgrade",
            first.history.len(),
            last.history.len()
        ));
    }
    let newest = last.history.first();
    if newest.map(|h| (h.version.as_deref(), h.state))
        != Some((Some(upgrade.target), HistoryState::Completed))
    {
        found.push(format!(
            "the newest history entry is {:?}, not {} Completed",
            newest.map(|h| (&h.version, h.state)),
            upgrade.target
        ));
    }
}

/// No operation leaves Succeeded, none vanishes from its upgrade's plan, none Fails, and no stage leaves
/// Finished.
fn operations(upgrade: &Upgrade, found: &mut Vec<String>) {
    let mut succeeded: BTreeSet<(String, String)> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    for (at, status) in upgrade.statuses.iter().enumerate() {
        if !status
            .history
            .iter()
            .any(|h| h.version.as_deref() == Some(upgrade.target))
        {
            continue;
        }
        let mut present = BTreeSet::new();
        for stage in &status.stages {
            if finished.contains(&stage.name) && stage.phase != StagePhase::Finished {
                found.push(format!(
                    "status #{at}: stage {} went from Finished to {:?}",
                    stage.name, stage.phase
                ));
            }
            if stage.phase == StagePhase::Finished {
                finished.insert(stage.name.clone());
            }
            for op in &stage.operations {
                let key = (stage.name.clone(), op.name.clone());
                let phase = op.phase.clone().unwrap_or(OperationPhase::Pending);
                if phase == OperationPhase::Failed {
                    found.push(format!(
                        "status #{at}: operation {}/{} Failed: {}",
                        stage.name,
                        op.name,
                        op.message.as_deref().unwrap_or_default()
                    ));
                }
                if succeeded.contains(&key) && phase != OperationPhase::Succeeded {
                    found.push(format!(
                        "status #{at}: operation {}/{} went from Succeeded to {phase}",
                        stage.name, op.name
                    ));
                }
                if phase == OperationPhase::Succeeded {
                    succeeded.insert(key.clone());
                }
                present.insert(key);
            }
        }
        for (stage, op) in succeeded.difference(&present) {
            found.push(format!("status #{at}: succeeded operation {stage}/{op} vanished"));
        }
    }
}

/// `status.current` never moves back (nor disappears once set).
fn current_moves_forward(upgrade: &Upgrade, found: &mut Vec<String>) {
    let mut highest: Option<AcpVersion> = None;
    for (at, status) in upgrade.statuses.iter().enumerate() {
        let current = status
            .current
            .as_ref()
            .and_then(|c| c.version.as_deref())
            .and_then(|v| v.parse::<AcpVersion>().ok());
        match (&highest, current) {
            (Some(high), Some(now)) if now < *high => {
                found.push(format!("status #{at}: current went back from {high} to {now}"))
            }
            (Some(high), None) => found.push(format!("status #{at}: current {high} disappeared")),
            (_, Some(now)) => highest = Some(now).max(highest.clone()),
            (None, None) => {}
        }
    }
}

/// The upgrade ends at the target, Ready and not Degraded.
fn outcome(upgrade: &Upgrade, found: &mut Vec<String>) {
    let Some(last) = upgrade.statuses.last() else {
        return;
    };
    let current = last.current.as_ref().and_then(|c| c.version.as_deref());
    if current != Some(upgrade.target) {
        found.push(format!(
            "ended at current {current:?}, not {} (from {})",
            upgrade.target, upgrade.from
        ));
    }
    for (type_, want) in [(types::READY, "True"), (types::DEGRADED, "False")] {
        let got = conditions::find(&last.conditions, type_).map(|c| (c.status.clone(), c.message.clone()));
        if got.as_ref().map(|(s, _)| s.as_str()) != Some(want) {
            found.push(format!("ended with {type_} {got:?}, not {want}"));
        }
    }
}

/// Each module the upgrade touched was applied once: one new spec generation and one new ReplicaSet, the
/// target's; no second rollout.
fn applied_once(upgrade: &Upgrade, found: &mut Vec<String>) {
    let touched: BTreeSet<&str> = upgrade
        .statuses
        .last()
        .into_iter()
        .flat_map(|s| &s.stages)
        .flat_map(|s| &s.operations)
        .map(|o| o.name.as_str())
        .filter(|name| upgrade.modules_after.contains_key(*name))
        .collect();
    if touched.is_empty() {
        found.push("the upgrade touched no module".into());
    }
    for name in touched {
        let before = upgrade.modules_before.get(name).cloned().unwrap_or_default();
        let after = &upgrade.modules_after[name];
        if after.generation != before.generation + 1 {
            found.push(format!(
                "module {name}: spec generation {} -> {}, not one change",
                before.generation, after.generation
            ));
        }
        let new = after.replica_sets.len() as i64 - before.replica_sets.len() as i64;
        let of_target = after
            .replica_sets
            .iter()
            .filter(|v| v.as_deref() == Some(upgrade.target))
            .count();
        if new != 1 || of_target != 1 {
            found.push(format!(
                "module {name}: {new} new ReplicaSets, {of_target} for {}, not one rollout ({:?})",
                upgrade.target, after.replica_sets
            ));
        }
    }
}
