//! Kubernetes control-plane hops and kubelet version skew.

use serde::{Deserialize, Serialize};

use crate::verdict::{Finding, Reason, Severity, Verdict, name_list};
use crate::version::{KubeMinor, KubeVersion};

/// How many minors a kubelet may lag behind the apiserver.
pub const MAX_KUBELET_SKEW: u32 = 3;

/// The control-plane minors an upgrade passes through, one at a time, after `from`:
/// `1.31 → 1.34` gives `[1.32, 1.33, 1.34]`. Empty when `to` is not newer, or across majors
/// (Kubernetes has no such path).
pub fn kubernetes_hops(from: KubeMinor, to: KubeMinor) -> Vec<KubeMinor> {
    if from.major != to.major || to.minor <= from.minor {
        return Vec::new();
    }
    (from.minor + 1..=to.minor)
        .map(|minor| KubeMinor::new(from.major, minor))
        .collect()
}

/// A node's kubelet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kubelet {
    pub node: String,
    pub version: KubeVersion,
}

/// Checks every kubelet against every apiserver minor the cluster will run: `apiservers` is the
/// current minor followed by the hops. A kubelet must never be newer than the apiserver (the
/// current one, the oldest) and never more than [`MAX_KUBELET_SKEW`] minors older (the last hop,
/// the newest).
pub fn kubelet_skew(apiservers: &[KubeMinor], kubelets: &[Kubelet]) -> Verdict {
    let (Some(oldest), Some(newest)) = (apiservers.iter().min().copied(), apiservers.iter().max().copied())
    else {
        return Verdict::allowed(
            Reason::KubeletSkewSupported,
            "no apiserver version to compare kubelets with",
        );
    };
    let floor = KubeMinor::new(newest.major, newest.minor.saturating_sub(MAX_KUBELET_SKEW));
    let mut too_new = Vec::new();
    let mut too_old = Vec::new();
    for (index, kubelet) in kubelets.iter().enumerate() {
        let minor = kubelet.version.minor_line();
        if minor > oldest {
            too_new.push(index);
        } else if minor < floor {
            too_old.push(index);
        }
    }
    let describe = |indices: &[usize]| {
        let named: Vec<String> = indices
            .iter()
            .take(crate::verdict::MAX_NAMED)
            .filter_map(|i| kubelets.get(*i))
            .map(|k| format!("`{}` ({})", k.node, k.version))
            .collect();
        let (nodes, run) = if indices.len() == 1 {
            ("node", "runs")
        } else {
            ("nodes", "run")
        };
        format!("{nodes} {} {run}", name_list(&named, indices.len()))
    };
    let mut findings = Vec::new();
    if !too_new.is_empty() {
        findings.push(Finding {
            severity: Severity::Blocking,
            reason: Reason::KubeletNewerThanApiserver,
            message: format!(
                "{} a kubelet newer than the apiserver ({oldest}); a kubelet must never be newer than its control \
                 plane: bring those kubelets back to {oldest} or upgrade the control plane first",
                describe(&too_new)
            ),
        });
    }
    if !too_old.is_empty() {
        findings.push(Finding {
            severity: Severity::Blocking,
            reason: Reason::KubeletTooOld,
            message: format!(
                "{} a kubelet more than {MAX_KUBELET_SKEW} minors older than the apiserver will be ({newest}): \
                 upgrade those kubelets to {floor} or later first",
                describe(&too_old)
            ),
        });
    }
    Verdict::from_findings(findings, Reason::KubeletSkewSupported, || {
        format!(
            "all {} kubelets stay within {floor}–{oldest} while the apiserver moves through {}",
            kubelets.len(),
            apiservers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" → ")
        )
    })
}
