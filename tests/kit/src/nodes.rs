//! Fake nodes kept Ready by kwok, with the kubelet versions and container runtimes a test chooses.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};

use crate::cluster::{Cluster, KWOK_NODE_ANNOTATION};
use crate::error::{Error, Result};
use crate::wait::wait_for;

/// Label marking control-plane nodes, as kubeadm sets it.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// A fake node: name, kubelet version, container runtime, role and labels.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    name: String,
    kubelet_version: Option<String>,
    container_runtime: String,
    control_plane: bool,
    labels: BTreeMap<String, String>,
    /// (reason, message) of a node whose kubelet is down: kwok leaves it alone.
    down: Option<(String, String)>,
    provider_id: Option<String>,
}

impl NodeSpec {
    /// A worker node called `name` running `containerd://2.0.1`, whose kubelet reports the cluster's
    /// Kubernetes version.
    pub fn new(name: impl Into<String>) -> Self {
        NodeSpec {
            name: name.into(),
            kubelet_version: None,
            container_runtime: "containerd://2.0.1".to_owned(),
            control_plane: false,
            labels: BTreeMap::new(),
            down: None,
            provider_id: None,
        }
    }

    /// `spec.providerID`, by which Cluster API finds a Machine's node.
    pub fn provider_id(mut self, id: impl Into<String>) -> Self {
        self.provider_id = Some(id.into());
        self
    }

    /// The kubelet version in `status.nodeInfo.kubeletVersion`, e.g. `v1.30.14`.
    pub fn kubelet_version(mut self, version: impl Into<String>) -> Self {
        self.kubelet_version = Some(version.into());
        self
    }

    /// The runtime in `status.nodeInfo.containerRuntimeVersion`, e.g. `docker://24.0.7`.
    pub fn container_runtime(mut self, runtime: impl Into<String>) -> Self {
        self.container_runtime = runtime.into();
        self
    }

    /// Labels the node `node-role.kubernetes.io/control-plane=""` (no taint: pods may still run there).
    pub fn control_plane(mut self) -> Self {
        self.control_plane = true;
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// A node whose kubelet is down: its Ready condition is False with `reason` and `message`, kwok
    /// does not keep it, and pods bound to it never start. kube-controller-manager taints it, and
    /// reports it Unknown once its lease is overdue, as on a real cluster.
    pub fn not_ready(mut self, reason: impl Into<String>, message: impl Into<String>) -> Self {
        self.down = Some((reason.into(), message.into()));
        self
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn to_node(&self, default_kubelet: &str) -> Node {
        let mut labels = self.labels.clone();
        labels.insert("kubernetes.io/hostname".to_owned(), self.name.clone());
        labels.insert("kubernetes.io/os".to_owned(), "linux".to_owned());
        labels.insert("kubernetes.io/arch".to_owned(), "amd64".to_owned());
        labels.insert("type".to_owned(), "kwok".to_owned());
        if self.control_plane {
            labels.insert(CONTROL_PLANE_LABEL.to_owned(), String::new());
        }
        let resources: BTreeMap<String, Quantity> = [("cpu", "32"), ("memory", "256Gi"), ("pods", "110")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
            .collect();
        let kubelet = self
            .kubelet_version
            .clone()
            .unwrap_or_else(|| default_kubelet.to_owned());
        Node {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                annotations: self.down.is_none().then(|| {
                    BTreeMap::from([(
                        KWOK_NODE_ANNOTATION.0.to_owned(),
                        KWOK_NODE_ANNOTATION.1.to_owned(),
                    )])
                }),
                ..ObjectMeta::default()
            },
            spec: self
                .provider_id
                .as_ref()
                .map(|id| k8s_openapi::api::core::v1::NodeSpec {
                    provider_id: Some(id.clone()),
                    ..k8s_openapi::api::core::v1::NodeSpec::default()
                }),
            // Nodes accept status on create; kwok keeps these fields and maintains the conditions.
            status: Some(NodeStatus {
                conditions: self.down.as_ref().map(|(reason, message)| {
                    let now = Time(k8s_openapi::jiff::Timestamp::now());
                    vec![NodeCondition {
                        type_: "Ready".to_owned(),
                        status: "False".to_owned(),
                        reason: Some(reason.clone()),
                        message: Some(message.clone()),
                        last_heartbeat_time: Some(now.clone()),
                        last_transition_time: Some(now),
                    }]
                }),
                allocatable: Some(resources.clone()),
                capacity: Some(resources),
                node_info: Some(NodeSystemInfo {
                    architecture: "amd64".to_owned(),
                    boot_id: String::new(),
                    container_runtime_version: self.container_runtime.clone(),
                    kernel_version: "6.1.0".to_owned(),
                    kube_proxy_version: kubelet.clone(),
                    kubelet_version: kubelet,
                    machine_id: String::new(),
                    operating_system: "linux".to_owned(),
                    os_image: "Debian GNU/Linux 12 (bookworm)".to_owned(),
                    system_uuid: String::new(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }
}

impl Cluster {
    /// Creates a fake node and, when the cluster runs kwok, waits until it is Ready (kwok keeps it so and
    /// runs the pods scheduled to it).
    pub async fn create_node(&self, spec: NodeSpec) -> Result<Node> {
        if !self.is_local() {
            return Err(Error::Usage(format!(
                "cannot create fake node {} in cluster {}: it was given by a kubeconfig and has no kwok",
                spec.name,
                self.name()
            )));
        }
        let client = self.client().await?;
        let nodes: kube::Api<Node> = kube::Api::all(client);
        let node = spec.to_node(&self.kube_version());
        let created = nodes
            .create(&PostParams::default(), &node)
            .await
            .map_err(|source| Error::Kube {
                cluster: self.name().to_owned(),
                context: format!("create node {}", spec.name),
                source,
            })?;
        if self.runs_kwok() && spec.down.is_none() {
            let name = spec.name.clone();
            wait_for(
                &format!("node {name} of cluster {} to become Ready", self.name()),
                Duration::from_secs(60),
                || async {
                    nodes
                        .get_opt(&name)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|n| is_ready(&n))
                },
            )
            .await?;
        }
        Ok(created)
    }

    /// Changes a node's reported kubelet version and/or container runtime, as a node upgrade would.
    pub async fn set_node_versions(
        &self,
        name: &str,
        kubelet_version: Option<&str>,
        container_runtime: Option<&str>,
    ) -> Result<()> {
        let client = self.client().await?;
        let nodes: kube::Api<Node> = kube::Api::all(client);
        let mut info = serde_json::Map::new();
        if let Some(v) = kubelet_version {
            info.insert("kubeletVersion".to_owned(), v.into());
            info.insert("kubeProxyVersion".to_owned(), v.into());
        }
        if let Some(r) = container_runtime {
            info.insert("containerRuntimeVersion".to_owned(), r.into());
        }
        let patch = serde_json::json!({ "status": { "nodeInfo": info } });
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::Kube {
                cluster: self.name().to_owned(),
                context: format!("patch node {name} status"),
                source,
            })?;
        Ok(())
    }
}

/// Whether the node's Ready condition is True.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c: &NodeCondition| c.type_ == "Ready" && c.status == "True")
        })
}
