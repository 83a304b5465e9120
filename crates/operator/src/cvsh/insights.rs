//! Insights for waits: when a module operation has waited longer than the operator's threshold, what the
//! cluster says about the objects it waits on, reduced to a few culprits with what to do about each.
//!
//! [`gather`] reads a bounded picture of the module's workloads (one page of pods per workload and the
//! nodes they are bound to) and reduces it to [`Facts`]; [`diagnose`], a pure function of those facts,
//! names the culprits; the operation's status carries at most [`MAX_INSIGHTS`] of them.
//!
//! PodDisruptionBudgets and machines are diagnosed too, but a module's rollout gathers neither: a
//! Deployment's rolling update replaces pods without evicting them, so no budget can hold it, and
//! machines belong to the Kubernetes stage. [`BudgetFacts`] and [`MachineFacts`] are what a driver that
//! drains nodes fills.

use std::collections::BTreeMap;

use acp_api::cvsh::bounds::MAX_INSIGHTS;
use acp_api::cvsh::{Insight, InsightScope, Operation, OperationPhase};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::clusters::ClusterError;
use crate::clusters::objects::{ListQuery, ObjectKey, ObjectStore};

/// How long an operation waits before its status names culprits, unless `--insight-after` says otherwise.
pub const DEFAULT_INSIGHT_AFTER: SignedDuration = SignedDuration::from_secs(120);

/// How often the culprits of one operation are looked for again while it keeps waiting: each look is a
/// few requests to the cluster, and a wait is reconciled every few seconds.
pub const REFRESH: SignedDuration = SignedDuration::from_secs(30);

/// Whether an operation Running since `since` has waited long enough at `now` to be diagnosed.
pub fn due(since: Option<Timestamp>, now: Timestamp, after: SignedDuration) -> bool {
    since.is_some_and(|since| now.duration_since(since) >= after)
}

/// Whether to look for `op`'s culprits now: it failed (`failed`: this attempt, or an earlier one), or has
/// been Running for `after`; and its culprits were not looked for within [`REFRESH`].
pub fn look_now(op: &Operation, failed: bool, now: Timestamp, after: SignedDuration) -> bool {
    let running_since = (op.phase == Some(OperationPhase::Running))
        .then(|| op.last_transition_time.as_ref().map(|t| t.0))
        .flatten();
    let stuck = failed || op.phase == Some(OperationPhase::Failed) || due(running_since, now, after);
    let fresh = op
        .insights_time
        .as_ref()
        .is_some_and(|t| now.duration_since(t.0) < REFRESH);
    stuck && !fresh
}

/// `message` with the first of `op`'s culprits after it, as the operation's message shows it.
pub fn with_culprit(op: &Operation, message: String) -> String {
    match op.insights.first() {
        Some(first) => format!("{message}; {}: {}", first.object, first.message),
        None => message,
    }
}

/// A pod of the module's workloads, as its status has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFacts {
    /// `namespace/name`.
    pub name: String,
    pub node: Option<String>,
    /// The PodScheduled condition's message when its status is False.
    pub unschedulable: Option<String>,
    pub containers: Vec<ContainerFacts>,
}

/// A container of a pod: why it waits, and how it last ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: String,
    pub image: String,
    /// `state.waiting.reason`, e.g. ImagePullBackOff or CrashLoopBackOff.
    pub waiting_reason: Option<String>,
    pub waiting_message: Option<String>,
    /// `lastState.terminated.exitCode`.
    pub last_exit_code: Option<i32>,
    pub restarts: i32,
}

/// A node, Ready or not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    pub name: String,
    /// False when the Ready condition is False or Unknown.
    pub ready: bool,
    /// The Ready condition's reason and message.
    pub reason: String,
    pub message: String,
}

/// A PodDisruptionBudget that selects pods of the module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BudgetFacts {
    /// `namespace/name`.
    pub name: String,
    pub disruptions_allowed: i32,
}

/// Machines of one owner (the control plane, a MachineDeployment) that a Cluster API hop waits on and
/// that are stuck: how many, and why the first is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineFacts {
    /// The owner, e.g. `MachineDeployment fleet/md-0`.
    pub name: String,
    pub not_updated: u32,
    pub reason: String,
}

/// Everything gathered about one waiting operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub pods: Vec<PodFacts>,
    pub nodes: Vec<NodeFacts>,
    pub budgets: Vec<BudgetFacts>,
    pub machines: Vec<MachineFacts>,
}

/// Workloads of one module read for a diagnosis; a module with more is diagnosed on its first ones.
const MAX_WORKLOADS: usize = 4;
/// Pods read per workload: enough to see a pattern, bounded whatever the replica count.
const MAX_PODS: u32 = 20;
/// Nodes read per diagnosis: those the module's pods are bound to, the pods that are not ready first.
const MAX_NODES: usize = 5;

/// A workload of the module: where its pods are and how to find them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Workload {
    namespace: String,
    /// `spec.selector.matchLabels` as a label selector.
    selector: String,
}

/// The Deployments, StatefulSets and DaemonSets of `manifests` with a `matchLabels` selector.
fn workloads(manifests: &[&Value]) -> Vec<Workload> {
    manifests
        .iter()
        .filter(|m| {
            m.get("apiVersion").and_then(Value::as_str) == Some("apps/v1")
                && matches!(
                    m.get("kind").and_then(Value::as_str),
                    Some("Deployment" | "StatefulSet" | "DaemonSet")
                )
        })
        .filter_map(|m| {
            let namespace = m.pointer("/metadata/namespace")?.as_str()?.to_string();
            let labels = string_map(m.pointer("/spec/selector/matchLabels"));
            if labels.is_empty() {
                return None;
            }
            let selector = labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            Some(Workload { namespace, selector })
        })
        .take(MAX_WORKLOADS)
        .collect()
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A string of an object from the cluster, its control characters (terminal escapes, newlines) made
/// spaces: it ends up in the status, in `ac` output and in the console.
pub fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(|s| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
}

/// The condition of `type_` in `status.conditions`.
fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// A pod as the API server returns it.
pub fn pod_facts(pod: &Value) -> PodFacts {
    let namespace = text(pod, "/metadata/namespace").unwrap_or_default();
    let name = text(pod, "/metadata/name").unwrap_or_default();
    let unschedulable = condition(pod, "PodScheduled")
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("False"))
        .map(|c| {
            text(c, "/message")
                .or_else(|| text(c, "/reason"))
                .unwrap_or_else(|| "no reason given".to_string())
        });
    let containers = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|statuses| {
            statuses
                .iter()
                .map(|c| ContainerFacts {
                    name: text(c, "/name").unwrap_or_default(),
                    image: text(c, "/image").unwrap_or_default(),
                    waiting_reason: text(c, "/state/waiting/reason"),
                    waiting_message: text(c, "/state/waiting/message"),
                    last_exit_code: c
                        .pointer("/lastState/terminated/exitCode")
                        .and_then(Value::as_i64)
                        .and_then(|code| i32::try_from(code).ok()),
                    restarts: c
                        .get("restartCount")
                        .and_then(Value::as_i64)
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    PodFacts {
        name: format!("{namespace}/{name}"),
        node: text(pod, "/spec/nodeName").filter(|n| !n.is_empty()),
        unschedulable,
        containers,
    }
}

/// Whether the pod's Ready condition is True.
fn pod_ready(pod: &Value) -> bool {
    condition(pod, "Ready")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

/// A node as the API server returns it; one without a Ready condition is not Ready.
pub fn node_facts(node: &Value) -> NodeFacts {
    let ready = condition(node, "Ready");
    NodeFacts {
        name: text(node, "/metadata/name").unwrap_or_default(),
        ready: ready.and_then(|c| c.get("status")).and_then(Value::as_str) == Some("True"),
        reason: ready
            .and_then(|c| text(c, "/reason"))
            .unwrap_or_else(|| "NoReadyCondition".to_string()),
        message: ready
            .and_then(|c| text(c, "/message"))
            .unwrap_or_else(|| "the node reports no Ready condition".to_string()),
    }
}

/// Reads what the cluster says about the workloads of `manifests`, within the bounds above.
pub async fn gather(cluster: &dyn ObjectStore, manifests: &[&Value]) -> Result<Facts, ClusterError> {
    let mut facts = Facts::default();
    let mut pods = Vec::new();
    let workloads = workloads(manifests);
    for workload in &workloads {
        let query = ListQuery {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(workload.namespace.clone()),
            selector: Some(workload.selector.clone()),
            limit: MAX_PODS,
        };
        pods.extend(cluster.list(&query).await?);
    }
    // Nodes of pods that are not ready explain more than nodes of pods that are.
    pods.sort_by_key(pod_ready);
    let mut nodes: Vec<String> = Vec::new();
    for pod in &pods {
        if let Some(node) = text(pod, "/spec/nodeName").filter(|n| !n.is_empty())
            && !nodes.contains(&node)
            && nodes.len() < MAX_NODES
        {
            nodes.push(node);
        }
    }
    for name in nodes {
        let key = ObjectKey {
            api_version: "v1".into(),
            kind: "Node".into(),
            namespace: None,
            name,
        };
        // One node that cannot be read (gone, not permitted) leaves the others and the pods to tell.
        match cluster.fetch(&key).await {
            Ok(Some(node)) => facts.nodes.push(node_facts(&node)),
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(node = %key.name, error = %err, "cannot read a node of a waiting module")
            }
        }
    }
    facts.pods = pods.iter().map(pod_facts).collect();
    Ok(facts)
}

/// Reasons an insight gives; the metric counts insights by them.
pub mod reasons {
    pub const UNSCHEDULABLE: &str = "Unschedulable";
    pub const IMAGE_PULL_FAILED: &str = "ImagePullFailed";
    pub const CRASH_LOOP: &str = "CrashLoopBackOff";
    pub const NODE_NOT_READY: &str = "NodeNotReady";
    pub const EVICTION_BLOCKED: &str = "EvictionBlocked";
    pub const MACHINES_NOT_UPDATING: &str = "MachinesNotUpdating";
}

/// What is wrong with one pod, in its own words: it cannot be placed, or its containers cannot pull
/// their image or keep crashing.
fn pod_culprits(pod: &PodFacts) -> Vec<Insight> {
    let object = || format!("Pod {}", pod.name);
    if let Some(why) = &pod.unschedulable {
        return vec![insight(
            InsightScope::Workload,
            object(),
            reasons::UNSCHEDULABLE,
            format!("the scheduler cannot place it: {why}"),
            "free capacity or fix the pod's nodeSelector, affinity or tolerations so a Ready node fits it",
        )];
    }
    pod.containers
        .iter()
        .filter_map(|container| match container.waiting_reason.as_deref() {
            Some("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull") => Some(insight(
                InsightScope::Workload,
                object(),
                reasons::IMAGE_PULL_FAILED,
                format!(
                    "container {} cannot pull image {}: {}",
                    container.name,
                    container.image,
                    container.waiting_message.as_deref().unwrap_or("no detail"),
                ),
                "check that the image exists in the registry and that the node can reach it (pull secret, mirror)",
            )),
            Some("CrashLoopBackOff") => {
                let exit = container
                    .last_exit_code
                    .map_or("last exit code unknown".to_string(), |c| format!("last exit code {c}"));
                Some(insight(
                    InsightScope::Workload,
                    object(),
                    reasons::CRASH_LOOP,
                    format!(
                        "container {} keeps crashing ({exit}, {} restarts)",
                        container.name, container.restarts,
                    ),
                    "read the container's logs with kubectl logs --previous and fix what stops it",
                ))
            }
            _ => None,
        })
        .collect()
}

/// The culprits of a long wait, most telling first, at most [`MAX_INSIGHTS`]: a pod's own failure
/// (it cannot be placed, its image cannot be pulled, it keeps crashing) before the node it is on,
/// before a budget that blocks evictions, before machines.
pub fn diagnose(facts: &Facts) -> Vec<Insight> {
    let mut found: Vec<Insight> = Vec::new();
    // Pods of one module fail alike: one insight per reason, counting the others, leaves room for
    // the node they are on.
    let mut alike: Vec<usize> = Vec::new();
    for culprit in facts.pods.iter().flat_map(pod_culprits) {
        match found.iter().position(|i| i.reason == culprit.reason) {
            Some(at) => alike[at] += 1,
            None => {
                found.push(culprit);
                alike.push(0);
            }
        }
    }
    for (insight, more) in found.iter_mut().zip(&alike) {
        if *more > 0 {
            let pods = if *more == 1 { "pod" } else { "pods" };
            insight
                .message
                .push_str(&format!(" (and {more} more {pods} alike)"));
        }
    }
    let used: Vec<&str> = facts.pods.iter().filter_map(|p| p.node.as_deref()).collect();
    let mut nodes: Vec<&NodeFacts> = facts.nodes.iter().filter(|n| !n.ready).collect();
    // A node the module's pods are on explains more than one they are not.
    nodes.sort_by_key(|n| !used.contains(&n.name.as_str()));
    for node in nodes {
        found.push(insight(
            InsightScope::Node,
            format!("Node {}", node.name),
            reasons::NODE_NOT_READY,
            format!("node is not Ready ({}): {}", node.reason, node.message),
            "bring the node back (kubelet, network) or drain and remove it so its pods move",
        ));
    }
    for budget in facts.budgets.iter().filter(|b| b.disruptions_allowed <= 0) {
        found.push(insight(
            InsightScope::Disruption,
            format!("PodDisruptionBudget {}", budget.name),
            reasons::EVICTION_BLOCKED,
            "disruptionsAllowed is 0: no pod it covers may be evicted".to_string(),
            "make the pods it covers Ready or relax its minAvailable/maxUnavailable",
        ));
    }
    for machines in facts.machines.iter().filter(|m| m.not_updated > 0) {
        found.push(insight(
            InsightScope::Machines,
            machines.name.clone(),
            reasons::MACHINES_NOT_UPDATING,
            format!(
                "{} {} stuck: {}",
                machines.not_updated,
                if machines.not_updated == 1 {
                    "machine"
                } else {
                    "machines"
                },
                machines.reason
            ),
            "check the Machines' conditions and the infrastructure provider in the global cluster \
             (kubectl get machines -o wide); a drain held by a PodDisruptionBudget needs that budget relaxed",
        ));
    }
    found.truncate(MAX_INSIGHTS);
    found
}

fn insight(scope: InsightScope, object: String, reason: &str, message: String, action: &str) -> Insight {
    Insight {
        scope,
        object,
        reason: reason.to_string(),
        message,
        action: action.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::fake::FakeCluster;
    use serde_json::json;

    fn live_pod(name: &str, app: &str, node: Option<&str>, ready: bool) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "cpaas-system", "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": [{"name": "api", "image": "registry.example/api:4.3.1"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{
                    "name": "api", "image": "registry.example/api:4.3.1", "restartCount": 7,
                    "state": if ready { json!({"running": {}}) } else {
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}})
                    },
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                }],
            },
        })
    }

    fn live_node(name: &str, ready: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletNotReady",
                                        "message": "container runtime is down"}]},
        })
    }

    #[tokio::test]
    async fn gathering_reads_the_modules_pods_and_only_the_nodes_they_are_on() {
        let cluster = FakeCluster::new();
        cluster.insert(live_pod("api-1", "api", Some("worker-1"), false));
        cluster.insert(live_pod("api-2", "api", Some("worker-2"), true));
        cluster.insert(live_pod("other-1", "other", Some("worker-3"), false));
        cluster.insert(live_node("worker-1", "False"));
        cluster.insert(live_node("worker-2", "True"));
        cluster.insert(live_node("worker-3", "False"));
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "cpaas-system"},
            "spec": {"selector": {"matchLabels": {"app": "api"}}},
        });
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api", "namespace": "cpaas-system"}});

        let facts = gather(&cluster, &[&config, &deployment]).await.unwrap();

        let pods: Vec<&str> = facts.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            pods,
            ["cpaas-system/api-1", "cpaas-system/api-2"],
            "the module's pods, not-ready first"
        );
        assert_eq!(
            facts.pods[0].containers[0],
            ContainerFacts {
                name: "api".into(),
                image: "registry.example/api:4.3.1".into(),
                waiting_reason: Some("CrashLoopBackOff".into()),
                waiting_message: Some("back-off 5m0s restarting failed container".into()),
                last_exit_code: Some(137),
                restarts: 7,
            }
        );
        let nodes: Vec<(&str, bool)> = facts.nodes.iter().map(|n| (n.name.as_str(), n.ready)).collect();
        assert_eq!(
            nodes,
            [("worker-1", false), ("worker-2", true)],
            "worker-3 runs none of them"
        );
        let found = diagnose(&facts);
        let reasons: Vec<&str> = found.iter().map(|i| i.reason.as_str()).collect();
        assert_eq!(reasons, [reasons::CRASH_LOOP, reasons::NODE_NOT_READY]);
        assert!(
            found[1].message.contains("container runtime is down"),
            "{found:?}"
        );
    }

    #[test]
    fn a_pod_or_node_missing_its_status_reads_as_waiting_not_as_an_error() {
        let bare = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}});
        assert_eq!(
            pod_facts(&bare),
            PodFacts {
                name: "ns/p".into(),
                ..PodFacts::default()
            }
        );
        let node = node_facts(&json!({"metadata": {"name": "n"}}));
        assert!(!node.ready);
        assert_eq!(node.reason, "NoReadyCondition");
        let hostile = node_facts(&json!({"metadata": {"name": "n"}, "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "down\u{1b}[2J\nnow"},
        ]}}));
        assert_eq!(
            hostile.message, "down [2J now",
            "terminal escapes never reach a screen"
        );
    }

    fn pod(name: &str) -> PodFacts {
        PodFacts {
            name: format!("cpaas-system/{name}"),
            node: Some("worker-1".into()),
            ..PodFacts::default()
        }
    }

    fn container(waiting: &str, exit: Option<i32>) -> ContainerFacts {
        ContainerFacts {
            name: "api".into(),
            image: "registry.example/api:4.3.1".into(),
            waiting_reason: Some(waiting.into()),
            waiting_message: Some("not found".into()),
            last_exit_code: exit,
            restarts: 5,
        }
    }

    fn node(name: &str, ready: bool) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            ready,
            reason: "NodeStatusUnknown".into(),
            message: "Kubelet stopped posting node status.".into(),
        }
    }

    /// (object, reason, words the message must hold) of each insight.
    fn summary(insights: &[Insight]) -> Vec<(String, String, String)> {
        insights
            .iter()
            .map(|i| (i.object.clone(), i.reason.clone(), i.message.clone()))
            .collect()
    }

    #[test]
    fn each_kind_of_culprit_is_named_with_the_clusters_own_words() {
        let pending = PodFacts {
            node: None,
            unschedulable: Some(
                "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.".into(),
            ),
            ..pod("api-1")
        };
        let pulling = PodFacts {
            containers: vec![container("ImagePullBackOff", None)],
            ..pod("api-2")
        };
        let crashing = PodFacts {
            containers: vec![container("CrashLoopBackOff", Some(137))],
            ..pod("api-3")
        };
        // (case, facts, expected (reason, object, text in the message))
        type Case<'a> = (&'a str, Facts, Vec<(&'a str, &'a str, &'a str)>);
        let table: Vec<Case> = vec![
            (
                "nothing wrong",
                Facts {
                    pods: vec![pod("api-0")],
                    nodes: vec![node("worker-1", true)],
                    ..Facts::default()
                },
                vec![],
            ),
            (
                "a pending pod",
                Facts {
                    pods: vec![pending],
                    ..Facts::default()
                },
                vec![(
                    "Pod cpaas-system/api-1",
                    reasons::UNSCHEDULABLE,
                    "didn't match Pod's node affinity/selector",
                )],
            ),
            (
                "an image that cannot be pulled",
                Facts {
                    pods: vec![pulling],
                    ..Facts::default()
                },
                vec![(
                    "Pod cpaas-system/api-2",
                    reasons::IMAGE_PULL_FAILED,
                    "image registry.example/api:4.3.1",
                )],
            ),
            (
                "a crash loop",
                Facts {
                    pods: vec![crashing],
                    ..Facts::default()
                },
                vec![(
                    "Pod cpaas-system/api-3",
                    reasons::CRASH_LOOP,
                    "container api keeps crashing (last exit code 137",
                )],
            ),
            (
                "a node not Ready, the one the pods use first",
                Facts {
                    pods: vec![pod("api-0")],
                    nodes: vec![
                        node("worker-2", false),
                        node("worker-1", false),
                        node("worker-3", true),
                    ],
                    ..Facts::default()
                },
                vec![
                    (
                        "Node worker-1",
                        reasons::NODE_NOT_READY,
                        "Kubelet stopped posting",
                    ),
                    ("Node worker-2", reasons::NODE_NOT_READY, "NodeStatusUnknown"),
                ],
            ),
            (
                "a budget that allows no disruption",
                Facts {
                    budgets: vec![
                        BudgetFacts {
                            name: "cpaas-system/api".into(),
                            disruptions_allowed: 0,
                        },
                        BudgetFacts {
                            name: "cpaas-system/auth".into(),
                            disruptions_allowed: 1,
                        },
                    ],
                    ..Facts::default()
                },
                vec![(
                    "PodDisruptionBudget cpaas-system/api",
                    reasons::EVICTION_BLOCKED,
                    "disruptionsAllowed is 0",
                )],
            ),
            (
                "machines not updating",
                Facts {
                    machines: vec![MachineFacts {
                        name: "MachineDeployment fleet/workers".into(),
                        not_updated: 2,
                        reason: "WaitingForInfrastructure".into(),
                    }],
                    ..Facts::default()
                },
                vec![(
                    "MachineDeployment fleet/workers",
                    reasons::MACHINES_NOT_UPDATING,
                    "2 machines stuck",
                )],
            ),
        ];
        for (case, facts, want) in table {
            let got = summary(&diagnose(&facts));
            assert_eq!(got.len(), want.len(), "{case}: {got:?}");
            for ((object, reason, message), (w_object, w_reason, w_words)) in got.iter().zip(want) {
                assert_eq!((object.as_str(), reason.as_str()), (w_object, w_reason), "{case}");
                assert!(message.contains(w_words), "{case}: {message}");
            }
        }
    }

    #[test]
    fn a_wait_names_at_most_a_few_culprits_pods_alike_once_then_the_node_they_are_on() {
        let facts = Facts {
            nodes: (0..10).map(|i| node(&format!("worker-{i}"), false)).collect(),
            pods: (0..10)
                .map(|i| PodFacts {
                    containers: vec![container("CrashLoopBackOff", Some(1))],
                    ..pod(&format!("api-{i}"))
                })
                .collect(),
            ..Facts::default()
        };
        let found = diagnose(&facts);
        assert_eq!(found.len(), MAX_INSIGHTS);
        let named: Vec<(&str, &str)> = found
            .iter()
            .map(|i| (i.reason.as_str(), i.object.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (reasons::CRASH_LOOP, "Pod cpaas-system/api-0"),
                (reasons::NODE_NOT_READY, "Node worker-1"),
                (reasons::NODE_NOT_READY, "Node worker-0"),
            ]
        );
        assert!(found[0].message.ends_with("(and 9 more pods alike)"), "{found:?}");
    }

    fn running_for(seconds: i64, looked: Option<i64>) -> (Operation, Timestamp) {
        let start: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let op = Operation {
            phase: Some(OperationPhase::Running),
            last_transition_time: Some(acp_api::k8s::Time(start)),
            insights_time: looked.map(|s| acp_api::k8s::Time(start + SignedDuration::from_secs(s))),
            ..Operation::pending("platform-api", acp_api::cvsh::OperationAction::Upgrade)
        };
        (op, start + SignedDuration::from_secs(seconds))
    }

    #[test]
    fn culprits_are_looked_for_past_the_threshold_or_on_failure_and_at_most_every_refresh() {
        let after = SignedDuration::from_secs(120);
        // (case, running for, last looked at (seconds after the start), failed, look now)
        let table = [
            ("a short wait", 60, None, false, false),
            ("a wait past the threshold", 120, None, false, true),
            ("looked at moments ago", 130, Some(120), false, false),
            ("looked at a refresh ago", 150, Some(120), false, true),
            ("a failure, however early", 5, None, true, true),
            ("a failure looked at moments ago", 10, Some(5), true, false),
        ];
        for (case, running, looked, failed, want) in table {
            let (op, now) = running_for(running, looked);
            assert_eq!(look_now(&op, failed, now, after), want, "{case}");
        }
    }

    #[test]
    fn only_a_wait_longer_than_the_threshold_is_diagnosed() {
        let start: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let after = SignedDuration::from_secs(120);
        assert!(!due(Some(start), start + SignedDuration::from_secs(119), after));
        assert!(due(Some(start), start + SignedDuration::from_secs(120), after));
        assert!(!due(None, start, after), "a wait with no start is never due");
    }
}
