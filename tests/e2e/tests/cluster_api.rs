//! kubernetesDriver ClusterAPI on real API servers, with the real Cluster API core manager and kubeadm
//! control plane provider in the global cluster: they move everything the operator does not write. The
//! infrastructure and bootstrap providers are played (`acp_e2e::cluster_api` says why); a new control-plane
//! machine really restarts the workload cluster's API server at its version.
//!
//! - east, a topology-managed Cluster on v1.32.7, goes 4.1.3 → 4.3.1: two hops through
//!   `Cluster.spec.topology.version` (v1.33.7, then v1.34.5), each carried by Cluster API's topology
//!   controller to the control plane and then the workers.
//! - west, a Cluster without topology on v1.32.7, goes 4.1.3 → 4.1.5: a patch-only hop to v1.32.11 through
//!   its KubeadmControlPlane and then its MachineDeployment. Its new control-plane machine does not come up
//!   at first: past the threshold the hop names the machine and what Cluster API says of it. Meanwhile a
//!   version changed by hand on the MachineDeployment stops the upgrade with a condition naming the object,
//!   the field and both versions, and nothing overwrites it; set back, the upgrade completes. (The hand
//!   edit is on a MachineDeployment because Cluster API's webhooks refuse to change a topology version
//!   while the control plane rolls, and to lower one.)

use acp_api::conditions::{self, types};
use acp_e2e::cluster_api::{self, NS, Providers, external_etcd};
use acp_e2e::operator::*;
use acp_testkit::{Cluster, wait_for};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_api_drives_each_hop_and_stops_on_a_hand_edit() {
    let env = start([
        cluster("global", "1.34"),
        cluster("east", "v1.32.7"),
        cluster("west", "v1.32.7"),
    ])
    .await;
    let (global, east, west) = (env.cluster("global"), env.cluster("east"), env.cluster("west"));
    cluster_api::install(global).await;
    let _managers = cluster_api::run_managers(&env, global).await;
    let providers = Providers::new(global, &[east, west]).await;
    tokio::select! {
        () = providers.run() => unreachable!("the played providers stopped"),
        () = scenario(&env, &providers, global, east, west) => {}
    }
}

async fn scenario(
    env: &acp_testkit::TestEnv,
    providers: &Providers<'_>,
    global: &Cluster,
    east: &Cluster,
    west: &Cluster,
) {
    for workload in [east, west] {
        cluster_api::prepare_as_kubeadm_cluster(global, workload, "v1.32.7").await;
    }
    topology_cluster(global, "east", "v1.32.7").await;
    kubeadm_cluster(global, "west", "v1.32.7").await;
    for workload in ["east", "west"] {
        machines_running(global, workload, "v1.32.7").await;
    }
    // Held until the test has seen what the operator says while Cluster API is under way.
    providers.hold_control_plane_machines("east", "PlayedMachine has no address yet");
    providers.hold_control_plane_machines("west", "PlayedMachine has no address yet");
    for workload in [east, west] {
        record_version(workload, "4.1.3").await;
        register_with(
            global,
            workload.name(),
            workload.kubeconfig_yaml(),
            json!({
                "kubernetesDriver": "ClusterAPI",
                "clusterAPI": {"clusterRef": {"namespace": NS, "name": workload.name()}},
            }),
        )
        .await;
    }
    import(global, "4.1.5").await;
    // Culprits of a wait are named after 3 s, so the held rollouts below show them.
    let _operator = operate_global_with(env, "4.3.1", "4.3.1", &[("--insight-after", "3")]).await;
    for workload in ["east", "west"] {
        wait_shadow(global, workload, "current 4.1.3", LONG, |s| {
            s.current_version() == Some("4.1.3")
        })
        .await;
    }
    request(global, "east", "4.3.1").await;
    request(global, "west", "4.1.5").await;

    tokio::join!(
        two_hops_through_the_topology(providers, global, east),
        patch_only_through_the_control_plane(providers, global, west)
    );
}

async fn two_hops_through_the_topology(providers: &Providers<'_>, global: &Cluster, east: &Cluster) {
    // Hop 1: the operator writes the intermediate minor's release patch; Cluster API's topology
    // controller hands it to the control plane, whose new machine is held.
    wait_field(global, "cluster", "east", "/spec/topology/version", "v1.33.7").await;
    wait_control_plane_version(global, "east", "v1.33.7").await;
    let waiting = wait_shadow(global, "east", "hop 1.33 reports machine progress", LONG, |s| {
        operation(s, "kubernetes-1.33")
            .and_then(|o| o.message.as_deref())
            .is_some_and(|m| m.contains("control plane 0/2 machines at v1.33.7, workers 0/1"))
    })
    .await;
    let hop = operation(&waiting, "kubernetes-1.34").unwrap();
    assert_eq!(hop.current_version.as_deref(), Some("v1.33.7"));
    assert_eq!(
        hop.target_version.as_deref(),
        Some("v1.34.5"),
        "{:#?}",
        waiting.status.as_ref().unwrap().stages
    );
    // Released, Cluster API rolls the control plane (the workload API server restarts at v1.33.7), then
    // the workers; the operator starts hop 2 only then, and Cluster API carries it the same way.
    providers.release_control_plane_machines("east");
    let done = wait_shadow(global, "east", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    let message = operation(&done, "kubernetes-1.34")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.contains("control plane 1/1 machines at v1.34.5, workers 1/1, the cluster reports v1.34.5"),
        "{message}"
    );
    assert_eq!(cluster_api::reported(east).await.as_deref(), Some("v1.34.5"));
    // The kubeadm control plane provider recorded the version where kubeadm keeps it.
    assert_eq!(kubeadm_kubernetes_version(east).await, "v1.34.5");
}

async fn patch_only_through_the_control_plane(providers: &Providers<'_>, global: &Cluster, west: &Cluster) {
    let planned = wait_shadow(global, "west", "a patch-only hop planned", LONG, |s| {
        operation(s, "kubernetes-1.32").is_some()
    })
    .await;
    let hop = operation(&planned, "kubernetes-1.32").unwrap();
    assert_eq!(hop.current_version.as_deref(), Some("v1.32.7"));
    assert_eq!(hop.target_version.as_deref(), Some("v1.32.11"));

    // The control plane first; the workers keep their version until it is done.
    wait_field(
        global,
        "kubeadmcontrolplane",
        "west-cp",
        "/spec/version",
        "v1.32.11",
    )
    .await;
    assert_eq!(
        field(global, "machinedeployment", "west-md-0", MD_VERSION).await,
        "v1.32.7"
    );
    // The control plane's new machine does not get its infrastructure: past the threshold the hop
    // names the machine and what Cluster API says of it.
    let waiting = wait_shadow(global, "west", "the hop to name the stuck machine", LONG, |s| {
        operation(s, "kubernetes-1.32").is_some_and(|o| {
            // Until the played infrastructure has written its condition, Cluster API says only that
            // the machine is not provisioned; the insight is refreshed every 30 s.
            o.insights.iter().any(|i| {
                i.reason == "MachinesNotUpdating" && i.message.contains("PlayedMachine has no address yet")
            })
        })
    })
    .await;
    let hop = operation(&waiting, "kubernetes-1.32").unwrap();
    let culprit = hop
        .insights
        .iter()
        .find(|i| i.reason == "MachinesNotUpdating")
        .unwrap();
    assert_eq!(culprit.object, "control plane of Cluster fleet/west");
    assert!(
        culprit.message.starts_with("1 machine stuck: Machine west-cp-")
            && culprit
                .message
                .contains(" has been Provisioning on v1.32.11 for ")
            && culprit.message.contains("PlayedMachine has no address yet"),
        "{culprit:?}"
    );
    assert!(
        hop.message
            .as_deref()
            .is_some_and(|m| m.contains("; control plane of Cluster fleet/west: 1 machine stuck")),
        "{hop:?}"
    );

    // Meanwhile someone changes the workers' version by hand: the upgrade stops, naming the
    // MachineDeployment, the field and both versions, and the change stands (Cluster API rolls the
    // workers to it).
    set_md_version(global, "west-md-0", "v1.32.9").await;
    let stopped = wait_shadow(global, "west", "Degraded by the hand-edited version", LONG, |s| {
        conditions::find(s.conditions(), types::DEGRADED)
            .is_some_and(|c| c.status == "True" && c.message.contains("v1.32.9"))
    })
    .await;
    let degraded = conditions::find(stopped.conditions(), types::DEGRADED).unwrap();
    for words in [
        "MachineDeployment fleet/west-md-0 spec.template.spec.version is v1.32.9",
        "expected v1.32.7 (before this hop) or v1.32.11",
    ] {
        assert!(
            degraded.message.contains(words),
            "{words:?} not in {}",
            degraded.message
        );
    }
    assert!(!ready(&stopped));
    assert_eq!(
        field(global, "machinedeployment", "west-md-0", MD_VERSION).await,
        "v1.32.9"
    );

    // Set back, and the control plane's machine let through, the hop goes on and the upgrade completes.
    set_md_version(global, "west-md-0", "v1.32.7").await;
    providers.release_control_plane_machines("west");
    let done = wait_shadow(global, "west", "4.1.5 completed", LONG, |s| {
        s.current_version() == Some("4.1.5") && ready(s)
    })
    .await;
    assert!(
        operation(&done, "kubernetes-1.32")
            .and_then(|o| o.message.as_deref())
            .is_some_and(|m| m.contains(
                "control plane 1/1 machines at v1.32.11, workers 1/1, the cluster reports v1.32.11"
            )),
        "{:?}",
        operation(&done, "kubernetes-1.32")
    );
    assert_eq!(cluster_api::reported(west).await.as_deref(), Some("v1.32.11"));
    assert_eq!(kubeadm_kubernetes_version(west).await, "v1.32.11");
    // Cluster API replaced the worker: a new MachineSet's machine runs v1.32.11, the old ones are gone.
    machines_running(global, "west", "v1.32.11").await;
}

fn template(kind: &str, name: &str, group: &str) -> Value {
    // Kubeadm's kinds refuse an empty spec.
    let spec = match kind {
        "KubeadmControlPlaneTemplate" => {
            json!({"kubeadmConfigSpec": kubeadm_config_spec(), "rollout": rolling_update(None)})
        }
        "KubeadmConfigTemplate" => json!({"format": "cloud-config"}),
        _ => json!({}),
    };
    json!({
        "apiVersion": format!("{group}/v1beta2"), "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": {"spec": spec}},
    })
}

const INFRA: &str = "infrastructure.cluster.x-k8s.io";
const BOOTSTRAP: &str = "bootstrap.cluster.x-k8s.io";
const CONTROL_PLANE: &str = "controlplane.cluster.x-k8s.io";

/// A rolling update one machine at a time (what the defaulting webhooks would fill in); control planes
/// take no `max_unavailable`.
fn rolling_update(max_unavailable: Option<u32>) -> Value {
    let mut update = json!({"maxSurge": 1});
    if let Some(max) = max_unavailable {
        update["maxUnavailable"] = json!(max);
    }
    json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": update}})
}

fn kubeadm_config_spec() -> Value {
    json!({"clusterConfiguration": {"etcd": external_etcd()}, "format": "cloud-config"})
}

/// A topology-managed Cluster, one control-plane and one worker machine, from a ClusterClass of the
/// played providers' templates.
async fn topology_cluster(global: &Cluster, name: &str, version: &str) {
    for object in [
        template("PlayedClusterTemplate", "played", INFRA),
        template("PlayedMachineTemplate", "played-cp", INFRA),
        template("PlayedMachineTemplate", "played-worker", INFRA),
        template("KubeadmControlPlaneTemplate", "played", CONTROL_PLANE),
        template("KubeadmConfigTemplate", "played-worker", BOOTSTRAP),
    ] {
        apply(global, &object).await;
    }
    let reference = |kind: &str, name: &str, group: &str| json!({"templateRef": {"apiVersion": format!("{group}/v1beta2"), "kind": kind, "name": name}});
    let mut control_plane = reference("KubeadmControlPlaneTemplate", "played", CONTROL_PLANE);
    control_plane["machineInfrastructure"] = reference("PlayedMachineTemplate", "played-cp", INFRA);
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
            "metadata": {"name": "played", "namespace": NS},
            "spec": {
                "controlPlane": control_plane,
                "infrastructure": reference("PlayedClusterTemplate", "played", INFRA),
                "workers": {"machineDeployments": [{
                    "class": "default-worker",
                    "bootstrap": reference("KubeadmConfigTemplate", "played-worker", BOOTSTRAP),
                    "infrastructure": reference("PlayedMachineTemplate", "played-worker", INFRA),
                    "rollout": rolling_update(Some(0)),
                }]},
            },
        }),
    )
    .await;
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"topology": {
                "classRef": {"name": "played"}, "version": version,
                "controlPlane": {"replicas": 1},
                "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 1}]},
            }},
        }),
    )
    .await;
}

/// A Cluster without topology: a KubeadmControlPlane and a MachineDeployment, one machine each.
async fn kubeadm_cluster(global: &Cluster, name: &str, version: &str) {
    let cp = format!("{name}-cp");
    let md = format!("{name}-md-0");
    let labels = json!({"cluster.x-k8s.io/cluster-name": name});
    let mut infra = json!({
        "apiVersion": format!("{INFRA}/v1beta2"), "kind": "PlayedCluster",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {},
    });
    apply(global, &infra).await;
    infra = json!({"apiGroup": INFRA, "kind": "PlayedCluster", "name": name});
    for object in [
        template("PlayedMachineTemplate", &cp, INFRA),
        template("PlayedMachineTemplate", &md, INFRA),
        template("KubeadmConfigTemplate", &md, BOOTSTRAP),
    ] {
        apply(global, &object).await;
    }
    apply(
        global,
        &json!({
            "apiVersion": format!("{CONTROL_PLANE}/v1beta2"), "kind": "KubeadmControlPlane",
            "metadata": {"name": cp, "namespace": NS, "labels": labels},
            "spec": {
                "version": version, "replicas": 1,
                "kubeadmConfigSpec": kubeadm_config_spec(), "rollout": rolling_update(None),
                "machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": INFRA, "kind": "PlayedMachineTemplate", "name": cp}}},
            },
        }),
    )
    .await;
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "controlPlaneRef": {"apiGroup": CONTROL_PLANE, "kind": "KubeadmControlPlane", "name": cp},
                "infrastructureRef": infra,
            },
        }),
    )
    .await;
    let selected = json!({"cluster.x-k8s.io/cluster-name": name, "cluster.x-k8s.io/deployment-name": md});
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment",
            "metadata": {"name": md, "namespace": NS, "labels": labels},
            "spec": {
                "clusterName": name, "replicas": 1, "rollout": rolling_update(Some(0)),
                "selector": {"matchLabels": selected},
                "template": {
                    "metadata": {"labels": selected},
                    "spec": {
                        "clusterName": name, "version": version,
                        "bootstrap": {"configRef": {"apiGroup": BOOTSTRAP, "kind": "KubeadmConfigTemplate", "name": md}},
                        "infrastructureRef": {"apiGroup": INFRA, "kind": "PlayedMachineTemplate", "name": md},
                    },
                },
            },
        }),
    )
    .await;
}

/// Waits until `cluster` has exactly one control-plane and one worker Machine, both Running `version`.
async fn machines_running(global: &Cluster, cluster: &str, version: &str) {
    let what = format!("Cluster API to run cluster {cluster}'s machines at {version}");
    let result = wait_for(&what, LONG, || async {
        let Some(machines) = list(global, "machines", cluster).await else {
            return false;
        };
        let live: Vec<&Value> = machines
            .iter()
            .filter(|m| m.pointer("/metadata/deletionTimestamp").is_none())
            .collect();
        let control_plane = live
            .iter()
            .filter(|m| {
                m.pointer("/metadata/labels/cluster.x-k8s.io~1control-plane")
                    .is_some()
            })
            .count();
        live.len() == 2
            && machines.len() == 2
            && control_plane == 1
            && live.iter().all(|m| {
                m.pointer("/spec/version") == Some(&json!(version))
                    && m.pointer("/status/phase") == Some(&json!("Running"))
            })
    })
    .await;
    if let Err(e) = result {
        let machines = global
            .kubectl([
                "get",
                "machines,machinesets,kubeadmcontrolplanes",
                "-n",
                NS,
                "-o",
                "wide",
            ])
            .await
            .unwrap_or_default();
        panic!("{e}\n{machines}");
    }
}

/// The objects of `resource` labelled for `cluster`; `None` when they cannot be listed (polled again).
async fn list(global: &Cluster, resource: &str, cluster: &str) -> Option<Vec<Value>> {
    let selector = format!("cluster.x-k8s.io/cluster-name={cluster}");
    let text = global
        .kubectl(["get", resource, "-n", NS, "-l", &selector, "-o", "json"])
        .await
        .ok()?;
    let list: Value = serde_json::from_str(&text).ok()?;
    list["items"].as_array().cloned()
}

/// `spec.version` of the KubeadmControlPlane of `cluster` (the topology names it), when there is one.
async fn control_plane_version(global: &Cluster, cluster: &str) -> Option<String> {
    let found = list(global, "kubeadmcontrolplanes", cluster).await?;
    match found.as_slice() {
        [one] => one["spec"]["version"].as_str().map(str::to_owned),
        _ => None,
    }
}

async fn wait_control_plane_version(global: &Cluster, cluster: &str, version: &str) {
    let what = format!("Cluster API to hand {version} to {cluster}'s control plane");
    wait_for(&what, LONG, || async {
        control_plane_version(global, cluster).await.as_deref() == Some(version)
    })
    .await
    .unwrap();
}

/// `kubernetesVersion` of the ClusterConfiguration in the workload cluster's `kubeadm-config` ConfigMap.
async fn kubeadm_kubernetes_version(workload: &Cluster) -> String {
    let data = workload
        .kubectl([
            "get",
            "configmap",
            "kubeadm-config",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.ClusterConfiguration}",
        ])
        .await
        .unwrap();
    let configuration: Value = serde_saphyr::from_str(&data).unwrap();
    configuration["kubernetesVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const MD_VERSION: &str = "/spec/template/spec/version";

/// Sets a MachineDeployment's version by hand.
async fn set_md_version(global: &Cluster, name: &str, version: &str) {
    let patch = json!({"spec": {"template": {"spec": {"version": version}}}}).to_string();
    global
        .kubectl([
            "patch",
            "machinedeployment",
            name,
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            &patch,
        ])
        .await
        .unwrap();
}

/// A string field of an object; empty when the object or the field cannot be read (polled again).
async fn field(global: &Cluster, resource: &str, name: &str, pointer: &str) -> String {
    let Ok(text) = global
        .kubectl(["get", resource, name, "-n", NS, "-o", "json"])
        .await
    else {
        return String::new();
    };
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|o| o.pointer(pointer).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

async fn wait_field(global: &Cluster, resource: &str, name: &str, pointer: &str, want: &str) {
    wait_for(&format!("{resource} {name} {pointer} = {want}"), LONG, || async {
        field(global, resource, name, pointer).await == want
    })
    .await
    .unwrap();
}
