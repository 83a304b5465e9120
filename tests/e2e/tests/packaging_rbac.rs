//! Least privilege, proven: the operator runs as the `acp-cvo` ServiceAccount with nothing but the RBAC of
//! `deploy/operator/rbac.yaml` (the chart renders the same rules) and still takes the global cluster through
//! a whole upgrade — leader Lease, the `global` shadow created, release resolution, preflight, every stage,
//! Events, history. A verb the
//! manifests forgot shows up here as a `forbidden` in the operator's log or an upgrade that never finishes.

use std::path::PathBuf;

use acp_api::names;
use acp_e2e::operator::*;
use acp_testkit::Cluster;
use serde_json::json;

/// A kubeconfig for `global` that authenticates as the operator's ServiceAccount (a bound token).
async fn service_account_kubeconfig(global: &Cluster, dir: &std::path::Path) -> PathBuf {
    let token = acp_e2e::service_account_token(global).await;
    let admin: serde_json::Value = serde_saphyr::from_str(global.kubeconfig_yaml()).unwrap();
    let ca = admin["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap()
        .to_owned();
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "global", "cluster": {"server": global.server(), "certificate-authority-data": ca}}],
        "users": [{"name": "acp-cvo", "user": {"token": token}}],
        "contexts": [{"name": "acp-cvo", "context": {"cluster": "global", "user": "acp-cvo"}}],
        "current-context": "acp-cvo",
    });
    let path = dir.join("acp-cvo-serviceaccount.kubeconfig");
    std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
    path
}

/// `kubectl auth can-i VERB RESOURCE -n NAMESPACE --as USER`, answered by the API server's authorizer.
async fn can(global: &Cluster, user: &str, verb: &str, resource: &str, namespace: &str) -> bool {
    global
        .kubectl([
            "auth",
            "can-i",
            verb,
            resource,
            "-n",
            namespace,
            &format!("--as={user}"),
        ])
        .await
        .is_ok()
}

/// An administrator bound to the Role and the ClusterRole `acp-cvo-admin` requests upgrades, imports
/// releases and registers clusters, and reads no Secret outside `cpaas-system`; the operator itself
/// watches the Secrets of `cpaas-system` (keeping only those marked as kubeconfigs) and none elsewhere.
async fn assert_admin_roles_stay_in_the_platform_namespace(global: &Cluster) {
    let admin = "platform-admin";
    for (kind, binding) in [("role", "rolebinding"), ("clusterrole", "clusterrolebinding")] {
        let mut args = vec![
            "create".to_owned(),
            binding.to_owned(),
            "acp-cvo-admin".to_owned(),
            format!("--{kind}=acp-cvo-admin"),
            format!("--user={admin}"),
        ];
        if binding == "rolebinding" {
            args.extend(["-n".to_owned(), names::NAMESPACE.to_owned()]);
        }
        global.kubectl(args).await.unwrap();
    }
    let ns = names::NAMESPACE;
    for (verb, resource, namespace, allowed) in [
        ("patch", "clusterversionshadows.config.alauda.io", ns, true),
        ("create", "clusterversionshadows.config.alauda.io", ns, true),
        ("create", "productmanifests.config.alauda.io", ns, true),
        ("create", "secrets", ns, true),
        ("get", "secrets", ns, true),
        ("list", "secrets", ns, false),
        ("get", "secrets", "kube-system", false),
        ("get", "secrets", "default", false),
        (
            "patch",
            "clusterversionshadows.config.alauda.io",
            "default",
            false,
        ),
    ] {
        assert_eq!(
            can(global, admin, verb, resource, namespace).await,
            allowed,
            "acp-cvo-admin: can {verb} {resource} in {namespace} should be {allowed}"
        );
    }
    let operator = "system:serviceaccount:cpaas-system:acp-cvo";
    for verb in ["get", "list", "watch"] {
        assert!(
            can(global, operator, verb, "secrets", ns).await,
            "the operator may not {verb} Secrets in {ns}; it watches the kubeconfig Secrets there"
        );
    }
    for (verb, namespace) in [("list", "kube-system"), ("watch", "default"), ("create", ns)] {
        assert!(
            !can(global, operator, verb, "secrets", namespace).await,
            "the operator may {verb} Secrets in {namespace}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_upgrades_the_global_cluster_with_only_the_rbac_deploy_grants() {
    let env = start([cluster("global", "1.33")]).await;
    let global = env.cluster("global");
    install_release(global, "4.2.3").await;

    acp_e2e::apply_deploy_rbac(global).await;
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
    assert_admin_roles_stay_in_the_platform_namespace(global).await;

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
