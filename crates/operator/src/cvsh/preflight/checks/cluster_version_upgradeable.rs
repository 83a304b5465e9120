//! ClusterVersionUpgradeable: this cluster's platform version is known, so an upgrade has a place to
//! start from. (A running upgrade never reaches preflight: the reconcile resumes it instead.)

use acp_policy::AcpVersion;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CLUSTER_VERSION_UPGRADEABLE;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs.cluster, cx.inputs.current)
}

/// `current`: the cluster's platform version as gathered (history, install version, or the cluster's
/// own `acp-version` record).
pub fn decide(cluster: &str, current: Option<&AcpVersion>) -> Outcome {
    match current {
        None => Outcome::failed(
            "UnknownCurrentVersion",
            format!(
                "the platform version of cluster {cluster} is unknown (no history, no ConfigMap \
                 cpaas-system/acp-version in the cluster): record it with `ac adm cluster register {cluster} \
                 --version <V>`; until then the cluster is observed but never upgraded"
            ),
        ),
        Some(current) => Outcome::passed(
            "Upgradeable",
            format!("cluster {cluster} runs ACP {current}, the version an upgrade starts from"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    #[test]
    fn a_cluster_is_upgradeable_once_its_version_is_known() {
        let known = AcpVersion::new(4, 2, 3);
        // (current, state, reason, what the message must say)
        let table = [
            (
                Some(&known),
                CheckState::Passed,
                "Upgradeable",
                "cluster east runs ACP 4.2.3",
            ),
            (
                None,
                CheckState::Failed,
                "UnknownCurrentVersion",
                "`ac adm cluster register east --version <V>`",
            ),
        ];
        for (current, state, reason, says) in table {
            let outcome = decide("east", current);
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{current:?}"
            );
            assert!(outcome.message.contains(says), "{}", outcome.message);
        }
    }
}
