//! ClusterVersionShadow (`cvsh`): one per managed cluster, in `cpaas-system` of the global cluster.
//!
//! The spec is what an administrator asks for (ACP 4.3's `desiredUpdate`, plus how to reach the
//! cluster); the status is the operator's whole state machine, so a new leader resumes from it.

pub mod bounds;
mod preflight_summary;
pub mod request;
mod state;
mod status;
pub mod summary;
mod view;

pub use preflight_summary::{PreflightSummary, describe as describe_checks};
pub use state::{Reachability, Reading, State};
pub use status::*;
pub use view::Progress;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;

/// CEL on the whole object: only the object named `global` may say `tier: Global`, so no other cluster
/// takes the global cluster's role (its version from `--install-version`, going first).
pub const GLOBAL_TIER_RULE: &str =
    "!has(self.spec.tier) || self.spec.tier != 'Global' || self.metadata.name == 'global'";
pub const GLOBAL_TIER_MESSAGE: &str = "spec.tier Global is reserved for the ClusterVersionShadow named global; \
     leave spec.tier unset (Workload) or set Workload";

/// CEL transition rule: the tier a cluster was created with (an unset tier reads as Global for
/// `global` and Workload for any other name) never changes, so a workload cluster cannot later claim the
/// global tier's place in the upgrade order.
pub const TIER_IMMUTABLE_RULE: &str = "(has(self.spec.tier) ? self.spec.tier : (self.metadata.name == 'global' ? \
     'Global' : 'Workload')) == (has(oldSelf.spec.tier) ? oldSelf.spec.tier : (oldSelf.metadata.name == 'global' ? \
     'Global' : 'Workload'))";
pub const TIER_IMMUTABLE_MESSAGE: &str = "spec.tier is immutable: a cluster keeps the tier it was registered with; \
     delete the ClusterVersionShadow and create it again to change it";

/// Desired state of a managed cluster's platform version.
// Each printer column repeats `type_ = "string"`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "config.alauda.io",
    version = "v1",
    kind = "ClusterVersionShadow",
    plural = "clusterversionshadows",
    shortname = "cvsh",
    category = "clusterversion",
    namespaced,
    status = "ClusterVersionShadowStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "ClusterVersionShadow tells which platform version a managed cluster runs, which updates it can take, and how an upgrade it was asked for is going.",
    printcolumn(name = "Current", type_ = "string", json_path = ".status.current.version"),
    printcolumn(name = "Desired", type_ = "string", json_path = ".status.desired.version"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new(GLOBAL_TIER_RULE).message(GLOBAL_TIER_MESSAGE),
    validation = Rule::new(TIER_IMMUTABLE_RULE).message(TIER_IMMUTABLE_MESSAGE)
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionShadowSpec {
    /// The version to upgrade to. Setting it starts an upgrade when it differs from the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_update: Option<DesiredUpdate>,

    /// Secret in this object's namespace holding a kubeconfig for the cluster. Absent: the cluster the
    /// operator runs in (the global cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret_ref: Option<KubeconfigSecretRef>,

    /// Role of the cluster. Absent: Global for the object named `global`, Workload for any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,

    /// Who provisioned the cluster. Absent: PlatformManaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,

    /// How the Kubernetes stage of an upgrade moves the cluster's Kubernetes version. Absent: External
    /// for platform-managed clusters, None for third-party ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_driver: Option<KubernetesDriver>,

    /// True: finish the running operation, start nothing new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,

    /// Where the ClusterAPI driver finds the cluster's Cluster API objects in the global cluster.
    /// Required with kubernetesDriver ClusterAPI; ignored by the other drivers.
    #[serde(default, rename = "clusterAPI", skip_serializing_if = "Option::is_none")]
    pub cluster_api: Option<ClusterApiSpec>,
}

/// The Cluster API side of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterApiSpec {
    /// The `cluster.x-k8s.io` Cluster object of this cluster, in the global cluster.
    pub cluster_ref: ClusterApiClusterRef,
}

/// A Cluster API Cluster by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterApiClusterRef {
    /// Namespace of the Cluster object.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the Cluster object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

impl std::fmt::Display for ClusterApiClusterRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The update an administrator asked for: exactly one of version and image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.version) != has(self.image)",
    "message": "exactly one of desiredUpdate.version and desiredUpdate.image must be set",
}]))]
pub struct DesiredUpdate {
    /// Platform version to upgrade to, e.g. `4.3.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Release image to upgrade to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Go past failed preflight checks (except VersionUpgradePath). Every check passed this way is
    /// recorded in the history entry's acceptedRisks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,

    /// Start even while the cluster's maintenance window (label cvo.alauda.io/maintenance-window) is
    /// closed. Recorded in the history entry's acceptedRisks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_maintenance_window: bool,
    /// Known risks of the target (see `status.conditionalUpdates`) the administrator accepts, by name.
    /// An upgrade to a release with an applying or Unknown risk not listed here is held by the
    /// ConditionalUpdateRisksAccepted check; accepted ones are recorded in the history entry's
    /// acceptedRisks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "maxLength": 63}))]
    pub accept_risks: Vec<String>,
}

impl DesiredUpdate {
    /// A request for a version.
    pub fn version(version: impl Into<String>) -> Self {
        Self {
            version: Some(version.into()),
            ..Self::default()
        }
    }
}

/// Reference to a kubeconfig in a Secret of the cvsh's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigSecretRef {
    /// Name of the Secret.
    pub name: String,

    /// Key of the kubeconfig in the Secret.
    #[serde(default = "default_kubeconfig_key")]
    pub key: String,
}

fn default_kubeconfig_key() -> String {
    names::DEFAULT_KUBECONFIG_SECRET_KEY.to_owned()
}

impl KubeconfigSecretRef {
    /// Reference to `key` `value` of the named Secret.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            key: default_kubeconfig_key(),
        }
    }
}

/// Role of a cluster in the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Tier {
    /// The primary global cluster: upgraded first.
    Global,
    /// The disaster-recovery standby of the global cluster: upgraded before the primary.
    GlobalStandby,
    /// A workload cluster: upgraded only to versions the global tier has reached.
    Workload,
}

impl Tier {
    /// True for Global and GlobalStandby.
    pub fn is_global(self) -> bool {
        matches!(self, Self::Global | Self::GlobalStandby)
    }
}

/// Who provisioned a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Provisioning {
    /// Created and upgraded by the platform.
    PlatformManaged,
    /// Imported: the platform never changes its Kubernetes version.
    ThirdParty,
}

/// How the Kubernetes stage moves a cluster's Kubernetes version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum KubernetesDriver {
    /// Someone else upgrades Kubernetes; the stage waits until the cluster reports each hop.
    External,
    /// Drive the Cluster API objects named by `spec.clusterAPI.clusterRef`, one hop at a time:
    /// `Cluster.spec.topology.version` for a topology-managed Cluster, else the KubeadmControlPlane's
    /// `spec.version` and then each MachineDeployment's `spec.template.spec.version`.
    ClusterAPI,
    /// Never touch Kubernetes (third-party clusters).
    None,
}

#[cfg(test)]
mod tests;
