//! At most N workload clusters run stages at once: the others wait their turn (ConcurrentUpgradeLimit is
//! Retry, never Failed) and start as slots free up.

use acp_api::cvsh::CheckState;
use acp_api::names;
use acp_e2e::operator::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_upgrades_beyond_the_limit_wait_their_turn() {
    let env = start([cluster("global", "1.34"), cluster("fleet", "1.34")]).await;
    let (global, fleet) = (env.cluster("global"), env.cluster("fleet"));
    record_version(fleet, "4.2.3").await;
    import(global, "4.3.1").await;
    // Three registered clusters share one API server here, so one's rollout must not hold another's preflight.
    disable_checks(global, &["ClusterModuleStable"]).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let clusters = ["w-a", "w-b", "w-c"];
    for name in clusters {
        register_as(global, fleet, name).await;
    }
    let spec = operator_spec_with(
        global,
        "4.3.1",
        "replica-a",
        &[("--max-concurrent-upgrades", "1")],
    );
    let _operator = env.spawn(spec).unwrap();
    for name in clusters {
        wait_shadow(global, name, "current 4.2.3", LONG, |s| {
            s.current_version() == Some("4.2.3")
        })
        .await;
    }

    // Rollouts on the shared cluster wait while its node is cordoned, so the first upgrade keeps its slot.
    cordon(fleet).await;
    for name in clusters {
        request(global, name, "4.3.1").await;
    }
    let api = shadows(global).await;
    wait_for_state(&api, "one cluster executing, two waiting", |list| {
        let executing = list.iter().filter(|s| s.is_executing()).count();
        let waiting = list
            .iter()
            .filter(|s| check(s, "ConcurrentUpgradeLimit").is_some_and(|c| c.state == CheckState::Retry))
            .count();
        executing == 1 && waiting == 2
    })
    .await;

    uncordon(fleet).await;
    for name in clusters {
        let done = wait_shadow(global, name, "4.3.1 completed", LONG, |s| {
            s.current_version() == Some("4.3.1") && ready(s)
        })
        .await;
        assert_eq!(history(&done)[0], ("4.3.1".into(), "Completed".into()));
    }
}

async fn wait_for_state(
    api: &kube::Api<acp_api::ClusterVersionShadow>,
    what: &str,
    accept: impl Fn(&[acp_api::ClusterVersionShadow]) -> bool,
) {
    acp_testkit::wait_for(what, LONG, || async {
        let list = api.list(&Default::default()).await.unwrap().items;
        let workloads: Vec<_> = list
            .into_iter()
            .filter(|s| s.tier() == acp_api::cvsh::Tier::Workload)
            .collect();
        accept(&workloads)
    })
    .await
    .unwrap();
}
