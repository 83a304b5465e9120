//! Global first, then workload clusters: preflight holds the global upgrade while a workload cluster runs
//! a Kubernetes version the target does not accept, lets it go on its own once that cluster is upgraded,
//! rolls the Core modules out for real, and only then lets a workload cluster follow — which waits, with a
//! reason, while its cluster is down, and completes once it is back.

use acp_api::conditions::{self, types};
use acp_api::cvsh::{CheckState, HistoryState, StagePhase};
use acp_api::names;
use acp_e2e::operator::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_first_then_workloads() {
    let env = start([
        cluster("global", "1.34"),
        cluster("legacy", "1.30"),
        cluster("east", "1.33"),
    ])
    .await;
    let (global, legacy, east) = (env.cluster("global"), env.cluster("legacy"), env.cluster("east"));
    install_release(global, "4.2.3").await;
    for workload in [legacy, east] {
        record_version(workload, "4.2.3").await;
        register(global, workload).await;
    }
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let _operator = run_operator(&env, "4.2.3", "replica-a");
    wait_shadow(global, "global", "current 4.2.3", LONG, |s| {
        s.current_version() == Some("4.2.3")
    })
    .await;
    wait_shadow(global, "east", "current 4.2.3 read from the cluster", LONG, |s| {
        s.current_version() == Some("4.2.3")
    })
    .await;

    // A workload cluster may not go first.
    request(global, "east", "4.3.1").await;
    let held = wait_shadow(
        global,
        "east",
        "GlobalTierReached failed for the request",
        LONG,
        |s| {
            s.desired_version() == Some("4.3.1")
                && check(s, "GlobalTierReached").is_some_and(|c| c.state == CheckState::Failed)
        },
    )
    .await;
    let message = check(&held, "GlobalTierReached")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.contains("4.2.3") && message.contains("global"),
        "{message}"
    );
    assert!(held.status.as_ref().unwrap().stages.is_empty());

    // The global upgrade is held by the workload cluster on Kubernetes 1.30.
    request(global, "global", "4.3.1").await;
    let blocked = wait_shadow(
        global,
        "global",
        "KubernetesVersionSupported failed for the request",
        LONG,
        |s| {
            s.desired_version() == Some("4.3.1")
                && check(s, "KubernetesVersionSupported").is_some_and(|c| c.state == CheckState::Failed)
        },
    )
    .await;
    let message = check(&blocked, "KubernetesVersionSupported")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.contains("`legacy`") && message.contains("1.30"),
        "{message}"
    );
    assert!(!message.contains("`east`"), "{message}");
    assert!(
        blocked.status.as_ref().unwrap().stages.is_empty(),
        "no stage may start"
    );
    assert!(condition_is(&blocked, types::PREFLIGHT_READY, "False"));
    let held_ready = conditions::find(blocked.conditions(), types::READY).unwrap();
    assert_eq!(held_ready.status, "False");
    assert!(
        held_ready.message.contains("KubernetesVersionSupported"),
        "{}",
        held_ready.message
    );
    for name in CORE_MODULES {
        assert_eq!(
            module(global, name).await.metadata.generation,
            Some(1),
            "{name} must not change"
        );
    }

    // Upgrading that cluster's Kubernetes is all it takes.
    legacy.restart_at("1.31").await.unwrap();
    let done = wait_shadow(global, "global", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    let status = done.status.as_ref().unwrap();
    assert_eq!(
        history(&done),
        [
            ("4.3.1".into(), "Completed".into()),
            ("4.2.3".into(), "Completed".into())
        ]
    );
    assert!(status.history[0].completion_time.is_some());
    assert!(
        status.stages.iter().all(|s| s.phase == StagePhase::Finished),
        "{:?}",
        status.stages
    );
    assert_eq!(status.progress().done, status.progress().total);
    assert!(condition_is(&done, types::RECONCILING, "False"));
    assert!(condition_is(&done, types::DEGRADED, "False"));
    assert_eq!(status.history[0].state, HistoryState::Completed);

    // The Core and Aligned modules really rolled out: one new ReplicaSet each, Available.
    assert_modules_upgraded_once(global, "4.3.1").await;
    let recorded: Api<ConfigMap> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let recorded = recorded.get("acp-version").await.unwrap();
    assert_eq!(recorded.data.unwrap()["version"], "4.3.1");

    // Each transition left an Event.
    let reasons: Vec<String> = events_about(global, "global")
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for expected in [
        "VersionRecorded",
        "PreflightFailed",
        "UpgradeStarted",
        "StageStarted",
        "UpgradeCompleted",
    ] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "no {expected} Event in {reasons:?}"
        );
    }

    // Now the workload cluster goes, on its own. Its Kubernetes stage waits for 1.34.
    let waiting = wait_shadow(global, "east", "waiting for Kubernetes 1.34", LONG, |s| {
        s.status.as_ref().is_some_and(|st| {
            st.stages.iter().any(|stage| {
                stage.name == "Kubernetes"
                    && stage
                        .operations
                        .iter()
                        .any(|o| o.message.as_deref().is_some_and(|m| m.contains("1.34")))
            })
        })
    })
    .await;
    assert!(condition_is(&waiting, types::RECONCILING, "True"));
    let reconciling = conditions::find(waiting.conditions(), types::RECONCILING).unwrap();
    assert!(
        reconciling.message.starts_with("Working towards 4.3.1: "),
        "{}",
        reconciling.message
    );

    // Its cluster goes away mid-upgrade: the operation waits, Degraded says why.
    east.stop().await.unwrap();
    let degraded = wait_shadow(global, "east", "Degraded while unreachable", LONG, |s| {
        condition_is(s, types::DEGRADED, "True")
    })
    .await;
    let reason = conditions::find(degraded.conditions(), types::DEGRADED).unwrap();
    assert_eq!(reason.reason, "ClusterUnreachable", "{}", reason.message);
    assert!(degraded.is_executing());
    assert_eq!(history(&degraded)[0], ("4.3.1".into(), "Partial".into()));

    // Back, on 4.3.1's Kubernetes patch (v1.34.5, the release data's patch of 1.34): the upgrade completes.
    east.restart_at("v1.34.5").await.unwrap();
    let done = wait_shadow(global, "east", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    assert!(condition_is(&done, types::DEGRADED, "False"));
    assert_eq!(
        history(&done),
        [
            ("4.3.1".into(), "Completed".into()),
            ("4.2.3".into(), "Completed".into())
        ]
    );
    for name in CORE_MODULES {
        assert!(rolled_out(&module(east, name).await, "4.3.1"), "{name} on east");
    }
}
