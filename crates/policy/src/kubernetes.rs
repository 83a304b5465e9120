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

/// Where one hop of the Kubernetes stage takes the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeHop {
    pub minor: KubeMinor,
    /// The exact patch the hop ends on; `None` when the release data names no patch of this minor (then
    /// any patch of it completes the hop).
    pub version: Option<KubeVersion>,
}

impl KubeHop {
    /// Whether a cluster reporting `reported` has completed this hop.
    pub fn reached_by(&self, reported: KubeVersion) -> bool {
        match self.version {
            Some(version) => reported >= version,
            None => reported.minor_line() >= self.minor,
        }
    }
}

impl std::fmt::Display for KubeHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(version) => write!(f, "{version}"),
            None => write!(f, "{}", self.minor),
        }
    }
}

/// The hops from `from` to the target: one per control-plane minor, each ending on the release data's
/// patch of that minor (the newest of `known`, the Kubernetes versions of the releases up to the target),
/// the last one on `exact` (the target release's own `kubernetes.version`) when it records one. A minor
/// no release records a patch of is reached by any patch of it. A patch-only change
/// (`v1.32.7 → v1.32.11`) is one hop on the same minor, planned only when the target records its patch.
/// `from` unknown: one hop to the target.
pub fn kubernetes_hop_plan(
    from: Option<KubeVersion>,
    target: KubeMinor,
    exact: Option<KubeVersion>,
    known: &[KubeVersion],
) -> Vec<KubeHop> {
    let exact = exact.filter(|e| e.minor_line() == target);
    let patch_of = |minor: KubeMinor| {
        if minor == target && exact.is_some() {
            return exact;
        }
        known.iter().filter(|k| k.minor_line() == minor).max().copied()
    };
    let hop = |minor| KubeHop {
        minor,
        version: patch_of(minor),
    };
    let Some(from) = from else {
        return vec![hop(target)];
    };
    let minors = kubernetes_hops(from.minor_line(), target);
    if !minors.is_empty() {
        return minors.into_iter().map(hop).collect();
    }
    match exact {
        Some(exact) if from.minor_line() == target && from < exact => vec![KubeHop {
            minor: target,
            version: Some(exact),
        }],
        _ => Vec::new(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    fn m(s: &str) -> KubeMinor {
        s.parse().unwrap()
    }

    /// The Kubernetes patches of the built-in releases (REFERENCE §1).
    fn known() -> Vec<KubeVersion> {
        ["v1.31.14", "v1.32.7", "v1.32.11", "v1.33.6", "v1.33.7", "v1.34.5"]
            .map(v)
            .to_vec()
    }

    fn plan(from: Option<&str>, target: &str, exact: Option<&str>) -> Vec<String> {
        kubernetes_hop_plan(from.map(v), m(target), exact.map(v), &known())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn each_hop_ends_on_the_release_patch_of_its_minor() {
        // (from, target minor, target's own patch, the hops)
        type Row<'a> = (Option<&'a str>, &'a str, Option<&'a str>, &'a [&'a str]);
        let rows: &[Row] = &[
            // Minor hops: intermediate minors on their newest known patch, the last on the target's.
            (Some("v1.32.7"), "1.34", Some("v1.34.5"), &["v1.33.7", "v1.34.5"]),
            (
                Some("v1.31.4"),
                "1.34",
                Some("v1.34.5"),
                &["v1.32.11", "v1.33.7", "v1.34.5"],
            ),
            (Some("v1.32.7"), "1.33", Some("v1.33.6"), &["v1.33.6"]),
            // The target records no patch: the newest recorded one of its minor.
            (Some("v1.32.7"), "1.33", None, &["v1.33.7"]),
            (Some("v1.31.4"), "1.33", None, &["v1.32.11", "v1.33.7"]),
            // A minor with no known patch: any patch of it.
            (Some("v1.34.5"), "1.35", None, &["1.35"]),
            // Patch-only changes are a hop too.
            (Some("v1.32.7"), "1.32", Some("v1.32.11"), &["v1.32.11"]),
            (Some("v1.33.6-1"), "1.33", Some("v1.33.7"), &["v1.33.7"]),
            // Already there, or past it: nothing to do (never a downgrade).
            (Some("v1.32.11"), "1.32", Some("v1.32.11"), &[]),
            (Some("v1.32.12"), "1.32", Some("v1.32.11"), &[]),
            (Some("v1.32.7"), "1.32", None, &[]),
            (Some("v1.34.5"), "1.33", Some("v1.33.7"), &[]),
            // Unknown starting point: one hop to the target.
            (None, "1.34", Some("v1.34.5"), &["v1.34.5"]),
            // An exact version off the target minor is ignored.
            (Some("v1.33.7"), "1.34", Some("v1.33.9"), &["v1.34.5"]),
        ];
        for (from, target, exact, want) in rows {
            assert_eq!(
                plan(*from, target, *exact),
                want.to_vec(),
                "{from:?} → {target} ({exact:?})"
            );
        }
    }

    #[test]
    fn a_hop_is_reached_by_its_patch_or_a_later_one() {
        let hop = KubeHop {
            minor: m("1.32"),
            version: Some(v("v1.32.11")),
        };
        assert!(!hop.reached_by(v("v1.32.7")));
        assert!(hop.reached_by(v("v1.32.11")));
        assert!(hop.reached_by(v("v1.33.0")));
        let any = KubeHop {
            minor: m("1.35"),
            version: None,
        };
        assert!(!any.reached_by(v("v1.34.9")));
        assert!(any.reached_by(v("v1.35.0")));
    }
}
