//! ConcurrentUpgradeLimit: at most N workload clusters run stages at once; the rest wait their turn.

use acp_api::cvsh::Tier;

use super::name_list;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};


pub const NAME: &str = acp_api::checks::CONCURRENT_UPGRADE_LIMIT;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs)
}

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    if inputs.tier != Tier::Workload {
        return Outcome::passed(
            "GlobalTier",
            "the global tier is not counted against the workload limit",
        );
    }
    let busy = inputs.upgrading_elsewhere.len();
    let limit = inputs.max_concurrent;
    if busy >= limit {
        let names: Vec<String> = inputs
            .upgrading_elsewhere
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        return Outcome::retry(
            "ConcurrencyLimitReached",
            format!(
                "{busy} workload clusters are upgrading ({}), the limit is {limit}: this cluster waits its turn",
                name_list(&names)
            ),
        );
    }
    Outcome::passed(
        "SlotAvailable",
        format!("{busy} of {limit} concurrent workload upgrades in use"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::CheckState;

    #[test]
    fn the_limit_makes_clusters_wait_never_fail() {
        let mut case = Case::new();
        case.max_concurrent = 2;
        case.upgrading_elsewhere = vec!["a".into()];
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
        case.upgrading_elsewhere.push("b".into());
        let outcome = decide(&case.inputs());
        assert_eq!(outcome.state, CheckState::Retry);
        assert!(outcome.message.contains("`a` and `b`"), "{}", outcome.message);
        case.tier = Tier::Global;
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
    }
}
