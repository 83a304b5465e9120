//! The ways platform teams install the operator, checked by a real Kubernetes 1.34 API server: the plain
//! manifests (`kubectl apply -k deploy/`) and the Helm chart (`helm template | kubectl apply`) are accepted
//! without a single warning — including the restricted Pod Security level, at which the shipped namespace
//! warns (it does not enforce it: it also hosts the platform's modules, whose policy is the cluster
//! administrator's call) — the chart renders exactly the objects deploy/ installs, and `helm uninstall`
//! leaves the namespace with every ClusterVersionShadow and kubeconfig Secret in it.

use std::collections::BTreeSet;

use acp_e2e::helm_path;
use acp_testkit::{Cluster, ClusterSpec, TestEnv};

async fn helm(args: &[&str]) -> String {
    let out = tokio::process::Command::new(helm_path())
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "helm {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn helm_template(args: &[&str]) -> String {
    let chart = acp_testkit::repo_root().join("charts/acp-cvo");
    let mut all = vec!["template", "acp-cvo", chart.to_str().unwrap()];
    all.extend_from_slice(args);
    helm(&all).await
}

/// `kind/namespace/name` of every object in a multi-document YAML stream.
fn object_keys(yaml: &str) -> BTreeSet<String> {
    serde_saphyr::from_multiple::<serde_json::Value>(yaml)
        .unwrap()
        .into_iter()
        .filter(|doc| !doc.is_null())
        .map(|doc| {
            format!(
                "{}/{}/{}",
                doc["kind"].as_str().unwrap_or_default(),
                doc["metadata"]["namespace"].as_str().unwrap_or_default(),
                doc["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

async fn cluster() -> TestEnv {
    TestEnv::start([ClusterSpec::new("global", "v1.34.5")])
        .await
        .unwrap()
}

/// The platform namespace, warning about anything the restricted Pod Security level would refuse.
async fn namespace_warning_at_restricted(cluster: &Cluster) {
    kubectl(cluster, &["create", "namespace", "cpaas-system"], None).await;
    kubectl(
        cluster,
        &[
            "label",
            "namespace",
            "cpaas-system",
            "pod-security.kubernetes.io/warn=restricted",
        ],
        None,
    )
    .await;
}

async fn kubectl(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let mut all = vec!["--warnings-as-errors"];
    all.extend_from_slice(args);
    match cluster.kubectl_with_stdin(all, stdin).await {
        Ok(out) => out,
        Err(err) => panic!("kubectl {} was refused or warned: {err}", args.join(" ")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_manifests_install_without_warnings() {
    let env = cluster().await;
    let global = env.cluster("global");
    namespace_warning_at_restricted(global).await;
    let deploy = acp_testkit::repo_root().join("deploy");
    let out = kubectl(global, &["apply", "-k", deploy.to_str().unwrap()], None).await;
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/clusterversionshadows.config.alauda.io",
        "customresourcedefinition.apiextensions.k8s.io/productmanifests.config.alauda.io",
        "clusterrole.rbac.authorization.k8s.io/acp-cvo-viewer",
        "clusterrole.rbac.authorization.k8s.io/acp-cvo-admin",
        "deployment.apps/acp-cvo",
        "service/acp-cvo-metrics",
    ] {
        assert!(
            out.contains(object),
            "kubectl apply -k deploy/ did not create {object}:\n{out}"
        );
    }
    // A second apply changes nothing: the manifests are stable under reapplication.
    let again = kubectl(global, &["apply", "-k", deploy.to_str().unwrap()], None).await;
    assert!(
        !again.contains("configured"),
        "reapplying deploy/ changed objects:\n{again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_chart_renders_what_deploy_installs_and_the_server_accepts_it() {
    let env = cluster().await;
    let global = env.cluster("global");

    let rendered = helm_template(&[]).await;
    assert!(
        !rendered.contains("--allow-privileged-release-content"),
        "privileged release content is refused unless a value allows it"
    );
    let deploy = acp_testkit::repo_root().join("deploy");
    let plain = global
        .kubectl(["kustomize", deploy.to_str().unwrap()])
        .await
        .unwrap();
    // The chart installs its CRDs from crds/, which `helm template` leaves out unless asked.
    let with_crds = helm_template(&["--include-crds"]).await;
    assert_eq!(
        object_keys(&with_crds),
        object_keys(&plain),
        "chart and deploy/ install different objects"
    );

    // The kubeconfig opt-ins stay off unless asked for, in both.
    for text in [&rendered, &plain] {
        assert!(
            !text.contains("--allow-kubeconfig-exec"),
            "exec plugins allowed by default"
        );
        assert!(
            !text.contains("--allow-insecure-kubeconfig-tls"),
            "insecure TLS allowed by default"
        );
    }

    // CRDs and the namespace first, for real; then the rest as a server-side dry run.
    let crds = acp_testkit::repo_root().join("deploy/crds");
    kubectl(global, &["apply", "-f", crds.to_str().unwrap()], None).await;
    namespace_warning_at_restricted(global).await;
    let out = kubectl(global, &["apply", "--dry-run=server", "-f", "-"], Some(&rendered)).await;
    assert!(
        out.contains("deployment.apps/acp-cvo created (server dry run)"),
        "{out}"
    );

    // Values reach the Deployment.
    let release_key = acp_bundle::signature::SigningKey::generate("release")
        .public_key()
        .to_pem();
    let release_keys = serde_json::json!([release_key]).to_string();
    let tuned = helm_template(&[
        "--set-json",
        &format!("releaseVerification.publicKeys={release_keys}"),
        "--set",
        "releaseVerification.existingConfigMap=site-release-keys",
        "--set",
        "replicas=3",
        "--set",
        "maxConcurrentUpgrades=5",
        "--set",
        "maxRequestsPerCluster=2",
        "--set",
        "maxRequestsTotal=16",
        "--set",
        "releaseRepository=registry.example.com/acp/releases",
        "--set",
        "nodeSelector.role=infra",
        "--set",
        "registry.authSecret=release-pull",
        "--set",
        "registry.insecure={registry.lab:5000}",
        "--set",
        "logFormat=json",
        "--set",
        "kubeconfig.allowExec=true",
        "--set",
        "kubeconfig.allowInsecureTLS=true",
        "--set",
        "allowPrivilegedReleaseContent=true",
        "--set",
        "resyncMaxSeconds=600",
        "--set",
        "reconcileWorkers=64",
    ])
    .await;
    kubectl(global, &["apply", "--dry-run=server", "-f", "-"], Some(&tuned)).await;
    for expected in [
        "replicas: 3",
        "--max-concurrent-upgrades=5",
        "--resync-max=600",
        "--reconcile-workers=64",
        "--max-requests-per-cluster=2",
        "--max-requests-total=16",
        "--release-repository=registry.example.com/acp/releases",
        "role: infra",
        "--registry-auth-file=/etc/acp-cvo/registry-auth/.dockerconfigjson",
        "secretName: release-pull",
        "--insecure-registry=registry.lab:5000",
        "--log-format=json",
        "--release-verification-key=/etc/acp-cvo/release-keys/key-0.pub",
        "--release-verification-key=/etc/acp-cvo/release-keys-existing/cosign.pub",
        "name: acp-cvo-release-keys",
        "name: site-release-keys",
        release_key.lines().nth(1).unwrap(),
        "--allow-kubeconfig-exec=on",
        "--allow-insecure-kubeconfig-tls=on",
        "--allow-privileged-release-content",
    ] {
        assert!(
            tuned.contains(expected),
            "helm template with values lacks `{expected}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_uninstall_keeps_the_namespace_and_the_clusters_in_it() {
    let env = cluster().await;
    let global = env.cluster("global");
    let kubeconfig = global.kubeconfig_path().to_str().unwrap().to_owned();
    let chart = acp_testkit::repo_root().join("charts/acp-cvo");
    // As the README installs it: the release record in `default`, the chart creating `cpaas-system`.
    helm(&[
        "install",
        "acp-cvo",
        chart.to_str().unwrap(),
        "--kubeconfig",
        &kubeconfig,
    ])
    .await;
    // What an administrator and the operator leave in the namespace.
    kubectl(
        global,
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: v1
kind: Secret
metadata: {name: edge-1-kubeconfig, namespace: cpaas-system}
stringData: {value: "apiVersion: v1"}
---
apiVersion: config.alauda.io/v1
kind: ClusterVersionShadow
metadata: {name: edge-1, namespace: cpaas-system}
spec: {}
"#,
        ),
    )
    .await;

    let out = helm(&["uninstall", "acp-cvo", "--kubeconfig", &kubeconfig]).await;
    assert!(
        out.contains("kept due to the resource policy"),
        "helm uninstall did not keep the namespace:\n{out}"
    );
    let phase = kubectl(
        global,
        &[
            "get",
            "namespace",
            "cpaas-system",
            "-o",
            "jsonpath={.status.phase}",
        ],
        None,
    )
    .await;
    assert_eq!(
        phase, "Active",
        "cpaas-system is no longer active after helm uninstall"
    );
    for object in ["secret/edge-1-kubeconfig", "clusterversionshadow/edge-1"] {
        kubectl(global, &["get", "-n", "cpaas-system", object], None).await;
    }
    let deployments = kubectl(
        global,
        &["get", "deployments", "-n", "cpaas-system", "-o", "name"],
        None,
    )
    .await;
    assert!(
        deployments.trim().is_empty(),
        "the operator was not uninstalled: {deployments}"
    );
}
