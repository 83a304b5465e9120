//! `workload_gate`: may a workload cluster move to the target? (REFERENCE §3, "global before
//! workload".)

use crate::catalogue::Catalogue;
use crate::cluster::{GlobalTier, Provisioning, WorkloadCluster};
use crate::global_gate::{ThirdPartyStatus, third_party_refusal, third_party_status, third_party_warning};
use crate::verdict::{Finding, Reason, Severity, Verdict};
use crate::version::AcpVersion;

/// Allowed when the whole global tier (primary and, with disaster recovery, standby) already runs
/// the target or newer, the workload cluster is below the primary global cluster, and its
/// Kubernetes fits the target (platform-managed: a compatible minor not newer than the target's;
/// third-party: the third-party range, with a warning outside the compatible list).
///
/// The edge itself (downgrade, same version, supported source) is [`crate::upgrade_path`]'s job.
pub fn workload_gate(
    catalogue: &Catalogue,
    global_tier: &GlobalTier,
    workload_current: &AcpVersion,
    target: &AcpVersion,
    workload: &WorkloadCluster,
) -> Verdict {
    let name = &workload.name;
    let mut findings = Vec::new();
    let mut block = |reason, message: String| {
        findings.push(Finding {
            severity: Severity::Blocking,
            reason,
            message,
        });
    };
    if let Some(standby) = &global_tier.standby
        && standby < target
    {
        block(
            Reason::GlobalStandbyBehind,
            format!(
                "the standby global cluster runs ACP {standby}: upgrade the standby, then the primary, to {target} \
                 before workload cluster `{name}`"
            ),
        );
    }
    let primary = &global_tier.primary;
    if primary < target {
        block(
            Reason::GlobalTierBehind,
            format!(
                "the global cluster runs ACP {primary}: upgrade it to {target} before workload cluster `{name}`"
            ),
        );
    }
    if workload_current >= primary {
        block(
            Reason::WorkloadNotBelowGlobal,
            format!(
                "workload cluster `{name}` already runs ACP {workload_current}, not below the global cluster's \
                 {primary}: upgrade the global cluster first"
            ),
        );
    }
    match catalogue.release(target) {
        None => block(
            Reason::UnknownRelease,
            format!("ACP {target} is not a known release: import its ProductManifest first"),
        ),
        Some(release) => {
            let kube = workload.kube_version;
            let minor = kube.minor_line();
            let k = &release.kubernetes;
            match workload.provisioning {
                Provisioning::PlatformManaged if !k.is_compatible(minor) => {
                    let reason = if Some(minor) < k.oldest_compatible() {
                        Reason::KubernetesBelowCompatibleRange
                    } else {
                        Reason::KubernetesAboveCompatibleRange
                    };
                    block(
                        reason,
                        format!(
                            "workload cluster `{name}` runs Kubernetes {minor}; ACP {target} accepts {}: bring it \
                             into that range first",
                            k.compatible_text()
                        ),
                    );
                }
                Provisioning::PlatformManaged => {}
                Provisioning::ThirdParty => match third_party_status(release, kube) {
                    ThirdPartyStatus::Accepted => {}
                    ThirdPartyStatus::OutsideRange => block(
                        Reason::ThirdPartyOutsideRange,
                        format!(
                            "third-party cluster `{name}` runs Kubernetes {kube}; {}",
                            third_party_refusal(release, "it")
                        ),
                    ),
                    ThirdPartyStatus::OutsideCompatibleList => findings.push(Finding {
                        severity: Severity::Warning,
                        reason: Reason::ThirdPartyOutsideCompatibleList,
                        message: format!(
                            "third-party cluster `{name}` runs Kubernetes {kube}, {}",
                            third_party_warning(release)
                        ),
                    }),
                },
            }
        }
    }
    Verdict::from_findings(findings, Reason::GlobalTierReached, || {
        let tier = match &global_tier.standby {
            Some(standby) => format!("the global cluster ({primary}) and its standby ({standby})"),
            None => format!("the global cluster ({primary})"),
        };
        format!("{tier} reached ACP {target}; workload cluster `{name}` may follow from {workload_current}")
    })
}
