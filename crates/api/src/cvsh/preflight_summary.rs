//! How a set of preflight results stands: which checks failed, which still wait for an answer. The
//! operator decides from it whether an upgrade may start and writes PreflightReady and the accepted risks
//! with it; the CLI prints it ("4.3.1 is blocked by …"). One summary, so both say the same.

use acp_policy::AcpVersion;

use super::{CheckState, ClusterVersionShadowStatus, PreflightCheck};
use crate::checks;

/// The checks of one preflight evaluation that did not pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreflightSummary {
    /// Checks that failed: they block the upgrade (unless `force` accepts them).
    pub failed: Vec<PreflightCheck>,
    /// Checks with no final answer yet (Retry).
    pub waiting: Vec<PreflightCheck>,
}

impl PreflightSummary {
    /// The summary of `checks`.
    pub fn of(checks: &[PreflightCheck]) -> Self {
        let in_state =
            |state| -> Vec<PreflightCheck> { checks.iter().filter(|c| c.state == state).cloned().collect() };
        PreflightSummary {
            failed: in_state(CheckState::Failed),
            waiting: in_state(CheckState::Retry),
        }
    }

    /// True when nothing failed and nothing is waiting.
    pub fn all_passed(&self) -> bool {
        self.failed.is_empty() && self.waiting.is_empty()
    }

    /// True when execution may start: everything passed, or `force` accepts the failures it may.
    /// `force` never goes past a check still waiting, nor past one the registry says may not be forced.
    pub fn may_start(&self, forced: bool) -> bool {
        let forceable = |c: &PreflightCheck| checks::is_forceable(&c.name);
        self.waiting.is_empty() && (self.failed.is_empty() || (forced && self.failed.iter().all(forceable)))
    }

    /// The failed checks as `Name: message`, one each: what `force` accepts as risks.
    pub fn failed_lines(&self) -> Vec<String> {
        self.failed.iter().map(line).collect()
    }

    /// `failed: A: …; B: … | waiting: C: …`, or `all checks passed`.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if !self.failed.is_empty() {
            parts.push(format!("failed: {}", describe(&self.failed)));
        }
        if !self.waiting.is_empty() {
            parts.push(format!("waiting: {}", describe(&self.waiting)));
        }
        if parts.is_empty() {
            "all checks passed".into()
        } else {
            parts.join(" | ")
        }
    }
}

/// `Name: message`, or the name alone when the check says nothing more.
fn line(check: &PreflightCheck) -> String {
    match check.message.as_deref().filter(|m| !m.is_empty()) {
        Some(message) => format!("{}: {message}", check.name),
        None => check.name.clone(),
    }
}

/// Checks as `A: …; B: …`.
pub fn describe(checks: &[PreflightCheck]) -> String {
    checks.iter().map(line).collect::<Vec<_>>().join("; ")
}

impl ClusterVersionShadowStatus {
    /// The preflight results for `target`, summarised. None when there are none for it (none at all, none
    /// yet, or evaluated for another version): no result is never a pass.
    pub fn preflight_for(&self, target: &AcpVersion) -> Option<PreflightSummary> {
        let preflight = self.preflight.as_ref()?;
        let evaluated_for = preflight
            .target_version
            .as_deref()
            .and_then(|v| v.parse::<AcpVersion>().ok());
        if evaluated_for.as_ref() != Some(target) || preflight.checks.is_empty() {
            return None;
        }
        Some(PreflightSummary::of(&preflight.checks))
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
            message: Some("m".into()),
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
        assert_eq!(ClusterVersionShadowStatus::default().preflight_for(&target), None);
        assert_eq!(status("4.3.1", vec![]).preflight_for(&target), None);
        let other = status("4.3.0", vec![check("VersionUpgradePath", CheckState::Passed)]);
        assert_eq!(other.preflight_for(&target), None);
    }

    #[test]
    fn failed_and_waiting_checks_are_listed_apart() {
        let target = AcpVersion::new(4, 3, 1);
        let mixed = status(
            "v4.3.1",
            vec![
                check("VersionUpgradePath", CheckState::Passed),
                check("ClusterRunning", CheckState::Retry),
                check("KubernetesVersionSupported", CheckState::Failed),
            ],
        );
        let summary = mixed.preflight_for(&target).unwrap();
        assert_eq!(summary.failed_lines(), ["KubernetesVersionSupported: m"]);
        assert_eq!(
            summary.text(),
            "failed: KubernetesVersionSupported: m | waiting: ClusterRunning: m"
        );
        assert!(!summary.all_passed());
        let passed = status("4.3.1", vec![check("VersionUpgradePath", CheckState::Passed)]);
        let summary = passed.preflight_for(&target).unwrap();
        assert!(summary.all_passed());
        assert_eq!(summary.text(), "all checks passed");
    }

    #[test]
    fn force_goes_past_failures_except_the_upgrade_path_and_never_past_waiting() {
        let of = |name, state| PreflightSummary::of(&[check(name, state)]);
        let failed = of(checks::DOCKER_RUNTIME_UNSUPPORTED, CheckState::Failed);
        assert!(!failed.may_start(false));
        assert!(failed.may_start(true));
        assert!(!of(checks::VERSION_UPGRADE_PATH, CheckState::Failed).may_start(true));
        assert!(!of(checks::CLUSTER_RUNNING, CheckState::Retry).may_start(true));
        assert!(of(checks::CLUSTER_RUNNING, CheckState::Passed).may_start(false));
    }

    #[test]
    fn a_check_without_a_message_is_named_alone() {
        let mut quiet = check("ClusterRunning", CheckState::Failed);
        quiet.message = None;
        assert_eq!(describe(&[quiet]), "ClusterRunning");
    }
}
