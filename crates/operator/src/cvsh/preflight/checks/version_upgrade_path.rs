//! VersionUpgradePath: a supported edge leads from the current version to the target.

use acp_policy::upgrade_path;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};


pub const NAME: &str = acp_api::checks::VERSION_UPGRADE_PATH;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs)
}

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    let Some(current) = inputs.current else {
        return Outcome::failed(
            "UnknownCurrentVersion",
            format!(
                "the platform version of cluster {} is unknown, so no upgrade path can be judged: record it in \
                 ConfigMap cpaas-system/acp-version of that cluster (`ac adm cluster register {} --version <V>`)",
                inputs.cluster, inputs.cluster
            ),
        );
    };
    let verdict = upgrade_path(inputs.catalogue, current, inputs.target);
    if inputs.target_release().is_none() && inputs.target > current {
        // The release may still be imported: no final answer yet.
        return Outcome::retry(verdict.reason().as_str(), verdict.message());
    }
    Outcome::from_verdict(&verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::CheckState;
    use acp_policy::AcpVersion;

    #[test]
    fn edges_are_judged_by_the_catalogue() {
        let table = [
            ("4.2.3", "4.3.1", CheckState::Passed, "UpgradePathSupported"),
            ("4.3.1", "4.3.1", CheckState::Failed, "SameVersion"),
            ("4.3.1", "4.2.5", CheckState::Failed, "Downgrade"),
            ("4.0.5", "4.0.3", CheckState::Failed, "Downgrade"),
            ("4.2.3", "4.9.0", CheckState::Retry, "UnknownRelease"),
        ];
        for (current, target, state, reason) in table {
            let mut case = Case::new();
            case.current = Some(current.parse().unwrap());
            case.target = target.parse().unwrap();
            let outcome = decide(&case.inputs());
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{current} -> {target}"
            );
        }
    }

    #[test]
    fn an_unknown_current_version_fails_and_says_how_to_record_it() {
        let mut case = Case::new();
        case.current = None;
        case.target = AcpVersion::new(4, 3, 1);
        let outcome = decide(&case.inputs());
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(
            outcome.message.contains("ac adm cluster register east"),
            "{}",
            outcome.message
        );
    }
}
