//! One module per preflight check, named after it. Each has a pure `decide` over plain facts; checks
//! that need more than the observation gather their facts in `run` through a source trait.

pub mod admin_ack_required;
pub mod cluster_module_stable;
pub mod cluster_running;
pub mod cluster_version_upgradeable;
pub mod concurrent_upgrade_limit;
pub mod control_plane_static_pods_present;
pub mod cri_upgrade_pods_absent;
pub mod custom_etcd_backup_cron_jobs_absent;
pub mod deprecated_apis_removed;
pub mod docker_runtime_unsupported;
pub mod global_tier_reached;
pub mod kubelet_version_skew;
pub mod kubernetes_version_supported;
pub mod module_info_stable;
pub mod platform_license;
pub mod resource_patch_upgradeable;
pub mod version_upgrade_path;

/// `a`, `b` and `c`; at most ten names, then "and N more" — the same wording as the policy's verdicts.
pub(crate) fn name_list(names: &[String]) -> String {
    acp_policy::name_list(names, names.len())
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Inputs for check tests: a cluster with sensible defaults each test changes.

    use acp_api::ClusterVersionShadowStatus;
    use acp_api::cvsh::{KubernetesDriver, Provisioning, Tier};
    use acp_policy::{AcpVersion, Catalogue};
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
        pub status: ClusterVersionShadowStatus,
        pub fleet: Fleet,
        pub upgrading_elsewhere: Vec<String>,
        pub max_concurrent: usize,
        pub now: Timestamp,
    }

    pub fn node(name: &str, kubelet: &str) -> NodeFact {
        NodeFact {
            name: name.into(),
            ready: true,
            ready_since: None,
            kubelet_version: kubelet.into(),
            container_runtime: "containerd://2.0.1".into(),
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
                    kubernetes_version: Some("v1.33.7".into()),
                    api_ready: true,
                    nodes: vec![node("worker-1", "v1.33.7")],
                    ..Observation::default()
                },
                status: ClusterVersionShadowStatus::default(),
                fleet: Fleet::default(),
                upgrading_elsewhere: Vec::new(),
                max_concurrent: 20,
                now: Timestamp::from_second(1_800_000_000).unwrap(),
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
                status: &self.status,
                fleet: &self.fleet,
                upgrading_elsewhere: self.upgrading_elsewhere.clone(),
                max_concurrent: self.max_concurrent,
                now: self.now,
            }
        }
    }
}
