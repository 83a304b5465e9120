//! `ac adm cluster register` and `ac adm cluster list` against two real API servers: the global cluster
//! and a workload cluster reporting Kubernetes 1.33.

use acp_api::names;
use acp_api::{ProductManifest, ProductManifestSpec};
use acp_e2e::cli::{ac, condition, cvsh_api, platform, write_status};
use acp_e2e::create_cvsh;
use acp_testkit::ClusterSpec;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

fn global_at(version: &str) -> serde_json::Value {
    json!({
        "current": {"version": version},
        "observed": {"kubernetesVersion": "v1.34.0", "reachable": true},
        "conditions": [condition("Ready", true, "AtDesiredVersion", &format!("Cluster global runs {version}"))],
    })
}

#[tokio::test]
async fn register_checks_the_kubernetes_range_and_writes_secret_cvsh_and_version() {
    let env = platform([ClusterSpec::new("edge-1", "v1.33.7")]).await;
    let global = env.cluster("global");
    let edge = env.cluster("edge-1");
    let edge_kubeconfig = edge.kubeconfig_path().to_str().unwrap().to_owned();
    let register = |extra: &[&str]| {
        let mut args = vec![
            "adm",
            "cluster",
            "register",
            "edge-1",
            "--kubeconfig",
            &edge_kubeconfig,
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ac(global, &args).await
    };
    let secrets: Api<Secret> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);

    // No global cluster set up yet.
    let stderr = run(register(&[])).await.failed_with(1).to_owned();
    assert!(
        stderr.contains("no ClusterVersionShadow `global` in namespace cpaas-system"),
        "{stderr}"
    );

    // A 4.0 platform manages Kubernetes 1.28-1.31 only: 1.33 is refused and nothing is written.
    create_cvsh(global, "global", json!({})).await;
    write_status(global, "global", global_at("4.0.9")).await;
    let stderr = run(register(&[])).await.failed_with(1).to_owned();
    assert!(stderr.contains("cluster edge-1 cannot be registered"), "{stderr}");
    assert!(
        stderr.contains("Kubernetes 1.33.7") || stderr.contains("v1.33.7"),
        "{stderr}"
    );
    assert!(secrets.get_opt("edge-1-kubeconfig").await.unwrap().is_none());
    assert!(cvsh_api(global).await.get_opt("edge-1").await.unwrap().is_none());

    // A 4.3 platform accepts it.
    write_status(global, "global", global_at("4.3.1")).await;
    let stdout = run(register(&["--provisioning", "ThirdParty", "--version", "4.3.0"]))
        .await
        .ok()
        .to_owned();
    assert!(
        stdout.starts_with("Registered cluster edge-1 (Workload, ThirdParty, Kubernetes v1.33.7)"),
        "{stdout}"
    );
    let secret = secrets.get("edge-1-kubeconfig").await.unwrap();
    // What is stored is the file's current context, minified and flattened, and it passes the policy.
    let stored = &secret.data.unwrap()["value"].0;
    let given = acp_api::kubeconfig::validate(
        &std::fs::read(edge.kubeconfig_path()).unwrap(),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(stored),
        given.to_yaml(),
        "the minified kubeconfig"
    );
    assert!(!String::from_utf8_lossy(stored).contains("preferences"));
    let labels = secret.metadata.labels.unwrap();
    assert_eq!(labels[names::labels::CLUSTER], "edge-1");
    assert_eq!(labels[names::labels::KUBECONFIG], "true");
    let cvsh = cvsh_api(global).await.get("edge-1").await.unwrap();
    assert_eq!(cvsh.kubeconfig_secret_ref().unwrap().name, "edge-1-kubeconfig");
    assert_eq!(cvsh.kubeconfig_secret_ref().unwrap().key, "value");
    assert_eq!(cvsh.tier(), acp_api::cvsh::Tier::Workload);
    assert_eq!(cvsh.provisioning(), acp_api::cvsh::Provisioning::ThirdParty);
    let config_maps: Api<ConfigMap> = Api::namespaced(edge.client().await.unwrap(), names::NAMESPACE);
    let recorded = config_maps
        .get(names::acp_version_config_map::NAME)
        .await
        .unwrap();
    assert_eq!(
        recorded.data.unwrap()[names::acp_version_config_map::KEY],
        "4.3.0"
    );

    // Registering again is fine; a version already recorded in the cluster is kept.
    let out = run(register(&["--provisioning", "ThirdParty", "--version", "4.3.1"])).await;
    out.ok();
    assert!(
        out.stderr.contains("already records ACP version 4.3.0"),
        "{}",
        out.stderr
    );
    let recorded = config_maps
        .get(names::acp_version_config_map::NAME)
        .await
        .unwrap();
    assert_eq!(
        recorded.data.unwrap()[names::acp_version_config_map::KEY],
        "4.3.0"
    );

    // Mistakes a user makes.
    let stderr = ac(
        global,
        &[
            "adm",
            "cluster",
            "register",
            "global",
            "--kubeconfig",
            &edge_kubeconfig,
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("`global` is the cluster acp-cvo runs in"),
        "{stderr}"
    );
    let stderr = ac(
        global,
        &[
            "adm",
            "cluster",
            "register",
            "Edge_1",
            "--kubeconfig",
            &edge_kubeconfig,
        ],
    )
    .await
    .failed_with(2)
    .to_owned();
    assert!(stderr.contains("is not a valid cluster name"), "{stderr}");
    let stderr = ac(
        global,
        &[
            "adm",
            "cluster",
            "register",
            "edge-2",
            "--kubeconfig",
            "/nonexistent",
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("cannot read the kubeconfig of cluster edge-2 from /nonexistent"),
        "{stderr}"
    );

    // A kubeconfig the operator would refuse is refused here too, naming the field and not its value;
    // nothing is written.
    let hostile = env.dir().join("edge-3.kubeconfig");
    let mut doc: serde_json::Value = serde_saphyr::from_str(edge.kubeconfig_yaml()).unwrap();
    doc["users"][0]["user"]["tokenFile"] = "/var/run/secrets/kubernetes.io/serviceaccount/token".into();
    std::fs::write(&hostile, serde_json::to_string(&doc).unwrap()).unwrap();
    let stderr = ac(
        global,
        &[
            "adm",
            "cluster",
            "register",
            "edge-3",
            "--kubeconfig",
            hostile.to_str().unwrap(),
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(stderr.contains("is refused"), "{stderr}");
    assert!(stderr.contains("users[edge-1-admin].user.tokenFile"), "{stderr}");
    assert!(!stderr.contains("serviceaccount"), "{stderr}");
    assert!(secrets.get_opt("edge-3-kubeconfig").await.unwrap().is_none());

    // Both clusters are listed, the global one first.
    let stdout = ac(global, &["adm", "cluster", "list"]).await.ok().to_owned();
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        [
            "NAME",
            "TIER",
            "PROVISIONING",
            "CURRENT",
            "DESIRED",
            "KUBERNETES",
            "STATE"
        ],
        "{stdout}"
    );
    assert_eq!(
        rows[1],
        [
            "global",
            "Global",
            "PlatformManaged",
            "4.3.1",
            "-",
            "v1.34.0",
            "Idle"
        ],
        "{stdout}"
    );
    assert_eq!(
        rows[2],
        [
            "edge-1",
            "Workload",
            "ThirdParty",
            "-",
            "-",
            "-",
            "Unknown",
            "(not",
            "observed",
            "yet)"
        ],
        "{stdout}"
    );

    // A global cluster on 4.4.0, a release known only through its ProductManifest: refused while no
    // ProductManifest offers it, accepted once one is Ready, as the operator judges it.
    write_status(global, "global", global_at("4.4.0")).await;
    let register_edge_4 = || {
        let mut args = register(&[]);
        args[3] = "edge-4".to_owned();
        args
    };
    let stderr = run(register_edge_4()).await.failed_with(1).to_owned();
    assert!(stderr.contains("ACP 4.4.0 is not a known release"), "{stderr}");
    let manifests: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    manifests
        .create(
            &PostParams::default(),
            &ProductManifest::new(
                "v4.4.0",
                ProductManifestSpec {
                    version: Some("4.4.0".into()),
                    image: None,
                },
            ),
        )
        .await
        .unwrap();
    let status = json!({
        "apiVersion": names::API_VERSION,
        "kind": "ProductManifest",
        "status": {
            "conditions": [condition("Ready", true, "Resolved", "Release 4.4.0 resolved from its image")],
            "release": {
                "version": "4.4.0",
                "kubernetes": {"version": "v1.35.1", "creation": ["1.35"], "compatible": ["1.32", "1.33", "1.34", "1.35"]},
                "upgradeFrom": [">=4.3.0, <4.4.0"],
            },
        },
    });
    manifests
        .patch_status(
            "v4.4.0",
            &PatchParams::apply(names::FIELD_MANAGER).force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    let stdout = run(register_edge_4()).await.ok().to_owned();
    assert!(
        stdout.starts_with("Registered cluster edge-4 (Workload"),
        "{stdout}"
    );
}
