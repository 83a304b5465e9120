//! `ac adm upgrade rollout plan`: the plan a run would freeze now, and one scheduling step over the
//! live clusters, computed exactly as the rollout controller computes them, with nothing written.
//!
//! [`compute`] is pure (the cvsh objects, the strategy and the time in, the preview out) so it is
//! tested on fixtures; [`render`] turns it into the page.

use std::collections::{BTreeMap, BTreeSet};

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::Tier;
use acp_api::k8s::Timestamp;
use acp_api::rollout::decide::{self, GlobalTier, Inputs};
use acp_api::rollout::facts::{self, ClusterFact, WindowFact};
use acp_api::rollout::plan::{self, Candidate};
use acp_api::rollout::run::{PendingGate, Plan};
use acp_api::rollout::{ClusterState, UpgradeRunSpec, UpgradeRunStatus};
use acp_api::versions;
use acp_policy::AcpVersion;
use kube::ResourceExt;
use serde::Serialize;

use super::api::Strategy;
use crate::adm::upgrade::show;
use crate::output::{Cell, Style, Table};

/// A cluster's maintenance window now, as the run would read it.
///
/// Wiring point for MaintenanceWindow objects (`acp_api::maintenance_window`): the cvsh's
/// `cvo.alauda.io/maintenance-window` label names the window; read it here, as the rollout controller
/// does. Until then every window reads as open.
pub fn window_fact(_cvsh: &ClusterVersionShadow) -> WindowFact {
    WindowFact::Open
}

/// The dry run, as `-o json|yaml` prints it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// Name the run would have.
    pub run: String,
    pub target_version: String,
    /// Where the strategy came from.
    pub strategy: String,
    /// `--strategy NAME` or `-f FILE`, for the hint.
    #[serde(skip)]
    pub strategy_flag: String,
    pub global_tier: GlobalTierLine,
    /// Why no cluster could start now (the global tier), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// Gates the run would wait for now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_gates: Vec<PendingGate>,
    /// Every planned cluster, in plan order.
    pub clusters: Vec<PlannedCluster>,
    /// Workload clusters no stage selected.
    pub unselected: Vec<String>,
    /// The plan the run would freeze.
    pub plan: Plan,
}

/// Whether the global tier runs the target.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalTierLine {
    pub reached: bool,
    pub message: String,
}

/// One cluster of the preview.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedCluster {
    pub name: String,
    pub stage: String,
    pub group: String,
    /// 1-based position of its batch in its group.
    pub batch: usize,
    pub canary: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// Its state after one step now.
    pub state: ClusterState,
    /// The run would set its `spec.desiredUpdate` now.
    pub could_start_now: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The target is in its `status.availableUpdates`.
    pub offered: bool,
    /// Its last preflight verdict for the target.
    pub preflight: String,
}

/// The plan and one step at `now` over the namespace's cvsh objects.
pub fn compute(
    run: &str,
    target: &AcpVersion,
    strategy: &Strategy,
    shadows: &[ClusterVersionShadow],
    now: Timestamp,
) -> anyhow::Result<Preview> {
    let workloads: Vec<&ClusterVersionShadow> =
        shadows.iter().filter(|c| c.tier() == Tier::Workload).collect();
    let names: Vec<String> = workloads.iter().map(|c| c.name_any()).collect();
    let candidates = workloads.iter().zip(&names).map(|(cvsh, name)| Candidate {
        name,
        labels: cvsh.labels(),
        current_version: cvsh.current_version(),
    });
    let (frozen, entries) = plan::freeze(&strategy.spec, &strategy.resolved, candidates, &[])
        .map_err(|e| anyhow::anyhow!("no plan for {target} by {}: {e}", strategy.origin))?;
    let facts: BTreeMap<String, ClusterFact> = workloads
        .iter()
        .zip(&names)
        .map(|(cvsh, name)| (name.clone(), ClusterFact::read(cvsh, window_fact(cvsh))))
        .collect();
    let global_tier = facts::global_tier(shadows, target);
    let spec = UpgradeRunSpec {
        target_version: target.to_string(),
        strategy: Some(strategy.spec.clone()),
        ..UpgradeRunSpec::default()
    };
    let previous = UpgradeRunStatus {
        plan: Some(frozen.clone()),
        clusters: entries,
        ..UpgradeRunStatus::default()
    };
    let step = decide::step(
        &Inputs {
            run,
            spec: &spec,
            generation: None,
            plan: &frozen,
            resolved: &strategy.resolved,
            facts: &facts,
            global_tier: global_tier.clone(),
            now,
        },
        &previous,
    );
    let starts: BTreeSet<&str> = step.start.iter().map(String::as_str).collect();
    let by_name: BTreeMap<&str, &ClusterVersionShadow> = workloads
        .iter()
        .zip(&names)
        .map(|(c, n)| (n.as_str(), *c))
        .collect();
    let entries: BTreeMap<&str, _> = step
        .status
        .clusters
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let mut clusters = Vec::with_capacity(entries.len());
    for stage in &frozen.stages {
        for group in &stage.groups {
            for (i, batch) in group.batches.iter().enumerate() {
                for name in &batch.clusters {
                    let Some(entry) = entries.get(name.as_str()) else {
                        continue;
                    };
                    let status = by_name
                        .get(name.as_str())
                        .map(|c| c.status_or_default())
                        .unwrap_or_default();
                    let offered = status.available_versions().any(|v| v == spec.target_version);
                    clusters.push(PlannedCluster {
                        name: name.clone(),
                        stage: stage.name.clone(),
                        group: group.name.clone(),
                        batch: i + 1,
                        canary: batch.canary,
                        from_version: entry.from_version.clone(),
                        state: entry.state,
                        could_start_now: starts.contains(name.as_str()),
                        reason: entry.reason.clone(),
                        message: entry.message.clone(),
                        offered,
                        preflight: show::preflight_verdict(&status, target),
                    });
                }
            }
        }
    }
    let planned: BTreeSet<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    let unselected = names
        .iter()
        .filter(|n| !planned.contains(n.as_str()))
        .cloned()
        .collect();
    let (reached, hold) = match &global_tier {
        GlobalTier::Reached => (true, None),
        GlobalTier::Behind(why) => (
            false,
            Some(format!(
                "no workload cluster starts before the global tier runs {target}: {why}"
            )),
        ),
    };
    Ok(Preview {
        run: run.to_owned(),
        target_version: target.to_string(),
        strategy: strategy.origin.clone(),
        strategy_flag: strategy.flag.clone(),
        global_tier: GlobalTierLine {
            reached,
            message: global_tier_text(shadows, target, reached),
        },
        hold,
        pending_gates: step.status.pending_gates,
        clusters,
        unselected,
        plan: frozen,
    })
}

/// `global runs 4.3.1 (standby 4.3.1): reached` or what it runs instead.
fn global_tier_text(shadows: &[ClusterVersionShadow], target: &AcpVersion, reached: bool) -> String {
    let runs = match versions::global_tier_of(shadows) {
        Ok(Some(tier)) => match &tier.standby {
            Some(standby) => format!("global runs {}, its standby {standby}", tier.primary),
            None => format!("global runs {}", tier.primary),
        },
        Ok(None) => "the version of global (or its standby) is not known yet".to_owned(),
        Err(e) => format!("the global tier's version cannot be read: {e}"),
    };
    if reached {
        format!("{runs}: reached {target}, workload clusters may move")
    } else {
        format!(
            "{runs}: not at {target} yet, so no workload cluster starts (upgrade global first: `ac adm upgrade --to {target}`)"
        )
    }
}

/// What holds a cluster, or that it could start now, in a few words.
fn now_text(cluster: &PlannedCluster, hold: Option<&str>) -> (String, Style) {
    if cluster.could_start_now {
        return ("could start now".to_owned(), Style::Good);
    }
    let message = cluster.message.as_deref().unwrap_or_default();
    match cluster.state {
        ClusterState::Pending if hold.is_some() => ("waits for the global tier".to_owned(), Style::Warn),
        ClusterState::Pending => ("waits for its turn".to_owned(), Style::Plain),
        ClusterState::Succeeded => (message.to_owned(), Style::Good),
        ClusterState::Skipped => (format!("skipped: {message}"), Style::Plain),
        state => {
            let reason = cluster
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let style = if state == ClusterState::Blocked {
                Style::Bad
            } else {
                Style::Warn
            };
            (format!("{}{reason}: {message}", state.as_str()), style)
        }
    }
}

/// The page: the global tier, then stages → groups → batches → clusters.
pub fn render(preview: &Preview, colour: bool) -> String {
    let mut out = format!(
        "Plan of {} to {} by {} (dry run: nothing was written)\n",
        preview.run, preview.target_version, preview.strategy
    );
    let tier_style = if preview.global_tier.reached {
        Style::Good
    } else {
        Style::Warn
    };
    out += &format!(
        "Global tier: {}\n",
        Cell::styled(preview.global_tier.message.clone(), tier_style).paint(colour)
    );
    for gate in &preview.pending_gates {
        out += &format!("Gate: {}\n", gate_text(&preview.run, gate));
    }
    out += "\n";
    let mut table = Table::new(&[
        "STAGE",
        "GROUP",
        "BATCH",
        "CLUSTER",
        "FROM",
        "NOW",
        "OFFERED",
        "PREFLIGHT",
    ]);
    for c in &preview.clusters {
        let (now, style) = now_text(c, preview.hold.as_deref());
        let batch = if c.canary {
            format!("{} (canary)", c.batch)
        } else {
            c.batch.to_string()
        };
        table.row(vec![
            c.stage.clone().into(),
            c.group.clone().into(),
            batch.into(),
            c.name.clone().into(),
            c.from_version.clone().unwrap_or_else(|| "-".to_owned()).into(),
            Cell::styled(now, style),
            if c.offered { "yes" } else { "no" }.into(),
            c.preflight.clone().into(),
        ]);
    }
    out += &table.to_text(colour);
    if !preview.unselected.is_empty() {
        out += &format!("\nNot selected by any stage: {}\n", preview.unselected.join(", "));
    }
    let starting = preview.clusters.iter().filter(|c| c.could_start_now).count();
    let batches: usize = preview
        .plan
        .stages
        .iter()
        .flat_map(|s| &s.groups)
        .map(|g| g.batches.len())
        .sum();
    out += &format!(
        "\n{} clusters in {} stages and {} batches; {starting} could start now. Start the run with `ac adm upgrade rollout start --to {} {}`.\n",
        preview.clusters.len(),
        preview.plan.stages.len(),
        batches,
        preview.target_version,
        preview.strategy_flag,
    );
    out
}

/// `canary-after (Approval): approve with ...` or when a scheduled gate opens.
pub fn gate_text(run: &str, gate: &PendingGate) -> String {
    match gate.type_ {
        acp_api::rollout::strategy::GateType::Approval => format!(
            "{} (Approval): approve with `ac adm upgrade rollout approve {run} {}`",
            gate.name, gate.name
        ),
        acp_api::rollout::strategy::GateType::ScheduledStart => format!(
            "{} (ScheduledStart): opens at {}",
            gate.name,
            gate.not_before
                .as_ref()
                .map(crate::humanize::timestamp)
                .unwrap_or_else(|| "-".to_owned())
        ),
    }
}

#[cfg(test)]
mod tests {
    use acp_api::cvsh::{ClusterVersionShadowSpec, DesiredUpdate};
    use acp_api::rollout::UpgradeStrategySpec;
    use acp_api::rollout::resolve::resolve;

    use super::*;

    fn shadow(name: &str, labels: &[(&str, &str)], status: serde_json::Value) -> ClusterVersionShadow {
        let mut cvsh = ClusterVersionShadow::new(name, ClusterVersionShadowSpec::default());
        cvsh.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        cvsh.status = Some(serde_json::from_value(status).unwrap());
        cvsh
    }

    fn at(version: &str, offered: &[&str]) -> serde_json::Value {
        let updates: Vec<_> = offered
            .iter()
            .map(|v| serde_json::json!({"version": v}))
            .collect();
        serde_json::json!({"current": {"version": version}, "availableUpdates": updates})
    }

    fn strategy(yaml: &str) -> Strategy {
        let spec: UpgradeStrategySpec = serde_saphyr::from_str(yaml).unwrap();
        Strategy {
            origin: "UpgradeStrategy `waves`".into(),
            name: Some("waves".into()),
            flag: "--strategy waves".into(),
            resolved: resolve(&spec, "spec").unwrap(),
            spec,
        }
    }

    const WAVES: &str = "stages:\n- name: canary\n  selector: {matchLabels: {ring: canary}}\n  maxConcurrency: 2\n- name: main\n  selector: {matchLabels: {ring: main}}\n  canaries: 1\n  maxConcurrency: 2\n  beforeGates: [{type: Approval}]\n";

    fn fleet(global: &str) -> Vec<ClusterVersionShadow> {
        let mut busy = shadow("edge-2", &[("ring", "canary")], at("4.2.5", &["4.3.1"]));
        busy.spec.desired_update = Some(DesiredUpdate::version("4.2.9"));
        let mut blocked = at("4.2.5", &["4.3.1"]);
        blocked["preflight"] = serde_json::json!({"targetVersion": "4.3.1", "checks": [
            {"name": "KubernetesVersionSupported", "policy": "Always", "state": "Failed", "reason": "Old", "message": "runs v1.30"}]});
        vec![
            shadow("global", &[], at(global, &[])),
            shadow("edge-1", &[("ring", "canary")], at("4.2.5", &["4.3.1"])),
            busy,
            shadow("edge-3", &[("ring", "main")], at("4.2.5", &["4.3.1"])),
            shadow("edge-4", &[("ring", "main")], blocked),
            shadow("edge-5", &[("ring", "main")], at("4.2.5", &[])),
            shadow("edge-9", &[], at("4.2.5", &["4.3.1"])),
        ]
    }

    fn now() -> Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_first_batch_could_start_and_the_rest_say_what_holds_them() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let preview = compute("upgrade-4-3-1", &target, &strategy(WAVES), &fleet("4.3.1"), now()).unwrap();
        let page = render(&preview, false);
        let row = |name: &str| {
            page.lines()
                .find(|l| {
                    l.split_whitespace().nth(3) == Some(name) || l.split_whitespace().nth(4) == Some(name)
                })
                .unwrap_or_else(|| panic!("no row for {name}:\n{page}"))
                .to_owned()
        };
        assert!(
            page.contains("Global tier: global runs 4.3.1: reached 4.3.1"),
            "{page}"
        );
        assert!(row("edge-1").contains("could start now"), "{page}");
        assert!(
            row("edge-2")
                .contains("Blocked (ConflictingRequest): ClusterVersionShadow edge-2 already asks for 4.2.9"),
            "{page}"
        );
        // The main stage has not begun: its canary is first, then batches of two, and each says whether
        // the target is offered and what its preflight said.
        assert!(
            row("edge-3").contains("1 (canary)") && row("edge-3").contains("waits for its turn"),
            "{page}"
        );
        assert!(
            row("edge-4").contains("4.3.1 is blocked by KubernetesVersionSupported: runs v1.30"),
            "{page}"
        );
        let edge5 = row("edge-5");
        assert!(
            edge5.contains("   no   ") && edge5.contains("no preflight result for 4.3.1 yet"),
            "{edge5}"
        );
        assert!(page.contains("Not selected by any stage: edge-9"), "{page}");
        assert!(page.contains("5 clusters in 2 stages and 3 batches; 1 could start now. Start the run with `ac adm upgrade rollout start --to 4.3.1 --strategy waves`"), "{page}");
        assert!(!preview.clusters.iter().any(|c| c.name == "global"));
    }

    #[test]
    fn nothing_starts_while_the_global_tier_is_behind() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let preview = compute("r", &target, &strategy(WAVES), &fleet("4.2.5"), now()).unwrap();
        assert!(!preview.global_tier.reached);
        assert!(preview.clusters.iter().all(|c| !c.could_start_now));
        let page = render(&preview, false);
        assert!(
            page.contains("Global tier: global runs 4.2.5: not at 4.3.1 yet"),
            "{page}"
        );
        assert!(page.contains("waits for the global tier"), "{page}");
    }

    #[test]
    fn a_stage_behind_an_approval_gate_names_the_command() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let gated = WAVES.replace(
            "- name: canary\n",
            "- name: canary\n  beforeGates: [{type: Approval}]\n",
        );
        let preview = compute("r", &target, &strategy(&gated), &fleet("4.3.1"), now()).unwrap();
        let page = render(&preview, false);
        assert!(page.contains("Gate: canary-before (Approval): approve with `ac adm upgrade rollout approve r canary-before`"), "{page}");
        assert!(page.contains("WaitingForGate (canary-before)"), "{page}");
    }

    #[test]
    fn a_fleet_no_stage_selects_is_refused() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let only = strategy("stages:\n- name: x\n  selector: {matchLabels: {ring: none}}\n");
        let err = compute("r", &target, &only, &fleet("4.3.1"), now())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no plan for 4.3.1 by UpgradeStrategy `waves`: no workload cluster matches"),
            "{err}"
        );
    }
}
