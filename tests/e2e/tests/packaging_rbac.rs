//! Least privilege, proven: the operator runs as the `acp-cvo` ServiceAccount with nothing but the RBAC of
//! `deploy/operator/rbac.yaml` (the chart renders the same rules) and still takes the global cluster through
//! a whole upgrade — leader Lease, the `global` shadow created, release resolution, preflight, every stage,
//! Events, history. A verb the
//! manifests forgot shows up here as a `forbidden` in the operator's log or an upgrade that never finishes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operator_support;

use std::path::PathBuf;

use acp_api::names;
use acp_testkit::Cluster;
use operator_support::*;
use serde_json::json;

/// A kubeconfig for `global` that authenticates as the operator's ServiceAccount (a bound token).
async fn service_account_kubeconfig(global: &Cluster, dir: &std::path::Path) -> PathBuf {
    let token = global
        .kubectl([
            "create",
            "token",
            "acp-cvo",
            "-n",
            names::NAMESPACE,
            "--duration=2h",
        ])
        .await
        .unwrap();
    let admin: serde_json::Value = serde_saphyr::from_str(global.kubeconfig_yaml()).unwrap();
    let ca = admin["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap()
        .to_owned();
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "global", "cluster": {"server": global.server(), "certificate-authority-data": ca}}],
        "users": [{"name": "acp-cvo", "user": {"token": token.trim()}}],
        "contexts": [{"name": "acp-cvo", "context": {"cluster": "global", "user": "acp-cvo"}}],
        "current-context": "acp-cvo",
    });
    let path = dir.join("acp-cvo-serviceaccount.kubeconfig");
    std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_upgrades_the_global_cluster_with_only_the_rbac_deploy_grants() {
    let env = start([cluster("global", "1.33")]).await;
    let global = env.cluster("global");
    install_release(global, "4.2.3").await;

    let deploy = acp_testkit::repo_root().join("deploy");
    for file in [
        "namespace.yaml",
        "operator/serviceaccount.yaml",
        "operator/rbac.yaml",
    ] {
        global
            .kubectl(["apply", "-f", deploy.join(file).to_str().unwrap()])
            .await
            .unwrap();
    }
    // The ServiceAccount really is restricted: it cannot read Secrets outside its namespace.
    let denied = global
        .kubectl([
            "auth",
            "can-i",
            "list",
            "secrets",
            "-n",
            "kube-system",
            "--as=system:serviceaccount:cpaas-system:acp-cvo",
        ])
        .await;
    assert!(
        denied.is_err(),
        "acp-cvo may list Secrets in kube-system: {denied:?}"
    );

    let kubeconfig = service_account_kubeconfig(global, env.dir()).await;
    import(global, "4.2.5").await;
    // No `global` shadow: the operator creates it, with the ServiceAccount's rights.
    let kubeconfig = kubeconfig.to_str().unwrap();
    let operator = env
        .spawn(operator_spec_with(
            global,
            "4.2.3",
            "restricted",
            &[("--kubeconfig", kubeconfig)],
        ))
        .unwrap();

    wait_shadow(global, "global", "4.2.5 offered", LONG, |s| {
        offered(s) == ["4.2.5"]
    })
    .await;
    request(global, "global", "4.2.5").await;
    let shadow = wait_shadow(global, "global", "4.2.5 completed", LONG, |s| {
        s.current_version() == Some("4.2.5") && ready(s)
    })
    .await;
    assert_modules_upgraded_once(global, "4.2.5").await;
    assert_eq!(history(&shadow)[0], ("4.2.5".to_owned(), "Completed".to_owned()));

    let logs = operator.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator hit a permission it lacks:\n{}",
        operator.log_tail(40)
    );
}
