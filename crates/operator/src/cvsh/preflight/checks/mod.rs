//! One module per preflight check, named after it. Each names its registry entry (`NAME`), has a pure
//! `decide` over plain facts, and a `run` that gathers those facts: from [`Inputs`](super::Inputs), or
//! through a narrow source trait where they need a cluster.
//!
//! A new check is its entry in [`acp_api::checks::REGISTRY`], one module here and one line in the
//! list below; the build fails unless the list is the registry, in the same order.

use acp_api::checks::{CheckSpec, REGISTRY};

use super::sources::PlatformSource;
use super::{Context, Outcome, Sources};

macro_rules! checks {
    ($($check:ident => $module:ident,)*) => {
        $(pub mod $module;)*

        /// A check this operator runs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Check {
            $($check,)*
        }

        impl Check {
            /// Every check, in registry order.
            pub const ALL: [Check; REGISTRY.len()] = [$(Check::$check,)*];

            pub const fn name(self) -> &'static str {
                match self {
                    $(Check::$check => $module::NAME,)*
                }
            }

            /// Gathers the check's facts and decides.
            pub async fn run(self, cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
                match self {
                    $(Check::$check => $module::run(cx).await,)*
                }
            }
        }
    };
}

checks! {
    VersionUpgradePath => version_upgrade_path,
    KubernetesVersionSupported => kubernetes_version_supported,
    ClusterVersionUpgradeable => cluster_version_upgradeable,
    ClusterRunning => cluster_running,
    DockerRuntimeUnsupported => docker_runtime_unsupported,
    ControlPlaneStaticPodsPresent => control_plane_static_pods_present,
    CustomEtcdBackupCronJobsAbsent => custom_etcd_backup_cron_jobs_absent,
    CriUpgradePodsAbsent => cri_upgrade_pods_absent,
    ClusterModuleStable => cluster_module_stable,
    ModuleInfoStable => module_info_stable,
    ResourcePatchUpgradeable => resource_patch_upgradeable,
    PlatformLicense => platform_license,
    AdminAckRequired => admin_ack_required,
    KubeletVersionSkew => kubelet_version_skew,
    GlobalTierReached => global_tier_reached,
    ConcurrentUpgradeLimit => concurrent_upgrade_limit,
    DeprecatedApisRemoved => deprecated_apis_removed,
    ConditionalUpdateRisksAccepted => conditional_update_risks_accepted,
    MaintenanceWindowOpen => maintenance_window_open,
    ClusterApiClusterReady => cluster_api_cluster_ready,
}

impl Check {
    /// The check's registry entry: `ALL` is the registry in order, so a check's position is its entry's.
    pub fn spec(self) -> &'static CheckSpec {
        &REGISTRY[self as usize]
    }
}

// The operator runs exactly the registry's checks, in its order: `ALL` has the registry's length (its
// type says so) and here each position names the same check.
const _: () = {
    let mut i = 0;
    while i < REGISTRY.len() {
        assert!(
            same(Check::ALL[i].name(), REGISTRY[i].name),
            "preflight::checks lists other checks than acp_api::checks::REGISTRY, or in another order"
        );
        assert!(
            Check::ALL[i] as usize == i,
            "Check::ALL is not in declaration order"
        );
        i += 1;
    }
};

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `a`, `b` and `c`; at most ten names, then "and N more" — the same wording as the policy's verdicts.
pub(crate) fn name_list(names: &[String]) -> String {
    acp_policy::name_list(names, names.len())
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Inputs for check tests: a cluster with sensible defaults each test changes.

    use acp_api::cvsh::{KubernetesDriver, Provisioning, Tier};
    use acp_policy::{AcpVersion, Catalogue, KubeVersion};
    use k8s_openapi::jiff::Timestamp;

    use crate::clusters::observe::{NodeFact, Observation};
    use crate::cvsh::fleet::Fleet;
    use crate::cvsh::preflight::Inputs;

    pub struct Case {
        pub tier: Tier,
        pub provisioning: Provisioning,
        pub driver: KubernetesDriver,
        pub current: Option<AcpVersion>,
        pub target: AcpVersion,
        pub catalogue: Catalogue,
        pub observation: Observation,
        pub fleet: Fleet,
        pub upgrading_elsewhere: Vec<String>,
        pub max_concurrent: usize,
        pub maintenance_window: Option<String>,
        pub ignore_maintenance_window: bool,
        pub now: Timestamp,
        pub risks: Option<crate::cvsh::risks::ReleaseRisks>,
        pub accept_risks: Vec<String>,
        pub cluster_api: Option<acp_api::cvsh::ClusterApiClusterRef>,
    }

    pub fn node(name: &str, kubelet: &str) -> NodeFact {
        NodeFact {
            name: name.into(),
            ready: true,
            ready_since: None,
            kubelet_version: kubelet.into(),
            container_runtime: "containerd://2.0.1".into(),
            os_image: "Ubuntu 22.04.4 LTS".into(),
            control_plane: false,
        }
    }

    impl Case {
        /// A workload cluster `east` on Kubernetes 1.33 at ACP 4.2.3 asked for 4.3.1.
        pub fn new() -> Self {
            Case {
                tier: Tier::Workload,
                provisioning: Provisioning::PlatformManaged,
                driver: KubernetesDriver::External,
                current: Some(AcpVersion::new(4, 2, 3)),
                target: AcpVersion::new(4, 3, 1),
                catalogue: crate::releases::builtin::catalogue(),
                observation: Observation {
                    reachable: true,
                    kubernetes_version: Some(KubeVersion::new(1, 33, 7)),
                    api_ready: true,
                    nodes: vec![node("worker-1", "v1.33.7")],
                    ..Observation::default()
                },
                fleet: Fleet::default(),
                upgrading_elsewhere: Vec::new(),
                max_concurrent: 20,
                maintenance_window: None,
                ignore_maintenance_window: false,
                now: Timestamp::from_second(1_800_000_000).unwrap(),
                risks: None,
                accept_risks: Vec::new(),
                cluster_api: None,
            }
        }

        pub fn inputs(&self) -> Inputs<'_> {
            Inputs {
                cluster: "east",
                tier: self.tier,
                provisioning: self.provisioning,
                driver: self.driver,
                current: self.current.as_ref(),
                target: &self.target,
                catalogue: &self.catalogue,
                observation: &self.observation,
                fleet: &self.fleet,
                upgrading_elsewhere: self.upgrading_elsewhere.clone(),
                max_concurrent: self.max_concurrent,
                maintenance_window: self.maintenance_window.as_deref(),
                ignore_maintenance_window: self.ignore_maintenance_window,
                now: self.now,
                risks: self.risks.as_ref(),
                accept_risks: &self.accept_risks,
                cluster_api: self.cluster_api.as_ref(),
            }
        }
    }
}
