//! kubernetesDriver ClusterAPI on real API servers. The global cluster serves the real Cluster API CRDs
//! (from the Cluster API Go module, `scripts/cluster-api-crds.sh`); the Cluster API controllers do not run:
//! the test plays them (moves the Machines to the version the operator wrote and marks them Running) and
//! really restarts the workload cluster's API server at each hop's version.
//!
//! - east, a topology-managed Cluster on v1.32.7, goes 4.1.3 → 4.3.1: two hops through
//!   `Cluster.spec.topology.version` (v1.33.7, then v1.34.5); a version changed by hand in between stops
//!   the upgrade with a condition naming the Cluster, the field and both versions, and nothing overwrites
//!   it; set back, the upgrade completes.
//! - west, a Cluster without topology on v1.32.7, goes 4.1.3 → 4.1.5: a patch-only hop to v1.32.11 through
//!   its KubeadmControlPlane and then its MachineDeployment.

use std::path::PathBuf;

use acp_api::conditions::{self, types};
use acp_e2e::operator::*;
use acp_testkit::{Cluster, wait_for};
use serde_json::{Value, json};

const NS: &str = "fleet";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_api_drives_each_hop_and_stops_on_a_hand_edit() {
    let env = start([
        cluster("global", "1.34"),
        cluster("east", "v1.32.7"),
        cluster("west", "v1.32.7"),
    ])
    .await;
    let (global, east, west) = (env.cluster("global"), env.cluster("east"), env.cluster("west"));
    install_cluster_api_crds(global).await;
    global.kubectl(["create", "namespace", NS]).await.unwrap();
    topology_cluster(global, "east", "v1.32.7").await;
    kubeadm_cluster(global, "west", "v1.32.7").await;
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
    let _operator = operate_global_with(&env, "4.3.1", "4.3.1", &[("--insight-after", "3")]).await;
    for workload in ["east", "west"] {
        wait_shadow(global, workload, "current 4.1.3", LONG, |s| {
            s.current_version() == Some("4.1.3")
        })
        .await;
    }
    request(global, "east", "4.3.1").await;
    request(global, "west", "4.1.5").await;

    tokio::join!(
        two_hops_through_the_topology(global, east),
        patch_only_through_the_control_plane(global, west)
    );
}

async fn two_hops_through_the_topology(global: &Cluster, east: &Cluster) {
    // Hop 1: the operator writes the intermediate minor's release patch, then waits for the machines.
    wait_field(global, "cluster", "east", "/spec/topology/version", "v1.33.7").await;
    let waiting = wait_shadow(global, "east", "hop 1.33 reports machine progress", LONG, |s| {
        operation(s, "kubernetes-1.33")
            .and_then(|o| o.message.as_deref())
            .is_some_and(|m| m.contains("control plane 0/1 machines at v1.33.7, workers 0/1"))
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
    play_cluster_api(global, east, "v1.33.7").await;

    // Hop 2 starts: someone changes the version by hand before it rolls out.
    wait_field(global, "cluster", "east", "/spec/topology/version", "v1.34.5").await;
    global
        .kubectl([
            "patch",
            "cluster",
            "east",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"topology":{"version":"v1.34.6"}}}"#,
        ])
        .await
        .unwrap();
    let stopped = wait_shadow(global, "east", "Degraded by the hand-edited version", LONG, |s| {
        conditions::find(s.conditions(), types::DEGRADED)
            .is_some_and(|c| c.status == "True" && c.message.contains("v1.34.6"))
    })
    .await;
    let degraded = conditions::find(stopped.conditions(), types::DEGRADED).unwrap();
    for words in [
        "Cluster fleet/east spec.topology.version is v1.34.6",
        "expected v1.33.7 (before this hop) or v1.34.5",
    ] {
        assert!(
            degraded.message.contains(words),
            "{words:?} not in {}",
            degraded.message
        );
    }
    assert!(!ready(&stopped));
    // Nothing wrote over the change.
    assert_eq!(
        field(global, "cluster", "east", "/spec/topology/version").await,
        "v1.34.6"
    );

    // Set back, the hop goes on and the upgrade completes.
    global
        .kubectl([
            "patch",
            "cluster",
            "east",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"topology":{"version":"v1.34.5"}}}"#,
        ])
        .await
        .unwrap();
    play_cluster_api(global, east, "v1.34.5").await;
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
}

async fn patch_only_through_the_control_plane(global: &Cluster, west: &Cluster) {
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
        field(
            global,
            "machinedeployment",
            "west-md-0",
            "/spec/template/spec/version"
        )
        .await,
        "v1.32.7"
    );
    // The control plane's machine is replaced and its infrastructure does not come up: past the
    // threshold the hop names the machine and Cluster API's reason.
    hold_provisioning(
        global,
        "west-cp-1",
        "v1.32.11",
        "InMemoryMachine fleet/west-cp-1 has no IP yet",
    )
    .await;
    let waiting = wait_shadow(global, "west", "the hop to name the stuck machine", LONG, |s| {
        operation(s, "kubernetes-1.32")
            .is_some_and(|o| o.insights.iter().any(|i| i.reason == "MachinesNotUpdating"))
    })
    .await;
    let hop = operation(&waiting, "kubernetes-1.32").unwrap();
    let culprit = &hop.insights[0];
    assert_eq!(culprit.object, "control plane of Cluster fleet/west");
    assert!(
        culprit
            .message
            .starts_with("1 machine stuck: Machine west-cp-1 has been Provisioning on v1.32.11 for")
            && culprit.message.ends_with(
                "InfrastructureReady NotProvisioned: InMemoryMachine fleet/west-cp-1 has no IP yet"
            ),
        "{culprit:?}"
    );
    assert!(
        hop.message
            .as_deref()
            .is_some_and(|m| m.contains("; control plane of Cluster fleet/west: 1 machine stuck")),
        "{hop:?}"
    );
    play_machines(global, "west", true, "v1.32.11").await;
    west.restart_at("v1.32.11").await.unwrap();
    wait_field(
        global,
        "machinedeployment",
        "west-md-0",
        "/spec/template/spec/version",
        "v1.32.11",
    )
    .await;
    play_machines(global, "west", false, "v1.32.11").await;
    let done = wait_shadow(global, "west", "4.1.5 completed", LONG, |s| {
        s.current_version() == Some("4.1.5") && ready(s)
    })
    .await;
    assert!(
        operation(&done, "kubernetes-1.32")
            .and_then(|o| o.message.as_deref())
            .is_some_and(|m| m.contains("the cluster reports v1.32.11"))
    );
}

/// Installs the Cluster API CRDs fetched from the Cluster API Go module.
async fn install_cluster_api_crds(global: &Cluster) {
    let script = acp_testkit::repo_root().join("scripts/cluster-api-crds.sh");
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "{} failed", script.display());
    let dir: PathBuf = acp_testkit::repo_root().join("target/cluster-api/crds");
    // `create`: the KubeadmControlPlane CRD is too large for client-side apply's annotation.
    global
        .kubectl(["create", "-f", dir.to_str().unwrap()])
        .await
        .unwrap();
    global
        .kubectl([
            "wait",
            "--for",
            "condition=Established",
            "--timeout",
            "60s",
            "crd/clusters.cluster.x-k8s.io",
            "crd/machines.cluster.x-k8s.io",
            "crd/machinedeployments.cluster.x-k8s.io",
            "crd/kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
        ])
        .await
        .unwrap();
}

fn infra(kind: &str, name: &str) -> Value {
    json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": kind, "name": name})
}

fn bootstrap(name: &str) -> Value {
    json!({"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfig", "name": name}})
}

/// A Machine of Cluster `cluster`, Running at `version`.
async fn machine(global: &Cluster, cluster: &str, name: &str, version: &str, labels: Value) {
    let mut all = json!({"cluster.x-k8s.io/cluster-name": cluster});
    all.as_object_mut()
        .unwrap()
        .extend(labels.as_object().unwrap().clone());
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
            "metadata": {"name": name, "namespace": NS, "labels": all},
            "spec": {
                "clusterName": cluster, "version": version,
                "bootstrap": bootstrap(name), "infrastructureRef": infra("InMemoryMachine", name),
            },
        }),
    )
    .await;
    set_phase(global, name, "Running").await;
}

/// A Machine replaced for `version` whose infrastructure does not come up, as Cluster API reports it.
async fn hold_provisioning(global: &Cluster, machine: &str, version: &str, message: &str) {
    let spec = json!({"spec": {"version": version}}).to_string();
    global
        .kubectl([
            "patch", "machine", machine, "-n", NS, "--type", "merge", "-p", &spec,
        ])
        .await
        .unwrap();
    let status = json!({"phase": "Provisioning", "conditions": [{
        "type": "InfrastructureReady", "status": "False", "reason": "NotProvisioned", "message": message,
        "lastTransitionTime": acp_api::k8s::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }]});
    patch_status(global, machine, status).await;
}

async fn set_phase(global: &Cluster, machine: &str, phase: &str) {
    patch_status(global, machine, json!({"phase": phase})).await;
}

/// Merges `status` into the Machine's status, as its controller writes it.
async fn patch_status(global: &Cluster, machine: &str, status: Value) {
    let patch = json!({"status": status}).to_string();
    global
        .kubectl([
            "patch",
            "machine",
            machine,
            "-n",
            NS,
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            &patch,
        ])
        .await
        .unwrap();
}

/// A topology-managed Cluster with one control-plane and one worker Machine.
async fn topology_cluster(global: &Cluster, name: &str, version: &str) {
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"topology": {"classRef": {"name": "in-memory"}, "version": version}},
        }),
    )
    .await;
    machine(
        global,
        name,
        &format!("{name}-cp-1"),
        version,
        json!({"cluster.x-k8s.io/control-plane": ""}),
    )
    .await;
    machine(
        global,
        name,
        &format!("{name}-md-0-1"),
        version,
        json!({"cluster.x-k8s.io/deployment-name": format!("{name}-md-0")}),
    )
    .await;
}

/// A Cluster without topology: a KubeadmControlPlane and a MachineDeployment, one Machine each.
async fn kubeadm_cluster(global: &Cluster, name: &str, version: &str) {
    let cp = format!("{name}-cp");
    let md = format!("{name}-md-0");
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": cp},
                "infrastructureRef": infra("InMemoryCluster", name),
            },
        }),
    )
    .await;
    apply(
        global,
        &json!({
            "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
            "metadata": {"name": cp, "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": name}},
            "spec": {"version": version, "replicas": 1, "machineTemplate": {"spec": {"infrastructureRef": infra("InMemoryMachineTemplate", &cp)}}},
        }),
    )
    .await;
    apply(
        global,
        &json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment",
            "metadata": {"name": md, "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": name}},
            "spec": {
                "clusterName": name, "replicas": 1,
                "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": md}},
                "template": {
                    "metadata": {"labels": {"cluster.x-k8s.io/deployment-name": md}},
                    "spec": {
                        "clusterName": name, "version": version,
                        "bootstrap": bootstrap(&md), "infrastructureRef": infra("InMemoryMachineTemplate", &md),
                    },
                },
            },
        }),
    )
    .await;
    machine(
        global,
        name,
        &format!("{cp}-1"),
        version,
        json!({"cluster.x-k8s.io/control-plane": ""}),
    )
    .await;
    machine(
        global,
        name,
        &format!("{md}-1"),
        version,
        json!({"cluster.x-k8s.io/deployment-name": md}),
    )
    .await;
}

/// What the Cluster API controllers would do for a topology hop: every Machine to `version`, and the
/// workload cluster's control plane restarted at it.
async fn play_cluster_api(global: &Cluster, workload: &Cluster, version: &str) {
    play_machines(global, workload.name(), true, version).await;
    workload.restart_at(version).await.unwrap();
    play_machines(global, workload.name(), false, version).await;
}

/// Rolls the control-plane (or worker) Machines of `cluster` to `version`: replaced machines pass through
/// Provisioning before they run again.
async fn play_machines(global: &Cluster, cluster: &str, control_plane: bool, version: &str) {
    let selector = if control_plane {
        format!("cluster.x-k8s.io/cluster-name={cluster},cluster.x-k8s.io/control-plane")
    } else {
        format!("cluster.x-k8s.io/cluster-name={cluster},!cluster.x-k8s.io/control-plane")
    };
    let names = global
        .kubectl(["get", "machines", "-n", NS, "-l", &selector, "-o", "name"])
        .await
        .unwrap();
    for machine in names
        .lines()
        .filter_map(|l| l.strip_prefix("machine.cluster.x-k8s.io/"))
    {
        set_phase(global, machine, "Provisioning").await;
        global
            .kubectl([
                "patch",
                "machine",
                machine,
                "-n",
                NS,
                "--type",
                "merge",
                "-p",
                &json!({"spec": {"version": version}}).to_string(),
            ])
            .await
            .unwrap();
        set_phase(global, machine, "Running").await;
    }
}

async fn field(global: &Cluster, resource: &str, name: &str, pointer: &str) -> String {
    let object: Value = serde_json::from_str(
        &global
            .kubectl(["get", resource, name, "-n", NS, "-o", "json"])
            .await
            .unwrap(),
    )
    .unwrap();
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

async fn wait_field(global: &Cluster, resource: &str, name: &str, pointer: &str, want: &str) {
    wait_for(&format!("{resource} {name} {pointer} = {want}"), LONG, || async {
        field(global, resource, name, pointer).await == want
    })
    .await
    .unwrap();
}
