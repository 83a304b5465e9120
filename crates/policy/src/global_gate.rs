//! `global_gate`: may the global tier move to the target, given every workload cluster's
//! Kubernetes version? (REFERENCE §2, "4.2 vs 4.3".)
//!
//! Runs over fleets of thousands of clusters on every reconcile, so the pass over the clusters only
//! records indices of offenders; text is built afterwards, for offenders only.

use crate::catalogue::Catalogue;
use crate::cluster::{Provisioning, WorkloadCluster};
use crate::release::{GlobalUpgradeRule, ProductRelease, minors_text};
use crate::verdict::{Finding, Reason, Severity, Verdict, name_list};
use crate::version::{AcpVersion, KubeMinor, KubeVersion};

/// Judges every workload cluster against the target release:
/// - platform-managed clusters: the target's rule — `WithinCompatibleRange` (the minor is in the
///   target's compatible list) or `LatestCompatibleRequired` (the minor is the newest one both the
///   current and the target release accept, or a newer one the target accepts);
/// - third-party clusters: the target's third-party range (or, when it publishes none, its
///   compatible list); inside the range but outside the compatible list is a warning.
pub fn global_gate(
    catalogue: &Catalogue,
    current: &AcpVersion,
    target: &AcpVersion,
    workloads: &[WorkloadCluster],
) -> Verdict {
    let Some(release) = catalogue.release(target) else {
        return Verdict::refused(
            Reason::UnknownRelease,
            format!(
                "ACP {target} is not a known release, so its Kubernetes rules are unknown: import its ProductManifest \
                 first (`ac adm release import-manifest --version {target}`)"
            ),
        );
    };
    let required = match release.global_upgrade_rule() {
        GlobalUpgradeRule::WithinCompatibleRange => None,
        GlobalUpgradeRule::LatestCompatibleRequired => match latest_common_minor(catalogue, current, release)
        {
            Ok(minor) => Some(minor),
            Err(verdict) => return verdict,
        },
    };

    let mut offenders = Offenders::default();
    for (index, cluster) in workloads.iter().enumerate() {
        let minor = cluster.kube_version.minor_line();
        match cluster.provisioning {
            Provisioning::PlatformManaged => {
                let offence = match required {
                    Some(required) if minor < required => Some(&mut offenders.not_latest),
                    _ if release.kubernetes.is_compatible(minor) => None,
                    _ if Some(minor) < release.kubernetes.oldest_compatible() => Some(&mut offenders.below),
                    _ => Some(&mut offenders.above),
                };
                if let Some(list) = offence {
                    list.push(index);
                }
            }
            Provisioning::ThirdParty => match third_party_status(release, cluster.kube_version) {
                ThirdPartyStatus::Accepted => {}
                ThirdPartyStatus::OutsideCompatibleList => offenders.third_party_warn.push(index),
                ThirdPartyStatus::OutsideRange => offenders.third_party_out.push(index),
            },
        }
    }

    let findings = offenders.findings(workloads, current, release, required);
    Verdict::from_findings(findings, Reason::KubernetesVersionsSupported, || {
        accepted_message(workloads.len(), current, release, required)
    })
}

/// The newest Kubernetes minor both the current and the target release accept.
fn latest_common_minor(
    catalogue: &Catalogue,
    current: &AcpVersion,
    release: &ProductRelease,
) -> Result<KubeMinor, Verdict> {
    let target = &release.version;
    let Some(current_release) = catalogue.support_release(current) else {
        return Err(Verdict::refused(
            Reason::UnknownRelease,
            format!(
                "ACP {target} requires workload clusters on the newest Kubernetes minor that {current} and {target} \
                 both accept, but {current} has no support data: import the ProductManifest of {current} first"
            ),
        ));
    };
    let ours = &current_release.kubernetes;
    let common = release
        .kubernetes
        .compatible
        .iter()
        .filter(|m| ours.is_compatible(**m))
        .max()
        .copied();
    common.ok_or_else(|| {
        Verdict::refused(
            Reason::NoCommonKubernetesMinor,
            format!(
                "ACP {current} accepts Kubernetes {} and {target} accepts {}: no workload cluster can satisfy both; \
                 upgrade through an intermediate release",
                ours.compatible_text(),
                release.kubernetes.compatible_text()
            ),
        )
    })
}

/// How a third-party cluster fares against a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThirdPartyStatus {
    Accepted,
    OutsideCompatibleList,
    OutsideRange,
}

pub(crate) fn third_party_status(release: &ProductRelease, kube: KubeVersion) -> ThirdPartyStatus {
    let compatible = release.kubernetes.is_compatible(kube.minor_line());
    match &release.kubernetes.third_party_range {
        Some(range) if !range.matches(&kube.to_semver()) => ThirdPartyStatus::OutsideRange,
        Some(_) if !compatible => ThirdPartyStatus::OutsideCompatibleList,
        None if !compatible => ThirdPartyStatus::OutsideRange,
        _ => ThirdPartyStatus::Accepted,
    }
}

/// Why a third-party cluster is outside what the release manages, and what to do.
pub(crate) fn third_party_refusal(release: &ProductRelease, subject: &str) -> String {
    let target = &release.version;
    match &release.kubernetes.third_party_range {
        Some(range) => format!(
            "ACP {target} manages third-party clusters on Kubernetes {range}: upgrade {subject} into that range or \
             detach {subject} first"
        ),
        None => format!(
            "ACP {target} publishes no third-party range, so third-party clusters must run a compatible minor ({}): \
             upgrade {subject} or detach {subject} first",
            release.kubernetes.compatible_text()
        ),
    }
}

pub(crate) fn third_party_warning(release: &ProductRelease) -> String {
    let compatible = release.kubernetes.compatible_text();
    format!(
        "inside the third-party range but outside the compatible list {compatible} of ACP {}: it stays managed, but \
         features validated on {compatible} may not work there",
        release.version
    )
}

#[derive(Default)]
struct Offenders {
    below: Vec<usize>,
    above: Vec<usize>,
    not_latest: Vec<usize>,
    third_party_out: Vec<usize>,
    third_party_warn: Vec<usize>,
}

impl Offenders {
    fn findings(
        &self,
        workloads: &[WorkloadCluster],
        current: &AcpVersion,
        release: &ProductRelease,
        required: Option<KubeMinor>,
    ) -> Vec<Finding> {
        let target = &release.version;
        let compatible = release.kubernetes.compatible_text();
        let oldest = release
            .kubernetes
            .oldest_compatible()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let mut findings = Vec::new();
        let mut add =
            |indices: &[usize], severity, reason, minors: bool, what: &dyn Fn(Subject) -> String| {
                if indices.is_empty() {
                    return;
                }
                let subject = Subject::new(workloads, indices, minors);
                findings.push(Finding {
                    severity,
                    reason,
                    message: what(subject),
                });
            };
        add(
            &self.not_latest,
            Severity::Blocking,
            Reason::KubernetesNotLatestCompatible,
            true,
            &|s| {
                let required = required.map(|m| m.to_string()).unwrap_or_default();
                format!(
                    "{} Kubernetes {}; before the global cluster moves from ACP {current} to {target}, every \
                 platform-managed workload cluster must run {required}, the newest minor both releases accept: \
                 upgrade {} to {required} first",
                    s.runs, s.versions, s.them
                )
            },
        );
        add(
            &self.below,
            Severity::Blocking,
            Reason::KubernetesBelowCompatibleRange,
            true,
            &|s| {
                format!(
                    "{} Kubernetes {}; ACP {target} accepts {compatible}: upgrade {} to {oldest} or later first",
                    s.runs, s.versions, s.them
                )
            },
        );
        add(
            &self.above,
            Severity::Blocking,
            Reason::KubernetesAboveCompatibleRange,
            true,
            &|s| {
                format!(
                    "{} Kubernetes {}, newer than ACP {target} accepts ({compatible}): choose a release that accepts it, \
                 or detach {} first",
                    s.runs, s.versions, s.them
                )
            },
        );
        add(
            &self.third_party_out,
            Severity::Blocking,
            Reason::ThirdPartyOutsideRange,
            false,
            &|s| {
                format!(
                    "{} Kubernetes {}; {}",
                    s.runs_third_party,
                    s.versions,
                    third_party_refusal(release, s.them)
                )
            },
        );
        add(
            &self.third_party_warn,
            Severity::Warning,
            Reason::ThirdPartyOutsideCompatibleList,
            false,
            &|s| {
                format!(
                    "{} Kubernetes {}, {}",
                    s.runs_third_party,
                    s.versions,
                    third_party_warning(release)
                )
            },
        );
        findings
    }
}

/// The grammatical pieces of a message about one or many clusters.
struct Subject {
    /// "workload cluster `a` runs" / "3 workload clusters run".
    runs: String,
    /// "third-party cluster `a` runs" / "3 third-party clusters run".
    runs_third_party: String,
    /// "1.30" for one cluster; "older versions: `a` (1.30), `b` (1.29)" style list for many.
    versions: String,
    /// "it" / "them".
    them: &'static str,
}

impl Subject {
    fn new(workloads: &[WorkloadCluster], indices: &[usize], minors: bool) -> Subject {
        let version = |c: &WorkloadCluster| {
            if minors {
                c.kube_version.minor_line().to_string()
            } else {
                c.kube_version.to_string()
            }
        };
        if let [index] = indices
            && let Some(c) = workloads.get(*index)
        {
            return Subject {
                runs: format!("workload cluster `{}` runs", c.name),
                runs_third_party: format!("third-party cluster `{}` runs", c.name),
                versions: version(c),
                them: "it",
            };
        }
        let named: Vec<String> = indices
            .iter()
            .take(crate::verdict::MAX_NAMED)
            .filter_map(|i| workloads.get(*i))
            .map(|c| format!("`{}` ({})", c.name, version(c)))
            .collect();
        let n = indices.len();
        Subject {
            runs: format!("{n} workload clusters run"),
            runs_third_party: format!("{n} third-party clusters run"),
            versions: format!("versions [{}]", name_list(&named, n)),
            them: "them",
        }
    }
}

fn accepted_message(
    count: usize,
    current: &AcpVersion,
    release: &ProductRelease,
    required: Option<KubeMinor>,
) -> String {
    let target = &release.version;
    if count == 0 {
        return format!("no workload clusters: nothing holds the global cluster back from ACP {target}");
    }
    let managed = match required {
        Some(minor) => {
            format!("platform-managed on {minor}, the newest minor {current} and {target} both accept")
        }
        None => format!("platform-managed within {}", release.kubernetes.compatible_text()),
    };
    let third_party = match &release.kubernetes.third_party_range {
        Some(range) => format!("third-party within {range}"),
        None => format!(
            "third-party within {}",
            minors_text(&release.kubernetes.compatible)
        ),
    };
    let clusters = if count == 1 {
        "the workload cluster runs"
    } else {
        "all workload clusters run"
    };
    format!("{clusters} Kubernetes that ACP {target} accepts ({managed}; {third_party}) [{count} checked]")
}
