//! What the end-to-end suites share. At the root, what every suite does to a fresh global cluster before
//! its scenario: install the CRDs from `deploy/crds` and wait until they serve, create the platform
//! namespace, create ClusterVersionShadows as an administrator would. [`operator`] runs the operator as a
//! process and reads what it wrote, [`cli`] runs `ac`, [`bundles`] publishes release bundles to a registry.
//!
//! The suites themselves are one test target, `tests/main.rs`, one module per area:
//! `cargo test -p acp-e2e --test e2e hostile::` runs one area.
// Test support: a failed step must stop the test with its message, so panicking is the right answer here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bundles;
pub mod cli;
pub mod cluster_api;
pub mod console;
pub mod operator;

use std::path::PathBuf;
use std::time::Duration;

use acp_api::{ClusterVersionShadow, names};
use acp_testkit::{Cluster, wait_for};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// How long a freshly applied CRD may take to be Established on a loaded 2-core machine.
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// Field manager of objects the suites write as an administrator.
const ADMIN: &str = "e2e-admin";

/// Applies `deploy/crds`, waits until every CRD is Established, and creates the platform namespace.
pub async fn install_crds(cluster: &Cluster) {
    let dir = acp_testkit::repo_root().join("deploy/crds");
    cluster
        .kubectl(["apply", "-f", dir.to_str().unwrap()])
        .await
        .unwrap();
    wait_established(cluster).await;
    let client = cluster.client().await.unwrap();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": names::NAMESPACE}});
    Api::<Namespace>::all(client)
        .patch(
            names::NAMESPACE,
            &PatchParams::apply(ADMIN).force(),
            &Patch::Apply(&namespace),
        )
        .await
        .unwrap();
}

/// Waits until every CRD of `acp_api::crd::all()` is Established in `cluster`.
pub async fn wait_established(cluster: &Cluster) {
    for crd in acp_api::crd::all() {
        wait_crd_established(cluster, &crd.metadata.name.clone().unwrap()).await;
    }
}

/// Waits until the CRD `name` is Established in `cluster`.
pub async fn wait_crd_established(cluster: &Cluster, name: &str) {
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client().await.unwrap());
    wait_for(
        &format!("CRD {name} to be Established"),
        ESTABLISHED_TIMEOUT,
        || async {
            crds.get(name).await.is_ok_and(|crd| {
                crd.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
        },
    )
    .await
    .unwrap();
}

/// The `helm` binary `scripts/tools.sh` builds (`make test` does this).
pub fn helm_path() -> PathBuf {
    let helm = acp_testkit::repo_root().join("target/tools/helm");
    assert!(
        helm.exists(),
        "{} is missing: build it with `bash scripts/tools.sh` (make test does this)",
        helm.display()
    );
    helm
}

/// Creates (or updates) the ClusterVersionShadow `name` with `spec` (JSON), by server-side apply.
pub async fn create_cvsh(cluster: &Cluster, name: &str, spec: Value) {
    let body = json!({
        "apiVersion": names::API_VERSION,
        "kind": "ClusterVersionShadow",
        "metadata": {"name": name, "namespace": names::NAMESPACE},
        "spec": spec,
    });
    Api::<ClusterVersionShadow>::namespaced(cluster.client().await.unwrap(), names::NAMESPACE)
        .patch(name, &PatchParams::apply(ADMIN).force(), &Patch::Apply(&body))
        .await
        .unwrap();
}

/// Says on the test run's own stderr, which `cargo test` does not capture, that `test` did not run and
/// why, so a skipped suite is never mistaken for a passing one.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Applies the namespace, the ServiceAccount `acp-cvo` and the RBAC of `deploy/`, as an installation does.
pub async fn apply_deploy_rbac(global: &Cluster) {
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
}

/// A bound token of the ServiceAccount `acp-cvo`, as the kubelet mounts into the operator's pod.
pub async fn service_account_token(global: &Cluster) -> String {
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
    token.trim().to_owned()
}

/// The PEM of the CA that signed `cluster`'s serving certificate, from its admin kubeconfig.
pub fn cluster_ca_pem(cluster: &Cluster) -> String {
    use base64::Engine as _;
    let admin: Value = serde_saphyr::from_str(cluster.kubeconfig_yaml()).unwrap();
    let data = admin["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    let pem = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
    String::from_utf8(pem).unwrap()
}

/// The clusters `scripts/kind-up.sh` creates for the users' workflow, from `tests/e2e/kind-clusters`:
/// (role, kind node image), e.g. `("global", "kindest/node:v1.34.0")`; `KIND_IMAGE_<ROLE>` overrides an image
/// there as it does for kind-up.
pub fn kind_clusters() -> Vec<(String, String)> {
    let path = acp_testkit::repo_root().join("tests/e2e/kind-clusters");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let role = words.next()?.to_owned();
            let image = std::env::var(format!("KIND_IMAGE_{}", role.to_uppercase().replace('-', "_")))
                .unwrap_or_else(|_| words.next().unwrap_or_default().to_owned());
            Some((role, image))
        })
        .collect()
}
