//! Cluster API in the global cluster, for the kubernetesDriver ClusterAPI suite.
//!
//! - **Real**: the CRDs (from the Cluster API Go module, `scripts/cluster-api-crds.sh`) and the core manager
//!   (`sigs.k8s.io/cluster-api`, harness target "cluster-api"): its Cluster, ClusterClass, topology,
//!   MachineDeployment, MachineSet and Machine controllers move every object the operator does not write,
//!   find each Machine's Node in the workload cluster through its kubeconfig Secret, and drain and delete
//!   the old ones.
//! - **Played** by [`Providers`], each for a reason:
//!   - the kubeadm control plane provider. It builds, but it cannot roll a control plane here: before every
//!     step it checks etcd through the etcd member pods and the control-plane components through their
//!     static pods on the control-plane nodes, and harness clusters run etcd and the API server as processes.
//!     Played: one Machine per replica at `spec.version`, a surge Machine per upgrade, the workload
//!     cluster's control plane really restarted at the new version once that Machine runs, then the old
//!     Machine deleted; the status fields of the control-plane contract; the `<cluster>-kubeconfig` Secret.
//!   - the infrastructure provider. The in-memory one is in Cluster API's test module, which the module
//!     proxy does not serve at the pinned release, and it would serve in-memory API servers in place of the
//!     workload clusters. Played (kinds `Played*` in `tests/e2e/cluster-api/played-infrastructure.yaml`): a
//!     machine is provisioned as a kwok Node in the workload cluster carrying its providerID.
//!   - the kubeadm bootstrap provider. No machine here runs its cloud-init: the played infrastructure
//!     starts kwok nodes. Played: each KubeadmConfig gets a data Secret.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use acp_testkit::{ChildProcess, Cluster, NodeSpec, ProcessSpec, TestEnv, wait_for};
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::operator::{free_port, http_get};

/// The namespace the suite's Cluster API objects live in.
pub const NS: &str = "fleet";

const CLUSTER_NAME: &str = "cluster.x-k8s.io/cluster-name";
const CONTROL_PLANE: &str = "cluster.x-k8s.io/control-plane";
const CONTROL_PLANE_NAME: &str = "cluster.x-k8s.io/control-plane-name";
/// CRD label naming the Cluster API contract a provider's kinds follow, and their version for it.
const CONTRACT: &str = "cluster.x-k8s.io/v1beta2";

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
fn control_planes() -> ApiResource {
    resource(
        "controlplane.cluster.x-k8s.io",
        "v1beta2",
        "KubeadmControlPlane",
        "kubeadmcontrolplanes",
    )
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

/// Starts the Cluster API core manager against `global`, watching [`NS`], with ClusterTopology on, and
/// waits until it is ready. Its webhooks serve a self-signed certificate; no webhook configuration points
/// at them, as with a manager installed without cert-manager.
pub async fn run_manager(env: &TestEnv, global: &Cluster) -> ChildProcess {
    let program = acp_testkit::cluster_api_manager().unwrap();
    let certs = env.dir().join("cluster-api-webhook");
    write_serving_certificate(&certs);
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
    wait_for(
        "the Cluster API manager to be ready",
        Duration::from_secs(120),
        || async {
            http_get(&health, "/readyz")
                .await
                .is_some_and(|(code, _)| code == 200)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", manager.log_tail(40)));
    manager
}

fn write_serving_certificate(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
}

/// The providers Cluster API needs that cannot run here (see the module's documentation), played against
/// the real core controllers. [`run`](Self::run) plays them until dropped; the holds let a test keep a
/// rollout where it wants to look at it.
pub struct Providers<'a> {
    global: Client,
    workloads: HashMap<String, &'a Cluster>,
    /// Clusters whose new infrastructure machines are not provisioned, with the message they report.
    held_infrastructure: Mutex<HashMap<String, String>>,
    /// Clusters whose control plane does not roll.
    held_control_plane: Mutex<HashSet<String>>,
    /// The last machine number of each control plane.
    numbers: Mutex<HashMap<String, u32>>,
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

fn running(machine: &Value) -> bool {
    text(machine, "/status/phase") == "Running"
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

fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastTransitionTime": acp_api::k8s::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

impl<'a> Providers<'a> {
    /// Providers for the Cluster objects named like the clusters in `workloads`.
    pub async fn new(global: &Cluster, workloads: &[&'a Cluster]) -> Self {
        Providers {
            global: global.client().await.unwrap(),
            workloads: workloads.iter().map(|c| (c.name().to_owned(), *c)).collect(),
            held_infrastructure: Mutex::default(),
            held_control_plane: Mutex::default(),
            numbers: Mutex::default(),
        }
    }

    /// New infrastructure machines of `cluster` stay unprovisioned, reporting `message`, until released.
    pub fn hold_infrastructure(&self, cluster: &str, message: &str) {
        lock(&self.held_infrastructure).insert(cluster.to_owned(), message.to_owned());
    }

    pub fn release_infrastructure(&self, cluster: &str) {
        lock(&self.held_infrastructure).remove(cluster);
    }

    /// The control plane of `cluster` keeps its machines (and its status) until released.
    pub fn hold_control_plane(&self, cluster: &str) {
        lock(&self.held_control_plane).insert(cluster.to_owned());
    }

    pub fn release_control_plane(&self, cluster: &str) {
        lock(&self.held_control_plane).remove(cluster);
    }

    /// Plays the providers forever; a failed pass (a conflict, a workload API server restarting) is
    /// printed and the next pass tries again, as a controller's requeue would.
    pub async fn run(&self) {
        loop {
            if let Err(e) = self.pass().await {
                eprintln!("played Cluster API providers: {e}; trying again");
            }
            tokio::time::sleep(PLAY_INTERVAL).await;
        }
    }

    fn api(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.global.clone(), NS, resource)
    }

    async fn list(&self, resource: &ApiResource, selector: Option<&str>) -> Result<Vec<Value>, kube::Error> {
        let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
        let list = self.api(resource).list(&params).await?;
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

    async fn create(&self, resource: &ApiResource, object: Value) -> Result<(), kube::Error> {
        let object: DynamicObject = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
        created(self.api(resource).create(&PostParams::default(), &object).await)
    }

    async fn pass(&self) -> Outcome {
        self.infrastructure_clusters().await?;
        self.bootstrap_configs().await?;
        self.infrastructure_machines().await?;
        for control_plane in self.list(&control_planes(), None).await? {
            self.control_plane(&control_plane).await?;
        }
        Ok(())
    }

    fn workload(&self, object: &Value) -> Option<&'a Cluster> {
        let cluster = label(object, CLUSTER_NAME)?;
        self.workloads.get(cluster).copied()
    }

    /// Infrastructure provider, clusters: the workload API server is the control plane endpoint.
    async fn infrastructure_clusters(&self) -> Outcome {
        for infra in self.list(&played("PlayedCluster"), None).await? {
            if infra.pointer("/status/initialization/provisioned") == Some(&json!(true)) {
                continue;
            }
            let Some(workload) = self.workload(&infra) else {
                continue;
            };
            let address = workload.server().trim_start_matches("https://");
            let (host, port) = address.rsplit_once(':').ok_or("a server URL without a port")?;
            let port: u16 = port.parse()?;
            let kind = played("PlayedCluster");
            self.patch(
                &kind,
                name(&infra),
                json!({"spec": {"controlPlaneEndpoint": {"host": host, "port": port}}}),
            )
            .await?;
            self.patch_status(
                &kind,
                name(&infra),
                json!({"initialization": {"provisioned": true}, "conditions": [ready("True", "Provisioned", "")]}),
            )
            .await?;
        }
        Ok(())
    }

    /// Bootstrap provider: every KubeadmConfig gets a data Secret.
    async fn bootstrap_configs(&self) -> Outcome {
        for config in self.list(&bootstrap_configs(), None).await? {
            if !text(&config, "/status/dataSecretName").is_empty() || deleting(&config) {
                continue;
            }
            let config_name = name(&config);
            let cluster = label(&config, CLUSTER_NAME).unwrap_or("");
            let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.global.clone(), NS);
            let secret = serde_json::from_value(json!({
                "metadata": {
                    "name": config_name, "labels": {CLUSTER_NAME: cluster},
                    "ownerReferences": [{
                        "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig",
                        "name": config_name, "uid": text(&config, "/metadata/uid"), "controller": true,
                    }],
                },
                "type": "cluster.x-k8s.io/secret",
                "stringData": {"value": "#cloud-config\n", "format": "cloud-config"},
            }))?;
            created(secrets.create(&PostParams::default(), &secret).await)?;
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
        }
        Ok(())
    }

    /// Infrastructure provider, machines: once the Machine has its bootstrap data, a kwok Node with the
    /// machine's providerID joins the workload cluster, unless the cluster's infrastructure is held.
    async fn infrastructure_machines(&self) -> Outcome {
        let kind = played("PlayedMachine");
        for infra in self.list(&kind, None).await? {
            if infra.pointer("/status/initialization/provisioned") == Some(&json!(true)) || deleting(&infra) {
                continue;
            }
            let Some(workload) = self.workload(&infra) else {
                continue;
            };
            let Some(machine_name) = owner(&infra, "Machine") else {
                continue;
            };
            let Ok(machine) = self.api(&machines()).get(machine_name).await else {
                continue;
            };
            let machine = serde_json::to_value(machine)?;
            if text(&machine, "/spec/bootstrap/dataSecretName").is_empty() {
                continue;
            }
            let held = lock(&self.held_infrastructure).get(workload.name()).cloned();
            if let Some(message) = held {
                if infra.pointer("/status/conditions").is_none() {
                    self.patch_status(
                        &kind,
                        name(&infra),
                        json!({"conditions": [ready("False", "WaitingForAddress", &message)]}),
                    )
                    .await?;
                }
                continue;
            }
            let provider_id = format!("played:///{}/{}", workload.name(), name(&infra));
            // Not labelled as a control-plane node: its static pods are played by the harness's processes,
            // not mirror pods, which the ControlPlaneStaticPodsPresent check would miss.
            let node = NodeSpec::new(name(&infra))
                .kubelet_version(text(&machine, "/spec/version"))
                .provider_id(&provider_id);
            match workload.create_node(node).await {
                Ok(_) => {}
                Err(acp_testkit::Error::Kube {
                    source: kube::Error::Api(e),
                    ..
                }) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            self.patch(&kind, name(&infra), json!({"spec": {"providerID": provider_id}}))
                .await?;
            self.patch_status(
                &kind,
                name(&infra),
                json!({
                    "initialization": {"provisioned": true},
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "conditions": [ready("True", "Provisioned", "")],
                }),
            )
            .await?;
        }
        Ok(())
    }

    /// Kubeadm control plane provider: one Machine per replica at `spec.version`; an upgrade adds one
    /// Machine at the new version, restarts the workload cluster's control plane at it once that Machine
    /// runs, then deletes an old Machine; the status the control-plane contract asks for.
    async fn control_plane(&self, kcp: &Value) -> Outcome {
        let Some(workload) = self.workload(kcp) else {
            return Ok(());
        };
        let cluster = workload.name();
        let kcp_name = name(kcp);
        self.kubeconfig_secret(workload).await?;
        let version = text(kcp, "/spec/version");
        let replicas = kcp.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize;
        let selector = format!("{CLUSTER_NAME}={cluster},{CONTROL_PLANE_NAME}={kcp_name}");
        let live: Vec<Value> = self
            .list(&machines(), Some(&selector))
            .await?
            .into_iter()
            .filter(|m| !deleting(m))
            .collect();
        let current = |m: &&Value| text(m, "/spec/version") == version;
        let up_to_date = live.iter().filter(current).count();
        let running_up_to_date = live.iter().filter(current).filter(|m| running(m)).count();
        let held = lock(&self.held_control_plane).contains(cluster);
        if !held && !version.is_empty() {
            if up_to_date < replicas {
                if live.iter().all(running) {
                    self.add_machine(kcp, cluster, &live).await?;
                }
            } else if running_up_to_date >= replicas {
                if workload.kube_version() != version {
                    workload.restart_at(version).await?;
                }
                if let Some(old) = live.iter().find(|m| !current(m)) {
                    self.api(&machines())
                        .delete(name(old), &DeleteParams::default())
                        .await?;
                }
            }
        }
        self.control_plane_status(kcp, &live, &selector).await
    }

    async fn control_plane_status(&self, kcp: &Value, live: &[Value], selector: &str) -> Outcome {
        let version = text(kcp, "/spec/version");
        let ready_machines: Vec<&Value> = live.iter().filter(|m| running(m)).collect();
        let lowest = ready_machines
            .iter()
            .filter_map(|m| text(m, "/spec/version").parse::<acp_policy::KubeVersion>().ok())
            .min();
        let initialized = !ready_machines.is_empty()
            || kcp.pointer("/status/initialization/controlPlaneInitialized") == Some(&json!(true));
        let mut status = json!({
            "replicas": live.len(),
            "upToDateReplicas": live.iter().filter(|m| text(m, "/spec/version") == version).count(),
            "readyReplicas": ready_machines.len(),
            "availableReplicas": ready_machines.len(),
            "selector": selector,
            "observedGeneration": kcp.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "initialization": {"controlPlaneInitialized": initialized},
        });
        if let Some(lowest) = lowest {
            status["version"] = json!(lowest.to_string());
        }
        let unchanged = status
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| kcp.pointer(&format!("/status/{k}")) == Some(v));
        if !unchanged {
            let available = if ready_machines.is_empty() {
                "False"
            } else {
                "True"
            };
            status["conditions"] = json!([{
                "type": "Available", "status": available, "reason": "Played", "message": "",
                "lastTransitionTime": acp_api::k8s::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            }]);
            self.patch_status(&control_planes(), name(kcp), status).await?;
        }
        Ok(())
    }

    /// What the kubeadm control plane provider writes for the core controllers to reach the workload cluster.
    async fn kubeconfig_secret(&self, workload: &Cluster) -> Outcome {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.global.clone(), NS);
        let secret_name = format!("{}-kubeconfig", workload.name());
        if secrets.get_opt(&secret_name).await?.is_some() {
            return Ok(());
        }
        let secret = serde_json::from_value(json!({
            "metadata": {"name": secret_name, "labels": {CLUSTER_NAME: workload.name()}},
            "type": "cluster.x-k8s.io/secret",
            "stringData": {"value": workload.kubeconfig_yaml()},
        }))?;
        Ok(created(secrets.create(&PostParams::default(), &secret).await)?)
    }

    /// A control-plane Machine at the control plane's version, with its infrastructure machine cloned
    /// from the control plane's template and its KubeadmConfig.
    async fn add_machine(&self, kcp: &Value, cluster: &str, live: &[Value]) -> Outcome {
        let kcp_name = name(kcp);
        let number = {
            let mut numbers = lock(&self.numbers);
            let last = numbers.entry(kcp_name.to_owned()).or_insert(0);
            let seen = live
                .iter()
                .filter_map(|m| name(m).rsplit_once('-')?.1.parse::<u32>().ok())
                .max()
                .unwrap_or(0);
            *last = (*last).max(seen) + 1;
            *last
        };
        let machine_name = format!("{kcp_name}-{number}");
        let template_ref = kcp
            .pointer("/spec/machineTemplate/spec/infrastructureRef")
            .ok_or("a KubeadmControlPlane without spec.machineTemplate.spec.infrastructureRef")?;
        let template_kind = text(template_ref, "/kind");
        let infra_kind = template_kind.trim_end_matches("Template");
        let template = self
            .api(&played(template_kind))
            .get(text(template_ref, "/name"))
            .await?;
        let template = serde_json::to_value(template)?;
        let labels = json!({CLUSTER_NAME: cluster});
        self.create(
            &played(infra_kind),
            json!({
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": infra_kind,
                "metadata": {"name": machine_name, "namespace": NS, "labels": labels},
                "spec": template.pointer("/spec/template/spec").cloned().unwrap_or(json!({})),
            }),
        )
        .await?;
        self.create(
            &bootstrap_configs(),
            json!({
                "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig",
                "metadata": {"name": machine_name, "namespace": NS, "labels": labels},
                "spec": {"format": "cloud-config"},
            }),
        )
        .await?;
        let machine_labels: BTreeMap<&str, &str> = [
            (CLUSTER_NAME, cluster),
            (CONTROL_PLANE, ""),
            (CONTROL_PLANE_NAME, kcp_name),
        ]
        .into();
        self.create(
            &machines(),
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
                "metadata": {
                    "name": machine_name, "namespace": NS, "labels": machine_labels,
                    "ownerReferences": [{
                        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
                        "name": kcp_name, "uid": text(kcp, "/metadata/uid"),
                        "controller": true, "blockOwnerDeletion": true,
                    }],
                },
                "spec": {
                    "clusterName": cluster,
                    "version": text(kcp, "/spec/version"),
                    "bootstrap": {"configRef": {
                        "apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfig", "name": machine_name,
                    }},
                    "infrastructureRef": {
                        "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": infra_kind, "name": machine_name,
                    },
                },
            }),
        )
        .await?;
        Ok(())
    }
}
