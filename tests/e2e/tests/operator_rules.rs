//! ACP up to 4.2 requires every workload cluster on the newest Kubernetes minor both releases accept
//! before the global cluster moves ("latest required"): 4.1.5 → 4.2.5 is held while a workload cluster
//! runs 1.31 and proceeds once all run 1.32. The global cluster's own Kubernetes hop (1.32 → 1.33) is
//! waited for: the upgrade continues when its API server reports v1.33.7, the release data's patch of 1.33.

use acp_api::cvsh::CheckState;
use acp_api::names;
use acp_e2e::operator::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_to_4_2_workloads_must_be_on_the_latest_common_minor() {
    let env = start([cluster("global", "1.32"), cluster("w1", "1.31")]).await;
    let (global, w1) = (env.cluster("global"), env.cluster("w1"));
    install_release(global, "4.1.5").await;
    record_version(w1, "4.1.5").await;
    register(global, w1).await;
    import(global, "4.2.5").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let _operator = run_operator(&env, "4.1.5", "replica-a");
    wait_shadow(global, "w1", "observed on 1.31", LONG, |s| {
        observed(s)
            .and_then(|o| o.kubernetes_version.as_deref())
            .is_some_and(|v| v.starts_with("v1.31"))
    })
    .await;

    request(global, "global", "4.2.5").await;
    let held = wait_shadow(global, "global", "held by the latest-required rule", LONG, |s| {
        s.desired_version() == Some("4.2.5")
            && check(s, "KubernetesVersionSupported").is_some_and(|c| c.state == CheckState::Failed)
    })
    .await;
    let check = check(&held, "KubernetesVersionSupported").unwrap();
    assert_eq!(check.reason.as_deref(), Some("KubernetesNotLatestCompatible"));
    let message = check.message.as_deref().unwrap();
    assert!(message.contains("`w1`") && message.contains("1.32"), "{message}");
    assert!(held.status.as_ref().unwrap().stages.is_empty());

    // All workload clusters on 1.32: the upgrade starts, then waits for the global cluster's own hop.
    w1.restart_at("1.32").await.unwrap();
    wait_shadow(
        global,
        "global",
        "waiting for the global cluster to report 1.33",
        LONG,
        |s| operation_in(s, "Kubernetes", "kubernetes-1.33", "Running"),
    )
    .await;
    for name in CORE_MODULES {
        assert_eq!(
            module(global, name).await.metadata.generation,
            Some(1),
            "Core waits for Kubernetes"
        );
    }
    global.restart_at("v1.33.7").await.unwrap();
    let done = wait_shadow(global, "global", "4.2.5 completed", LONG, |s| {
        s.current_version() == Some("4.2.5") && ready(s)
    })
    .await;
    assert_eq!(
        history(&done),
        [
            ("4.2.5".into(), "Completed".into()),
            ("4.1.5".into(), "Completed".into())
        ]
    );
    assert!(operation_in(&done, "Kubernetes", "kubernetes-1.33", "Succeeded"));
    assert_modules_upgraded_once(global, "4.2.5").await;
}
