//! What the preflight results say about one target: blocked, waiting, could start, or no result yet.
//! The CLI prints it ("4.3.1 could start now"); the operator can derive `PreflightReady` from it.

use acp_policy::AcpVersion;

use super::{CheckState, ClusterVersionShadowStatus, PreflightCheck};

/// The preflight verdict for one target version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreflightOutcome<'a> {
    /// No results for this target (none at all, none yet, or for another target). Never a pass.
    NoResult,
    /// Every check passed: the upgrade could start now.
    Passed,
    /// No check failed, but these have no final answer yet (Retry).
    Waiting(Vec<&'a PreflightCheck>),
    /// These checks failed and block the upgrade.
    Blocked(Vec<&'a PreflightCheck>),
}

impl ClusterVersionShadowStatus {
    /// The preflight verdict for `target`: results evaluated for another version do not count.
    pub fn preflight_outcome(&self, target: &AcpVersion) -> PreflightOutcome<'_> {
        let Some(preflight) = &self.preflight else {
            return PreflightOutcome::NoResult;
        };
        let evaluated_for = preflight
            .target_version
            .as_deref()
            .and_then(|v| v.parse::<AcpVersion>().ok());
        if evaluated_for.as_ref() != Some(target) || preflight.checks.is_empty() {
            return PreflightOutcome::NoResult;
        }
        let in_state = |state| -> Vec<&PreflightCheck> {
            preflight.checks.iter().filter(|c| c.state == state).collect()
        };
        let failed = in_state(CheckState::Failed);
        if !failed.is_empty() {
            return PreflightOutcome::Blocked(failed);
        }
        let retry = in_state(CheckState::Retry);
        if !retry.is_empty() {
            return PreflightOutcome::Waiting(retry);
        }
        PreflightOutcome::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::Preflight;

    fn check(name: &str, state: CheckState) -> PreflightCheck {
        PreflightCheck {
            name: name.into(),
            policy: None,
            state,
            reason: None,
            message: None,
        }
    }

    fn status(target: &str, checks: Vec<PreflightCheck>) -> ClusterVersionShadowStatus {
        ClusterVersionShadowStatus {
            preflight: Some(Preflight {
                observed_at: None,
                target_version: Some(target.into()),
                checks,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn no_results_or_results_for_another_target_are_never_a_pass() {
        let target = AcpVersion::new(4, 3, 1);
        assert_eq!(
            ClusterVersionShadowStatus::default().preflight_outcome(&target),
            PreflightOutcome::NoResult
        );
        assert_eq!(
            status("4.3.1", vec![]).preflight_outcome(&target),
            PreflightOutcome::NoResult
        );
        let other = status("4.3.0", vec![check("VersionUpgradePath", CheckState::Passed)]);
        assert_eq!(other.preflight_outcome(&target), PreflightOutcome::NoResult);
    }

    #[test]
    fn failed_wins_over_retry_and_all_passed_could_start() {
        let target = AcpVersion::new(4, 3, 1);
        let mixed = status(
            "v4.3.1",
            vec![
                check("VersionUpgradePath", CheckState::Passed),
                check("ClusterRunning", CheckState::Retry),
                check("KubernetesVersionSupported", CheckState::Failed),
            ],
        );
        match mixed.preflight_outcome(&target) {
            PreflightOutcome::Blocked(failed) => {
                assert_eq!(failed.len(), 1);
                assert_eq!(failed[0].name, "KubernetesVersionSupported");
            }
            other => panic!("expected Blocked, got {other:?}"),
        }
        let waiting = status(
            "4.3.1",
            vec![
                check("VersionUpgradePath", CheckState::Passed),
                check("ClusterRunning", CheckState::Retry),
            ],
        );
        assert!(matches!(waiting.preflight_outcome(&target), PreflightOutcome::Waiting(w) if w.len() == 1));
        let passed = status("4.3.1", vec![check("VersionUpgradePath", CheckState::Passed)]);
        assert_eq!(passed.preflight_outcome(&target), PreflightOutcome::Passed);
    }
}
