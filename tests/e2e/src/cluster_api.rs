//! Cluster API in the global cluster, for the kubernetesDriver ClusterAPI suite.
//!
//! - **Real**: the CRDs (from the Cluster API Go module, `scripts/cluster-api-crds.sh`), the core manager
//!   (`sigs.k8s.io/cluster-api`: its Cluster, ClusterClass, topology, MachineDeployment, MachineSet and
//!   Machine controllers) and the kubeadm control plane provider (`controlplane/kubeadm`), both built by the
//!   harness target "cluster-api". They create, replace, drain and delete every Machine; the control plane
//!   provider generates the cluster's certificates and kubeconfig from its CA, checks each control-plane
//!   machine's static pods and updates the `kubeadm-config` ConfigMap of the workload cluster.
//! - The workload clusters look to Cluster API like **kubeadm clusters with an external etcd**
//!   ([`prepare_as_kubeadm_cluster`]): their CA, and the `kubeadm-config` ConfigMap the provider reads and
//!   updates. Harness clusters run etcd as a process; the provider's stacked-etcd steps (member health,
//!   leadership moves) reach etcd through a port-forward to its pod, which a kwok node cannot serve, so the
//!   control planes declare their etcd external and those steps do not apply.
//! - **Played** by [`Providers`], each for a reason:
//!   - the infrastructure provider. Cluster API's in-memory provider would answer with its own in-memory
//!     API servers in place of the workload clusters, whose real restarts this suite checks (it is also in
//!     Cluster API's test module, which the module proxy does not serve at the pinned release). Played
//!     (kinds `Played*` in `tests/e2e/cluster-api/played-infrastructure.yaml`): a machine is provisioned as
//!     a kwok Node in the workload cluster carrying its providerID; a control-plane machine also gets the
//!     mirror pods of its static pods (no etcd pod: the etcd is external), and a control-plane machine of a new version really restarts the workload
//!     cluster's control plane at that version first.
//!   - the kubeadm bootstrap provider. No machine here runs its cloud-init: the played infrastructure
//!     starts kwok nodes. Played: each KubeadmConfig gets a data Secret and the annotation with its
//!     certificates' expiry, which the control plane provider would otherwise read from the API server's
//!     serving certificate through a port-forward to the kube-apiserver pod.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use acp_testkit::{ChildProcess, Cluster, NodeSpec, ProcessSpec, TestEnv, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::operator::{free_port, http_get};

/// The namespace the suite's Cluster API objects live in.
pub const NS: &str = "fleet";

const CLUSTER_NAME: &str = "cluster.x-k8s.io/cluster-name";
const CONTROL_PLANE: &str = "cluster.x-k8s.io/control-plane";
/// CRD label naming the Cluster API contract a provider's kinds follow, and their version for it.
const CONTRACT: &str = "cluster.x-k8s.io/v1beta2";
/// Annotation on a KubeadmConfig with the expiry of the machine's certificates; the control plane
/// provider reads it from the API server's serving certificate, through the pod proxy, when it is missing.
const CERTIFICATES_EXPIRY: &str = "machine.cluster.x-k8s.io/certificates-expiry";
/// The static pods of a kubeadm control-plane node with an external etcd, whose mirror pods are
/// `<component>-<node>` (acp-cvo's ControlPlaneStaticPodsPresent expects no etcd pod, as kubeadm-config
/// declares the etcd external).
const STATIC_PODS: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/// How often the played providers look at their objects.
const PLAY_INTERVAL: Duration = Duration::from_millis(300);

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn machines() -> ApiResource {
    resource("cluster.x-k8s.io", "v1beta2", "Machine", "machines")
}
fn bootstrap_configs() -> ApiResource {
    resource(
        "bootstrap.cluster.x-k8s.io",
        "v1beta2",
        "KubeadmConfig",
        "kubeadmconfigs",
    )
}
fn played(kind: &str) -> ApiResource {
    let plural = format!("{}s", kind.to_lowercase());
    resource("infrastructure.cluster.x-k8s.io", "v1beta2", kind, &plural)
}

/// The external etcd every control plane here declares (see the module's documentation); nothing dials it.
pub fn external_etcd() -> Value {
    json!({"external": {
        "endpoints": ["https://127.0.0.1:2379"],
        "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
        "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
    }})
}

/// Installs the Cluster API CRDs and the played infrastructure kinds in `global`, labels the provider CRDs
/// with their contract as clusterctl does, and creates the suite's namespace.
pub async fn install(global: &Cluster) {
    let root = acp_testkit::repo_root();
    let script = root.join("scripts/cluster-api-crds.sh");
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "{} failed", script.display());
    // `create`: the KubeadmControlPlane CRD is too large for client-side apply's annotation.
    for dir in [
        root.join("target/cluster-api/crds"),
        root.join("tests/e2e/cluster-api/played-infrastructure.yaml"),
    ] {
        global
            .kubectl(["create", "-f", dir.to_str().unwrap()])
            .await
            .unwrap();
    }
    for crd in [
        "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
        "kubeadmcontrolplanetemplates.controlplane.cluster.x-k8s.io",
        "kubeadmconfigs.bootstrap.cluster.x-k8s.io",
        "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
    ] {
        global
            .kubectl(["label", "crd", crd, &format!("{CONTRACT}=v1beta2")])
            .await
            .unwrap();
    }
    global
        .kubectl([
            "wait",
            "--for",
            "condition=Established",
            "--timeout",
            "60s",
            "crd",
            "--all",
        ])
        .await
        .unwrap();
    global.kubectl(["create", "namespace", NS]).await.unwrap();
}

/// The Cluster API managers of the suite, running until dropped.
pub struct Managers {
    pub core: ChildProcess,
    pub kubeadm_control_plane: ChildProcess,
}

/// Starts the Cluster API core manager and the kubeadm control plane provider against `global`, watching
/// [`NS`], with ClusterTopology on, and waits until both are ready. Their webhooks serve a self-signed
/// certificate and no webhook configuration points at them, as with managers installed without
/// cert-manager: every object the suite writes spells out what the defaulting webhooks would add.
pub async fn run_managers(env: &TestEnv, global: &Cluster) -> Managers {
    let certs = env.dir().join("cluster-api-webhook");
    write_serving_certificate(&certs);
    let mut started = Vec::new();
    for binary in ["cluster-api", "cluster-api-kubeadm-control-plane"] {
        let program = acp_testkit::cluster_api_binary(binary).unwrap();
        let health = format!("127.0.0.1:{}", free_port());
        let manager = env
            .spawn(
                ProcessSpec::new(program)
                    .arg(format!("--kubeconfig={}", global.kubeconfig_path().display()))
                    .arg(format!("--namespace={NS}"))
                    .arg("--feature-gates=ClusterTopology=true")
                    .arg(format!("--health-addr={health}"))
                    .arg(format!("--diagnostics-address=127.0.0.1:{}", free_port()))
                    .arg("--insecure-diagnostics")
                    .arg(format!("--webhook-port={}", free_port()))
                    .arg(format!("--webhook-cert-dir={}", certs.display())),
            )
            .unwrap();
        started.push((manager, health));
    }
    for (manager, health) in &started {
        // An exited manager (a flag it refuses, a port taken meanwhile) ends the wait at once.
        let ready = wait_for(
            &format!("{} to be ready", manager.name()),
            Duration::from_secs(120),
            || async {
                let probe = tokio::time::timeout(Duration::from_secs(5), http_get(health, "/readyz"));
                !manager.is_running() || matches!(probe.await, Ok(Some((200, _))))
            },
        )
        .await;
        let exited = !manager.is_running();
        if ready.is_err() || exited {
            panic!(
                "{} did not become ready ({}):\n{}",
                manager.name(),
                if exited {
                    "it exited"
                } else {
                    "no 200 from /readyz in 120 s"
                },
                manager.log_tail(40)
            );
        }
    }
    let mut started = started.into_iter().map(|(m, _)| m);
    Managers {
        core: started.next().unwrap(),
        kubeadm_control_plane: started.next().unwrap(),
    }
}

fn write_serving_certificate(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
}

/// Makes `workload`, at `version`, look to Cluster API like a cluster kubeadm made with an external etcd.
/// In [`NS`] of `global`: its CA (certificate and key, from the harness's PKI) as `<cluster>-ca`, which the
/// control plane provider makes the other certificates and the kubeconfig from; a self-signed certificate
/// standing for the external etcd's CA and client certificate (`<cluster>-etcd`,
/// `<cluster>-apiserver-etcd-client`; nothing dials that etcd). In the workload cluster: the
/// `kubeadm-config` ConfigMap `kubeadm init` writes, which the provider reads and updates.
pub async fn prepare_as_kubeadm_cluster(global: &Cluster, workload: &Cluster, version: &str) {
    let Some(dir) = workload.dir() else {
        panic!(
            "cluster {} was given by a kubeconfig: its CA key is not at hand",
            workload.name()
        );
    };
    let pki = dir.join("pki");
    let read = |file: &str| {
        let path = pki.join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    };
    let secrets: Api<Secret> = Api::namespaced(global.client().await.unwrap(), NS);
    let ca = serde_json::from_value(json!({
        "metadata": {"name": format!("{}-ca", workload.name()), "labels": {CLUSTER_NAME: workload.name()}},
        "type": "cluster.x-k8s.io/secret",
        "stringData": {"tls.crt": read("ca.crt"), "tls.key": read("ca.key")},
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &ca).await.unwrap();
    // The API server's client certificate for the external etcd, which kubeadm expects to be given.
    let key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["apiserver-etcd-client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let etcd_client = serde_json::from_value(json!({
        "metadata": {
            "name": format!("{}-apiserver-etcd-client", workload.name()),
            "labels": {CLUSTER_NAME: workload.name()},
        },
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": client.pem(), "tls.key": key.serialize_pem()},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &etcd_client)
        .await
        .unwrap();
    let etcd_ca = serde_json::from_value(json!({
        "metadata": {"name": format!("{}-etcd", workload.name()), "labels": {CLUSTER_NAME: workload.name()}},
        "type": "cluster.x-k8s.io/secret",
        "stringData": {"tls.crt": client.pem()},
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &etcd_ca).await.unwrap();

    let endpoint = workload.server().trim_start_matches("https://");
    let configuration = json!({
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
        "kubernetesVersion": version, "controlPlaneEndpoint": endpoint, "clusterName": workload.name(),
        "etcd": external_etcd(),
        "networking": {"serviceSubnet": "10.96.0.0/12", "dnsDomain": "cluster.local"},
    });
    let config_map = serde_json::from_value(json!({
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": serde_saphyr::to_string(&configuration).unwrap()},
    }))
    .unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(workload.client().await.unwrap(), "kube-system");
    config_maps
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
}

/// The providers Cluster API needs that cannot run here (see the module's documentation), played against
/// the real managers. [`run`](Self::run) plays them until dropped; a hold keeps a control plane's new
/// machines without infrastructure, so a test can look at a rollout in the middle.
pub struct Providers<'a> {
    global: Client,
    workloads: HashMap<String, &'a Cluster>,
    /// Clusters whose new control-plane machines are not provisioned, with the message they report.
    held: Mutex<HashMap<String, String>>,
    /// The last failure printed for each object, so a workload cluster restarting is not reported
    /// every pass.
    failures: Mutex<HashMap<String, String>>,
}

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn text<'v>(object: &'v Value, pointer: &str) -> &'v str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn name(object: &Value) -> &str {
    text(object, "/metadata/name")
}

fn label<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

fn deleting(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

fn owner<'v>(object: &'v Value, kind: &str) -> Option<&'v str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
        .and_then(|o| o.get("name").and_then(Value::as_str))
}

/// A create that found the object already there (a pass retried after a failure) did its job.
fn created<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

fn now() -> String {
    acp_api::k8s::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": now()})
}

impl<'a> Providers<'a> {
    /// Providers for the Cluster objects named like the clusters in `workloads`.
    pub async fn new(global: &Cluster, workloads: &[&'a Cluster]) -> Self {
        Providers {
            global: global.client().await.unwrap(),
            workloads: workloads.iter().map(|c| (c.name().to_owned(), *c)).collect(),
            held: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// New control-plane machines of `cluster` stay unprovisioned, reporting `message`, until released.
    pub fn hold_control_plane_machines(&self, cluster: &str, message: &str) {
        lock(&self.held).insert(cluster.to_owned(), message.to_owned());
    }

    pub fn release_control_plane_machines(&self, cluster: &str) {
        lock(&self.held).remove(cluster);
    }

    /// Plays the providers forever. A failure on one object (a conflict, a workload API server
    /// restarting) is printed once and does not hold the others; the next pass tries again, as a
    /// controller's requeue would.
    pub async fn run(&self) {
        loop {
            self.pass().await;
            tokio::time::sleep(PLAY_INTERVAL).await;
        }
    }

    fn report(&self, what: &str, outcome: Outcome) {
        let mut failures = lock(&self.failures);
        match outcome {
            Ok(()) => {
                failures.remove(what);
            }
            Err(e) => {
                let failure = e.to_string();
                if failures.get(what) != Some(&failure) {
                    eprintln!("played Cluster API providers: {what}: {failure}; trying again");
                    failures.insert(what.to_owned(), failure);
                }
            }
        }
    }

    fn api(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.global.clone(), NS, resource)
    }

    async fn list(&self, resource: &ApiResource) -> Result<Vec<Value>, kube::Error> {
        let list = self.api(resource).list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect())
    }

    async fn patch(&self, resource: &ApiResource, name: &str, patch: Value) -> Result<(), kube::Error> {
        self.api(resource)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    async fn patch_status(
        &self,
        resource: &ApiResource,
        name: &str,
        status: Value,
    ) -> Result<(), kube::Error> {
        self.api(resource)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await?;
        Ok(())
    }

    async fn pass(&self) {
        for (kind, resource) in [
            ("PlayedCluster", played("PlayedCluster")),
            ("KubeadmConfig", bootstrap_configs()),
            ("PlayedMachine", played("PlayedMachine")),
        ] {
            let objects = match self.list(&resource).await {
                Ok(objects) => objects,
                Err(e) => {
                    self.report(&format!("list {kind}s"), Err(e.into()));
                    continue;
                }
            };
            for object in objects {
                let outcome = match kind {
                    "PlayedCluster" => self.infrastructure_cluster(&object).await,
                    "KubeadmConfig" => self.bootstrap_config(&object).await,
                    _ => self.infrastructure_machine(&object).await,
                };
                self.report(&format!("{kind} {}", name(&object)), outcome);
            }
        }
    }

    fn workload(&self, object: &Value) -> Option<&'a Cluster> {
        let cluster = label(object, CLUSTER_NAME)?;
        self.workloads.get(cluster).copied()
    }

    /// Infrastructure provider, clusters: the workload API server is the control plane endpoint.
    async fn infrastructure_cluster(&self, infra: &Value) -> Outcome {
        if infra.pointer("/status/initialization/provisioned") == Some(&json!(true)) {
            return Ok(());
        }
        let Some(workload) = self.workload(infra) else {
            return Ok(());
        };
        let address = workload.server().trim_start_matches("https://");
        let (host, port) = address.rsplit_once(':').ok_or("a server URL without a port")?;
        let port: u16 = port.parse()?;
        let kind = played("PlayedCluster");
        self.patch(
            &kind,
            name(infra),
            json!({"spec": {"controlPlaneEndpoint": {"host": host, "port": port}}}),
        )
        .await?;
        self.patch_status(
            &kind,
            name(infra),
            json!({"initialization": {"provisioned": true}, "conditions": [ready("True", "Provisioned", "")]}),
        )
        .await?;
        Ok(())
    }

    /// Bootstrap provider: a KubeadmConfig gets a data Secret, and the expiry of the certificates it would
    /// have made.
    async fn bootstrap_config(&self, config: &Value) -> Outcome {
        if !text(config, "/status/dataSecretName").is_empty() || deleting(config) {
            return Ok(());
        }
        let config_name = name(config);
        let cluster = label(config, CLUSTER_NAME).unwrap_or("");
        let secrets: Api<Secret> = Api::namespaced(self.global.clone(), NS);
        let secret = serde_json::from_value(json!({
            "metadata": {
                "name": config_name, "labels": {CLUSTER_NAME: cluster},
                "ownerReferences": [{
                    "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig",
                    "name": config_name, "uid": text(config, "/metadata/uid"), "controller": true,
                }],
            },
            "type": "cluster.x-k8s.io/secret",
            "stringData": {"value": "#cloud-config\n", "format": "cloud-config"},
        }))?;
        created(secrets.create(&PostParams::default(), &secret).await)?;
        let year = k8s_openapi::jiff::SignedDuration::from_hours(24 * 365);
        let expiry = acp_api::k8s::Timestamp::now()
            .checked_add(year)?
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        self.patch(
            &bootstrap_configs(),
            config_name,
            json!({"metadata": {"annotations": {CERTIFICATES_EXPIRY: expiry}}}),
        )
        .await?;
        self.patch_status(
            &bootstrap_configs(),
            config_name,
            json!({
                "dataSecretName": config_name,
                "initialization": {"dataSecretCreated": true},
                "conditions": [ready("True", "DataSecretAvailable", "")],
            }),
        )
        .await?;
        Ok(())
    }

    /// Infrastructure provider, machines: once the Machine has its bootstrap data, a kwok Node with the
    /// machine's providerID joins the workload cluster. A control-plane machine first brings the control
    /// plane to its version (the workload cluster's control plane restarts at it, again if an earlier
    /// restart did not come up) and its node runs the control plane's static pods; a held cluster's new
    /// control-plane machines wait.
    async fn infrastructure_machine(&self, infra: &Value) -> Outcome {
        if infra.pointer("/status/initialization/provisioned") == Some(&json!(true)) || deleting(infra) {
            return Ok(());
        }
        let Some(workload) = self.workload(infra) else {
            return Ok(());
        };
        // The Machine controller makes the Machine the owner of its infrastructure once it sees it.
        let Some(machine_name) = owner(infra, "Machine") else {
            return Ok(());
        };
        let Some(machine) = self.api(&machines()).get_opt(machine_name).await? else {
            return Ok(());
        };
        let machine = serde_json::to_value(machine)?;
        if text(&machine, "/spec/bootstrap/dataSecretName").is_empty() {
            return Ok(());
        }
        let kind = played("PlayedMachine");
        let control_plane = label(&machine, CONTROL_PLANE).is_some();
        let version = text(&machine, "/spec/version");
        let held = lock(&self.held).get(workload.name()).cloned();
        if let Some(message) = held.filter(|_| control_plane) {
            if infra.pointer("/status/conditions").is_none() {
                self.patch_status(
                    &kind,
                    name(infra),
                    json!({"conditions": [ready("False", "WaitingForAddress", &message)]}),
                )
                .await?;
            }
            return Ok(());
        }
        if control_plane && reported(workload).await.as_deref() != Some(version) {
            workload.restart_at(version).await?;
        }
        let node_name = name(infra);
        let provider_id = format!("played:///{}/{node_name}", workload.name());
        let mut node = NodeSpec::new(node_name)
            .kubelet_version(version)
            .provider_id(&provider_id);
        if control_plane {
            node = node.control_plane();
        }
        match workload.create_node(node).await {
            Ok(_) => {}
            Err(acp_testkit::Error::Kube {
                source: kube::Error::Api(e),
                ..
            }) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        if control_plane {
            start_static_pods(workload, node_name, version).await?;
        }
        self.patch(&kind, node_name, json!({"spec": {"providerID": provider_id}}))
            .await?;
        self.patch_status(
            &kind,
            node_name,
            json!({
                "initialization": {"provisioned": true},
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "conditions": [ready("True", "Provisioned", "")],
            }),
        )
        .await?;
        Ok(())
    }
}

/// The version the workload cluster's API server reports in `/version`, if it answers.
pub async fn reported(workload: &Cluster) -> Option<String> {
    let client = workload.client().await.ok()?;
    // Generous: a loaded machine answers slowly, and no answer means a restart.
    let version = tokio::time::timeout(Duration::from_secs(30), client.apiserver_version());
    Some(version.await.ok()?.ok()?.git_version)
}

/// The mirror pods the kubelet of a kubeadm control-plane node makes of its static pods; kwok runs them.
async fn start_static_pods(workload: &Cluster, node: &str, version: &str) -> Outcome {
    let pods: Api<Pod> = Api::namespaced(workload.client().await?, "kube-system");
    for component in STATIC_PODS {
        let image = format!("registry.k8s.io/{component}:{version}");
        let pod = serde_json::from_value(json!({
            "metadata": {
                "name": format!("{component}-{node}"), "namespace": "kube-system",
                "annotations": {"kubernetes.io/config.mirror": "played", "kubernetes.io/config.source": "file"},
                "labels": {"component": component, "tier": "control-plane"},
            },
            "spec": {"nodeName": node, "containers": [{"name": component, "image": image}]},
        }))?;
        created(pods.create(&PostParams::default(), &pod).await)?;
    }
    Ok(())
}
