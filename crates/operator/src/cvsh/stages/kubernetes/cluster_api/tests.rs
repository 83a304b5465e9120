use serde_json::json;

use super::*;

fn v(s: &str) -> KubeVersion {
    s.parse().unwrap()
}

const HOP: &str = "v1.33.7";
const BEFORE: Before = Before::Exact(KubeVersion::new(1, 32, 7));

fn topology_cluster(version: &str) -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"namespace": "fleet", "name": "east", "resourceVersion": "7"},
        "spec": {"topology": {"classRef": {"name": "quick-start"}, "version": version}}
    })
}

fn machine(name: &str, version: &str, control_plane: bool, deployment: Option<&str>) -> Value {
    let mut labels = json!({"cluster.x-k8s.io/cluster-name": "east"});
    if control_plane {
        labels[CONTROL_PLANE_LABEL] = json!("");
    }
    if let Some(md) = deployment {
        labels[DEPLOYMENT_NAME_LABEL] = json!(md);
    }
    json!({
        "metadata": {"namespace": "fleet", "name": name, "labels": labels},
        "spec": {"version": version},
        "status": {"phase": "Running"}
    })
}

fn kcp(version: &str) -> Value {
    json!({
        "metadata": {"namespace": "fleet", "name": "east-cp", "resourceVersion": "11"},
        "spec": {"version": version}
    })
}

fn md(name: &str, version: &str, annotations: Value) -> Value {
    json!({
        "metadata": {"namespace": "fleet", "name": name, "resourceVersion": "21", "annotations": annotations},
        "spec": {"template": {"spec": {"version": version}}}
    })
}

fn plain_cluster() -> Value {
    json!({
        "metadata": {"namespace": "fleet", "name": "east", "resourceVersion": "7"},
        "spec": {"controlPlaneRef": {"kind": "KubeadmControlPlane", "name": "east-cp"}}
    })
}

fn written(decision: &Decision) -> (Kind, &str, &str, &str) {
    match decision {
        Decision::Write(w) => (
            w.kind,
            w.name.as_str(),
            w.resource_version.as_str(),
            w.version.as_str(),
        ),
        other => panic!("expected a write, got {other:?}"),
    }
}

fn waits_with(decision: &Decision, words: &[&str]) {
    match decision {
        Decision::Wait(message) => {
            for word in words {
                assert!(message.contains(word), "{word:?} not in {message}");
            }
        }
        other => panic!("expected to wait, got {other:?}"),
    }
}

#[test]
fn a_topology_cluster_gets_the_hop_version_then_waits_for_its_machines_and_apiserver() {
    let facts = Facts {
        cluster: topology_cluster("v1.32.7"),
        machines: vec![machine("cp-1", "v1.32.7", true, None)],
        ..Facts::default()
    };
    let first = decide(v(HOP), BEFORE, &facts, Some(v("v1.32.7")));
    assert_eq!(written(&first), (Kind::Cluster, "east", "7", HOP));

    let mut rolling = Facts {
        cluster: topology_cluster(HOP),
        machines: vec![
            machine("cp-1", "v1.32.7", true, None),
            machine("cp-2", HOP, true, None),
            machine("md-a-1", "v1.32.7", false, Some("md-a")),
        ],
        ..Facts::default()
    };
    waits_with(
        &decide(v(HOP), BEFORE, &rolling, Some(v("v1.32.7"))),
        &[
            "control plane 1/2 machines at v1.33.7",
            "workers 0/1",
            "the cluster reports v1.32.7",
        ],
    );
    rolling.machines = vec![
        machine("cp-2", HOP, true, None),
        machine("md-a-1", HOP, false, Some("md-a")),
    ];
    // Machines done, the workload API server not yet on the version.
    waits_with(
        &decide(v(HOP), BEFORE, &rolling, Some(v("v1.32.7"))),
        &["control plane 1/1", "workers 1/1", "reports v1.32.7"],
    );
    assert!(matches!(
        decide(v(HOP), BEFORE, &rolling, Some(v(HOP))),
        Decision::Done(_)
    ));
}

#[test]
fn a_hand_edited_version_stops_the_hop_and_names_the_object_field_and_versions() {
    let facts = Facts {
        cluster: topology_cluster("v1.33.9"),
        ..Facts::default()
    };
    let Decision::Stop(message) = decide(v(HOP), BEFORE, &facts, Some(v("v1.32.7"))) else {
        panic!("expected a stop");
    };
    for word in [
        "Cluster fleet/east",
        "spec.topology.version",
        "v1.33.9",
        "v1.32.7",
        "v1.33.7",
    ] {
        assert!(message.contains(word), "{word:?} not in {message}");
    }
}

#[test]
fn a_paused_cluster_is_waited_for_not_written() {
    let mut cluster = topology_cluster("v1.32.7");
    cluster["spec"]["paused"] = json!(true);
    let facts = Facts {
        cluster,
        ..Facts::default()
    };
    waits_with(
        &decide(v(HOP), BEFORE, &facts, Some(v("v1.32.7"))),
        &["Cluster fleet/east is paused"],
    );
}

#[test]
fn without_topology_the_control_plane_goes_first_then_each_machine_deployment_in_order() {
    let mut facts = Facts {
        cluster: plain_cluster(),
        control_plane: Some(kcp("v1.32.7")),
        deployments: vec![md("md-b", "v1.32.7", json!({})), md("md-a", "v1.32.7", json!({}))],
        machines: vec![
            machine("cp-1", "v1.32.7", true, None),
            machine("md-a-1", "v1.32.7", false, Some("md-a")),
        ],
    };
    let reported = Some(v("v1.32.7"));
    assert_eq!(
        written(&decide(v(HOP), BEFORE, &facts, reported)),
        (Kind::KubeadmControlPlane, "east-cp", "11", HOP)
    );
    facts.control_plane = Some(kcp(HOP));
    waits_with(
        &decide(v(HOP), BEFORE, &facts, reported),
        &["KubeadmControlPlane fleet/east-cp", "control plane 0/1"],
    );
    facts.machines[0] = machine("cp-1", HOP, true, None);
    let reported = Some(v(HOP));
    assert_eq!(
        written(&decide(v(HOP), BEFORE, &facts, reported)).1,
        "md-a",
        "MachineDeployments go in name order"
    );
    facts.deployments[1] = md("md-a", HOP, json!({}));
    waits_with(
        &decide(v(HOP), BEFORE, &facts, reported),
        &["MachineDeployment fleet/md-a", "0/1 of its machines"],
    );
    facts.machines[1] = machine("md-a-1", HOP, false, Some("md-a"));
    assert_eq!(written(&decide(v(HOP), BEFORE, &facts, reported)).1, "md-b");
    facts.deployments[0] = md("md-b", HOP, json!({}));
    assert!(matches!(
        decide(v(HOP), BEFORE, &facts, reported),
        Decision::Done(_)
    ));
}

#[test]
fn hold_and_defer_annotations_are_honoured() {
    let facts = |a: Value, b: Value| Facts {
        cluster: plain_cluster(),
        control_plane: Some(kcp(HOP)),
        deployments: vec![md("md-a", "v1.32.7", a), md("md-b", "v1.32.7", b)],
        machines: vec![],
    };
    let reported = Some(v(HOP));
    let held = facts(json!({HOLD_UPGRADE_SEQUENCE: ""}), json!({}));
    waits_with(
        &decide(v(HOP), BEFORE, &held, reported),
        &["md-a holds the worker upgrade sequence", HOLD_UPGRADE_SEQUENCE],
    );
    let deferred = facts(json!({DEFER_UPGRADE: ""}), json!({}));
    assert_eq!(
        written(&decide(v(HOP), BEFORE, &deferred, reported)).1,
        "md-b",
        "a deferred MachineDeployment does not hold the others"
    );
    let mut only_deferred = deferred.clone();
    only_deferred.deployments[1] = md("md-b", HOP, json!({}));
    waits_with(
        &decide(v(HOP), BEFORE, &only_deferred, reported),
        &["fleet/md-a defers its upgrade", DEFER_UPGRADE],
    );
}

#[test]
fn a_machine_deployment_changed_by_hand_stops_before_anything_is_written() {
    let facts = Facts {
        cluster: plain_cluster(),
        control_plane: Some(kcp("v1.32.7")),
        deployments: vec![md("md-a", "v1.34.1", json!({}))],
        machines: vec![],
    };
    let Decision::Stop(message) = decide(v(HOP), BEFORE, &facts, Some(v("v1.32.7"))) else {
        panic!("expected a stop");
    };
    assert!(
        message.contains("MachineDeployment fleet/md-a spec.template.spec.version is v1.34.1"),
        "{message}"
    );
}

#[test]
fn the_starting_version_is_read_from_the_operation() {
    let op = |current: Option<&str>| Operation {
        current_version: current.map(String::from),
        ..crate::cvsh::stages::operation("kubernetes-1.33", acp_api::cvsh::OperationAction::Upgrade)
    };
    assert_eq!(Before::of(&op(Some("v1.32.7"))), BEFORE);
    assert_eq!(
        Before::of(&op(Some("1.32"))),
        Before::Minor(KubeMinor::new(1, 32))
    );
    assert_eq!(Before::of(&op(None)), Before::Unknown);
}

#[test]
fn machines_not_on_the_hop_are_counted_per_owner_with_cluster_apis_reason() {
    let mut provisioning = machine("md-0-b", "v1.33.7", false, Some("md-0"));
    provisioning["status"] = json!({"phase": "Provisioning", "conditions": [
        {"type": "InfrastructureReady", "status": "False", "reason": "WaitingForInfrastructure",
         "message": "VSphereMachine fleet/md-0-b is not ready: no IP"},
        {"type": "Ready", "status": "False", "reason": "NotReady"},
    ]});
    let mut draining = machine("md-0-a", "v1.32.7", false, Some("md-0"));
    draining["metadata"]["deletionTimestamp"] = json!("2026-03-01T10:00:00Z");
    draining["status"]["conditions"] = json!([{"type": "Deleting", "status": "True", "reason": "DrainingNode",
        "message": "Cannot evict pod as it would violate the pod's disruption budget"}]);
    let facts = Facts {
        cluster: plain_cluster(),
        control_plane: Some(kcp(HOP)),
        deployments: vec![md("md-0", HOP, json!({})), md("md-1", "v1.32.7", json!({}))],
        machines: vec![
            machine("cp-1", "v1.33.7", true, None),
            machine("cp-2", "v1.32.7", true, None),
            draining,
            provisioning,
            // Its MachineDeployment still asks for v1.32.7: not late, not its turn.
            machine("md-1-a", "v1.32.7", false, Some("md-1")),
        ],
    };

    let lagging = lagging_machines(&facts, v(HOP));

    let summary: Vec<(&str, u32)> = lagging.iter().map(|m| (m.name.as_str(), m.not_updated)).collect();
    assert_eq!(
        summary,
        [
            ("control plane of Cluster fleet/east", 1),
            ("MachineDeployment fleet/md-0", 2)
        ]
    );
    assert_eq!(lagging[0].reason, "Machine cp-2 is Running on v1.32.7");
    assert_eq!(
        lagging[1].reason,
        "Machine md-0-a is being deleted; Deleting DrainingNode: Cannot evict pod as it would violate the pod's disruption budget"
    );
    let insights = crate::cvsh::insights::diagnose(&crate::cvsh::insights::Facts {
        machines: lagging,
        ..Default::default()
    });
    assert_eq!(insights[1].object, "MachineDeployment fleet/md-0");
    assert!(
        insights[1]
            .message
            .starts_with("2 machines not updated: Machine md-0-a"),
        "{insights:?}"
    );
    assert!(
        insights[0].message.starts_with("1 machine not updated:"),
        "{insights:?}"
    );

    let mut only_provisioning = facts.clone();
    only_provisioning.machines.retain(|m| name(m) == "md-0-b");
    assert_eq!(
        lagging_machines(&only_provisioning, v(HOP))[0].reason,
        "Machine md-0-b: InfrastructureReady WaitingForInfrastructure: VSphereMachine fleet/md-0-b is not ready: no IP"
    );

    // A topology's workers wait for its control plane: only the control plane is late.
    let topology = Facts {
        cluster: topology_cluster(HOP),
        machines: vec![
            machine("cp-2", "v1.32.7", true, None),
            machine("md-0-a", "v1.32.7", false, Some("md-0")),
        ],
        ..Facts::default()
    };
    let names: Vec<String> = lagging_machines(&topology, v(HOP))
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["control plane of Cluster fleet/east"]);
}
