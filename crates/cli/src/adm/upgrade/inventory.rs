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
//!     # Optional, on any cluster: the facts the known risks of the target are evaluated on, as the
//!     # operator reads them off the cluster. A rule whose fact is not given cannot be evaluated, and
//!     # its risk is Unknown (exposed).
//!     objects:                         # the objects present; with `objects` given, any other is absent
//!       - {apiVersion: apps/v1, kind: DaemonSet, namespace: kube-system, name: kube-flannel-ds}
//!     nodes:                           # status.nodeInfo of the nodes
//!       - {name: worker-1, containerRuntimeVersion: containerd://1.7.2, kubeletVersion: v1.32.7}
//!     metrics: |                       # the API server's /metrics (Prometheus text), or part of it
//!       apiserver_requested_deprecated_apis{removed_release="1.32"} 1
//!     acceptRisks: [FlannelRemoved]    # as spec.desiredUpdate.acceptRisks
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use acp_policy::risks::rules::{self, NodeInfoFact, ObjectLookup};
use acp_policy::risks::{MatchingRule, ObjectPresent, Risk, RuleFact};
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
    #[serde(default)]
    pub objects: Option<Vec<InventoryObject>>,
    #[serde(default)]
    pub nodes: Option<Vec<InventoryNode>>,
    #[serde(default)]
    pub metrics: Option<String>,
    #[serde(default)]
    pub accept_risks: Vec<String>,
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
    #[serde(default)]
    pub objects: Option<Vec<InventoryObject>>,
    #[serde(default)]
    pub nodes: Option<Vec<InventoryNode>>,
    #[serde(default)]
    pub metrics: Option<String>,
    #[serde(default)]
    pub accept_risks: Vec<String>,
}

/// An object present on a cluster, for `ObjectPresent` rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryObject {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A node's `status.nodeInfo`, for `NodeInfo` rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryNode {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub container_runtime_version: String,
    #[serde(default)]
    pub kubelet_version: String,
    #[serde(default)]
    pub os_image: String,
}

/// The facts an inventory gives about one cluster, read the way the operator reads the cluster.
pub struct RiskFacts<'a> {
    pub cluster: &'a str,
    pub kubernetes_version: Option<KubeVersion>,
    pub objects: Option<&'a [InventoryObject]>,
    pub nodes: Option<&'a [InventoryNode]>,
    pub metrics: Option<&'a str>,
}

impl RiskFacts<'_> {
    /// Facts for the risk's rules in order, up to the first that could be evaluated.
    pub fn facts(&self, risk: &Risk) -> Vec<RuleFact> {
        let mut facts = Vec::new();
        for rule in &risk.matching_rules {
            let fact = self.fact(rule);
            let decided = matches!(fact, RuleFact::Evaluated { .. });
            facts.push(fact);
            if decided {
                break;
            }
        }
        facts
    }

    fn missing(&self, field: &str) -> String {
        format!(
            "the inventory gives no `{field}` for `{}`: add them, or accept the risk",
            self.cluster
        )
    }

    fn fact(&self, rule: &MatchingRule) -> RuleFact {
        match rule {
            MatchingRule::Always => RuleFact::matched("the release declares this risk for every cluster"),
            MatchingRule::ObjectPresent { object_present } => {
                let lookup = match self.objects {
                    Some(objects) => lookup(object_present, objects),
                    None => ObjectLookup::Failed(self.missing("objects")),
                };
                rules::object_present(object_present, &lookup)
            }
            MatchingRule::NodeInfo { node_info } => {
                let nodes: Option<Vec<NodeInfoFact>> = self.nodes.map(|nodes| {
                    nodes
                        .iter()
                        .enumerate()
                        .map(|(i, n)| NodeInfoFact {
                            name: n.name.clone().unwrap_or_else(|| format!("nodes[{i}]")),
                            container_runtime_version: n.container_runtime_version.clone(),
                            kubelet_version: n.kubelet_version.clone(),
                            os_image: n.os_image.clone(),
                        })
                        .collect()
                });
                let why = self.missing("nodes");
                rules::node_info(node_info, nodes.as_deref().ok_or(why.as_str()))
            }
            MatchingRule::KubernetesVersion { kubernetes_version } => {
                let why = self.missing("kubernetesVersion");
                rules::kubernetes_version(kubernetes_version, self.kubernetes_version.ok_or(why.as_str()))
            }
            MatchingRule::Metric { metric } => {
                let why = self.missing("metrics");
                rules::metric(metric, self.metrics.ok_or(why.as_str()))
            }
        }
    }
}

/// The listed objects the rule names, as a lookup on the cluster would find them.
fn lookup(rule: &ObjectPresent, objects: &[InventoryObject]) -> ObjectLookup {
    let mut found = Vec::new();
    for o in objects {
        if o.api_version != rule.api_version
            || o.kind != rule.kind
            || rule
                .namespace
                .as_ref()
                .is_some_and(|ns| o.namespace.as_ref() != Some(ns))
        {
            continue;
        }
        let selected = match (&rule.name, &rule.label_selector) {
            (Some(name), _) => *name == o.name,
            (None, Some(selector)) => match selects(selector, &o.labels) {
                Some(selected) => selected,
                None => {
                    return ObjectLookup::Failed(format!(
                        "the label selector {selector:?} is not one of equalities (k=v, k!=v, k, !k) that can be \
                         matched offline"
                    ));
                }
            },
            (None, None) => false,
        };
        if selected {
            found.push(match &o.namespace {
                Some(ns) => format!("{ns}/{}", o.name),
                None => o.name.clone(),
            });
        }
    }
    ObjectLookup::Found(found)
}

/// Whether an equality-based label selector selects `labels`; `None` for a set-based one.
fn selects(selector: &str, labels: &BTreeMap<String, String>) -> Option<bool> {
    let mut all = true;
    for term in selector.split(',').map(str::trim) {
        if term.contains(['(', ' ']) {
            return None;
        }
        let holds = if let Some((k, v)) = term.split_once("!=") {
            labels.get(k) != Some(&v.to_owned())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k) == Some(&v.to_owned())
        } else if let Some(k) = term.strip_prefix('!') {
            !labels.contains_key(k)
        } else {
            labels.contains_key(term)
        };
        all &= holds;
    }
    Some(all)
}

impl GlobalCluster {
    pub fn risk_facts<'a>(&'a self, name: &'a str) -> RiskFacts<'a> {
        RiskFacts {
            cluster: name,
            kubernetes_version: self.kubernetes_version,
            objects: self.objects.as_deref(),
            nodes: self.nodes.as_deref(),
            metrics: self.metrics.as_deref(),
        }
    }
}

fn platform_managed() -> Provisioning {
    Provisioning::PlatformManaged
}

impl InventoryWorkload {
    pub fn risk_facts(&self) -> RiskFacts<'_> {
        RiskFacts {
            cluster: &self.name,
            kubernetes_version: Some(self.kubernetes_version),
            objects: self.objects.as_deref(),
            nodes: self.nodes.as_deref(),
            metrics: self.metrics.as_deref(),
        }
    }

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

    #[test]
    fn risk_facts_are_read_the_way_the_operator_reads_the_cluster() {
        let inv = Inventory::parse(
            "global: {version: 4.2.5}\nworkloads:\n  - name: a\n    kubernetesVersion: v1.33.7\n    objects:\n      \
             - {apiVersion: apps/v1, kind: DaemonSet, namespace: kube-system, name: flannel, labels: {app: flannel}}\n    \
             nodes: [{containerRuntimeVersion: containerd://1.7.2}]\n    acceptRisks: [FlannelRemoved]\n",
        )
        .unwrap();
        let a = inv.workloads[0].risk_facts();
        let object = |selector: &str| -> MatchingRule {
            serde_saphyr::from_str(&format!(
                "{{type: ObjectPresent, objectPresent: {{apiVersion: apps/v1, kind: DaemonSet, {selector}}}}}"
            ))
            .unwrap()
        };
        let rule = |yaml: &str| -> MatchingRule { serde_saphyr::from_str(yaml).unwrap() };
        // (rule, facts of `a`: matches, or None when it cannot be evaluated, evidence contains)
        let table = [
            (
                object("namespace: kube-system, name: flannel"),
                Some(true),
                "DaemonSet kube-system/flannel is present",
            ),
            (object("name: flannel"), Some(true), "present"),
            (
                object("namespace: default, name: flannel"),
                Some(false),
                "no DaemonSet default/flannel",
            ),
            (object("labelSelector: app=flannel"), Some(true), "present"),
            (
                object("labelSelector: \"app=flannel,tier!=node\""),
                Some(true),
                "present",
            ),
            (object("labelSelector: app!=flannel"), Some(false), "no DaemonSet"),
            (
                object("labelSelector: \"app in (flannel)\""),
                None,
                "matched offline",
            ),
            (
                rule("{type: NodeInfo, nodeInfo: {field: containerRuntimeVersion, range: <2.0.0}}"),
                Some(true),
                "node nodes[0] reports",
            ),
            (
                rule("{type: KubernetesVersion, kubernetesVersion: {range: \">=1.33.0\"}}"),
                Some(true),
                "v1.33.7",
            ),
            (
                rule("{type: Metric, metric: {name: x, comparison: GreaterThan, value: 0}}"),
                None,
                "the inventory gives no `metrics` for `a`",
            ),
        ];
        for (rule, want, contains) in table {
            let fact = a.fact(&rule);
            let (got, text) = match &fact {
                RuleFact::Evaluated { matches, evidence } => (Some(*matches), evidence),
                RuleFact::Unevaluable { why } => (None, why),
            };
            assert_eq!(got, want, "{rule:?}: {fact:?}");
            assert!(text.contains(contains), "{rule:?}: {text}");
        }
        // Absent facts: not evaluable, as on a cluster that cannot be read.
        let global = inv.global.risk_facts("global");
        for yaml in [
            "{type: ObjectPresent, objectPresent: {apiVersion: v1, kind: ConfigMap, name: c}}",
            "{type: NodeInfo, nodeInfo: {field: osImage, pattern: \"*\"}}",
            "{type: KubernetesVersion, kubernetesVersion: {range: \">=1.0.0\"}}",
        ] {
            let fact = global.fact(&rule(yaml));
            assert!(
                matches!(&fact, RuleFact::Unevaluable { why } if why.contains("the inventory gives no `")),
                "{fact:?}"
            );
        }
        assert_eq!(inv.workloads[0].accept_risks, ["FlannelRemoved"]);
    }
}
