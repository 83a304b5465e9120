//! UpgradeStrategy: how a fleet moves, reusable across releases. Ordered stages of clusters chosen by
//! label; inside a stage, canaries first and one at a time, then the rest in batches of at most
//! `maxConcurrency`, groups in parallel; a soak and gates between stages; a failure threshold.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most stages of a strategy.
pub const MAX_STAGES: usize = 20;
/// The most groups of one stage.
pub const MAX_GROUPS: usize = 20;
/// The most gates before or after one stage.
pub const MAX_GATES: usize = 4;
/// The most characters of a stage or group name (it appears in gate names and Events).
pub const MAX_NAME_CHARS: usize = 63;

/// How a fleet of workload clusters moves to a release.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cvo.alauda.io",
    version = "v1alpha1",
    kind = "UpgradeStrategy",
    plural = "upgradestrategies",
    shortname = "ustrat",
    category = "clusterversion",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    doc = "UpgradeStrategy says how a fleet of workload clusters moves to a release: ordered stages chosen by label, canaries, batch sizes, soak times, approval and scheduled gates, and how many failures stop the rollout.",
    printcolumn(name = "Stages", type_ = "string", json_path = ".spec.stages[*].name"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategySpec {
    /// Stages, run one after another in this order. A cluster belongs to the first stage whose selector
    /// matches it.
    #[schemars(length(min = 1, max = MAX_STAGES))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub stages: Vec<StageSpec>,

    /// When the rollout stops starting clusters, and how long one cluster may take.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
}

/// One stage of a strategy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageSpec {
    /// Name of the stage, unique in the strategy (a DNS label).
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// ClusterVersionShadows of this stage, by label. Absent: every workload cluster no earlier stage
    /// took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,

    /// Groups that run in parallel inside the stage, each with its own batches. A cluster belongs to the
    /// first group whose selector matches it; clusters of the stage no group matches form a group named
    /// `default`. Absent: one group of the whole stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_GROUPS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub groups: Vec<GroupSpec>,

    /// Most clusters of a group upgrading at once after the canaries: a count (`5`) or a percentage of
    /// the group (`"10%"`, rounded down, at least 1). Absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<IntOrString>,

    /// How many of the stage's clusters (first by name) go first, one at a time, before the rest. Any
    /// canary failure halts the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub canaries: Option<u32>,

    /// How long to wait after every cluster of the stage succeeded before the next stage (`30m`, `2h`,
    /// `1d`). Absent: no wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub soak: Option<String>,

    /// Gates that must open before the stage starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_GATES))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub before_gates: Vec<Gate>,

    /// Gates that must open after the stage (and its soak) before the next stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_GATES))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub after_gates: Vec<Gate>,
}

/// A group of clusters inside a stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    /// Name of the group, unique in the stage (a DNS label).
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// Clusters of the group, by label, among the stage's.
    pub selector: LabelSelector,

    /// The group's own `maxConcurrency`; absent: the stage's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<IntOrString>,
}

/// Something that must happen before a stage starts or after it ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.type != 'ScheduledStart' || has(self.notBefore)",
    "message": "a ScheduledStart gate needs notBefore (an RFC 3339 time)",
}]))]
pub struct Gate {
    #[serde(rename = "type")]
    pub type_: GateType,

    /// ScheduledStart: the gate opens at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
}

/// Kinds of gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GateType {
    /// Opens when a person approves it (`ac adm upgrade rollout approve RUN GATE`).
    Approval,
    /// Opens at `notBefore`.
    ScheduledStart,
}

/// When a rollout stops, and how long a cluster may take.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailurePolicy {
    /// Failed clusters the whole run tolerates: a count or a percentage of its clusters (rounded
    /// down). One more halts the run. Absent: 0, the first failure halts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<IntOrString>,

    /// Failed clusters one stage tolerates (count or percentage of the stage). Absent: no limit of the
    /// stage's own; only `maxFailures` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures_per_stage: Option<IntOrString>,

    /// How long one cluster may take from its start to success before it counts as failed (`4h`). The
    /// cluster's upgrade itself goes on: nothing is interrupted. Absent: 4h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub timeout: Option<String>,

    /// What to do with a cluster whose preflight checks fail. Absent: Wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight_failure: Option<PreflightFailureAction>,
}

/// What a rollout does with a cluster whose preflight checks fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PreflightFailureAction {
    /// Keep the request and wait until the checks pass (the cluster holds its place in the batch).
    #[default]
    Wait,
    /// Withdraw the request and go on without the cluster.
    Skip,
    /// Withdraw the request and count the cluster as failed.
    Fail,
}
