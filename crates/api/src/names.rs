//! Well-known names shared by the operator and the CLI: API group, namespace, field manager, labels,
//! annotations and the ConfigMaps and Secrets the platform reads.

/// API group of every kind in this crate.
pub const GROUP: &str = "config.alauda.io";
/// API version of every kind in this crate.
pub const VERSION: &str = "v1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "config.alauda.io/v1";

/// API group of acp-cvo's own kinds (fleet rollouts and maintenance windows), apart from ACP's
/// `config.alauda.io`.
pub const ROLLOUT_GROUP: &str = "cvo.alauda.io";
/// API version of acp-cvo's own kinds.
pub const ROLLOUT_VERSION: &str = "v1alpha1";
/// `apiVersion` of acp-cvo's own kinds as written in manifests.
pub const ROLLOUT_API_VERSION: &str = "cvo.alauda.io/v1alpha1";

/// Namespace of the platform: cvsh objects, `acp-version`, `cvo-config`, `admin-acks` live here.
pub const NAMESPACE: &str = "cpaas-system";
/// Name of the cvsh (and of the cluster) that manages every other cluster.
pub const GLOBAL_CLUSTER: &str = "global";
/// Field manager of every server-side apply the operator makes; its Events use it as reporter too.
pub const FIELD_MANAGER: &str = "acp-cvo";
/// Field manager of the CLI, so `kubectl get --show-managed-fields` tells who asked for an upgrade.
pub const CLI_FIELD_MANAGER: &str = "ac";

/// Key of the kubeconfig in a cluster's kubeconfig Secret when `kubeconfigSecretRef.key` is not set
/// (Cluster API's `<cluster>-kubeconfig` convention).
pub const DEFAULT_KUBECONFIG_SECRET_KEY: &str = "value";

/// ConfigMap, in each managed cluster's `cpaas-system`, that records its distribution version; built and
/// read by [`crate::acp_version`].
pub mod acp_version_config_map {
    /// Name of the ConfigMap.
    pub const NAME: &str = "acp-version";
    /// Key holding the version, e.g. `4.3.0`.
    pub const KEY: &str = "version";
}

/// ConfigMap `cpaas-system/cvo-config`: operator settings an administrator may change.
pub mod cvo_config {
    /// Name of the ConfigMap.
    pub const NAME: &str = "cvo-config";
    /// Key holding the preflight settings (`disabled: [CheckName, ..]`).
    pub const PREFLIGHT_KEY: &str = "preflight";
}

/// ConfigMap `cpaas-system/admin-gates`: gates that an administrator must acknowledge.
pub const ADMIN_GATES_CONFIG_MAP: &str = "admin-gates";
/// ConfigMap `cpaas-system/admin-acks`: acknowledgements, `"<gate>": "true"`.
pub const ADMIN_ACKS_CONFIG_MAP: &str = "admin-acks";

/// Label keys the operator sets or selects on.
pub mod labels {
    /// Standard "managed by" label; the operator sets it to [`super::FIELD_MANAGER`].
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// Names the managed cluster an object belongs to (on kubeconfig Secrets written by
    /// `ac adm cluster register`).
    pub const CLUSTER: &str = "config.alauda.io/cluster";
    /// Marks a Secret as holding a kubeconfig (value `"true"`); the operator reads no other Secret (Cluster
    /// API's `cluster.x-k8s.io/secret` type aside). `ac adm cluster register` sets it.
    pub const KUBECONFIG: &str = "config.alauda.io/kubeconfig";
    /// Names the release module an applied object belongs to.
    pub const MODULE: &str = "config.alauda.io/module";
    /// Release version that last applied an object.
    pub const RELEASE_VERSION: &str = "config.alauda.io/release-version";
    /// On a cvsh: the MaintenanceWindow (same namespace) that gates when an upgrade of the cluster may
    /// start.
    pub const MAINTENANCE_WINDOW: &str = "cvo.alauda.io/maintenance-window";
    /// On a cvsh: the UpgradeRun whose turn set its `spec.desiredUpdate`.
    pub const UPGRADE_RUN: &str = "cvo.alauda.io/upgrade-run";
}

/// Annotation keys the operator reads or sets.
pub mod annotations {
    /// On a ResourcePatch: the target version it has been reviewed for; a ResourcePatch without it
    /// blocks `ResourcePatchUpgradeable`.
    pub const EXEMPT_FOR_VERSION: &str = "config.cpaas.io/exempt-for-ver";
    /// On a manifest in a release bundle: `"true"` lets the release take over an existing object
    /// that acp-cvo does not manage yet (Helm's adoption rule). The operator reads it and strips it
    /// before applying, so it never reaches the cluster.
    pub const ADOPT: &str = "config.alauda.io/adopt";
    /// On an object acp-cvo applied for a module: the `sha256:` digest of the module's manifests it
    /// came from, so a resumed operator knows the object already carries the target release.
    pub const MANIFEST_DIGEST: &str = "config.alauda.io/manifest-digest";
    /// On a cvsh: the UpgradeRun that wrote its `spec.desiredUpdate` (absent when the run only follows a
    /// person's request for the same version). A run withdraws only a request it wrote.
    pub const RUN_REQUEST: &str = "cvo.alauda.io/upgrade-run-request";
}
