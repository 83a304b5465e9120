//! What the operator sees of a managed cluster: API server version and health, nodes, control-plane
//! static pods, and the platform version recorded in the cluster.

use acp_api::{acp_version, names};
use acp_policy::KubeVersion;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::ListParams;

use super::{Cluster, ClusterError};

/// Label kubeadm and the platform put on control-plane nodes.
pub const CONTROL_PLANE_NODE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// Annotation the kubelet sets on the mirror pod of a static pod.
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The namespace whose UID identifies a cluster.
pub const KUBE_SYSTEM: &str = "kube-system";
/// The most of a `/readyz` answer read: a real one lists a few dozen checks in a few KiB.
pub const MAX_READYZ_BYTES: usize = 64 * 1024;
/// The longest value taken for a namespace UID (a real one has 36 characters).
pub const MAX_UID_CHARS: usize = 64;
/// The ConfigMap in which kubeadm keeps the cluster's configuration, and its key.
const KUBEADM_CONFIG: &str = "kubeadm-config";
const CLUSTER_CONFIGURATION_KEY: &str = "ClusterConfiguration";
/// A kubeadm ClusterConfiguration is a few KiB; a larger one is not parsed, and the ConfigMap holding it
/// (with kubeadm's other keys and the object's metadata) is read up to four times that.
const MAX_CLUSTER_CONFIGURATION_BYTES: usize = 64 * 1024;
const MAX_KUBEADM_CONFIG_BYTES: usize = 4 * MAX_CLUSTER_CONFIGURATION_BYTES;

/// Why a cluster that answers has no known identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityUnknown {
    /// Reading namespace kube-system was refused with 403.
    Forbidden,
    /// Namespace kube-system does not exist, or has no UID.
    Missing,
    /// The UID read is not shaped like one (too long, or not hex digits and dashes).
    Malformed,
    /// Reading namespace kube-system was refused with this HTTP status.
    Refused(u16),
}

impl IdentityUnknown {
    /// What is wrong and what to do, for a message about cluster `cluster`.
    pub fn explain(&self, cluster: &str) -> String {
        match self {
            Self::Forbidden => format!(
                "the kubeconfig of cluster `{cluster}` may not get namespace kube-system (403 Forbidden): give the \
                 kubeconfig's user `get` on namespace kube-system"
            ),
            Self::Missing => format!(
                "cluster `{cluster}` has no namespace kube-system with a UID: check that the kubeconfig reaches a \
                 Kubernetes cluster"
            ),
            Self::Malformed => format!(
                "the UID of namespace kube-system in cluster `{cluster}` is not a UID (more than {MAX_UID_CHARS} \
                 characters, or not hex digits and dashes), so it is not trusted as the cluster's identity: check \
                 that the kubeconfig reaches a genuine Kubernetes API server"
            ),
            Self::Refused(code) => format!(
                "cluster `{cluster}` refused to get namespace kube-system (HTTP {code}): give the kubeconfig's user \
                 `get` on namespace kube-system"
            ),
        }
    }
}

/// One node, reduced to what the checks need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFact {
    pub name: String,
    pub ready: bool,
    /// When the Ready condition last changed; tells how long a node has been NotReady.
    pub ready_since: Option<Timestamp>,
    pub kubelet_version: String,
    pub container_runtime: String,
    /// `status.nodeInfo.osImage`, e.g. `Ubuntu 22.04.4 LTS` (read by known-risk rules).
    pub os_image: String,
    pub control_plane: bool,
}

/// A pod in `kube-system` that is the mirror of a static pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticPodFact {
    pub name: String,
    pub node: Option<String>,
    pub phase: String,
}

/// Everything observed in one pass. `reachable == false` carries the reason in `error` (no answer, or
/// an answer the operator cannot work with); the other fields are then empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub reachable: bool,
    pub error: Option<String>,
    /// The API server's version, from `gitVersion` of `/version` (`v1.33.7`; distribution suffixes
    /// dropped). Known whenever the cluster is reachable.
    pub kubernetes_version: Option<KubeVersion>,
    /// Whether `/readyz` answered `ok`.
    pub api_ready: bool,
    pub api_ready_detail: Option<String>,
    pub nodes: Vec<NodeFact>,
    pub static_pods: Vec<StaticPodFact>,
    /// Whether `kube-system/kubeadm-config` declares an external etcd, so kubeadm runs no etcd static pod;
    /// `false` when it declares a local etcd, is absent, or cannot be read.
    pub external_etcd: bool,
    /// Value of `cpaas-system/acp-version` key `version`, when present.
    pub recorded_version: Option<String>,
    /// The cluster's identity: the UID of its `kube-system` namespace (`None` when it may not be read).
    pub identity: Option<String>,
    /// Why `identity` is `None` although the cluster answers.
    pub identity_unknown: Option<IdentityUnknown>,
}

impl Observation {
    pub fn unreachable(error: &ClusterError) -> Self {
        Self::unusable(error.to_string())
    }

    /// A cluster that answered something the operator cannot work with: treated like one that does not
    /// answer, with `why` saying what it answered.
    fn unusable(why: String) -> Self {
        Self {
            reachable: false,
            error: Some(why),
            ..Self::default()
        }
    }
}

/// Observes `cluster`; never fails: an unanswered call makes the observation unreachable.
pub async fn observe(cluster: &Cluster) -> Observation {
    match try_observe(cluster).await {
        Ok(observation) => observation,
        Err(err) => {
            tracing::debug!(cluster = %cluster.name, error = %err, "cluster not observable");
            Observation::unreachable(&err)
        }
    }
}

async fn try_observe(cluster: &Cluster) -> Result<Observation, ClusterError> {
    let client = &cluster.client;
    let version = cluster.call("get /version", client.apiserver_version()).await?;
    let kubernetes_version = match kubernetes_version(&cluster.name, &version.git_version) {
        Ok(version) => version,
        Err(why) => return Ok(Observation::unusable(why)),
    };
    let (identity, identity_unknown) = match identity(cluster).await? {
        Ok(uid) => (Some(uid), None),
        Err(why) => (None, Some(why)),
    };
    let (api_ready, api_ready_detail) = readyz(cluster).await?;

    let nodes: Api<Node> = Api::all(client.clone());
    let nodes = cluster
        .call("list nodes", nodes.list(&ListParams::default()))
        .await?;
    let nodes = nodes.items.iter().map(node_fact).collect();

    // Mirror pods of static control-plane pods only exist in kube-system.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let pods = cluster
        .call("list pods in kube-system", pods.list(&ListParams::default()))
        .await?;
    let static_pods = pods.items.iter().filter_map(static_pod_fact).collect();
    let external_etcd = external_etcd(cluster).await;

    let recorded_version = recorded_version(cluster).await?;

    Ok(Observation {
        reachable: true,
        error: None,
        kubernetes_version: Some(kubernetes_version),
        api_ready,
        api_ready_detail,
        nodes,
        static_pods,
        external_etcd,
        recorded_version,
        identity,
        identity_unknown,
    })
}

/// The version an API server reports in `gitVersion`. One that is not a Kubernetes version leaves the
/// operator nothing to judge the cluster's upgrades by, so it says so rather than guess.
fn kubernetes_version(cluster: &str, git_version: &str) -> Result<KubeVersion, String> {
    git_version.parse().map_err(|err| {
        format!(
            "cluster `{cluster}` answers /version with an {err}: the operator neither judges nor upgrades a \
             cluster whose Kubernetes version it cannot read; check that the kubeconfig reaches a genuine \
             Kubernetes API server"
        )
    })
}

/// The UID of the cluster's `kube-system` namespace: it is created once with the cluster and never
/// changes, so it tells one cluster from another whatever address or credentials reach it. A cluster
/// that answers but yields no usable UID has an unknown identity, and the answer says why.
pub async fn identity(cluster: &Cluster) -> Result<Result<String, IdentityUnknown>, ClusterError> {
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    match cluster
        .get_opt("get namespace kube-system", namespaces.get(KUBE_SYSTEM))
        .await
    {
        Ok(namespace) => Ok(namespace
            .and_then(|n| n.metadata.uid)
            .ok_or(IdentityUnknown::Missing)
            .and_then(uid_shaped)),
        // Refused (e.g. not permitted): the cluster is there, its identity unknown.
        Err(err) if !err.is_unreachable() => {
            tracing::debug!(cluster = %cluster.name, error = %err, "cluster identity not readable");
            Ok(Err(match err.code() {
                Some(403) => IdentityUnknown::Forbidden,
                Some(code) => IdentityUnknown::Refused(code),
                None => IdentityUnknown::Missing,
            }))
        }
        Err(err) => Err(err),
    }
}

/// `uid` when it looks like a Kubernetes UID: a hostile API server could answer anything, and the
/// identity is pinned into status fields of bounded length.
fn uid_shaped(uid: String) -> Result<String, IdentityUnknown> {
    let shaped = !uid.is_empty()
        && uid.len() <= MAX_UID_CHARS
        && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if shaped {
        Ok(uid)
    } else {
        Err(IdentityUnknown::Malformed)
    }
}

/// Whether the cluster's `kube-system/kubeadm-config` declares an external etcd. The answer is read with
/// a bound; a cluster that does not let the operator read it, has none (not made by kubeadm), or answers
/// anything else counts as one with a local etcd, the stricter reading for the checks, and this optional
/// fact never makes a cluster unreachable.
async fn external_etcd(cluster: &Cluster) -> bool {
    let path = format!("/api/v1/namespaces/{KUBE_SYSTEM}/configmaps/{KUBEADM_CONFIG}");
    let answer = match cluster.get_bounded(&path, MAX_KUBEADM_CONFIG_BYTES).await {
        Ok(answer) if answer.status == 200 => answer,
        Ok(answer) => {
            tracing::debug!(cluster = %cluster.name, status = answer.status, "kubeadm-config not readable");
            return false;
        }
        Err(err) => {
            tracing::debug!(cluster = %cluster.name, error = %err, "kubeadm-config not readable");
            return false;
        }
    };
    let config_map: Option<ConfigMap> = serde_json::from_str(&answer.text).ok();
    config_map
        .and_then(|c| c.data)
        .and_then(|mut data| data.remove(CLUSTER_CONFIGURATION_KEY))
        .is_some_and(|text| declares_external_etcd(&text))
}

/// Whether a kubeadm `ClusterConfiguration` (YAML, any of kubeadm's API versions) has `etcd.external`.
/// Text that is not such a document (too large, not YAML, another shape, or using anchors, which kubeadm
/// never writes) declares nothing.
pub fn declares_external_etcd(cluster_configuration: &str) -> bool {
    if cluster_configuration.len() > MAX_CLUSTER_CONFIGURATION_BYTES {
        return false;
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 0;
    budget.max_anchors = 0;
    budget.max_nodes = 10_000;
    budget.max_total_scalar_bytes = MAX_CLUSTER_CONFIGURATION_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options::<serde_json::Value>(cluster_configuration, options)
        .ok()
        .and_then(|c| c.pointer("/etcd/external").cloned())
        .is_some_and(|external| external.is_object())
}

/// The platform version recorded in the cluster's `cpaas-system/acp-version` ConfigMap.
pub async fn recorded_version(cluster: &Cluster) -> Result<Option<String>, ClusterError> {
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), names::NAMESPACE);
    let config_map = cluster
        .get_opt(
            "get ConfigMap cpaas-system/acp-version",
            config_maps.get(names::acp_version_config_map::NAME),
        )
        .await?;
    Ok(config_map
        .as_ref()
        .and_then(acp_version::recorded)
        .map(str::to_owned))
}

async fn readyz(cluster: &Cluster) -> Result<(bool, Option<String>), ClusterError> {
    // Any answer is reachable; a not-ready API server answers 500 with the failing checks.
    let answer = cluster.get_bounded("/readyz", MAX_READYZ_BYTES).await?;
    let text = answer.text.trim();
    Ok((answer.status == 200 && text == "ok", Some(text.to_string())))
}

fn node_fact(node: &Node) -> NodeFact {
    let status = node.status.as_ref();
    let ready_condition = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"));
    let info = status.and_then(|s| s.node_info.as_ref());
    NodeFact {
        name: node.metadata.name.clone().unwrap_or_default(),
        ready: ready_condition.is_some_and(|c| c.status == "True"),
        ready_since: ready_condition
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0),
        kubelet_version: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
        container_runtime: info
            .map(|i| i.container_runtime_version.clone())
            .unwrap_or_default(),
        os_image: info.map(|i| i.os_image.clone()).unwrap_or_default(),
        control_plane: node
            .metadata
            .labels
            .as_ref()
            .is_some_and(|labels| labels.contains_key(CONTROL_PLANE_NODE_LABEL)),
    }
}

fn static_pod_fact(pod: &Pod) -> Option<StaticPodFact> {
    let is_mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION));
    if !is_mirror {
        return None;
    }
    Some(StaticPodFact {
        name: pod.metadata.name.clone().unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeStatus, NodeSystemInfo, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::collections::BTreeMap;

    #[test]
    fn only_uid_shaped_values_identify_a_cluster() {
        let long = "a".repeat(MAX_UID_CHARS);
        let too_long = "a".repeat(MAX_UID_CHARS + 1);
        let huge = "0".repeat(300);
        let table: [(&str, bool); 9] = [
            ("6f1c2d3e-0a4b-4c5d-8e9f-0123456789ab", true),
            ("6F1C2D3E-0A4B-4C5D-8E9F-0123456789AB", true),
            (&long, true),
            (&too_long, false),
            (&huge, false),
            ("", false),
            ("uid-1", false),
            ("6f1c2d3e 0a4b", false),
            ("ééé", false),
        ];
        for (uid, accepted) in table {
            let result = uid_shaped(uid.to_string());
            assert_eq!(result.is_ok(), accepted, "{uid:?}: {result:?}");
            if !accepted {
                assert_eq!(result, Err(IdentityUnknown::Malformed), "{uid:?}");
            }
        }
    }

    #[test]
    fn the_kubernetes_version_is_read_once_or_named_as_unreadable() {
        // (gitVersion, read as)
        let table = [
            ("v1.33.7", Some(KubeVersion::new(1, 33, 7))),
            ("v1.32.3-eks-4f3a2b1", Some(KubeVersion::new(1, 32, 3))),
            ("v1.31.0+k3s1", Some(KubeVersion::new(1, 31, 0))),
            ("", None),
            ("v1.33", None),
            ("banana", None),
        ];
        for (git_version, read) in table {
            let result = kubernetes_version("edge", git_version);
            assert_eq!(result.as_ref().ok().copied(), read, "{git_version:?}: {result:?}");
            if let Err(why) = result {
                assert!(why.contains("cluster `edge`"), "{why}");
                assert!(why.contains(&format!("{git_version:?}")), "{why}");
                assert!(why.contains("genuine Kubernetes API server"), "{why}");
            }
        }
        let unusable = Observation::unusable("why".into());
        assert!(!unusable.reachable);
        assert_eq!(unusable.error.as_deref(), Some("why"));
    }

    /// A cluster whose API server reports `git_version` at /version and answers nothing else.
    fn reporting(git_version: &'static str) -> Cluster {
        let server = tower::service_fn(move |request: http::Request<kube::client::Body>| async move {
            let (status, body) = if request.uri().path() == "/version" {
                let info = serde_json::json!({
                    "major": "1", "minor": "33", "gitVersion": git_version, "gitCommit": "",
                    "gitTreeState": "clean", "buildDate": "", "goVersion": "", "compiler": "gc",
                    "platform": "linux/amd64",
                });
                (200, info.to_string())
            } else {
                (503, String::new())
            };
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(kube::client::Body::from(body.into_bytes()))
                .unwrap();
            Ok::<_, std::convert::Infallible>(response)
        });
        Cluster::new(
            "edge",
            kube::Client::new(server, "default"),
            std::time::Duration::from_secs(5),
        )
    }

    #[tokio::test]
    async fn a_cluster_reporting_no_kubernetes_version_is_observed_as_unusable_saying_so() {
        let observation = observe(&reporting("banana")).await;
        assert!(!observation.reachable);
        assert_eq!(observation.kubernetes_version, None);
        let why = observation.error.unwrap_or_default();
        assert!(why.contains("\"banana\""), "{why}");
        assert!(why.contains("cluster `edge`"), "{why}");

        // A readable version gets past /version (here the next call finds nothing answering).
        let why = observe(&reporting("v1.33.7")).await.error.unwrap_or_default();
        assert!(!why.contains("/version"), "{why}");
    }

    #[test]
    fn an_unknown_identity_says_what_to_do() {
        let table = [
            (
                IdentityUnknown::Forbidden,
                "give the kubeconfig's user `get` on namespace kube-system",
            ),
            (IdentityUnknown::Refused(401), "HTTP 401"),
            (IdentityUnknown::Missing, "no namespace kube-system"),
            (IdentityUnknown::Malformed, "is not a UID"),
        ];
        for (why, part) in table {
            let message = why.explain("edge");
            assert!(message.contains("`edge`"), "{message}");
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    #[test]
    fn node_facts_read_readiness_versions_and_role() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("cp-1".into()),
                labels: Some(BTreeMap::from([(
                    CONTROL_PLANE_NODE_LABEL.to_string(),
                    String::new(),
                )])),
                ..ObjectMeta::default()
            },
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "False".into(),
                    last_transition_time: Some(Time(Timestamp::from_second(1_700_000_000).unwrap())),
                    ..NodeCondition::default()
                }]),
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "v1.33.7".into(),
                    container_runtime_version: "docker://24.0.7".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
            ..Node::default()
        };
        let fact = node_fact(&node);
        assert!(!fact.ready);
        assert!(fact.control_plane);
        assert_eq!(fact.kubelet_version, "v1.33.7");
        assert_eq!(fact.container_runtime, "docker://24.0.7");
        assert_eq!(
            fact.ready_since,
            Some(Timestamp::from_second(1_700_000_000).unwrap())
        );
    }

    #[test]
    fn a_kubeadm_configuration_declares_an_external_etcd_only_with_etcd_external() {
        let external = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.33.7\n\
                        etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n    caFile: /etc/etcd/ca.crt\n";
        let local = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /var/lib/etcd\n";
        for (text, external_etcd) in [
            (external, true),
            (local, false),
            ("kind: ClusterConfiguration\n", false),
            ("etcd:\n  external: yes\n", false),
            ("{{{ not yaml", false),
            ("x: &a {endpoints: [e]}\netcd:\n  external: *a\n", false),
            ("", false),
        ] {
            assert_eq!(declares_external_etcd(text), external_etcd, "{text:?}");
        }
        let padded = format!("{external}{}", "# padding\n".repeat(8 * 1024));
        assert!(
            !declares_external_etcd(&padded),
            "a configuration past the bound is not parsed"
        );
    }

    #[test]
    fn only_mirror_pods_count_as_static_pods() {
        let mut pod = Pod {
            metadata: ObjectMeta {
                name: Some("kube-apiserver-cp-1".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("cp-1".into()),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..PodStatus::default()
            }),
        };
        assert_eq!(static_pod_fact(&pod), None);
        pod.metadata.annotations = Some(BTreeMap::from([(
            MIRROR_POD_ANNOTATION.to_string(),
            "x".to_string(),
        )]));
        let fact = static_pod_fact(&pod).unwrap();
        assert_eq!(fact.node.as_deref(), Some("cp-1"));
        assert_eq!(fact.phase, "Running");
    }
}
