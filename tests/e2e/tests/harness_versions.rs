//! The kit starts several clusters at once, each reporting the Kubernetes version chosen for it.

use acp_testkit::{ClusterSpec, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_report_the_versions_chosen_at_start() {
    let env = TestEnv::start([
        ClusterSpec::new("global", "v1.34.2"),
        ClusterSpec::new("workload-1", "v1.31.9"),
        ClusterSpec::new("workload-2", "v1.33.5"),
    ])
    .await
    .unwrap();
    if env.is_external() {
        // Existing clusters run the version of the kind node image scripts/kind-up.sh created them from.
        let images = acp_e2e::kind_clusters();
        for cluster in env.clusters() {
            let role = cluster.name();
            let (_, image) = images.iter().find(|(r, _)| r == role).unwrap();
            let want = image.rsplit(':').next().unwrap();
            let info = cluster.client().await.unwrap().apiserver_version().await.unwrap();
            assert_eq!(
                info.git_version, want,
                "client /version of {role} (created from {image})"
            );
            assert_eq!(cluster.kube_version(), want, "{role}");
        }
        return;
    }
    for (name, want) in [
        ("global", "v1.34.2"),
        ("workload-1", "v1.31.9"),
        ("workload-2", "v1.33.5"),
    ] {
        let cluster = env.cluster(name);
        let info = cluster.client().await.unwrap().apiserver_version().await.unwrap();
        assert_eq!(info.git_version, want, "client /version of {name}");
        let minor = want.split('.').nth(1).unwrap();
        assert_eq!(
            (info.major.as_str(), info.minor.as_str()),
            ("1", minor),
            "major/minor of {name}"
        );

        let raw = cluster.kubectl(["get", "--raw", "/version"]).await.unwrap();
        let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(raw["gitVersion"], want, "kubectl get --raw /version of {name}");
        assert_eq!(cluster.kube_version(), want);
    }
    // Each cluster is its own: distinct servers, kubeconfigs that name 127.0.0.1 and embed their certificates.
    let servers: Vec<&str> = env.clusters().iter().map(|c| c.server()).collect();
    assert_eq!(servers.len(), 3);
    assert!(servers[0] != servers[1] && servers[1] != servers[2] && servers[0] != servers[2]);
    for c in env.clusters() {
        let yaml = c.kubeconfig_yaml();
        assert!(yaml.contains("server: https://127.0.0.1:"), "{yaml}");
        assert!(yaml.contains("certificate-authority-data:") && yaml.contains("client-key-data:"));
        assert!(c.kubeconfig_path().is_file());
    }
}
