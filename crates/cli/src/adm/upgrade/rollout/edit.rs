//! `approve`, `pause`, `resume`, `skip`: the decisions live in acp-api (shared with the web console);
//! [`super::api::edit_run`] sends them.

pub use acp_api::rollout::edit::{Edit, Refusal, approve, pause, resume, skip};

#[cfg(test)]
mod tests {
    use super::super::page::tests::running;
    use super::*;
    use acp_api::rollout::UpgradeRun;
    use serde_json::json;

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
