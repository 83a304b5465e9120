//! CRIUpgradePodsAbsent: no pod of an earlier container-runtime upgrade is left unfinished.

use super::name_list;
use crate::cvsh::preflight::sources::{PlatformSource, PodFact};
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CRI_UPGRADE_PODS_ABSENT;

/// Label the platform's runtime-upgrade pods carry.
pub const CRI_UPGRADE_SELECTOR: &str = "cpaas.io/cri-upgrade";

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    match cx.cluster.pods(CRI_UPGRADE_SELECTOR).await {
        Ok(pods) => decide(&pods),
        Err(err) => Outcome::unanswered(&err),
    }
}

pub fn decide(pods: &[PodFact]) -> Outcome {
    let leftovers: Vec<String> = pods
        .iter()
        .filter(|p| p.phase != "Succeeded")
        .map(|p| format!("`{}/{}` ({})", p.namespace, p.name, p.phase))
        .collect();
    if leftovers.is_empty() {
        return Outcome::passed("NoCRIUpgradePods", "no unfinished container-runtime upgrade pods");
    }
    Outcome::failed(
        "CRIUpgradePodsFound",
        format!(
            "container-runtime upgrade pod {} has not succeeded: let the runtime upgrade finish, or delete the \
             pods once the node is healthy",
            name_list(&leftovers)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    fn pod(phase: &str) -> PodFact {
        PodFact {
            namespace: "kube-system".into(),
            name: "cri-upgrade-n1".into(),
            phase: phase.into(),
        }
    }

    #[test]
    fn only_succeeded_runtime_upgrade_pods_may_remain() {
        assert_eq!(decide(&[]).state, CheckState::Passed);
        assert_eq!(decide(&[pod("Succeeded")]).state, CheckState::Passed);
        let outcome = decide(&[pod("Running")]);
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(outcome.message.contains("`kube-system/cri-upgrade-n1` (Running)"));
    }
}
