//! GlobalTierReached: a workload cluster only moves to a version the global tier (primary and, with
//! disaster recovery, standby) already runs, and only from below it. The primary global cluster in turn
//! waits for its standby.

use acp_api::cvsh::Tier;
use acp_policy::{GlobalTier, KubeVersion, Reason, Verdict, WorkloadCluster, workload_gate};

use crate::cvsh::preflight::{Inputs, Outcome};

/// Reasons of `workload_gate` findings about the global tier (the rest concern Kubernetes).
const TIER_REASONS: [Reason; 3] = [
    Reason::GlobalTierBehind,
    Reason::GlobalStandbyBehind,
    Reason::WorkloadNotBelowGlobal,
];

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    let target = inputs.target;
    let standby = inputs.fleet.standby.as_ref();
    match inputs.tier {
        Tier::GlobalStandby => {
            return Outcome::passed("GlobalStandby", "the standby global cluster is upgraded first");
        }
        Tier::Global => {
            return match standby {
                Some(s) if s.current.as_ref().is_none_or(|c| c < target) => Outcome::failed(
                    Reason::GlobalStandbyBehind.as_str(),
                    format!(
                        "the standby global cluster `{}` runs {}: upgrade it to {target} before the primary",
                        s.name,
                        s.current
                            .as_ref()
                            .map_or("an unknown version".to_string(), ToString::to_string)
                    ),
                ),
                _ => Outcome::passed(
                    "GlobalTier",
                    "the global tier is upgraded before any workload cluster",
                ),
            };
        }
        Tier::Workload => {}
    }
    let Some(primary) = inputs.fleet.primary.as_ref() else {
        return Outcome::retry(
            "NoGlobalCluster",
            "no ClusterVersionShadow describes the global cluster yet, so its version is unknown",
        );
    };
    let Some(primary_version) = primary.current.clone() else {
        return Outcome::retry(
            "GlobalVersionUnknown",
            format!(
                "the version of global cluster `{}` is not known yet",
                primary.name
            ),
        );
    };
    let standby_version = match standby {
        None => None,
        Some(s) if !s.reachable => {
            return Outcome::retry(
                "GlobalStandbyUnreachable",
                format!(
                    "the standby global cluster `{}` is unreachable; waiting for it to answer",
                    s.name
                ),
            );
        }
        Some(s) => match &s.current {
            Some(v) => Some(v.clone()),
            None => {
                return Outcome::retry(
                    "GlobalVersionUnknown",
                    format!(
                        "the version of standby global cluster `{}` is not known yet",
                        s.name
                    ),
                );
            }
        },
    };
    let Some(current) = inputs.current else {
        return Outcome::retry(
            "UnknownCurrentVersion",
            "waiting for this cluster's current version",
        );
    };
    // Only the tier findings are used; the Kubernetes ones belong to KubernetesVersionSupported.
    let kube = inputs
        .observation
        .kubernetes_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KubeVersion::new(1, 0, 0));
    let workload = WorkloadCluster::new(inputs.cluster, kube, inputs.provisioning.into());
    let tier = GlobalTier::new(primary_version, standby_version);
    let verdict = workload_gate(inputs.catalogue, &tier, current, target, &workload);
    let findings = verdict
        .findings()
        .iter()
        .filter(|f| TIER_REASONS.contains(&f.reason))
        .cloned()
        .collect();
    let ok_message = || {
        if verdict.passed() {
            verdict.message().to_string()
        } else {
            format!("the global tier runs ACP {} or newer", target)
        }
    };
    Outcome::from_verdict(&Verdict::from_findings(
        findings,
        Reason::GlobalTierReached,
        ok_message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fleet::GlobalView;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::CheckState;
    use acp_policy::AcpVersion;

    fn global(name: &str, version: &str) -> Option<GlobalView> {
        Some(GlobalView {
            name: name.into(),
            current: Some(version.parse().unwrap()),
            reachable: true,
        })
    }

    #[test]
    fn workloads_wait_for_the_global_tier() {
        let mut case = Case::new();
        case.fleet.primary = global("global", "4.2.5");
        let outcome = decide(&case.inputs());
        assert_eq!(
            (outcome.state, outcome.reason.as_str()),
            (CheckState::Failed, "GlobalTierBehind")
        );
        assert!(outcome.message.contains("4.2.5"), "{}", outcome.message);

        case.fleet.primary = global("global", "4.3.1");
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);

        case.fleet.standby = global("global-dr", "4.2.5");
        assert_eq!(decide(&case.inputs()).reason, "GlobalStandbyBehind");
        case.fleet.standby.as_mut().unwrap().reachable = false;
        assert_eq!(decide(&case.inputs()).state, CheckState::Retry);
    }

    #[test]
    fn no_global_cluster_yet_means_waiting() {
        assert_eq!(decide(&Case::new().inputs()).state, CheckState::Retry);
    }

    #[test]
    fn the_primary_waits_for_its_standby_and_the_standby_goes_first() {
        let mut case = Case::new();
        case.tier = Tier::Global;
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
        case.fleet.standby = global("global-dr", "4.2.5");
        assert_eq!(decide(&case.inputs()).reason, "GlobalStandbyBehind");
        case.fleet.standby = global("global-dr", "4.3.1");
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
        case.tier = Tier::GlobalStandby;
        case.target = AcpVersion::new(4, 3, 1);
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
    }
}
