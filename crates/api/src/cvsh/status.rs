//! Status of a ClusterVersionShadow: the operator's persisted state machine.
//!
//! What a restarted leader needs to resume lives here: `desired` (the target the running upgrade
//! executes, which may differ from a newer `spec.desiredUpdate`), `stages` with each operation's phase,
//! the `Partial` history entry with its accepted risks, and `preflight` frozen for `targetVersion`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounds::{
    MAX_CHECKS, MAX_CONDITIONS, MAX_HISTORY, MAX_INSIGHT_TEXT_CHARS, MAX_INSIGHTS, MAX_MESSAGE_CHARS,
    MAX_NODE_VERSIONS, MAX_OPERATION_MESSAGE_CHARS, MAX_OPERATIONS, MAX_SHORT_CHARS, MAX_STAGES,
};

/// The most entries `status.availableUpdates` holds.
pub const MAX_AVAILABLE_UPDATES: usize = 16;

/// Observed state of a managed cluster's platform version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionShadowStatus {
    /// The version the cluster runs: the last completed upgrade, or the version it was registered at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Release>,

    /// The version being worked towards. Once execution starts it stays until that upgrade ends, even
    /// when spec.desiredUpdate changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Release>,

    /// Generation of the spec the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Versions the cluster can upgrade to now, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("maxItems" = 16, "x-kubernetes-list-type" = "atomic"))]
    pub available_updates: Vec<Release>,

    /// Ready, Reconciling, Degraded, PreflightReady, Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_CONDITIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Upgrades started on this cluster, newest first, bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_HISTORY))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub history: Vec<HistoryEntry>,

    /// Safety checks for the requested (or the newest available) update. Absent: no result yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<Preflight>,

    /// Stages of the running or last upgrade, run one after another by ascending priority.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_STAGES))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub stages: Vec<Stage>,

    /// What the operator last saw of the real cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,

    /// Available updates whose release declares known risks, newest first, each with this cluster's
    /// exposure to every risk. An update exposed to a risk (Applies or Unknown) is not recommended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = crate::risks::MAX_CONDITIONAL_UPDATES))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub conditional_updates: Vec<crate::risks::ConditionalUpdate>,
}

/// A platform release, by version and/or image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// Platform version, e.g. `4.3.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Release image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Release {
    /// A release known by its version only.
    pub fn version(version: impl Into<String>) -> Self {
        Self {
            version: Some(version.into()),
            image: None,
        }
    }
}

/// One upgrade in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Platform version upgraded to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Release image upgraded to; empty when the release was resolved by version alone.
    pub image: String,

    /// Completed when every stage finished, Partial while running or when it was left unfinished.
    pub state: HistoryState,

    /// When the upgrade started.
    pub started_time: Time,

    /// When the upgrade completed; absent while Partial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Failed checks that `force` went past, e.g. `PlatformLicense: licence expires before 4.3 support ends`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_MESSAGE_CHARS))]
    pub accepted_risks: Option<String>,

    /// Digest of the release bundle the upgrade applies (`sha256:…` of the ProductManifest's resolved
    /// image, or `builtin` for the built-in catalogue). A resumed upgrade applies this release or nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub release_digest: Option<String>,

    /// Identity of the cluster the upgrade runs on: the UID of its `kube-system` namespace. A cluster
    /// answering with another identity is never touched by this upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub cluster_identity: Option<String>,
}

/// State of a history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HistoryState {
    Completed,
    Partial,
}

/// Preflight results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preflight {
    /// When the checks were last evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,

    /// The target version the checks were evaluated for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,

    /// One entry per check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_CHECKS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub checks: Vec<PreflightCheck>,
}

/// Result of one preflight check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightCheck {
    /// Check name, e.g. `VersionUpgradePath`.
    pub name: String,

    /// When the check is evaluated again: Always (every reconcile until execution starts) or Once
    /// (once per target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<CheckPolicy>,

    /// Passed; Retry (no final answer yet); Failed (blocks the upgrade).
    pub state: CheckState,

    /// CamelCase reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// What was found, naming the cluster or object, and what to do next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// Re-entry policy of a preflight check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CheckPolicy {
    Always,
    Once,
}

/// State of a preflight check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CheckState {
    Passed,
    Retry,
    Failed,
}

/// A stage of an upgrade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// Stage name, e.g. `Core`.
    pub name: String,

    /// Stages run by ascending priority.
    pub priority: i32,

    /// Pending, Running or Finished.
    pub phase: StagePhase,

    /// Operations of the stage; dependsOn orders them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_OPERATIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub operations: Vec<Operation>,
}

/// Phase of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum StagePhase {
    Pending,
    Running,
    Finished,
}

/// One operation of a stage: a module installed, upgraded or deleted, or a Kubernetes hop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Operation name, unique in its stage.
    pub name: String,

    /// Install, Upgrade or Delete.
    pub action: OperationAction,

    /// Version before the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,

    /// Version after the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,

    /// Operations of the same stage that must succeed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub depends_on: Vec<String>,

    /// Module backing the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_info: Option<String>,

    /// Phase, e.g. Pending, Running, Succeeded, Failed, Skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<OperationPhase>,

    /// What the operation is waiting for or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_OPERATION_MESSAGE_CHARS))]
    pub message: Option<String>,

    /// When the phase last changed; a resumed operator measures retry deadlines from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,

    /// `sha256:` digest of the module's manifests in the target release. A module whose version and
    /// digest are the same in the current release, and whose objects the cluster has, is Skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub manifest_digest: Option<String>,

    /// Why an operation has waited longer than the operator's threshold (or failed): the objects it
    /// waits on and what is wrong with them. Empty while the wait is short or nothing is found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_INSIGHTS))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub insights: Vec<Insight>,

    /// When the cluster was last looked at for `insights`; they are refreshed at most every half
    /// minute, and say what was true then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insights_time: Option<Time>,
}

/// One culprit of a long wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    /// What the culprit is part of: Workload (the module's pods), Node, Disruption (a
    /// PodDisruptionBudget) or Machines (Cluster API machines).
    pub scope: InsightScope,

    /// The object, e.g. `Pod cpaas-system/platform-api-7c9d5-x2lq`.
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub object: String,

    /// CamelCase reason: Unschedulable, ImagePullFailed, CrashLoopBackOff, NodeNotReady,
    /// EvictionBlocked or MachinesNotUpdating.
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub reason: String,

    /// What is wrong, in the cluster's own words where it has them (the scheduler's message, the
    /// image, the container's last exit code).
    #[schemars(length(max = MAX_INSIGHT_TEXT_CHARS))]
    pub message: String,

    /// What to do next.
    #[schemars(length(max = MAX_INSIGHT_TEXT_CHARS))]
    pub action: String,
}

/// What a culprit is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum InsightScope {
    Workload,
    Node,
    Disruption,
    Machines,
}

impl InsightScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workload => "Workload",
            Self::Node => "Node",
            Self::Disruption => "Disruption",
            Self::Machines => "Machines",
        }
    }
}

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum OperationAction {
    Install,
    Upgrade,
    Delete,
}

/// Phase of an operation. Free text on the wire (ACP writes phases such as `UpgradePending`); the
/// operator writes the five named ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OperationPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    /// Any other phase, kept as written.
    Other(String),
}

impl Operation {
    /// An operation `name` doing `action`, Pending, with nothing else known yet.
    pub fn pending(name: impl Into<String>, action: OperationAction) -> Self {
        Self {
            name: name.into(),
            action,
            current_version: None,
            target_version: None,
            depends_on: Vec::new(),
            module_info: None,
            phase: Some(OperationPhase::Pending),
            message: None,
            last_transition_time: None,
            manifest_digest: None,
            insights: Vec::new(),
            insights_time: None,
        }
    }
}

impl OperationPhase {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Skipped => "Skipped",
            Self::Other(s) => s,
        }
    }

    /// Reads the wire form.
    pub fn parse(s: &str) -> Self {
        match s {
            "Pending" => Self::Pending,
            "Running" => Self::Running,
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            "Skipped" => Self::Skipped,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Succeeded or Skipped: nothing left to do.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Skipped)
    }
}

impl std::fmt::Display for OperationPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OperationPhase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OperationPhase {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::parse(&s))
    }
}

impl JsonSchema for OperationPhase {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OperationPhase".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// What the operator last saw of the real cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    /// `gitVersion` of the cluster's API server, e.g. `v1.33.7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub kubernetes_version: Option<String>,

    /// Node summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeSummary>,

    /// Whether the last attempt to reach the cluster succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,

    /// When the cluster was last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,

    /// Why the cluster could not be observed, or anything else worth knowing about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_MESSAGE_CHARS))]
    pub message: Option<String>,

    /// The cluster's identity: the UID of its `kube-system` namespace. Two ClusterVersionShadows with one
    /// identity reach the same cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_CHARS))]
    pub cluster_identity: Option<String>,
}

/// Nodes of a cluster, summarised.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Number of nodes.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub total: i32,

    /// Number of nodes whose Ready condition is True.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub ready: i32,

    /// Distinct kubelet versions, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_NODE_VERSIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub kubelet_versions: Vec<String>,

    /// Distinct container runtime versions, e.g. `containerd://1.7.27`, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_NODE_VERSIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub runtimes: Vec<String>,
}
