//! The preflight checks: their names (ACP 4.3's are the contract; the last five are ours, and
//! `AdminAckRequired` is 4.4's) and, in [`REGISTRY`], how each behaves.

use crate::cvsh::CheckPolicy;

pub const RESOURCE_PATCH_UPGRADEABLE: &str = "ResourcePatchUpgradeable";
pub const CLUSTER_VERSION_UPGRADEABLE: &str = "ClusterVersionUpgradeable";
pub const VERSION_UPGRADE_PATH: &str = "VersionUpgradePath";
pub const KUBERNETES_VERSION_SUPPORTED: &str = "KubernetesVersionSupported";
pub const DOCKER_RUNTIME_UNSUPPORTED: &str = "DockerRuntimeUnsupported";
pub const CLUSTER_RUNNING: &str = "ClusterRunning";
pub const CLUSTER_MODULE_STABLE: &str = "ClusterModuleStable";
pub const CONTROL_PLANE_STATIC_PODS_PRESENT: &str = "ControlPlaneStaticPodsPresent";
pub const CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT: &str = "CustomEtcdBackupCronJobsAbsent";
pub const CRI_UPGRADE_PODS_ABSENT: &str = "CRIUpgradePodsAbsent";
pub const MODULE_INFO_STABLE: &str = "ModuleInfoStable";
pub const PLATFORM_LICENSE: &str = "PlatformLicense";
pub const ADMIN_ACK_REQUIRED: &str = "AdminAckRequired";
pub const KUBELET_VERSION_SKEW: &str = "KubeletVersionSkew";
pub const GLOBAL_TIER_REACHED: &str = "GlobalTierReached";
pub const CONCURRENT_UPGRADE_LIMIT: &str = "ConcurrentUpgradeLimit";
pub const DEPRECATED_APIS_REMOVED: &str = "DeprecatedAPIsRemoved";
pub const MAINTENANCE_WINDOW_OPEN: &str = "MaintenanceWindowOpen";
pub const CONDITIONAL_UPDATE_RISKS_ACCEPTED: &str = "ConditionalUpdateRisksAccepted";
pub const CLUSTER_API_CLUSTER_READY: &str = "ClusterAPIClusterReady";

/// Reason of `ResourcePatchUpgradeable` while a ResourcePatch lacks the exemption annotation.
pub const REASON_UNEXEMPT_RESOURCE_PATCHES: &str = "UnexemptResourcePatches";
/// Reason of `MaintenanceWindowOpen` when `spec.desiredUpdate.ignoreMaintenanceWindow` lets an upgrade
/// start outside its window: the start records it as an accepted risk.
pub const REASON_MAINTENANCE_WINDOW_IGNORED: &str = "MaintenanceWindowIgnored";

/// What the operator and the CLI know about one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// The check's name in `status.preflight.checks[].name`.
    pub name: &'static str,
    /// `Once`: a Passed result is kept for the same target; `Always`: decided again on every pass.
    pub policy: CheckPolicy,
    /// May ConfigMap `cvo-config` switch it off? The safety checks never can.
    pub switchable: bool,
    /// May `spec.desiredUpdate.force` go past it when it fails? A Retry is never forced past.
    pub forceable: bool,
    /// Does it read the managed cluster? Then it waits (Retry) while the cluster does not answer.
    pub needs_cluster: bool,
}

/// Every check, in the order the operator runs and lists them. The only list of checks: everything
/// else reads it.
pub const REGISTRY: [CheckSpec; 20] = [
    // A supported upgrade edge leads from the current version to the target.
    CheckSpec {
        name: VERSION_UPGRADE_PATH,
        policy: CheckPolicy::Once,
        switchable: false,
        forceable: false,
        needs_cluster: false,
    },
    // The Kubernetes versions concerned fit the target release. For the global tier those are the
    // workload clusters', so it runs without its own cluster; a workload cluster waits for its own.
    CheckSpec {
        name: KUBERNETES_VERSION_SUPPORTED,
        policy: CheckPolicy::Always,
        switchable: false,
        forceable: true,
        needs_cluster: false,
    },
    // The cluster's current platform version is known.
    CheckSpec {
        name: CLUSTER_VERSION_UPGRADEABLE,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: false,
    },
    // The API server is ready, nodes are Ready and control-plane pods run.
    CheckSpec {
        name: CLUSTER_RUNNING,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // No node runs the Docker runtime.
    CheckSpec {
        name: DOCKER_RUNTIME_UNSUPPORTED,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // Every control-plane node has its static control-plane pods.
    CheckSpec {
        name: CONTROL_PLANE_STATIC_PODS_PRESENT,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // No CronJob other than etcd-backup-default backs up etcd.
    CheckSpec {
        name: CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // No pod of an earlier container-runtime upgrade is left unfinished.
    CheckSpec {
        name: CRI_UPGRADE_PODS_ABSENT,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // The current release's modules are neither upgrading nor failed.
    CheckSpec {
        name: CLUSTER_MODULE_STABLE,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // ModuleInfo objects are neither upgrading nor failed.
    CheckSpec {
        name: MODULE_INFO_STABLE,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // Every ResourcePatch is marked as reviewed for the target.
    CheckSpec {
        name: RESOURCE_PATCH_UPGRADEABLE,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // The platform licence stays valid until the target's end of support.
    CheckSpec {
        name: PLATFORM_LICENSE,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: false,
    },
    // Every admin gate of the target is acknowledged in ConfigMap admin-acks.
    CheckSpec {
        name: ADMIN_ACK_REQUIRED,
        policy: CheckPolicy::Once,
        switchable: false,
        forceable: true,
        needs_cluster: false,
    },
    // Every kubelet stays within the supported skew of each control-plane hop.
    CheckSpec {
        name: KUBELET_VERSION_SKEW,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // The global tier is upgraded first, standby in step with its primary.
    CheckSpec {
        name: GLOBAL_TIER_REACHED,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: false,
    },
    // A slot among the concurrent workload upgrades is free.
    CheckSpec {
        name: CONCURRENT_UPGRADE_LIMIT,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: false,
    },
    // No client still calls an API the target's Kubernetes removes.
    CheckSpec {
        name: DEPRECATED_APIS_REMOVED,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: true,
    },
    // Every known risk of the target the cluster is exposed to (Applies or Unknown) is accepted in
    // spec.desiredUpdate.acceptRisks. Never switched off: a risk is accepted by name, on record.
    CheckSpec {
        name: CONDITIONAL_UPDATE_RISKS_ACCEPTED,
        policy: CheckPolicy::Always,
        switchable: false,
        forceable: true,
        needs_cluster: true,
    },
    // The cluster's maintenance window (label cvo.alauda.io/maintenance-window) is open: it waits, never
    // fails, and only spec.desiredUpdate.ignoreMaintenanceWindow goes past it.
    CheckSpec {
        name: MAINTENANCE_WINDOW_OPEN,
        policy: CheckPolicy::Always,
        switchable: false,
        forceable: false,
        needs_cluster: false,
    },
    // kubernetesDriver ClusterAPI: the cluster's Cluster object (global cluster) exists, is not paused and
    // is not mid-rollout.
    CheckSpec {
        name: CLUSTER_API_CLUSTER_READY,
        policy: CheckPolicy::Always,
        switchable: true,
        forceable: true,
        needs_cluster: false,
    },
];

/// The registry entry of check `name`.
pub fn spec(name: &str) -> Option<&'static CheckSpec> {
    REGISTRY.iter().find(|s| s.name == name)
}

/// True for a known check that an administrator may disable in `cvo-config`.
pub fn is_switchable(name: &str) -> bool {
    spec(name).is_some_and(|s| s.switchable)
}

/// True for a check name this version knows.
pub fn is_known(name: &str) -> bool {
    spec(name).is_some()
}

/// True for a check `force` may go past when it fails; an unknown check is never forced past.
pub fn is_forceable(name: &str) -> bool {
    spec(name).is_some_and(|s| s.forceable)
}

/// The checks `force` cannot go past, by name.
pub fn unforceable() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().filter(|s| !s.forceable).map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_checks_cannot_be_switched_off() {
        let never: Vec<&str> = REGISTRY
            .iter()
            .filter(|s| !s.switchable)
            .map(|s| s.name)
            .collect();
        assert_eq!(
            never,
            [
                VERSION_UPGRADE_PATH,
                KUBERNETES_VERSION_SUPPORTED,
                ADMIN_ACK_REQUIRED,
                CONDITIONAL_UPDATE_RISKS_ACCEPTED,
                MAINTENANCE_WINDOW_OPEN
            ]
        );
        assert!(is_switchable(DOCKER_RUNTIME_UNSUPPORTED));
        assert!(!is_switchable("NoSuchCheck"));
    }

    #[test]
    fn force_never_goes_past_the_upgrade_path_nor_the_maintenance_window() {
        assert_eq!(
            unforceable().collect::<Vec<_>>(),
            [VERSION_UPGRADE_PATH, MAINTENANCE_WINDOW_OPEN]
        );
        assert!(is_forceable(PLATFORM_LICENSE));
        assert!(!is_forceable("NoSuchCheck"));
    }

    #[test]
    fn the_once_checks_are_the_upgrade_path_and_the_admin_acks() {
        let once: Vec<&str> = REGISTRY
            .iter()
            .filter(|s| s.policy == CheckPolicy::Once)
            .map(|s| s.name)
            .collect();
        assert_eq!(once, [VERSION_UPGRADE_PATH, ADMIN_ACK_REQUIRED]);
    }

    #[test]
    fn the_contract_names_come_in_the_listed_order() {
        let names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "VersionUpgradePath",
                "KubernetesVersionSupported",
                "ClusterVersionUpgradeable",
                "ClusterRunning",
                "DockerRuntimeUnsupported",
                "ControlPlaneStaticPodsPresent",
                "CustomEtcdBackupCronJobsAbsent",
                "CRIUpgradePodsAbsent",
                "ClusterModuleStable",
                "ModuleInfoStable",
                "ResourcePatchUpgradeable",
                "PlatformLicense",
                "AdminAckRequired",
                "KubeletVersionSkew",
                "GlobalTierReached",
                "ConcurrentUpgradeLimit",
                "DeprecatedAPIsRemoved",
                "ConditionalUpdateRisksAccepted",
                "MaintenanceWindowOpen",
                "ClusterAPIClusterReady",
            ]
        );
        assert_eq!(spec(CLUSTER_RUNNING).map(|s| s.name), Some(CLUSTER_RUNNING));
        assert!(spec("NoSuchCheck").is_none());
    }
}
