//! What the suites that run the operator share: clusters with fake nodes, the CRDs, workload clusters
//! registered the way `ac adm cluster register` does it, the operator run as a real process, and polling
//! helpers.

use std::net::TcpListener;
use std::time::Duration;

use acp_api::conditions::{self, types};
use acp_api::cvsh::{Observed, Operation};
use acp_api::{ClusterVersionShadow, ProductManifest, names};
use acp_operator::clusters::Cluster as Target;
use acp_policy::AcpVersion;
use acp_testkit::{
    ChildProcess, Cluster, ClusterSpec, NodeSpec, ProcessSpec, TestEnv, wait_for, wait_for_some,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

pub use crate::{create_cvsh, install_crds};

/// Generous bounds for a loaded 2-core machine; polling returns as soon as the condition holds.
pub const SHORT: Duration = Duration::from_secs(60);
pub const LONG: Duration = Duration::from_secs(240);

/// The sample Core modules of the built-in releases, in dependency order.
pub const CORE_MODULES: [&str; 3] = ["platform-api", "platform-auth", "platform-console"];
pub const ALIGNED_MODULES: [&str; 1] = ["cluster-logging"];

/// A cluster spec that runs workloads (controller-manager, scheduler, kwok).
pub fn cluster(name: &str, kube: &str) -> ClusterSpec {
    ClusterSpec::new(name, kube).with_workloads()
}

/// Starts the global cluster (first spec) and the others, gives each a Ready fake node, and installs the
/// CRDs and the platform namespace in the global cluster.
pub async fn start(specs: impl IntoIterator<Item = ClusterSpec>) -> TestEnv {
    let env = TestEnv::start(specs).await.unwrap();
    for cluster in env.clusters() {
        cluster
            .create_node(NodeSpec::new(format!("{}-worker-1", cluster.name())))
            .await
            .unwrap();
    }
    install_crds(&env.clusters()[0]).await;
    env
}

/// The global cluster of `env` running `installed` (its modules rolled out), with `import_version` imported and
/// the global cvsh created, and one operator replica, `replica-a`, that has recorded `installed` as current.
pub async fn operate_global(env: &TestEnv, installed: &str, import_version: &str) -> ChildProcess {
    operate_global_with(env, installed, import_version, &[]).await
}

/// Like [`operate_global`], the operator's flags overridden as [`operator_spec_with`] does.
pub async fn operate_global_with(
    env: &TestEnv,
    installed: &str,
    import_version: &str,
    overrides: &[(&str, &str)],
) -> ChildProcess {
    let global = env.cluster(names::GLOBAL_CLUSTER);
    install_release(global, installed).await;
    import(global, import_version).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let operator = env
        .spawn(operator_spec_with(global, installed, "replica-a", overrides))
        .unwrap();
    wait_shadow(
        global,
        names::GLOBAL_CLUSTER,
        &format!("current {installed}"),
        LONG,
        |s| s.current_version() == Some(installed),
    )
    .await;
    operator
}

/// Server-side applies one object as a test administrator would.
pub async fn apply(cluster: &Cluster, object: &Value) {
    let target = Target::new(
        cluster.name(),
        cluster.client().await.unwrap(),
        Duration::from_secs(20),
    );
    target.apply(object).await.unwrap();
}

/// Installs the built-in modules of `version` into `cluster`, as the installer of that release did, and
/// waits until they are rolled out.
pub async fn install_release(cluster: &Cluster, version: &str) {
    let version: AcpVersion = version.parse().unwrap();
    for module in acp_operator::releases::builtin::sample_modules(&version) {
        for manifest in &module.manifests {
            apply(cluster, manifest).await;
        }
    }
    let client = cluster.client().await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client, names::NAMESPACE);
    for module in CORE_MODULES.iter().chain(&ALIGNED_MODULES) {
        wait_for(
            &format!("module {module} of {version} to roll out"),
            LONG,
            || async {
                deployments
                    .get(module)
                    .await
                    .is_ok_and(|d| rolled_out(&d, &version.to_string()))
            },
        )
        .await
        .unwrap();
    }
}

/// Records `version` in the cluster's `cpaas-system/acp-version`, as `ac adm cluster register --version` does.
pub async fn record_version(cluster: &Cluster, version: &str) {
    let version: AcpVersion = version.parse().unwrap();
    apply(
        cluster,
        &serde_json::to_value(acp_api::acp_version::namespace()).unwrap(),
    )
    .await;
    apply(
        cluster,
        &serde_json::to_value(acp_api::acp_version::config_map(&version)).unwrap(),
    )
    .await;
}

/// Registers `workload` in the global cluster: its kubeconfig Secret and its cvsh.
pub async fn register(global: &Cluster, workload: &Cluster) {
    register_as(global, workload, workload.name()).await;
}

/// Registers `cluster` under `name`, with its own kubeconfig Secret `<name>-kubeconfig`, marked as
/// `ac adm cluster register` marks it (several names may point at one API server).
pub async fn register_as(global: &Cluster, cluster: &Cluster, name: &str) {
    register_with(global, name, cluster.kubeconfig_yaml(), json!({})).await;
}

/// Registers the cluster `kubeconfig` reaches under `name`, with extra spec fields (e.g. a tier).
pub async fn register_with(global: &Cluster, name: &str, kubeconfig: &str, extra: Value) {
    write_kubeconfig(global, name, kubeconfig).await;
    let mut spec = json!({"kubeconfigSecretRef": {"name": format!("{name}-kubeconfig")}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    create_cvsh(global, name, spec).await;
}

/// Writes the Secret `<name>-kubeconfig` holding `kubeconfig`, marked as a kubeconfig.
pub async fn write_kubeconfig(global: &Cluster, name: &str, kubeconfig: &str) {
    apply(global, &kubeconfig_secret(name, kubeconfig)).await;
}

/// The Secret `<name>-kubeconfig` holding `kubeconfig`, marked as a kubeconfig, as `ac adm cluster register`
/// writes it.
pub fn kubeconfig_secret(name: &str, kubeconfig: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": format!("{name}-kubeconfig"), "namespace": names::NAMESPACE,
            "labels": {names::labels::KUBECONFIG: "true"},
        },
        "stringData": {"value": kubeconfig},
    })
}

/// Switches preflight checks off in ConfigMap `cvo-config`, as an administrator may.
pub async fn disable_checks(global: &Cluster, checks: &[&str]) {
    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cvo-config", "namespace": names::NAMESPACE},
            "data": {"preflight": format!("disabled: [{}]", checks.join(", "))},
        }),
    )
    .await;
}

/// Imports a release as `ac adm release import-manifest --version` does.
pub async fn import(global: &Cluster, version: &str) {
    apply(
        global,
        &json!({
            "apiVersion": names::API_VERSION, "kind": "ProductManifest",
            "metadata": {"name": ProductManifest::name_for_version(version)},
            "spec": {"version": version},
        }),
    )
    .await;
}

/// Imports a release bundle under `name`, as `ac adm release import-manifest --image` does.
pub async fn import_image(global: &Cluster, name: &str, image: &str) {
    apply(
        global,
        &json!({
            "apiVersion": names::API_VERSION, "kind": "ProductManifest",
            "metadata": {"name": name},
            "spec": {"image": image},
        }),
    )
    .await;
}

/// Asks for an upgrade the way `kubectl patch cvsh <name> --type merge` does.
pub async fn request(global: &Cluster, name: &str, version: &str) {
    patch_desired_update(global, name, json!({"version": version})).await;
}

/// Asks for an upgrade to the release bundle `image`.
pub async fn request_image(global: &Cluster, name: &str, image: &str) {
    patch_desired_update(global, name, json!({"image": image})).await;
}

/// Withdraws the request, as `kubectl patch cvsh <name> --type merge -p '{"spec":{"desiredUpdate":null}}'`.
pub async fn clear_request(global: &Cluster, name: &str) {
    patch_desired_update(global, name, Value::Null).await;
}

async fn patch_desired_update(global: &Cluster, name: &str, desired_update: Value) {
    let patch = json!({"spec": {"desiredUpdate": desired_update}});
    shadows(global)
        .await
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

pub async fn shadows(global: &Cluster) -> Api<ClusterVersionShadow> {
    Api::namespaced(global.client().await.unwrap(), names::NAMESPACE)
}

/// Polls the cvsh `name` until `accept` holds, returning it; the failure message shows its last status.
pub async fn wait_shadow(
    global: &Cluster,
    name: &str,
    what: &str,
    timeout: Duration,
    accept: impl Fn(&ClusterVersionShadow) -> bool,
) -> ClusterVersionShadow {
    let api = shadows(global).await;
    let last = std::sync::Mutex::new(None);
    let found = wait_for_some(&format!("cvsh {name}: {what}"), timeout, || async {
        let shadow = api.get(name).await.ok()?;
        let ok = accept(&shadow);
        *last.lock().unwrap() = Some(shadow.clone());
        ok.then_some(shadow)
    })
    .await;
    match found {
        Ok(shadow) => shadow,
        Err(err) => {
            let status = last.lock().unwrap().take().and_then(|s| s.status);
            panic!(
                "{err}\nlast status:\n{}",
                serde_json::to_string_pretty(&status).unwrap()
            );
        }
    }
}

/// The check of that name in the cvsh's preflight results.
pub fn check<'a>(shadow: &'a ClusterVersionShadow, name: &str) -> Option<&'a acp_api::cvsh::PreflightCheck> {
    shadow.status.as_ref()?.preflight_check(name)
}

/// What the operator last observed of the cvsh's cluster.
pub fn observed(shadow: &ClusterVersionShadow) -> Option<&Observed> {
    shadow.status.as_ref()?.observed.as_ref()
}

/// The operation of that name in the cvsh's stages.
pub fn operation<'a>(shadow: &'a ClusterVersionShadow, name: &str) -> Option<&'a Operation> {
    shadow
        .status
        .as_ref()?
        .stages
        .iter()
        .flat_map(|s| &s.operations)
        .find(|o| o.name == name)
}

pub fn condition_is(shadow: &ClusterVersionShadow, type_: &str, status: &str) -> bool {
    conditions::find(shadow.conditions(), type_).is_some_and(|c| c.status == status)
}

pub fn ready(shadow: &ClusterVersionShadow) -> bool {
    condition_is(shadow, types::READY, "True")
}

/// Versions of availableUpdates, as listed.
pub fn offered(shadow: &ClusterVersionShadow) -> Vec<String> {
    shadow
        .status
        .as_ref()
        .map(|s| s.available_versions().map(String::from).collect())
        .unwrap_or_default()
}

/// True when the Deployment runs `version` (its ACP_VERSION) and is fully rolled out and Available.
pub fn rolled_out(d: &Deployment, version: &str) -> bool {
    let env_version = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.env.as_ref())
        .and_then(|env| env.iter().find(|e| e.name == "ACP_VERSION"))
        .and_then(|e| e.value.clone());
    let Some(status) = &d.status else { return false };
    env_version.as_deref() == Some(version)
        && status.observed_generation >= d.metadata.generation
        && status.updated_replicas == Some(1)
        && status.available_replicas == Some(1)
        && status.replicas == Some(1)
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Available" && c.status == "True")
}

/// Environment variable naming the operator binary the suites run instead of a debug build of the workspace,
/// e.g. `target/release/acp-cvo` for the benchmarks (a relative path is taken from the repository root).
pub const OPERATOR_BIN_ENV: &str = "ACP_OPERATOR_BIN";

/// The operator binary (a debug build, or [`OPERATOR_BIN_ENV`]), run against `global`'s kubeconfig, with
/// settings that keep tests quick: a 6 s Lease, clusters re-observed every 3 s, Stalled after 10 minutes.
pub fn operator_spec(global: &Cluster, install_version: &str, identity: &str) -> ProcessSpec {
    operator_spec_with(global, install_version, identity, &[])
}

/// Like [`operator_spec`], with some flags given other values, e.g. `[("--stall-after", "8")]`.
pub fn operator_spec_with(
    global: &Cluster,
    install_version: &str,
    identity: &str,
    overrides: &[(&str, &str)],
) -> ProcessSpec {
    let binary = acp_testkit::workspace_binary_from_env(OPERATOR_BIN_ENV, "acp-operator", "acp-cvo").unwrap();
    let port = free_port().to_string();
    let kubeconfig = global.kubeconfig_path().to_string_lossy().into_owned();
    let mut flags = vec![
        ("--kubeconfig", kubeconfig.as_str()),
        ("--namespace", names::NAMESPACE),
        ("--install-version", install_version),
        ("--identity", identity),
        ("--lease-duration", "6"),
        ("--resync", "3"),
        // The suites wait on what a 3 s resync shows; the stretching cadence is tested on its own.
        ("--resync-max", "3"),
        ("--stall-after", "600"),
    ];
    for (flag, value) in overrides {
        flags.retain(|(f, _)| f != flag);
        flags.push((flag, value));
    }
    let mut spec = ProcessSpec::new(binary)
        .name(format!("acp-cvo-{identity}"))
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info,acp_operator=debug,kube=warn");
    for (flag, value) in flags {
        spec = spec.arg(flag).arg(value);
    }
    spec
}

/// Starts one operator replica.
pub fn run_operator(env: &TestEnv, install_version: &str, identity: &str) -> ChildProcess {
    env.spawn(operator_spec(
        env.clusters().first().unwrap(),
        install_version,
        identity,
    ))
    .unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The metrics address an operator process was started with.
pub fn metrics_addr(operator: &ChildProcess) -> String {
    let args = operator.spec().arguments().to_vec();
    let at = args.iter().position(|a| a == "--metrics-addr").unwrap();
    args[at + 1].to_string_lossy().into_owned()
}

/// The Deployment of a module in the cluster.
pub async fn module(cluster: &Cluster, name: &str) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE);
    api.get(name).await.unwrap()
}

/// The names of a cvsh's history entries with their states, newest first.
pub fn history(shadow: &ClusterVersionShadow) -> Vec<(String, String)> {
    shadow
        .status
        .as_ref()
        .map(|s| {
            s.history
                .iter()
                .map(|h| (h.version.clone().unwrap_or_default(), format!("{:?}", h.state)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn name_of(shadow: &ClusterVersionShadow) -> String {
    shadow.name_any()
}

/// `GET path` on an operator's HTTP server: status code and body.
pub async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// The value of a metric line (exact name and labels) on an operator's /metrics.
pub async fn metric(addr: &str, series: &str) -> Option<f64> {
    let (_, body) = http_get(addr, "/metrics").await?;
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// Events about the cvsh `name` with the given reason, as (reporting instance, note).
pub async fn events(global: &Cluster, name: &str, reason: &str) -> Vec<(String, String)> {
    events_about(global, name)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| {
            (
                e.reporting_instance.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

/// Every Event about the cvsh `name`.
pub async fn events_about(global: &Cluster, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect()
}

/// Every module Deployment updated exactly once (generation 2) and two ReplicaSets each: the old
/// release's and the new one's.
pub async fn assert_modules_upgraded_once(cluster: &Cluster, version: &str) {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE);
    for name in CORE_MODULES.iter().chain(&ALIGNED_MODULES) {
        let deployment = module(cluster, name).await;
        assert!(
            rolled_out(&deployment, version),
            "{name}: {:?}",
            deployment.status
        );
        assert_eq!(
            deployment.metadata.generation,
            Some(2),
            "{name} must be updated exactly once"
        );
        let owned = replica_sets
            .list(&kube::api::ListParams::default().labels(&format!("app.kubernetes.io/name={name}")))
            .await
            .unwrap();
        assert_eq!(owned.items.len(), 2, "{name}: the old ReplicaSet and the new one");
    }
}

/// Stops new pods from landing on the cluster's node, so a rollout waits until [`uncordon`].
pub async fn cordon(cluster: &Cluster) {
    cluster
        .kubectl(["cordon", &format!("{}-worker-1", cluster.name())])
        .await
        .unwrap();
}

pub async fn uncordon(cluster: &Cluster) {
    cluster
        .kubectl(["uncordon", &format!("{}-worker-1", cluster.name())])
        .await
        .unwrap();
}

/// True when the stage's operation is in the phase.
pub fn operation_in(shadow: &ClusterVersionShadow, stage: &str, operation: &str, phase: &str) -> bool {
    shadow.status.as_ref().is_some_and(|s| {
        s.stages
            .iter()
            .filter(|st| st.name == stage)
            .flat_map(|st| &st.operations)
            .any(|o| o.name == operation && o.phase.as_ref().is_some_and(|p| p.as_str() == phase))
    })
}

/// A TLS server configuration for a test's own listener on loopback, serving `cert` with `key` (DER).
/// A fresh CA (its PEM, for a kubeconfig's `certificate-authority-data`) and the server config of a
/// certificate it signed for `localhost` and 127.0.0.1: what a TLS listener on loopback presents.
pub fn loopback_tls() -> (String, std::sync::Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let config = loopback_tls_config(
        cert.der().clone(),
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    );
    (ca_pem, config)
}

pub fn loopback_tls_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> std::sync::Arc<rustls::ServerConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    std::sync::Arc::new(config)
}
