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
