//! Pure ACP version rules: versions, the release catalogue, upgrade gates.
//!
//! Nothing here performs I/O or knows Kubernetes objects. Every rule returns a [`Verdict`] whose
//! reason and message a person can act on; the operator maps verdicts onto preflight checks and the
//! CLI prints them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod available_updates;
pub mod catalogue;
pub mod cluster;
pub mod fleet_plan;
pub mod global_gate;
pub mod global_tier;
pub mod history;
pub mod import_gate;
pub mod kubernetes;
pub mod release;
pub mod risks;
pub mod upgrade_path;
pub mod verdict;
pub mod version;
pub mod workload_gate;

pub use available_updates::{MAX_AVAILABLE_UPDATES, available_updates};
pub use catalogue::{BUILTIN_RELEASES_YAML, Catalogue, CatalogueError};
pub use cluster::{GlobalTier, Provisioning, WorkloadCluster};
pub use fleet_plan::{Step, StepState, TierMember, TierPlan, hold_for_risks, tier_plan, workload_step};
pub use global_gate::global_gate;
pub use global_tier::{GlobalMember, primary_gate, standby_gate};
pub use history::{HistoryEntry, HistoryRecord, HistoryState, MAX_HISTORY, prune_history};
pub use import_gate::import_gate;
pub use kubernetes::{
    KubeHop, Kubelet, MAX_KUBELET_SKEW, kubelet_skew, kubernetes_hop_plan, kubernetes_hops,
};
pub use release::{
    AdminGate, GlobalUpgradeRule, KubernetesSupport, Lifecycle, Module, ProductRelease, RELEASE_KIND,
};
pub use risks::{Exposure, MatchingRule, Risk, RuleFact};
pub use upgrade_path::upgrade_path;
pub use verdict::{Decision, Finding, MAX_NAMED, Reason, Severity, Verdict, name_list};
pub use version::{AcpMinor, AcpVersion, KubeMinor, KubeVersion, VersionError};
pub use workload_gate::{global_tier_reached, workload_gate, workload_kubernetes};
