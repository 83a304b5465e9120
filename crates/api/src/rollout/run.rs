//! UpgradeRun: one release rolled over a fleet by a strategy. Its status is the checkpoint: the plan
//! frozen when the run started, and each cluster's state in it, so a new leader continues exactly where
//! the last one stopped.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::strategy::{GateType, UpgradeStrategySpec};

/// The most clusters one run moves. Its status holds a line per cluster, and the object must stay well
/// under etcd's request limit; a larger fleet is split into several runs by label.
pub const MAX_CLUSTERS: usize = 1000;
/// The most characters of a cluster entry's message.
pub const MAX_CLUSTER_MESSAGE_CHARS: usize = 256;
/// The most names in `spec.skip` and `spec.approvals`.
pub const MAX_NAMES: usize = 256;

/// A release rolled over a fleet.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cvo.alauda.io",
    version = "v1alpha1",
    kind = "UpgradeRun",
    plural = "upgraderuns",
    shortname = "urun",
    category = "clusterversion",
    namespaced,
    status = "UpgradeRunStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "UpgradeRun rolls one release over a fleet of workload clusters by a strategy. Its status holds the plan frozen at start and every cluster's state in it.",
    printcolumn(name = "Target", type_ = "string", json_path = ".spec.targetVersion"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Stage", type_ = "string", json_path = ".status.currentStage"),
    printcolumn(name = "Succeeded", type_ = "integer", json_path = ".status.counts.succeeded"),
    printcolumn(name = "Total", type_ = "integer", json_path = ".status.counts.total"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("has(self.spec.strategyRef) != has(self.spec.strategy)").message("exactly one of spec.strategyRef and spec.strategy must be set"),
    validation = Rule::new("!has(oldSelf.spec) || self.spec.targetVersion == oldSelf.spec.targetVersion").message("spec.targetVersion is immutable: create another UpgradeRun for another release")
)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRunSpec {
    /// The platform version every cluster of the run goes to, e.g. `4.3.1`.
    #[schemars(length(min = 1, max = 64))]
    pub target_version: String,

    /// Name of an UpgradeStrategy in this namespace. Read once, when the run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub strategy_ref: Option<String>,

    /// A strategy written into the run itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpgradeStrategySpec>,

    /// True: start no further cluster (clusters already upgrading finish).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,

    /// Clusters not to start. A cluster already started is not interrupted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_NAMES))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub skip: Vec<String>,

    /// Approval gates a person opened, by gate name (`<stage>-before`, `<stage>-after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_NAMES))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub approvals: Vec<String>,
}

/// Where a run stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRunStatus {
    /// Pending, Running, Paused, Halted, Succeeded or Invalid, in one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RunPhase>,

    /// Generation of the spec this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the plan was frozen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When the last cluster finished (Succeeded) or the run halted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,

    /// The plan, computed and frozen when the run started: later changes to the strategy or to
    /// cluster labels do not change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,

    /// Every cluster of the plan and its state, in plan order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_CLUSTERS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub clusters: Vec<ClusterEntry>,

    /// The stage being worked on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_stage: Option<String>,

    /// Gates the run waits for now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub pending_gates: Vec<PendingGate>,

    /// Clusters by state.
    #[serde(default)]
    pub counts: Counts,

    /// When the run is expected to finish, from each cluster's last upgrade duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Time>,

    /// Progressing, Halted, Succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// A run's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RunPhase {
    /// Not started: the strategy or the fleet could not be read yet.
    Pending,
    /// Starting clusters as the plan says.
    Running,
    /// `spec.paused`: no new starts.
    Paused,
    /// Too many failures (or a canary failed): no new starts.
    Halted,
    /// Every cluster succeeded or was skipped.
    Succeeded,
    /// The run cannot start as written (an unknown strategy, a bad field): fix the spec.
    Invalid,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Pending => "Pending",
            RunPhase::Running => "Running",
            RunPhase::Paused => "Paused",
            RunPhase::Halted => "Halted",
            RunPhase::Succeeded => "Succeeded",
            RunPhase::Invalid => "Invalid",
        }
    }
}

/// The frozen plan: the strategy as it was, and its stages → groups → batches → clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The strategy the plan was computed from, copied at start.
    pub strategy: UpgradeStrategySpec,

    /// Stages in order.
    #[schemars(length(max = super::strategy::MAX_STAGES))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub stages: Vec<PlannedStage>,
}

/// A stage of the frozen plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStage {
    pub name: String,

    /// Groups, run in parallel.
    #[schemars(length(max = 21))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub groups: Vec<PlannedGroup>,

    /// When the stage's before-gates opened and its first cluster could start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When its last cluster finished (the soak counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// When the soak and the after-gates were done and the next stage could start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// A group of the frozen plan: its batches, run one after another.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedGroup {
    pub name: String,

    /// The resolved most clusters at once (after the canaries).
    pub max_concurrency: u32,

    /// Batches in order; canary batches (one cluster each) first.
    #[schemars(length(max = MAX_CLUSTERS))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub batches: Vec<Batch>,
}

/// Clusters started together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// Names of the clusters, sorted.
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub clusters: Vec<String>,

    /// A canary batch: its failure halts the run whatever the threshold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canary: bool,
}

/// One cluster of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEntry {
    pub name: String,

    pub state: ClusterState,

    /// Version the cluster ran when the plan was frozen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,

    /// Blocked: the failing check; Failed: the reason; WaitingForGate: the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// What holds the cluster, what failed, or how far it got, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_CLUSTER_MESSAGE_CHARS))]
    pub message: Option<String>,

    /// Upgrading: percent done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u32>,

    /// WaitingForWindow: when the cluster's maintenance window opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_opens_at: Option<Time>,

    /// When the run set the cluster's desiredUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When it succeeded, failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// Upgrading: when it is expected to finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Time>,
}

/// A cluster's state in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ClusterState {
    /// Its turn has not come.
    #[default]
    Pending,
    /// Its stage waits for a gate.
    WaitingForGate,
    /// Its turn came, and its maintenance window is closed.
    WaitingForWindow,
    /// Requested, and its preflight checks fail (or its cluster is paused): waiting for them to pass.
    Blocked,
    /// Requested and upgrading (or waiting for preflight or an upgrade slot).
    Upgrading,
    Succeeded,
    /// Its upgrade stalled, timed out, or its preflight failed under `preflightFailure: Fail`.
    Failed,
    /// Skipped by a person, by `preflightFailure: Skip`, or deleted.
    Skipped,
}

impl ClusterState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Pending => "Pending",
            ClusterState::WaitingForGate => "WaitingForGate",
            ClusterState::WaitingForWindow => "WaitingForWindow",
            ClusterState::Blocked => "Blocked",
            ClusterState::Upgrading => "Upgrading",
            ClusterState::Succeeded => "Succeeded",
            ClusterState::Failed => "Failed",
            ClusterState::Skipped => "Skipped",
        }
    }

    /// Succeeded, Failed or Skipped: the run is done with the cluster.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ClusterState::Succeeded | ClusterState::Failed | ClusterState::Skipped
        )
    }
}

impl ClusterEntry {
    /// The run set (or adopted) the cluster's request: a Blocked cluster may also be one whose turn
    /// came but that could not be started (another request on it).
    pub fn is_started(&self) -> bool {
        self.started_at.is_some()
    }
}

/// A gate the run waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingGate {
    /// `<stage>-before` or `<stage>-after`: what `ac adm upgrade rollout approve` takes.
    pub name: String,
    #[serde(rename = "type")]
    pub type_: GateType,
    /// ScheduledStart: when it opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
}

/// Clusters of the run by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub total: u32,
    pub pending: u32,
    pub waiting: u32,
    pub blocked: u32,
    pub upgrading: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
}
