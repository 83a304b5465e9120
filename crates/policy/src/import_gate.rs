//! `import_gate`: may a third-party cluster running this Kubernetes be onboarded?

use crate::catalogue::Catalogue;
use crate::global_gate::{ThirdPartyStatus, third_party_refusal, third_party_status, third_party_warning};
use crate::verdict::{Finding, Reason, Severity, Verdict};
use crate::version::{AcpVersion, KubeVersion};

/// Judges a Kubernetes version against the third-party range of the platform's release `acp`
/// (ACP 4.3: `>=1.19.0, <1.35.0`); inside the range but outside the compatible list is a warning.
pub fn import_gate(catalogue: &Catalogue, acp: &AcpVersion, kube: KubeVersion) -> Verdict {
    let Some(release) = catalogue.support_release(acp) else {
        return Verdict::refused(
            Reason::UnknownRelease,
            format!("ACP {acp} is not a known release: import its ProductManifest first"),
        );
    };
    let subject = format!("Kubernetes {kube}");
    match third_party_status(release, kube) {
        ThirdPartyStatus::OutsideRange => Verdict::refused(
            Reason::ThirdPartyOutsideRange,
            format!(
                "a cluster on {subject} cannot be imported: {}",
                third_party_refusal(release, "it")
            ),
        ),
        ThirdPartyStatus::OutsideCompatibleList => Verdict::from_findings(
            vec![Finding {
                severity: Severity::Warning,
                reason: Reason::ThirdPartyOutsideCompatibleList,
                message: format!("{subject} is {}", third_party_warning(release)),
            }],
            Reason::ThirdPartyAccepted,
            String::new,
        ),
        ThirdPartyStatus::Accepted => Verdict::allowed(
            Reason::ThirdPartyAccepted,
            match &release.kubernetes.third_party_range {
                Some(range) => format!(
                    "{subject} is inside the third-party range {range} of ACP {}",
                    release.version
                ),
                None => format!("{subject} is a compatible minor of ACP {}", release.version),
            },
        ),
    }
}
