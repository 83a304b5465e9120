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
        Tier::GlobalStandby => return standby_in_step(inputs),
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

/// The standby goes first, but only in step with its primary: from the primary's version, or up to it.
/// A standby behind its primary that moves past it (or one ahead that moves further) is not part of
/// one global tier — and a workload cluster that claims to be the standby gains nothing by the claim.
fn standby_in_step(inputs: &Inputs<'_>) -> Outcome {
    let target = inputs.target;
    let Some(primary) = inputs.fleet.primary.as_ref() else {
        return Outcome::retry(
            "NoGlobalCluster",
            "no ClusterVersionShadow describes the primary global cluster yet, so the standby cannot be \
             checked against it",
        );
    };
    let Some(primary_version) = primary.current.as_ref() else {
        return Outcome::retry(
            "GlobalVersionUnknown",
            format!(
                "the version of global cluster `{}` is not known yet",
                primary.name
            ),
        );
    };
    let Some(current) = inputs.current else {
        return Outcome::retry(
            "UnknownCurrentVersion",
            "waiting for this cluster's current version",
        );
    };
    if target <= primary_version || current == primary_version {
        return Outcome::passed(
            "GlobalStandby",
            "the standby global cluster is upgraded first, in step with the primary",
        );
    }
    Outcome::failed(
        "GlobalTierOutOfStep",
        format!(
            "the standby global cluster `{}` runs {current} and the primary `{}` runs {primary_version}: a standby \
             moves to a new version only from its primary's version; bring it to {primary_version} first",
            inputs.cluster, primary.name
        ),
    )
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
        assert_eq!(decide(&case.inputs()).state, CheckState::Retry, "no primary yet");
    }

    #[test]
    fn the_standby_moves_only_in_step_with_its_primary() {
        let mut case = Case::new();
        case.tier = Tier::GlobalStandby;
        case.target = AcpVersion::new(4, 3, 1);
        // (primary, standby current, state)
        let table = [
            ("4.2.3", "4.2.3", CheckState::Passed),
            // Behind: may catch up to the primary, not pass it.
            ("4.3.1", "4.2.3", CheckState::Passed),
            ("4.2.5", "4.1.0", CheckState::Failed),
            // Ahead: the primary follows first.
            ("4.2.3", "4.2.5", CheckState::Failed),
        ];
        for (primary, current, state) in table {
            case.fleet.primary = global("global", primary);
            case.current = Some(current.parse().unwrap());
            let outcome = decide(&case.inputs());
            assert_eq!(outcome.state, state, "{primary} / {current}: {}", outcome.message);
        }
        case.fleet.primary = global("global", "4.2.5");
        case.current = Some("4.1.0".parse().unwrap());
        let outcome = decide(&case.inputs());
        assert_eq!(outcome.reason, "GlobalTierOutOfStep");
        assert!(
            outcome.message.contains("bring it to 4.2.5 first"),
            "{}",
            outcome.message
        );
    }
}
