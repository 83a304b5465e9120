//! Preflight check names. ACP 4.3's names are the contract; the last five are ours (and 4.4's
//! `AdminAckRequired`).

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

/// Reason of `ResourcePatchUpgradeable` while a ResourcePatch lacks the exemption annotation.
pub const REASON_UNEXEMPT_RESOURCE_PATCHES: &str = "UnexemptResourcePatches";

/// Every check, in the order the CLI lists them.
pub const ALL: [&str; 17] = [
    VERSION_UPGRADE_PATH,
    KUBERNETES_VERSION_SUPPORTED,
    CLUSTER_VERSION_UPGRADEABLE,
    CLUSTER_RUNNING,
    DOCKER_RUNTIME_UNSUPPORTED,
    CONTROL_PLANE_STATIC_PODS_PRESENT,
    CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT,
    CRI_UPGRADE_PODS_ABSENT,
    CLUSTER_MODULE_STABLE,
    MODULE_INFO_STABLE,
    RESOURCE_PATCH_UPGRADEABLE,
    PLATFORM_LICENSE,
    ADMIN_ACK_REQUIRED,
    KUBELET_VERSION_SKEW,
    GLOBAL_TIER_REACHED,
    CONCURRENT_UPGRADE_LIMIT,
    DEPRECATED_APIS_REMOVED,
];

/// Checks that `cvo-config` can never switch off.
pub const NEVER_SWITCHABLE: [&str; 3] = [
    VERSION_UPGRADE_PATH,
    KUBERNETES_VERSION_SUPPORTED,
    ADMIN_ACK_REQUIRED,
];

/// True for a known check that an administrator may disable in `cvo-config`.
pub fn is_switchable(name: &str) -> bool {
    ALL.contains(&name) && !NEVER_SWITCHABLE.contains(&name)
}

/// True for a check name this version knows.
pub fn is_known(name: &str) -> bool {
    ALL.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_checks_cannot_be_switched_off() {
        assert!(!is_switchable(VERSION_UPGRADE_PATH));
        assert!(!is_switchable(KUBERNETES_VERSION_SUPPORTED));
        assert!(!is_switchable(ADMIN_ACK_REQUIRED));
        assert!(is_switchable(DOCKER_RUNTIME_UNSUPPORTED));
        assert!(!is_switchable("NoSuchCheck"));
    }

    #[test]
    fn names_are_unique() {
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
