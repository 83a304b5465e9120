//! ProductManifest (`pdman`): a platform release made available to the clusters. Cluster-scoped; its
//! spec names the release by version or image and never changes after creation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions;

/// The release a ProductManifest makes available.
// Each printer column repeats `type_ = "string"`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "config.alauda.io",
    version = "v1",
    kind = "ProductManifest",
    plural = "productmanifests",
    shortname = "pdman",
    status = "ProductManifestStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "ProductManifest makes a platform release available: once it is Ready, clusters that can reach its version list it in availableUpdates.",
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
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.version) != has(self.image)",
        "message": "exactly one of spec.version and spec.image must be set",
    },
    {
        "rule": "has(self.version) == has(oldSelf.version) && has(self.image) == has(oldSelf.image)",
        "message": "spec.version and spec.image are immutable: neither can be added or removed after creation; create a new ProductManifest instead",
    },
]))]
pub struct ProductManifestSpec {
    /// Platform version of the release, the tag of its payload, e.g. `4.3.1`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "spec.version is immutable once set; create a new ProductManifest for another version",
    }]))]
    pub version: Option<String>,

    /// Release image (OCI artifact) of the release. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "spec.image is immutable once set; create a new ProductManifest for another image",
    }]))]
    pub image: Option<String>,
}

/// What the operator resolved for a ProductManifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductManifestStatus {
    /// Ready: the release is resolved and can be offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Generation of the spec the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Digest of the release image the spec resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_image_digest: Option<String>,

    /// Artifacts of the release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub artifacts: Vec<Artifact>,

    /// The resolved release: version, Kubernetes support, upgrade sources, modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ResolvedRelease>,
}

/// An artifact of a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Artifact name.
    pub name: String,

    /// ModulePlugin or OperatorBundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_type: Option<PackageType>,

    /// Channels the artifact is published on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["channel"]))]
    pub channels: Vec<ArtifactChannel>,
}

/// Kind of package an artifact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PackageType {
    ModulePlugin,
    OperatorBundle,
}

/// Where an artifact is published for one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactChannel {
    /// Channel name.
    pub channel: String,

    /// Repository of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,

    /// Tag of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,

    /// Ready, Absent or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_status: Option<ArtifactStatus>,

    /// Digest of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,

    /// True for the channel used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// Whether an artifact could be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ArtifactStatus {
    Ready,
    Absent,
    Failed,
}

/// A resolved release, as the status shows it (the modules' manifests stay in the bundle).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRelease {
    /// Platform version, e.g. `4.3.1`.
    pub version: String,

    /// Kubernetes support of the release.
    #[serde(default)]
    pub kubernetes: ReleaseKubernetes,

    /// Versions that may upgrade to this release, as semver ranges, e.g. `>=4.0.0, <4.3.1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub upgrade_from: Vec<String>,

    /// Gates an administrator must acknowledge in ConfigMap `admin-acks` before upgrading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub admin_gates: Vec<AdminGate>,

    /// Date the release stops being supported (`YYYY-MM-DD`), when published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_support: Option<String>,

    /// Modules of the release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub modules: Vec<ModuleSummary>,

    /// Known risks of upgrading to the release, evaluated on every cluster it is offered to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub risks: Vec<crate::risks::ReleaseRisk>,
}

/// Kubernetes support of a release.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseKubernetes {
    /// Kubernetes version the release installs, e.g. `v1.34.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Kubernetes minors new clusters are created on, e.g. `1.34`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub creation: Vec<String>,

    /// Kubernetes minors workload clusters may run when the global tier moves to this release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub compatible: Vec<String>,

    /// Kubernetes versions a third-party cluster may run to be managed, e.g. `>=1.19.0, <1.35.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_range: Option<String>,

    /// How workload clusters must stand before the global tier moves to this release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_upgrade_rule: Option<GlobalUpgradeRule>,
}

/// The rule workload clusters must satisfy before the global tier upgrades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GlobalUpgradeRule {
    /// Every workload cluster runs a minor in the compatible list (ACP 4.3 and later).
    WithinCompatibleRange,
    /// Every workload cluster runs the latest minor both releases accept (ACP 4.2 and earlier).
    LatestCompatibleRequired,
}

/// A gate of a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminGate {
    /// Gate name, the key to ack in ConfigMap `admin-acks`.
    pub name: String,

    /// What the administrator must check before acknowledging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A module of a release, without its manifests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleSummary {
    /// Module name.
    pub name: String,

    /// Core or Aligned.
    pub lifecycle: ModuleLifecycle,

    /// Module version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Modules that must be rolled out first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub depends_on: Vec<String>,
}

/// When a module is upgraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModuleLifecycle {
    /// Required, upgraded by the version operator.
    Core,
    /// Plugins upgraded in the same window, after Core.
    Aligned,
}

impl ProductManifest {
    /// `spec.version`.
    pub fn version(&self) -> Option<&str> {
        self.spec.version.as_deref()
    }

    /// The status conditions (empty before the first status write).
    pub fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    /// True when the Ready condition is True: the release can be offered.
    pub fn is_ready(&self) -> bool {
        conditions::is_true(self.conditions(), conditions::types::READY)
    }

    /// The resolved release, once the operator has resolved it.
    pub fn release(&self) -> Option<&ResolvedRelease> {
        self.status.as_ref()?.release.as_ref()
    }

    /// Name `ac adm release import-manifest --version` gives the ProductManifest of a version: `v<V>`.
    pub fn name_for_version(version: &str) -> String {
        format!("v{}", version.trim_start_matches('v'))
    }
}

impl From<&acp_policy::ProductRelease> for ResolvedRelease {
    /// The status view of a release description: everything but the modules' manifests, with the
    /// global-upgrade rule the release implies when it states none.
    fn from(release: &acp_policy::ProductRelease) -> Self {
        let texts = |items: &[acp_policy::KubeMinor]| items.iter().map(ToString::to_string).collect();
        ResolvedRelease {
            version: release.version.to_string(),
            kubernetes: ReleaseKubernetes {
                version: release.kubernetes.version.map(|v| v.to_string()),
                creation: texts(&release.kubernetes.creation),
                compatible: texts(&release.kubernetes.compatible),
                third_party_range: release
                    .kubernetes
                    .third_party_range
                    .as_ref()
                    .map(ToString::to_string),
                global_upgrade_rule: Some(release.global_upgrade_rule().into()),
            },
            upgrade_from: release.upgrade_from.iter().map(ToString::to_string).collect(),
            admin_gates: release
                .admin_gates
                .iter()
                .map(|g| AdminGate {
                    name: g.name.clone(),
                    message: Some(g.message.clone()).filter(|m| !m.is_empty()),
                })
                .collect(),
            end_of_support: release.end_of_support.clone(),
            modules: release
                .modules
                .iter()
                .map(|m| ModuleSummary {
                    name: m.name.clone(),
                    lifecycle: m.lifecycle.into(),
                    version: Some(m.version.clone()),
                    depends_on: m.depends_on.clone(),
                })
                .collect(),
            risks: release
                .risks
                .iter()
                .map(crate::risks::ReleaseRisk::from)
                .collect(),
        }
    }
}

impl From<acp_policy::GlobalUpgradeRule> for GlobalUpgradeRule {
    fn from(rule: acp_policy::GlobalUpgradeRule) -> Self {
        match rule {
            acp_policy::GlobalUpgradeRule::WithinCompatibleRange => Self::WithinCompatibleRange,
            acp_policy::GlobalUpgradeRule::LatestCompatibleRequired => Self::LatestCompatibleRequired,
        }
    }
}

impl From<acp_policy::Lifecycle> for ModuleLifecycle {
    fn from(lifecycle: acp_policy::Lifecycle) -> Self {
        match lifecycle {
            acp_policy::Lifecycle::Core => Self::Core,
            acp_policy::Lifecycle::Aligned => Self::Aligned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_4_3_0_release_resolves_to_its_support_data() {
        let catalogue = acp_policy::Catalogue::builtin();
        let release = catalogue.release(&acp_policy::AcpVersion::new(4, 3, 0)).unwrap();
        let resolved = ResolvedRelease::from(release);
        assert_eq!(resolved.version, "4.3.0");
        assert_eq!(resolved.kubernetes.version.as_deref(), Some("v1.34.5"));
        let mut compatible = resolved.kubernetes.compatible.clone();
        compatible.sort();
        assert_eq!(compatible, ["1.31", "1.32", "1.33", "1.34"]);
        assert_eq!(
            resolved.kubernetes.global_upgrade_rule,
            Some(GlobalUpgradeRule::WithinCompatibleRange)
        );
        assert!(!resolved.upgrade_from.is_empty());
    }

    #[test]
    fn a_release_view_keeps_modules_without_manifests() {
        let yaml = r#"
kind: ProductRelease
version: 4.4.0
kubernetes: {version: v1.35.1, creation: ["1.35"], compatible: ["1.32", "1.33", "1.34", "1.35"],
             globalUpgradeRule: LatestCompatibleRequired}
upgradeFrom: [">=4.3.0, <4.4.0"]
adminGates: [{name: ack-4.4-api-removals, message: "APIs removed in 1.35"}]
modules:
  - name: platform-api
    lifecycle: Core
    version: 4.4.0
    dependsOn: [cert-manager]
    manifests: [{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}]
"#;
        let release: acp_policy::ProductRelease = serde_saphyr::from_str(yaml).unwrap();
        let resolved = ResolvedRelease::from(&release);
        assert_eq!(
            resolved.kubernetes.global_upgrade_rule,
            Some(GlobalUpgradeRule::LatestCompatibleRequired)
        );
        assert_eq!(
            resolved.admin_gates[0].message.as_deref(),
            Some("APIs removed in 1.35")
        );
        assert_eq!(
            resolved.modules,
            [ModuleSummary {
                name: "platform-api".into(),
                lifecycle: ModuleLifecycle::Core,
                version: Some("4.4.0".into()),
                depends_on: vec!["cert-manager".into()],
            }]
        );
        let json = serde_json::to_value(&resolved).unwrap();
        assert!(json["modules"][0].get("manifests").is_none());
        assert_eq!(json["kubernetes"]["thirdPartyRange"], serde_json::Value::Null);
    }
}
