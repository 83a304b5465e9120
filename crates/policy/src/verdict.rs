//! What a rule decides, and why, in words a person can act on.
//!
//! A [`Verdict`] maps one-to-one onto a preflight check result: [`Verdict::passed`] gives the
//! state (`Passed`/`Failed`), [`Verdict::reason`] a CamelCase reason and [`Verdict::message`] the
//! message. [`Verdict::findings`] keeps every individual refusal and warning for richer output.

use std::fmt;

use serde::Serialize;

/// The outcome of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Decision {
    Allowed,
    AllowedWithWarnings,
    Refused,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allowed => "Allowed",
            Decision::AllowedWithWarnings => "AllowedWithWarnings",
            Decision::Refused => "Refused",
        })
    }
}

/// Why a rule decided as it did. Displays (and serializes) as the CamelCase reason of a
/// preflight check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Reason {
    // upgrade_path
    UpgradePathSupported,
    SameVersion,
    Downgrade,
    UnknownRelease,
    UnsupportedUpgradeSource,
    // global_gate, workload_gate, import_gate
    KubernetesVersionsSupported,
    KubernetesBelowCompatibleRange,
    KubernetesAboveCompatibleRange,
    KubernetesNotLatestCompatible,
    NoCommonKubernetesMinor,
    ThirdPartyOutsideRange,
    ThirdPartyOutsideCompatibleList,
    ThirdPartyAccepted,
    // workload_gate
    GlobalTierReached,
    GlobalTierBehind,
    GlobalStandbyBehind,
    WorkloadNotBelowGlobal,
    // primary_gate, standby_gate
    GlobalTier,
    GlobalStandby,
    GlobalTierOutOfStep,
    // fleet_plan
    AlreadyAtTarget,
    UnknownCurrentVersion,
    // kubelet_skew
    KubeletSkewSupported,
    KubeletNewerThanApiserver,
    KubeletTooOld,
    // risks::unaccepted
    RisksNotAccepted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UpgradePathSupported => "UpgradePathSupported",
            Reason::SameVersion => "SameVersion",
            Reason::Downgrade => "Downgrade",
            Reason::UnknownRelease => "UnknownRelease",
            Reason::UnsupportedUpgradeSource => "UnsupportedUpgradeSource",
            Reason::KubernetesVersionsSupported => "KubernetesVersionsSupported",
            Reason::KubernetesBelowCompatibleRange => "KubernetesBelowCompatibleRange",
            Reason::KubernetesAboveCompatibleRange => "KubernetesAboveCompatibleRange",
            Reason::KubernetesNotLatestCompatible => "KubernetesNotLatestCompatible",
            Reason::NoCommonKubernetesMinor => "NoCommonKubernetesMinor",
            Reason::ThirdPartyOutsideRange => "ThirdPartyOutsideRange",
            Reason::ThirdPartyOutsideCompatibleList => "ThirdPartyOutsideCompatibleList",
            Reason::ThirdPartyAccepted => "ThirdPartyAccepted",
            Reason::GlobalTierReached => "GlobalTierReached",
            Reason::GlobalTierBehind => "GlobalTierBehind",
            Reason::GlobalStandbyBehind => "GlobalStandbyBehind",
            Reason::WorkloadNotBelowGlobal => "WorkloadNotBelowGlobal",
            Reason::GlobalTier => "GlobalTier",
            Reason::GlobalStandby => "GlobalStandby",
            Reason::GlobalTierOutOfStep => "GlobalTierOutOfStep",
            Reason::AlreadyAtTarget => "AlreadyAtTarget",
            Reason::UnknownCurrentVersion => "UnknownCurrentVersion",
            Reason::KubeletSkewSupported => "KubeletSkewSupported",
            Reason::KubeletNewerThanApiserver => "KubeletNewerThanApiserver",
            Reason::KubeletTooOld => "KubeletTooOld",
            Reason::RisksNotAccepted => "RisksNotAccepted",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a finding blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Severity {
    Warning,
    Blocking,
}

/// One thing a rule found, with the subject named in the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub reason: Reason,
    pub message: String,
}

/// A rule's decision with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    decision: Decision,
    reason: Reason,
    message: String,
    findings: Vec<Finding>,
}

impl Verdict {
    /// Allowed; `reason`/`message` say what was confirmed.
    pub fn allowed(reason: Reason, message: impl Into<String>) -> Verdict {
        Verdict {
            decision: Decision::Allowed,
            reason,
            message: message.into(),
            findings: Vec::new(),
        }
    }

    /// Decides from findings: refused when any blocks, allowed with warnings when only warnings,
    /// else allowed with the `ok` reason and message.
    pub fn from_findings(findings: Vec<Finding>, ok: Reason, ok_message: impl FnOnce() -> String) -> Verdict {
        let blocking: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == Severity::Blocking)
            .collect();
        if let Some(first) = blocking.first() {
            let mut message = join(blocking.iter().copied());
            let warnings: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .collect();
            if !warnings.is_empty() {
                message.push_str("; also: ");
                message.push_str(&join(warnings.into_iter()));
            }
            return Verdict {
                decision: Decision::Refused,
                reason: first.reason,
                message,
                findings,
            };
        }
        match findings.first() {
            Some(first) => Verdict {
                decision: Decision::AllowedWithWarnings,
                reason: first.reason,
                message: join(findings.iter()),
                findings,
            },
            None => Verdict::allowed(ok, ok_message()),
        }
    }

    /// Refused for one reason.
    pub fn refused(reason: Reason, message: impl Into<String>) -> Verdict {
        let message = message.into();
        Verdict {
            decision: Decision::Refused,
            reason,
            message: message.clone(),
            findings: vec![Finding {
                severity: Severity::Blocking,
                reason,
                message,
            }],
        }
    }

    /// The same decision, reason and findings, said in `message`.
    pub fn with_message(self, message: impl Into<String>) -> Verdict {
        Verdict {
            message: message.into(),
            ..self
        }
    }

    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// True unless refused: the preflight state is `Passed` when true, `Failed` otherwise.
    pub fn passed(&self) -> bool {
        self.decision != Decision::Refused
    }

    pub fn is_refused(&self) -> bool {
        self.decision == Decision::Refused
    }

    pub fn has_warnings(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Warning)
    }

    /// The CamelCase reason of the first blocking finding (or first warning, or the success).
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Every blocking finding's message, then the warnings.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.decision, self.reason, self.message)
    }
}

fn join<'a>(findings: impl Iterator<Item = &'a Finding>) -> String {
    findings
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many subjects a message names before it says "and N more".
pub const MAX_NAMED: usize = 10;

/// `a`, `b` and `c` — or the first [`MAX_NAMED`] of `total` followed by "and N more". `named` may
/// hold just the first [`MAX_NAMED`] items, so callers format only what is shown.
pub fn name_list(named: &[String], total: usize) -> String {
    let shown = &named[..named.len().min(MAX_NAMED)];
    let rest = total.saturating_sub(shown.len());
    match (shown, rest) {
        ([], _) => String::new(),
        ([one], 0) => one.clone(),
        ([init @ .., last], 0) => format!("{} and {last}", init.join(", ")),
        _ => format!("{} and {rest} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("`c{i}`")).collect()
    }

    #[test]
    fn name_lists_read_naturally_and_are_capped() {
        assert_eq!(name_list(&names(1), 1), "`c1`");
        assert_eq!(name_list(&names(3), 3), "`c1`, `c2` and `c3`");
        let long = name_list(&names(10), 47);
        assert!(long.ends_with("`c10` and 37 more"), "{long}");
        assert!(!long.contains("`c11`"));
    }

    #[test]
    fn warnings_alone_allow_and_blocking_findings_refuse() {
        let w = Finding {
            severity: Severity::Warning,
            reason: Reason::ThirdPartyOutsideCompatibleList,
            message: "w".into(),
        };
        let b = Finding {
            severity: Severity::Blocking,
            reason: Reason::ThirdPartyOutsideRange,
            message: "b".into(),
        };
        let v = Verdict::from_findings(vec![w.clone()], Reason::KubernetesVersionsSupported, String::new);
        assert_eq!(
            (v.decision(), v.passed(), v.reason()),
            (Decision::AllowedWithWarnings, true, w.reason)
        );
        let v = Verdict::from_findings(vec![w, b], Reason::KubernetesVersionsSupported, String::new);
        assert_eq!(
            (v.decision(), v.passed(), v.reason()),
            (Decision::Refused, false, Reason::ThirdPartyOutsideRange)
        );
        assert_eq!(v.message(), "b; also: w");
        let v = Verdict::from_findings(vec![], Reason::KubernetesVersionsSupported, || "fine".into());
        assert_eq!((v.decision(), v.message()), (Decision::Allowed, "fine"));
    }
}
