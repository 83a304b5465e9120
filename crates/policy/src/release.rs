//! The release description (`kind: ProductRelease`): what one ACP release supports and ships.
//!
//! The same type carries the Kubernetes support data the rules need and the modules an upgrade
//! applies, so the built-in catalogue, a ProductManifest's bundle and the operator's resolved
//! release are one shape. Manifests stay generic JSON values: this crate knows no Kubernetes types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::risks::Risk;
use crate::version::{AcpVersion, KubeMinor, KubeVersion};

/// The `kind` every release description carries.
pub const RELEASE_KIND: &str = "ProductRelease";

/// One ACP release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRelease {
    /// Always `ProductRelease`; checked when a description is loaded.
    #[serde(default = "release_kind")]
    pub kind: String,
    pub version: AcpVersion,
    pub kubernetes: KubernetesSupport,
    /// Versions this release can be upgraded from directly, as semver ranges
    /// (`">=4.0.0, <4.3.1"`). Empty: only reachable by a fresh installation.
    #[serde(default)]
    pub upgrade_from: Vec<semver::VersionReq>,
    /// Gates an administrator must acknowledge before upgrading to this release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_gates: Vec<AdminGate>,
    /// Date the release stops being supported (`YYYY-MM-DD`), when published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_support: Option<String>,
    /// Known risks of upgrading to this release, each evaluated on every cluster it is offered to
    /// (see [`crate::risks`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    /// What an upgrade to this release applies. Empty in the support-only catalogue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<Module>,
}

fn release_kind() -> String {
    RELEASE_KIND.to_owned()
}

impl ProductRelease {
    /// A support-only release (no gates, no modules).
    pub fn new(
        version: AcpVersion,
        kubernetes: KubernetesSupport,
        upgrade_from: Vec<semver::VersionReq>,
    ) -> Self {
        ProductRelease {
            kind: release_kind(),
            version,
            kubernetes,
            upgrade_from,
            admin_gates: Vec::new(),
            end_of_support: None,
            risks: Vec::new(),
            modules: Vec::new(),
        }
    }

    /// The rule that applies when the global tier moves to this release: the one the release
    /// states, else the one its version implies (REFERENCE §2: ≥ 4.3 within range, ≤ 4.2 latest).
    pub fn global_upgrade_rule(&self) -> GlobalUpgradeRule {
        self.kubernetes
            .global_upgrade_rule
            .unwrap_or(if self.version >= AcpVersion::new(4, 3, 0) {
                GlobalUpgradeRule::WithinCompatibleRange
            } else {
                GlobalUpgradeRule::LatestCompatibleRequired
            })
    }

    /// Whether this release lists `from` as a direct upgrade source.
    pub fn accepts_upgrade_from(&self, from: &AcpVersion) -> bool {
        self.upgrade_from
            .iter()
            .any(|range| range.matches(from.as_semver()))
    }

    /// The upgrade sources as one readable list (`>=4.0.0, <4.3.1`; `3.18.x or 4.0.x`).
    pub fn upgrade_from_text(&self) -> String {
        if self.upgrade_from.is_empty() {
            return "none (installation only)".to_owned();
        }
        self.upgrade_from
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// The Kubernetes side of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesSupport {
    /// The Kubernetes patch this release installs, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<KubeVersion>,
    /// Minors new clusters are created on.
    #[serde(default)]
    pub creation: Vec<KubeMinor>,
    /// Minors workload clusters may run when the global tier moves to this release.
    pub compatible: Vec<KubeMinor>,
    /// Kubernetes versions a third-party (imported) cluster may run, e.g. `>=1.19.0, <1.35.0`.
    /// Absent: the release publishes none, and third-party clusters must run a compatible minor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_range: Option<semver::VersionReq>,
    /// Absent: implied by the version (see [`ProductRelease::global_upgrade_rule`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_upgrade_rule: Option<GlobalUpgradeRule>,
}

impl KubernetesSupport {
    pub fn is_compatible(&self, minor: KubeMinor) -> bool {
        self.compatible.contains(&minor)
    }

    pub fn oldest_compatible(&self) -> Option<KubeMinor> {
        self.compatible.iter().min().copied()
    }

    pub fn newest_compatible(&self) -> Option<KubeMinor> {
        self.compatible.iter().max().copied()
    }

    /// The minor a platform-managed cluster ends on after upgrading to this release: the newest
    /// creation minor (or compatible minor when no creation minor is listed).
    pub fn target_minor(&self) -> Option<KubeMinor> {
        self.creation
            .iter()
            .max()
            .copied()
            .or_else(|| self.newest_compatible())
    }

    /// The compatible minors for a message: `1.31–1.34` when contiguous, else `1.28, 1.30`.
    pub fn compatible_text(&self) -> String {
        minors_text(&self.compatible)
    }
}

/// A list of minors as people write it: a range when contiguous, else a sorted list.
pub fn minors_text(minors: &[KubeMinor]) -> String {
    let mut sorted = minors.to_vec();
    sorted.sort();
    sorted.dedup();
    match (sorted.first(), sorted.last()) {
        (None, _) | (_, None) => "none".to_owned(),
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) if b.minors_ahead_of(*a) == Some(sorted.len() as i64 - 1) => format!("{a}–{b}"),
        _ => sorted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// How workload clusters are judged before the global tier moves to a release (REFERENCE §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GlobalUpgradeRule {
    /// Every workload cluster runs a minor in the target's compatible list (ACP ≥ 4.3).
    WithinCompatibleRange,
    /// Every workload cluster runs the newest minor both the current and the target release
    /// accept (ACP ≤ 4.2).
    LatestCompatibleRequired,
}

impl fmt::Display for GlobalUpgradeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GlobalUpgradeRule::WithinCompatibleRange => "WithinCompatibleRange",
            GlobalUpgradeRule::LatestCompatibleRequired => "LatestCompatibleRequired",
        })
    }
}

/// A gate an administrator acknowledges in ConfigMap `admin-acks` (`"<name>": "true"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminGate {
    pub name: String,
    /// What the administrator must check before acknowledging.
    #[serde(default)]
    pub message: String,
}

/// When a module is upgraded: `Core` modules first, then `Aligned` ones, in the same window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Lifecycle {
    Core,
    Aligned,
}

/// One module of a release: Kubernetes objects applied to the target cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub name: String,
    pub lifecycle: Lifecycle,
    pub version: String,
    /// Names of modules of the same release that must be ready first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Kubernetes objects, kept generic so this crate stays free of Kubernetes types. The operator
    /// labels each as acp-cvo's (module, release) and applies it over an existing object only when
    /// acp-cvo manages that object already or the manifest carries the annotation
    /// `config.alauda.io/adopt: "true"` (see docs/architecture.md, "What a release bundle may do").
    #[serde(default)]
    pub manifests: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minors(list: &[u32]) -> Vec<KubeMinor> {
        list.iter().map(|m| KubeMinor::new(1, *m)).collect()
    }

    #[test]
    fn minors_read_as_ranges_when_contiguous() {
        assert_eq!(minors_text(&minors(&[34, 33, 32, 31])), "1.31–1.34");
        assert_eq!(minors_text(&minors(&[30, 28])), "1.28, 1.30");
        assert_eq!(minors_text(&minors(&[32])), "1.32");
        assert_eq!(minors_text(&[]), "none");
    }

    #[test]
    fn rule_defaults_follow_the_version() {
        let k = KubernetesSupport {
            version: None,
            creation: vec![],
            compatible: minors(&[34]),
            third_party_range: None,
            global_upgrade_rule: None,
        };
        let r43 = ProductRelease::new(AcpVersion::new(4, 3, 0), k.clone(), vec![]);
        let r42 = ProductRelease::new(AcpVersion::new(4, 2, 5), k.clone(), vec![]);
        assert_eq!(
            r43.global_upgrade_rule(),
            GlobalUpgradeRule::WithinCompatibleRange
        );
        assert_eq!(
            r42.global_upgrade_rule(),
            GlobalUpgradeRule::LatestCompatibleRequired
        );
        let explicit = ProductRelease::new(
            AcpVersion::new(4, 4, 0),
            KubernetesSupport {
                global_upgrade_rule: Some(GlobalUpgradeRule::LatestCompatibleRequired),
                ..k
            },
            vec![],
        );
        assert_eq!(
            explicit.global_upgrade_rule(),
            GlobalUpgradeRule::LatestCompatibleRequired
        );
    }
}
