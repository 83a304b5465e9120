//! `approve`, `pause`, `resume`, `skip`: what each changes in a run's spec, or why it refuses. Pure: the
//! run as read in, the merge patch of its spec (or the refusal) out; [`super::api::edit_run`] sends it
//! with the resourceVersion it was computed from.

use acp_api::rollout::UpgradeRun;
use acp_api::rollout::strategy::{GateType, UpgradeStrategySpec};
use kube::ResourceExt;
use serde_json::json;

use super::api::Edit;

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

pub fn approve(run: &UpgradeRun, gate: &str) -> anyhow::Result<Edit> {
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
            .map(crate::humanize::timestamp)
            .unwrap_or_default();
        anyhow::bail!(
            "gate {gate} of run {name} is a ScheduledStart gate: it opens by itself at {at} and cannot be approved"
        );
    }
    let planned = strategy(run).map(approval_gates).unwrap_or_default();
    let pending_text = if pending_approvals.is_empty() {
        "no approval gate is pending now".to_owned()
    } else {
        format!("pending now: {}", listed(&pending_approvals))
    };
    if planned.iter().any(|g| g == gate) {
        anyhow::bail!(
            "gate {gate} of run {name} is not pending: the run has not reached it ({pending_text}); approve it once \
             `ac adm upgrade rollout status {name}` lists it under Pending gates"
        );
    }
    anyhow::bail!(
        "run {name} has no approval gate {gate}; its approval gates are {} ({pending_text}). Gate names are <stage>-before and <stage>-after",
        listed(&planned)
    )
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

pub fn skip(run: &UpgradeRun, cluster: &str) -> anyhow::Result<Edit> {
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
        anyhow::bail!(
            "cluster {cluster} is not in the plan of run {name}; its clusters are {}. See `ac adm upgrade rollout status {name}`",
            listed(&names)
        );
    };
    if entry.is_started() && !entry.state.is_final() {
        anyhow::bail!(
            "cluster {cluster} is already started by run {name} ({}): a run never interrupts an upgrade; \
             to withdraw a request that has not begun executing, use `ac adm upgrade --cluster {cluster} --clear`",
            entry.state.as_str()
        );
    }
    if entry.state.is_final() {
        anyhow::bail!(
            "cluster {cluster} is already {} in run {name}: there is nothing left to skip",
            entry.state.as_str()
        );
    }
    Ok(Edit::Patch {
        spec: patch,
        message: format!("run {name} will not start cluster {cluster}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::page::tests::running;
    use super::*;

    fn with_main_gates(mut run: UpgradeRun) -> UpgradeRun {
        let status = run.status.as_mut().unwrap();
        let plan = status.plan.as_mut().unwrap();
        plan.strategy = serde_json::from_value(json!({"stages": [
            {"name": "canary", "beforeGates": [{"type": "ScheduledStart", "notBefore": "2026-03-01T08:00:00Z"}]},
            {"name": "main", "beforeGates": [{"type": "Approval"}], "afterGates": [{"type": "Approval"}]},
        ]}))
        .unwrap();
        run
    }

    #[test]
    fn only_a_pending_approval_gate_is_approved_and_the_others_are_listed() {
        let run = with_main_gates(running());
        assert_eq!(
            approve(&run, "main-after").unwrap(),
            Edit::Patch {
                spec: json!({"approvals": ["main-after"]}),
                message: "approved gate main-after of run upgrade-4-3-1; follow it with `ac adm upgrade rollout status upgrade-4-3-1`".into(),
            }
        );
        let err = approve(&run, "rest-before").unwrap_err().to_string();
        assert!(err.contains("has no approval gate rest-before; its approval gates are main-before, main-after (pending now: main-after)"), "{err}");
        let mut waiting = run.clone();
        waiting.status.as_mut().unwrap().pending_gates.clear();
        let err = approve(&waiting, "main-after").unwrap_err().to_string();
        assert!(
            err.contains("is not pending: the run has not reached it (no approval gate is pending now)"),
            "{err}"
        );
        let mut approved = run;
        approved.spec.approvals.push("main-after".into());
        assert!(
            matches!(approve(&approved, "main-after").unwrap(), Edit::Nothing(m) if m.contains("already approved"))
        );
    }

    #[test]
    fn approvals_keep_what_others_approved() {
        let mut run = with_main_gates(running());
        run.spec.approvals.push("main-before".into());
        let Edit::Patch { spec, .. } = approve(&run, "main-after").unwrap() else {
            panic!()
        };
        assert_eq!(spec, json!({"approvals": ["main-before", "main-after"]}));
    }

    #[test]
    fn pause_and_resume_flip_spec_paused_once() {
        let mut run = running();
        assert!(matches!(pause(&run), Edit::Patch { spec, .. } if spec == json!({"paused": true})));
        assert!(matches!(resume(&run), Edit::Nothing(_)));
        run.spec.paused = true;
        assert!(matches!(pause(&run), Edit::Nothing(_)));
        assert!(matches!(resume(&run), Edit::Patch { spec, .. } if spec == json!({"paused": null})));
    }

    #[test]
    fn skip_refuses_clusters_outside_the_plan_or_already_started() {
        let run = running();
        assert_eq!(
            skip(&run, "edge-4").unwrap(),
            Edit::Patch {
                spec: json!({"skip": ["edge-4"]}),
                message: "run upgrade-4-3-1 will not start cluster edge-4".into(),
            }
        );
        let err = skip(&run, "edge-7").unwrap_err().to_string();
        assert!(err.contains("cluster edge-7 is not in the plan of run upgrade-4-3-1; its clusters are edge-1, edge-2, edge-3, edge-4"), "{err}");
        let err = skip(&run, "edge-2").unwrap_err().to_string();
        assert!(
            err.contains("already started by run upgrade-4-3-1 (Upgrading): a run never interrupts"),
            "{err}"
        );
        let err = skip(&run, "edge-1").unwrap_err().to_string();
        assert!(err.contains("already Succeeded"), "{err}");
    }
}
