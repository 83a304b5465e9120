//! Workload clusters run real controllers: Deployments roll out onto kwok nodes.

use std::time::Duration;

use acp_testkit::{ClusterSpec, NodeSpec, TestEnv, wait_for, wait_for_some};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};

const ROLLOUT: Duration = Duration::from_secs(90);

fn deployment(image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: {image}
"#
    )
}

fn available(d: &Deployment, generation: i64) -> bool {
    let Some(status) = &d.status else { return false };
    status.observed_generation.unwrap_or_default() >= generation
        && status.updated_replicas == Some(2)
        && status.available_replicas == Some(2)
        && status.replicas == Some(2)
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Available" && c.status == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_roll_out_onto_kwok_nodes() {
    roll_out_on("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_roll_out_on_the_oldest_emulated_minor() {
    roll_out_on("1.31").await;
}

/// Two kwok nodes, a Deployment that becomes Available, then an image update rolled out by a new ReplicaSet.
async fn roll_out_on(minor: &str) {
    let env = TestEnv::start([ClusterSpec::new("workload-1", minor).with_workloads()])
        .await
        .unwrap();
    let cluster = env.cluster("workload-1");
    cluster
        .create_node(NodeSpec::new("cp-1").control_plane().kubelet_version("v1.30.1"))
        .await
        .unwrap();
    cluster
        .create_node(NodeSpec::new("worker-1").container_runtime("docker://24.0.7"))
        .await
        .unwrap();
    let client = cluster.client().await.unwrap();

    // The nodes keep the versions and runtimes they were made with while kwok maintains them.
    let nodes: Api<Node> = Api::all(client.clone());
    let worker = nodes.get("worker-1").await.unwrap();
    let info = worker.status.unwrap().node_info.unwrap();
    assert_eq!(info.container_runtime_version, "docker://24.0.7");
    assert_eq!(
        info.kubelet_version,
        cluster.kube_version(),
        "defaults to the cluster's version"
    );
    let cp = nodes.get("cp-1").await.unwrap();
    assert!(cp.labels().contains_key(acp_testkit::CONTROL_PLANE_LABEL));
    assert_eq!(cp.status.unwrap().node_info.unwrap().kubelet_version, "v1.30.1");

    cluster.apply_yaml(&deployment("nginx:1.27")).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    wait_for("deployment web to be Available", ROLLOUT, || async {
        deployments.get("web").await.is_ok_and(|d| available(&d, 1))
    })
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let running = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(running.items.len(), 2);
    for pod in &running.items {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(node == "cp-1" || node == "worker-1", "pod scheduled to {node:?}");
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Running")
        );
    }

    // A new image rolls out through a new ReplicaSet, as kube-controller-manager does it.
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    wait_for(
        "deployment web to be Available on nginx:1.28",
        ROLLOUT,
        || async { deployments.get("web").await.is_ok_and(|d| available(&d, 2)) },
    )
    .await
    .unwrap();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client, "default");
    let current = wait_for_some("the new ReplicaSet to own every replica", ROLLOUT, || async {
        let list = replica_sets
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        let image = |rs: &ReplicaSet| {
            rs.spec
                .as_ref()?
                .template
                .as_ref()?
                .spec
                .as_ref()?
                .containers
                .first()?
                .image
                .clone()
        };
        let new = list
            .items
            .iter()
            .find(|rs| image(rs).as_deref() == Some("nginx:1.28"))?;
        let old = list
            .items
            .iter()
            .find(|rs| image(rs).as_deref() == Some("nginx:1.27"))?;
        let ready = |rs: &ReplicaSet| rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        let replicas = |rs: &ReplicaSet| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1);
        (ready(new) == 2 && replicas(old) == 0).then(|| new.clone())
    })
    .await
    .unwrap();
    assert_ne!(current.metadata.name, None);
}
