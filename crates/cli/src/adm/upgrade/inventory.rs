//! The inventory file `ac adm upgrade plan` evaluates: the global tier and the workload clusters,
//! as they would be observed by the operator.
//!
//! ```yaml
//! global: {version: 4.2.5, kubernetesVersion: v1.33.7}
//! standby: {version: 4.2.5}            # optional: the disaster-recovery standby global cluster
//! workloads:
//!   - name: edge-1
//!     kubernetesVersion: v1.32.7-1
//!     provisioning: PlatformManaged    # or ThirdParty; default PlatformManaged
//!     version: 4.2.5                   # optional: the cluster's ACP version
//! ```

use std::collections::HashSet;
use std::path::Path;

use acp_policy::{AcpVersion, KubeVersion, Provisioning, WorkloadCluster};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    pub global: GlobalCluster,
    #[serde(default)]
    pub standby: Option<GlobalCluster>,
    #[serde(default)]
    pub workloads: Vec<InventoryWorkload>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalCluster {
    pub version: AcpVersion,
    #[serde(default)]
    pub kubernetes_version: Option<KubeVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryWorkload {
    pub name: String,
    pub kubernetes_version: KubeVersion,
    #[serde(default = "platform_managed")]
    pub provisioning: Provisioning,
    #[serde(default)]
    pub version: Option<AcpVersion>,
}

fn platform_managed() -> Provisioning {
    Provisioning::PlatformManaged
}

impl InventoryWorkload {
    pub fn cluster(&self) -> WorkloadCluster {
        WorkloadCluster::new(self.name.clone(), self.kubernetes_version, self.provisioning)
    }
}

impl Inventory {
    /// Reads and checks an inventory file; errors name the file and what is wrong in it.
    pub fn load(path: &Path) -> anyhow::Result<Inventory> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read inventory file {}", path.display()))?;
        Inventory::parse(&text).with_context(|| format!("inventory file {} is invalid", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Inventory> {
        let inventory: Inventory = serde_saphyr::from_str(text)?;
        let mut seen = HashSet::new();
        for (index, workload) in inventory.workloads.iter().enumerate() {
            if workload.name.trim().is_empty() {
                bail!("workloads[{index}].name is empty: give every workload cluster its name");
            }
            if !seen.insert(workload.name.as_str()) {
                bail!(
                    "workloads[{index}].name `{}` appears twice: cluster names are unique",
                    workload.name
                );
            }
        }
        Ok(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() {
        let inv = Inventory::parse(
            "global: {version: v4.2.5, kubernetesVersion: v1.33.7}\nstandby: {version: 4.2.5}\nworkloads:\n  - name: \
             a\n    kubernetesVersion: v1.32.3-eks-4f3a2b1\n    provisioning: ThirdParty\n  - name: b\n    \
             kubernetesVersion: v1.33.7-1\n    version: 4.2.0\n",
        )
        .unwrap();
        assert_eq!(inv.global.version, AcpVersion::new(4, 2, 5));
        assert_eq!(inv.workloads[0].provisioning, Provisioning::ThirdParty);
        assert_eq!(inv.workloads[1].provisioning, Provisioning::PlatformManaged);
        assert_eq!(inv.workloads[1].version, Some(AcpVersion::new(4, 2, 0)));
    }

    #[test]
    fn errors_name_the_field() {
        let err = Inventory::parse(
            "global: {version: 4.2.5}\nworkloads:\n  - name: a\n    kubernetesVersion: 1.x\n",
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("\"1.x\""), "{text}");
        let err = Inventory::parse("global: {version: 4.2.5}\nworkload: []\n").unwrap_err();
        assert!(format!("{err:#}").contains("workload"), "{err:#}");
        let err = Inventory::parse(
            "global: {version: 4.2.5}\nworkloads:\n  - {name: a, kubernetesVersion: v1.31.0}\n  - {name: a, \
             kubernetesVersion: v1.31.0}\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("workloads[1].name `a` appears twice"),
            "{err:#}"
        );
    }
}
