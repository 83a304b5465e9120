//! The other clusters, as the cross-cluster checks see them: read from the ClusterVersionShadow cache,
//! never by calling each cluster again.

use std::sync::Arc;

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::Tier;
use acp_policy::{AcpVersion, KubeVersion, Provisioning};
use kube::ResourceExt;

/// A workload cluster's last observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadView {
    pub name: String,
    pub provisioning: Provisioning,
    /// `None` until observed, or when the observed version does not parse.
    pub kube_version: Option<KubeVersion>,
    pub reachable: bool,
    pub executing: bool,
}

/// A global-tier cluster's current version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalView {
    pub name: String,
    pub current: Option<AcpVersion>,
    pub reachable: bool,
}

/// Every registered cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    pub workloads: Vec<WorkloadView>,
    pub primary: Option<GlobalView>,
    pub standby: Option<GlobalView>,
}

impl Fleet {
    pub fn from_shadows(shadows: &[Arc<ClusterVersionShadow>]) -> Self {
        let mut fleet = Fleet::default();
        for shadow in shadows {
            let observed = shadow.status.as_ref().and_then(|s| s.observed.as_ref());
            let reachable = observed.and_then(|o| o.reachable).unwrap_or(false);
            match shadow.tier() {
                Tier::Workload => fleet.workloads.push(WorkloadView {
                    name: shadow.name_any(),
                    provisioning: shadow.provisioning().into(),
                    kube_version: observed.and_then(|o| o.kube_version().ok().flatten()),
                    reachable,
                    executing: shadow.is_executing(),
                }),
                tier => {
                    let view = GlobalView {
                        name: shadow.name_any(),
                        current: shadow.current_acp_version().ok().flatten(),
                        reachable,
                    };
                    let slot = if tier == Tier::Global {
                        &mut fleet.primary
                    } else {
                        &mut fleet.standby
                    };
                    // Two objects claiming the same role: keep the first by name, deterministically.
                    if slot.as_ref().is_none_or(|existing| existing.name > view.name) {
                        *slot = Some(view);
                    }
                }
            }
        }
        fleet.workloads.sort_by(|a, b| a.name.cmp(&b.name));
        fleet
    }

    /// Workload clusters running stages now, other than `except`.
    pub fn executing_workloads(&self, except: &str) -> Vec<&str> {
        self.workloads
            .iter()
            .filter(|w| w.executing && w.name != except)
            .map(|w| w.name.as_str())
            .collect()
    }
}
