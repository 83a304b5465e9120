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
    // Cluster API does not lower a topology version: raised past the hop, only a retarget helps; below
    // it, raising it to the hop does.
    assert!(
        message.contains(
            "let it finish rolling out v1.33.9, then retarget the upgrade to a release whose Kubernetes \
             version is v1.33.9 or later"
        ),
        "{message}"
    );
    for found in ["v1.32.9", "v1.32.5"] {
        let facts = Facts {
            cluster: topology_cluster(found),
            ..Facts::default()
        };
        let Decision::Stop(message) = decide(v(HOP), BEFORE, &facts, Some(v("v1.32.7"))) else {
            panic!("expected a stop for {found}");
        };
        assert!(
            message.contains("set it to v1.33.7 to let the upgrade continue"),
            "{message}"
        );
        assert!(!message.contains("Set it back"), "{message}");
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

/// `machine`, made `created` seconds before [`NOW`].
fn made(mut machine: Value, created: i64) -> Value {
    machine["metadata"]["creationTimestamp"] = json!(at(-created).to_string());
    machine
}

const NOW: i64 = 1_800_000_000;
const AFTER: SignedDuration = SignedDuration::from_secs(120);

fn at(offset: i64) -> Timestamp {
    Timestamp::from_second(NOW + offset).unwrap()
}

#[test]
fn only_stuck_machines_are_named_per_owner_with_cluster_apis_reason() {
    let mut provisioning = made(machine("md-0-b", HOP, false, Some("md-0")), 600);
    provisioning["status"] = json!({"phase": "Provisioning", "conditions": [
        {"type": "InfrastructureReady", "status": "False", "reason": "WaitingForInfrastructure",
         "message": "* VSphereMachine fleet/md-0-b:\n  * no IP \u{1b}[31myet"},
        {"type": "Ready", "status": "False", "reason": "NotReady"},
    ]});
    let mut draining = made(machine("md-0-a", "v1.32.7", false, Some("md-0")), 9_000);
    draining["metadata"]["deletionTimestamp"] = json!(at(-900).to_string());
    // A v1beta1 Machine says what holds the drain in DrainingSucceeded.
    draining["status"]["conditions"] = json!([{"type": "DrainingSucceeded", "status": "False",
        "reason": "Draining", "message": "Cannot evict pod as it would violate the pod's disruption budget"}]);
    let mut just_deleted = made(machine("cp-1", "v1.32.7", true, None), 9_000);
    just_deleted["metadata"]["deletionTimestamp"] = json!(at(-30).to_string());
    let mut new_cp = made(machine("cp-2", HOP, true, None), 60);
    new_cp["status"]["phase"] = json!("Provisioning");
    let mut failed = made(machine("md-1-a", HOP, false, Some("md-1")), 30);
    failed["status"] = json!({"phase": "Failed", "conditions": [
        {"type": "BootstrapReady", "status": "False", "reason": "BootstrapFailed", "message": "cloud-init exited 1"},
    ]});
    let facts = Facts {
        cluster: plain_cluster(),
        control_plane: Some(kcp(HOP)),
        deployments: vec![md("md-0", HOP, json!({})), md("md-1", HOP, json!({}))],
        machines: vec![
            // Waiting its turn on the old version, or moving along within the threshold: not stuck.
            made(machine("cp-0", "v1.32.7", true, None), 9_000),
            just_deleted,
            new_cp,
            draining,
            provisioning,
            failed,
        ],
    };

    let stuck = stuck_machines(&facts, v(HOP), at(0), AFTER);

    let summary: Vec<(&str, u32, &str)> = stuck
        .iter()
        .map(|m| (m.name.as_str(), m.not_updated, m.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "MachineDeployment fleet/md-0",
                2,
                "Machine md-0-a has been deleting for 15m; DrainingSucceeded Draining: Cannot evict pod as it \
                 would violate the pod's disruption budget"
            ),
            (
                "MachineDeployment fleet/md-1",
                1,
                "Machine md-1-a Failed: BootstrapReady BootstrapFailed: cloud-init exited 1"
            ),
        ]
    );
    let mut only_provisioning = facts.clone();
    only_provisioning.machines.retain(|m| name(m) == "md-0-b");
    assert_eq!(
        stuck_machines(&only_provisioning, v(HOP), at(0), AFTER)[0].reason,
        "Machine md-0-b has been Provisioning on v1.33.7 for 10m: InfrastructureReady WaitingForInfrastructure: \
         * VSphereMachine fleet/md-0-b:   * no IP  [31myet",
        "Cluster API's multi-line text, its control characters made spaces"
    );
    let insights = crate::cvsh::insights::diagnose(&crate::cvsh::insights::Facts {
        machines: stuck,
        ..Default::default()
    });
    assert_eq!(insights[0].object, "MachineDeployment fleet/md-0");
    assert!(
        insights[0]
            .message
            .starts_with("2 machines stuck: Machine md-0-a"),
        "{insights:?}"
    );
    assert!(
        insights[1].message.starts_with("1 machine stuck:"),
        "{insights:?}"
    );
}
