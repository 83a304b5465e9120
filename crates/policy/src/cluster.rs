//! The plain facts about clusters that the rules judge.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::{AcpVersion, KubeVersion};

/// Who runs a cluster's Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provisioning {
    /// Created and upgraded by the platform: held to the compatible list.
    PlatformManaged,
    /// Imported (EKS, k3s, …): held to the third-party range.
    ThirdParty,
}

impl fmt::Display for Provisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provisioning::PlatformManaged => "PlatformManaged",
            Provisioning::ThirdParty => "ThirdParty",
        })
    }
}

/// A workload cluster as the global gate sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCluster {
    pub name: String,
    pub kube_version: KubeVersion,
    pub provisioning: Provisioning,
}

impl WorkloadCluster {
    pub fn new(name: impl Into<String>, kube_version: KubeVersion, provisioning: Provisioning) -> Self {
        WorkloadCluster {
            name: name.into(),
            kube_version,
            provisioning,
        }
    }
}

/// The ACP versions of the global tier: the primary global cluster and, with disaster recovery,
/// the standby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalTier {
    pub primary: AcpVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<AcpVersion>,
}

impl GlobalTier {
    pub fn new(primary: AcpVersion, standby: Option<AcpVersion>) -> Self {
        GlobalTier { primary, standby }
    }

    /// The version every member has reached: the lower of primary and standby.
    pub fn reached(&self) -> &AcpVersion {
        self.standby
            .as_ref()
            .map_or(&self.primary, |standby| standby.min(&self.primary))
    }
}
