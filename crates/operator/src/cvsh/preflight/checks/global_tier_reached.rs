//! GlobalTierReached: a workload cluster only moves to a version the global tier (primary and, with
//! disaster recovery, standby) already runs, and only from below it. The primary global cluster in turn
//! waits for its standby.

use acp_api::cvsh::Tier;
use acp_policy::{GlobalMember, GlobalTier, global_tier_reached, primary_gate, standby_gate};

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};

pub const NAME: &str = acp_api::checks::GLOBAL_TIER_REACHED;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs)
}

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    let target = inputs.target;
    let standby = inputs.fleet.standby.as_ref();
    match inputs.tier {
        Tier::GlobalStandby => return standby_in_step(inputs),
        Tier::Global => {
            let standby = standby.map(|s| GlobalMember {
                name: &s.name,
                version: s.current.as_ref(),
            });
            return Outcome::from_verdict(&primary_gate(standby, target));
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
    let tier = GlobalTier::new(primary_version, standby_version);
    Outcome::from_verdict(&global_tier_reached(&tier, inputs.cluster, current, target))
}

/// The standby goes first, in step with its primary (the rule is `acp_policy::standby_gate`); here only
/// the facts it needs are waited for. A workload cluster that claims to be the standby gains nothing
/// by the claim.
fn standby_in_step(inputs: &Inputs<'_>) -> Outcome {
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
    Outcome::from_verdict(&standby_gate(
        inputs.cluster,
        current,
        &primary.name,
        primary_version,
        inputs.target,
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
