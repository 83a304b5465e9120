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
/// third-party: the third-party range, with a warning outside the compatible list): the findings of
/// [`global_tier_reached`] and [`workload_kubernetes`] together.
///
/// The edge itself (downgrade, same version, supported source) is [`crate::upgrade_path`]'s job.
pub fn workload_gate(
    catalogue: &Catalogue,
    global_tier: &GlobalTier,
    workload_current: &AcpVersion,
    target: &AcpVersion,
    workload: &WorkloadCluster,
) -> Verdict {
    let mut findings = tier_findings(global_tier, &workload.name, workload_current, target);
    findings.extend(kubernetes_findings(catalogue, target, workload));
    Verdict::from_findings(findings, Reason::GlobalTierReached, || {
        reached_message(global_tier, &workload.name, workload_current, target)
    })
}

/// The global tier half of [`workload_gate`]: the whole global tier runs the target or newer, and the
/// workload cluster `workload` (at `workload_current`) is below the primary.
pub fn global_tier_reached(
    global_tier: &GlobalTier,
    workload: &str,
    workload_current: &AcpVersion,
    target: &AcpVersion,
) -> Verdict {
    let findings = tier_findings(global_tier, workload, workload_current, target);
    Verdict::from_findings(findings, Reason::GlobalTierReached, || {
        reached_message(global_tier, workload, workload_current, target)
    })
}

/// The Kubernetes half of [`workload_gate`]: the workload cluster's Kubernetes fits the target.
pub fn workload_kubernetes(
    catalogue: &Catalogue,
    target: &AcpVersion,
    workload: &WorkloadCluster,
) -> Verdict {
    let findings = kubernetes_findings(catalogue, target, workload);
    Verdict::from_findings(findings, Reason::KubernetesVersionsSupported, || {
        format!(
            "workload cluster `{}` runs Kubernetes {}, which ACP {target} accepts",
            workload.name, workload.kube_version
        )
    })
}

fn blocking(reason: Reason, message: String) -> Finding {
    Finding {
        severity: Severity::Blocking,
        reason,
        message,
    }
}

fn tier_findings(
    global_tier: &GlobalTier,
    name: &str,
    workload_current: &AcpVersion,
    target: &AcpVersion,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(standby) = &global_tier.standby
        && standby < target
    {
        findings.push(blocking(
            Reason::GlobalStandbyBehind,
            format!(
                "the standby global cluster runs ACP {standby}: upgrade the standby, then the primary, to {target} \
                 before workload cluster `{name}`"
            ),
        ));
    }
    let primary = &global_tier.primary;
    if primary < target {
        findings.push(blocking(
            Reason::GlobalTierBehind,
            format!(
                "the global cluster runs ACP {primary}: upgrade it to {target} before workload cluster `{name}`"
            ),
        ));
    }
    if workload_current >= primary {
        findings.push(blocking(
            Reason::WorkloadNotBelowGlobal,
            format!(
                "workload cluster `{name}` already runs ACP {workload_current}, not below the global cluster's \
                 {primary}: upgrade the global cluster first"
            ),
        ));
    }
    findings
}

fn reached_message(
    global_tier: &GlobalTier,
    name: &str,
    workload_current: &AcpVersion,
    target: &AcpVersion,
) -> String {
    let primary = &global_tier.primary;
    let tier = match &global_tier.standby {
        Some(standby) => format!("the global cluster ({primary}) and its standby ({standby})"),
        None => format!("the global cluster ({primary})"),
    };
    format!("{tier} reached ACP {target}; workload cluster `{name}` may follow from {workload_current}")
}

fn kubernetes_findings(
    catalogue: &Catalogue,
    target: &AcpVersion,
    workload: &WorkloadCluster,
) -> Vec<Finding> {
    let name = &workload.name;
    let Some(release) = catalogue.release(target) else {
        return vec![blocking(
            Reason::UnknownRelease,
            format!("ACP {target} is not a known release: import its ProductManifest first"),
        )];
    };
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
            vec![blocking(
                reason,
                format!(
                    "workload cluster `{name}` runs Kubernetes {minor}; ACP {target} accepts {}: bring it into that \
                     range first",
                    k.compatible_text()
                ),
            )]
        }
        Provisioning::PlatformManaged => Vec::new(),
        Provisioning::ThirdParty => match third_party_status(release, kube) {
            ThirdPartyStatus::Accepted => Vec::new(),
            ThirdPartyStatus::OutsideRange => vec![blocking(
                Reason::ThirdPartyOutsideRange,
                format!(
                    "third-party cluster `{name}` runs Kubernetes {kube}; {}",
                    third_party_refusal(release, "it")
                ),
            )],
            ThirdPartyStatus::OutsideCompatibleList => vec![Finding {
                severity: Severity::Warning,
                reason: Reason::ThirdPartyOutsideCompatibleList,
                message: format!(
                    "third-party cluster `{name}` runs Kubernetes {kube}, {}",
                    third_party_warning(release)
                ),
            }],
        },
    }
}
