//! The rollout controller: runs UpgradeRuns. It freezes a run's plan when the run starts, then at each
//! step reads every cluster of the plan from the ClusterVersionShadow cache the cluster-version
//! controller keeps, lets the pure [`acp_api::rollout::decide::step`] decide, sets the cvsh
//! `spec.desiredUpdate` of the clusters whose turn has come, and writes the run's status. It writes
//! nothing else: each cluster's upgrade is the cluster-version controller's work, with every rule that
//! applies to it.

pub mod controller;
pub mod requests;
