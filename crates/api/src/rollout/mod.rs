//! Fleet rollouts (`cvo.alauda.io/v1alpha1`): UpgradeStrategy (how a fleet moves) and UpgradeRun (one
//! release rolled over it), and the pure decisions the rollout controller and `ac adm upgrade rollout`
//! share:
//!
//! - [`resolve`] checks a strategy and names the field it refuses;
//! - [`plan::freeze`] computes the plan a run freezes at start (stages → groups → batches → clusters);
//! - [`decide::step`] reads each cluster back from its facts ([`facts::ClusterFact`], through the shared
//!   cvsh reading), decides which clusters start now, and projects the run's status.
//!
//! A run only ever sets a cluster's `spec.desiredUpdate` when its turn comes; everything the
//! cluster-version controller does (global-tier gate, preflight, stages, history,
//! `--max-concurrent-upgrades`) still applies.

pub mod decide;
pub mod edit;
pub mod facts;
pub mod plan;
pub mod resolve;
pub mod run;
pub mod strategy;

pub use run::{ClusterEntry, ClusterState, RunPhase, UpgradeRun, UpgradeRunSpec, UpgradeRunStatus};
pub use strategy::{UpgradeStrategy, UpgradeStrategySpec};

#[cfg(test)]
mod tests;
