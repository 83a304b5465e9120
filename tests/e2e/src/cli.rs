//! What the suites that run `ac` share: a global cluster with the CRDs installed, the `ac` binary run as a
//! process, and status written the way the operator writes it (server-side apply, field manager acp-cvo).

use std::path::PathBuf;
use std::process::Stdio;

use acp_api::{ClusterVersionShadow, ProductManifest, names};
use acp_testkit::{Cluster, ClusterSpec, TestEnv};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::install_crds;

/// What `ac` did.
#[derive(Debug)]
pub struct AcOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl AcOutput {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "ac failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts exit `code` and returns stderr.
    pub fn failed_with(&self, code: i32) -> &str {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

pub fn ac_path() -> PathBuf {
    acp_testkit::workspace_binary("acp-cli", "ac").unwrap()
}

/// Runs `ac args...` against `cluster` (through KUBECONFIG, as a user's shell would), without colour.
pub async fn ac(cluster: &Cluster, args: &[&str]) -> AcOutput {
    ac_with_env(cluster, args, &[]).await
}

/// Like [`ac`], with more environment variables.
pub async fn ac_with_env(cluster: &Cluster, args: &[&str], env: &[(&str, &str)]) -> AcOutput {
    let mut command = command(args);
    command.env("KUBECONFIG", cluster.kubeconfig_path());
    for (key, value) in env {
        command.env(key, value);
    }
    run(command).await
}

/// Runs `ac args...` with no cluster named, for commands that talk only to a registry.
pub async fn ac_without_cluster(args: &[&str]) -> AcOutput {
    run(command(args)).await
}

fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(ac_path());
    command
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn run(mut command: tokio::process::Command) -> AcOutput {
    let out = command.output().await.unwrap();
    AcOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A global cluster (Kubernetes 1.34) with the CRDs installed, plus any other clusters asked for.
pub async fn platform(others: impl IntoIterator<Item = ClusterSpec>) -> TestEnv {
    let specs = std::iter::once(ClusterSpec::new("global", "1.34")).chain(others);
    let env = TestEnv::start(specs).await.unwrap();
    install_crds(env.cluster("global")).await;
    env
}

pub async fn cvsh_api(cluster: &Cluster) -> Api<ClusterVersionShadow> {
    Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE)
}

/// Writes a cvsh's `status` (JSON) the way the operator does: server-side apply on the status subresource.
pub async fn write_status(cluster: &Cluster, name: &str, status: Value) {
    apply_status(cvsh_api(cluster).await, name, status).await;
}

/// Writes a ProductManifest's `status` (JSON) the way the operator's release controller does.
pub async fn write_manifest_status(cluster: &Cluster, name: &str, status: Value) {
    let api: Api<ProductManifest> = Api::all(cluster.client().await.unwrap());
    apply_status(api, name, status).await;
}

async fn apply_status<K>(api: Api<K>, name: &str, status: Value)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(names::FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .unwrap();
}

/// A condition as the operator writes it.
pub fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-03-01T10:00:00Z",
    })
}
