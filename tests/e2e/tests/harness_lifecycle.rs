//! Clusters can be upgraded in place (restart at a newer version, data kept), stopped and started again.

use std::time::{Duration, Instant};

use acp_testkit::{ClusterSpec, TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "data": {"kept": "yes"}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_at_a_newer_version_keeps_objects() {
    let env = TestEnv::start([ClusterSpec::new("workload-1", "v1.31.9")])
        .await
        .unwrap();
    let cluster = env.cluster("workload-1");
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    maps.create(&PostParams::default(), &config_map("before-upgrade"))
        .await
        .unwrap();
    let server = cluster.server().to_owned();

    cluster.restart_at("v1.32.4").await.unwrap();

    let client = cluster.client().await.unwrap();
    assert_eq!(client.apiserver_version().await.unwrap().git_version, "v1.32.4");
    let raw = cluster.kubectl(["get", "--raw", "/version"]).await.unwrap();
    assert!(raw.contains(r#""gitVersion": "v1.32.4""#), "{raw}");
    assert_eq!(cluster.kube_version(), "v1.32.4");
    assert_eq!(
        cluster.server(),
        server,
        "the kubeconfig stays valid across the upgrade"
    );
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let kept = maps.get("before-upgrade").await.unwrap();
    assert_eq!(kept.data.unwrap()["kept"], "yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_is_unreachable_and_can_start_again() {
    let env = TestEnv::start([ClusterSpec::new("workload-2", "1.33")])
        .await
        .unwrap();
    let cluster = env.cluster("workload-2");
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    maps.create(&PostParams::default(), &config_map("survives-outage"))
        .await
        .unwrap();
    assert!(cluster.is_reachable(Duration::from_secs(5)).await);
    assert!(
        cluster.start_again().await.is_err(),
        "a running cluster is not started twice"
    );

    cluster.stop().await.unwrap();
    assert!(cluster.component_pid("kube-apiserver").is_none());
    assert!(cluster.component_pid("etcd").is_none());
    let started = Instant::now();
    assert!(!cluster.is_reachable(Duration::from_secs(5)).await);
    // A client call fails (connection refused) instead of hanging.
    let result = tokio::time::timeout(Duration::from_secs(30), maps.get("survives-outage")).await;
    assert!(
        matches!(result, Ok(Err(_))),
        "expected a prompt error, got {result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    cluster.start_again().await.unwrap();
    assert!(cluster.is_reachable(Duration::from_secs(5)).await);
    let kept = maps.get("survives-outage").await.unwrap();
    assert_eq!(kept.data.unwrap()["kept"], "yes");
    assert_eq!(
        cluster
            .client()
            .await
            .unwrap()
            .apiserver_version()
            .await
            .unwrap()
            .git_version,
        "v1.33.7"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_30_cluster_upgrades_to_1_31() {
    // 1.30 comes from a Kubernetes 1.30 build; 1.31 from the 1.34 build emulating 1.31.
    let env = TestEnv::start([ClusterSpec::new("legacy", "v1.30.14").with_workloads()])
        .await
        .unwrap();
    let cluster = env.cluster("legacy");
    cluster
        .create_node(acp_testkit::NodeSpec::new("old-node").kubelet_version("v1.30.14"))
        .await
        .unwrap();
    let version = |c: kube::Client| async move { c.apiserver_version().await.unwrap().git_version };
    assert_eq!(version(cluster.client().await.unwrap()).await, "v1.30.14");

    cluster.restart_at("v1.31.2").await.unwrap();

    assert_eq!(version(cluster.client().await.unwrap()).await, "v1.31.2");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(cluster.client().await.unwrap());
    let node = nodes.get("old-node").await.unwrap();
    assert_eq!(
        node.status.unwrap().node_info.unwrap().kubelet_version,
        "v1.30.14"
    );
    assert!(cluster.component_pid("kube-controller-manager").is_some());
}
