//! ClusterVersionUpgradeable: this cluster's own record allows a new upgrade (no other upgrade
//! running, not Stalled, current version known).

use acp_api::conditions::types;

use crate::cvsh::preflight::{Inputs, Outcome};

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    let cluster = inputs.cluster;
    if inputs.current.is_none() {
        return Outcome::failed(
            "UnknownCurrentVersion",
            format!(
                "the platform version of cluster {cluster} is unknown (no history, no ConfigMap \
                 cpaas-system/acp-version in the cluster): record it with `ac adm cluster register {cluster} \
                 --version <V>`; until then the cluster is observed but never upgraded"
            ),
        );
    }
    if let Some(running) = inputs.status.running_upgrade()
        && running.version.as_deref().and_then(|v| v.parse().ok()).as_ref() != Some(inputs.target)
    {
        return Outcome::failed(
            "UpgradeInProgress",
            format!(
                "cluster {cluster} is still upgrading to {}; the new target is considered once that upgrade ends",
                running.version.as_deref().unwrap_or("an image")
            ),
        );
    }
    if let Some(stalled) = inputs
        .status
        .condition(types::STALLED)
        .filter(|c| c.status == "True")
    {
        return Outcome::failed(
            "Stalled",
            format!(
                "cluster {cluster} is Stalled and needs a human first: {}",
                stalled.message
            ),
        );
    }
    Outcome::passed(
        "Upgradeable",
        format!("cluster {cluster} has no other upgrade running and is not stalled"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::{CheckState, HistoryEntry, HistoryState};
    use acp_api::k8s::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn a_known_idle_cluster_is_upgradeable() {
        assert_eq!(decide(&Case::new().inputs()).state, CheckState::Passed);
    }

    #[test]
    fn unknown_version_running_upgrade_and_stalled_block() {
        let mut unknown = Case::new();
        unknown.current = None;
        assert_eq!(decide(&unknown.inputs()).reason, "UnknownCurrentVersion");

        let mut running = Case::new();
        running.status.history.push(HistoryEntry {
            version: Some("4.3.0".into()),
            image: String::new(),
            state: HistoryState::Partial,
            started_time: Time(Timestamp::UNIX_EPOCH),
            completion_time: None,
            accepted_risks: None,
            release_digest: None,
            cluster_identity: None,
        });
        let outcome = decide(&running.inputs());
        assert_eq!(
            (outcome.state, outcome.reason.as_str()),
            (CheckState::Failed, "UpgradeInProgress")
        );
        assert!(outcome.message.contains("4.3.0"));

        let mut stalled = Case::new();
        stalled.status.conditions.push(Condition {
            type_: "Stalled".into(),
            status: "True".into(),
            reason: "OperationFailing".into(),
            message: "module x rejected".into(),
            observed_generation: None,
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        });
        let outcome = decide(&stalled.inputs());
        assert_eq!(outcome.reason, "Stalled");
        assert!(outcome.message.contains("module x rejected"));
    }
}
