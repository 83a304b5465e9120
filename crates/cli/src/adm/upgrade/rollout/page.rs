//! `ac adm upgrade rollout status` and `list`: a run as people read it. Pure: the UpgradeRun and the
//! current time in, text out.

use std::collections::BTreeMap;

use acp_api::conditions;
use acp_api::k8s::Timestamp;
use acp_api::rollout::decide::types;
use acp_api::rollout::{ClusterEntry, ClusterState, RunPhase, UpgradeRun};
use kube::ResourceExt;

use super::preview::gate_text;
use crate::adm::upgrade::show::conditions_table;
use crate::humanize;
use crate::output::{Cell, Style, Table};

/// The run's phase, `Pending` before the operator wrote any status.
pub fn phase(run: &UpgradeRun) -> RunPhase {
    run.status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(RunPhase::Pending)
}

/// `--watch` stops here: nothing more happens without a person.
pub fn is_final(run: &UpgradeRun) -> bool {
    matches!(
        phase(run),
        RunPhase::Succeeded | RunPhase::Halted | RunPhase::Invalid
    )
}

fn phase_style(phase: RunPhase) -> Style {
    match phase {
        RunPhase::Succeeded => Style::Good,
        RunPhase::Halted | RunPhase::Invalid => Style::Bad,
        RunPhase::Paused => Style::Warn,
        RunPhase::Pending | RunPhase::Running => Style::Plain,
    }
}

fn state_style(state: ClusterState) -> Style {
    match state {
        ClusterState::Succeeded => Style::Good,
        ClusterState::Failed | ClusterState::Blocked => Style::Bad,
        ClusterState::WaitingForGate | ClusterState::WaitingForWindow => Style::Warn,
        ClusterState::Pending | ClusterState::Upgrading | ClusterState::Skipped => Style::Plain,
    }
}

/// `in 1h20m (2026-03-01T11:20:00Z)`, or `overdue` when it has passed.
fn eta_text(now: Timestamp, eta: &acp_api::k8s::Time) -> String {
    if eta.0 <= now {
        return format!("overdue (was {})", humanize::timestamp(eta));
    }
    let left = std::time::Duration::try_from(eta.0.duration_since(now)).unwrap_or_default();
    format!("in {} ({})", humanize::duration(left), humanize::timestamp(eta))
}

/// The whole status page.
pub fn render(run: &UpgradeRun, now: Timestamp, colour: bool) -> String {
    let name = run.name_any();
    let status = run.status.clone().unwrap_or_default();
    let phase = phase(run);
    let mut out = String::new();
    let mut field = |label: &str, value: &str| out.push_str(&format!("{label:<12}{value}\n"));

    let strategy = match (&run.spec.strategy_ref, &run.spec.strategy) {
        (Some(name), _) => format!("UpgradeStrategy {name}"),
        (None, Some(_)) => "inline (spec.strategy)".to_owned(),
        (None, None) => "none".to_owned(),
    };
    field(
        "Run:",
        &format!("{name} (to {}, strategy {strategy})", run.spec.target_version),
    );
    let mut phase_text = Cell::styled(phase.as_str(), phase_style(phase)).paint(colour);
    if phase == RunPhase::Halted
        && let Some(halted) =
            conditions::find(&status.conditions, types::HALTED).filter(|c| c.status == "True")
    {
        phase_text += &format!(": {}: {}", halted.reason, halted.message);
    }
    if run.spec.paused && phase != RunPhase::Paused {
        phase_text += " (spec.paused is set: no new cluster starts)";
    }
    field("Phase:", &phase_text);
    if status.phase.is_none() {
        field("", "the acp-cvo operator has not picked the run up yet");
    }
    if phase == RunPhase::Invalid
        && let Some(c) = conditions::find(&status.conditions, types::PROGRESSING)
    {
        field("", &c.message);
    }
    if let Some(stage) = &status.current_stage {
        field("Stage:", stage);
    }
    let c = &status.counts;
    if c.total > 0 {
        field(
            "Clusters:",
            &format!(
                "{} of {} done ({} succeeded, {} skipped, {} failed); {} upgrading, {} blocked, {} waiting, {} pending",
                c.succeeded + c.skipped + c.failed,
                c.total,
                c.succeeded,
                c.skipped,
                c.failed,
                c.upgrading,
                c.blocked,
                c.waiting,
                c.pending
            ),
        );
    }
    if let Some(eta) = &status.eta {
        field("ETA:", &eta_text(now, eta));
    }
    if let Some(started) = &status.started_at {
        field("Started:", &format!("{} ago", humanize::age(now, started)));
    }
    if let Some(done) = &status.completed_at {
        field("Completed:", &format!("{} ago", humanize::age(now, done)));
    }

    if !status.pending_gates.is_empty() {
        out += "\nPending gates:\n";
        for gate in &status.pending_gates {
            out += &format!("  {}\n", gate_text(&name, gate));
        }
    }

    if let Some(plan) = &status.plan {
        let entries: BTreeMap<&str, &ClusterEntry> =
            status.clusters.iter().map(|e| (e.name.as_str(), e)).collect();
        let mut table = Table::new(&[
            "STAGE", "GROUP", "BATCH", "CLUSTER", "STATE", "PROGRESS", "ETA", "REASON", "MESSAGE",
        ]);
        for stage in &plan.stages {
            for group in &stage.groups {
                for (i, batch) in group.batches.iter().enumerate() {
                    let label = if batch.canary {
                        format!("{} (canary)", i + 1)
                    } else {
                        (i + 1).to_string()
                    };
                    for cluster in &batch.clusters {
                        let Some(entry) = entries.get(cluster.as_str()) else {
                            continue;
                        };
                        table.row(vec![
                            stage.name.clone().into(),
                            group.name.clone().into(),
                            label.clone().into(),
                            cluster.clone().into(),
                            Cell::styled(entry.state.as_str(), state_style(entry.state)),
                            entry.progress.map_or("-".to_owned(), |p| format!("{p}%")).into(),
                            entry
                                .eta
                                .as_ref()
                                .map_or("-".to_owned(), |t| eta_text(now, t))
                                .into(),
                            entry.reason.clone().unwrap_or_else(|| "-".to_owned()).into(),
                            entry.message.clone().unwrap_or_default().into(),
                        ]);
                    }
                }
            }
        }
        out += "\n";
        out += &table.to_text(colour);
    }

    if !status.conditions.is_empty() {
        out += "\nConditions:\n";
        out += &conditions_table(&status.conditions, now, colour);
    }
    out
}

/// NAME, TARGET, PHASE, STAGE, SUCCEEDED (of total), AGE.
pub fn list(runs: &[UpgradeRun], now: Timestamp, colour: bool) -> String {
    let mut table = Table::new(&["NAME", "TARGET", "PHASE", "STAGE", "SUCCEEDED", "AGE"]);
    for run in runs {
        let status = run.status.clone().unwrap_or_default();
        let phase = phase(run);
        table.row(vec![
            run.name_any().into(),
            run.spec.target_version.clone().into(),
            Cell::styled(phase.as_str(), phase_style(phase)),
            status
                .current_stage
                .clone()
                .unwrap_or_else(|| "-".to_owned())
                .into(),
            format!("{}/{}", status.counts.succeeded, status.counts.total).into(),
            run.metadata
                .creation_timestamp
                .as_ref()
                .map_or("-".to_owned(), |t| humanize::age(now, t))
                .into(),
        ]);
    }
    table.to_text(colour)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A run two stages in: the canary succeeded, one cluster upgrading, one blocked, the next stage
    /// behind an approval gate.
    pub fn running() -> UpgradeRun {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cvo.alauda.io/v1alpha1", "kind": "UpgradeRun",
            "metadata": {"name": "upgrade-4-3-1", "namespace": "cpaas-system", "creationTimestamp": "2026-03-01T09:00:00Z"},
            "spec": {"targetVersion": "4.3.1", "strategyRef": "waves"},
            "status": {
                "phase": "Running",
                "startedAt": "2026-03-01T09:00:00Z",
                "currentStage": "main",
                "eta": "2026-03-01T11:20:00Z",
                "plan": {"strategy": {"stages": [{"name": "canary"}, {"name": "main"}]}, "stages": [
                    {"name": "canary", "groups": [{"name": "default", "maxConcurrency": 1,
                        "batches": [{"clusters": ["edge-1"], "canary": true}]}]},
                    {"name": "main", "groups": [{"name": "default", "maxConcurrency": 2,
                        "batches": [{"clusters": ["edge-2", "edge-3"]}, {"clusters": ["edge-4"]}]}]},
                ]},
                "clusters": [
                    {"name": "edge-1", "state": "Succeeded", "message": "edge-1 runs 4.3.1"},
                    {"name": "edge-2", "state": "Upgrading", "startedAt": "2026-03-01T10:00:00Z", "progress": 40, "eta": "2026-03-01T10:30:00Z", "message": "upgrading to 4.3.1: 40% done"},
                    {"name": "edge-3", "state": "Blocked", "startedAt": "2026-03-01T10:00:00Z", "reason": "KubernetesVersionSupported", "message": "preflight check KubernetesVersionSupported fails: runs v1.30"},
                    {"name": "edge-4", "state": "Pending"},
                ],
                "pendingGates": [{"name": "main-after", "type": "Approval"}],
                "counts": {"total": 4, "pending": 1, "waiting": 0, "blocked": 1, "upgrading": 1, "succeeded": 1, "failed": 0, "skipped": 0},
                "conditions": [{"type": "Progressing", "status": "True", "reason": "Running", "message": "stage main", "lastTransitionTime": "2026-03-01T09:00:00Z"}],
            },
        }))
        .unwrap()
    }

    fn now() -> Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_page_shows_every_cluster_where_it_stands_and_the_approve_command() {
        let page = render(&running(), now(), false);
        assert!(
            page.contains("Run:        upgrade-4-3-1 (to 4.3.1, strategy UpgradeStrategy waves)"),
            "{page}"
        );
        assert!(page.contains("Phase:      Running\n"), "{page}");
        assert!(page.contains("Stage:      main\n"), "{page}");
        assert!(page.contains("Clusters:   1 of 4 done (1 succeeded, 0 skipped, 0 failed); 1 upgrading, 1 blocked, 0 waiting, 1 pending"), "{page}");
        assert!(
            page.contains("ETA:        in 80m (2026-03-01T11:20:00Z)"),
            "{page}"
        );
        assert!(page.contains("main-after (Approval): approve with `ac adm upgrade rollout approve upgrade-4-3-1 main-after`"), "{page}");
        let row = |c: &str| {
            page.lines()
                .find(|l| l.contains(&format!(" {c} ")))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(
            row("edge-1").starts_with("canary default 1 (canary) edge-1 Succeeded - - -"),
            "{page}"
        );
        assert!(
            row("edge-2").starts_with("main default 1 edge-2 Upgrading 40% in 30m (2026-03-01T10:30:00Z) -"),
            "{page}"
        );
        assert!(
            row("edge-3").contains(
                "Blocked - - KubernetesVersionSupported preflight check KubernetesVersionSupported fails"
            ),
            "{page}"
        );
        assert!(
            row("edge-4").starts_with("main default 2 edge-4 Pending"),
            "{page}"
        );
    }

    #[test]
    fn a_halted_run_says_why_and_a_new_one_says_the_operator_has_not_seen_it() {
        let mut run = running();
        let status = run.status.as_mut().unwrap();
        status.phase = Some(RunPhase::Halted);
        status.conditions.push(acp_api::k8s::Condition {
            type_: "Halted".into(),
            status: "True".into(),
            reason: "CanaryFailed".into(),
            message: "canary edge-1 failed: stalled".into(),
            last_transition_time: acp_api::k8s::Time(now()),
            observed_generation: None,
        });
        let page = render(&run, now(), false);
        assert!(
            page.contains("Phase:      Halted: CanaryFailed: canary edge-1 failed: stalled\n"),
            "{page}"
        );
        assert!(is_final(&run));

        run.status = None;
        let page = render(&run, now(), false);
        assert!(
            page.contains(
                "Phase:      Pending\n            the acp-cvo operator has not picked the run up yet"
            ),
            "{page}"
        );
        assert!(!is_final(&run));
    }

    #[test]
    fn the_list_has_one_line_per_run() {
        let text = list(&[running()], now(), false);
        assert_eq!(
            text,
            "NAME            TARGET   PHASE     STAGE   SUCCEEDED   AGE\nupgrade-4-3-1   4.3.1    Running   main    1/4         60m\n"
        );
    }
}
