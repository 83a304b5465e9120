//! A fresh installation: the global cluster starts its history at the install version and offers exactly
//! the imported releases an upgrade edge reaches, newest first.

use acp_api::conditions::{self, types};
use acp_api::cvsh::HistoryState;
use acp_api::{ProductManifest, names};
use acp_e2e::operator::*;
use kube::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_install_records_its_version_and_offers_imported_releases() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    for version in ["4.2.5", "4.3.0", "4.3.1", "4.9.9"] {
        import(global, version).await;
    }
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let _operator = run_operator(&env, "4.2.3", "replica-a");

    let shadow = wait_shadow(
        global,
        "global",
        "current 4.2.3 with three updates offered",
        LONG,
        |s| s.current_version() == Some("4.2.3") && offered(s).len() == 3,
    )
    .await;
    let status = shadow.status.as_ref().unwrap();
    // 4.2.4 is a valid edge too, but nobody imported it; 4.9.9 is imported but unknown.
    assert_eq!(offered(&shadow), ["4.3.1", "4.3.0", "4.2.5"]);
    assert_eq!(status.history.len(), 1);
    assert_eq!(status.history[0].version.as_deref(), Some("4.2.3"));
    assert_eq!(status.history[0].state, HistoryState::Completed);
    assert!(status.history[0].completion_time.is_some());
    assert!(ready(&shadow), "{:?}", shadow.conditions());
    assert!(condition_is(&shadow, types::RECONCILING, "False"));
    assert!(condition_is(&shadow, types::DEGRADED, "False"));
    let observed = status.observed.as_ref().unwrap();
    assert_eq!(observed.reachable, Some(true));
    assert!(
        observed
            .kubernetes_version
            .as_deref()
            .unwrap()
            .starts_with("v1.34")
    );
    assert_eq!(observed.nodes.as_ref().unwrap().ready, 1);

    // Nothing was requested: preflight answers "could I upgrade to the newest now?".
    let shadow = wait_shadow(global, "global", "continuous preflight for 4.3.1", LONG, |s| {
        s.status
            .as_ref()
            .and_then(|st| st.preflight.as_ref())
            .and_then(|p| p.target_version.as_deref())
            == Some("4.3.1")
    })
    .await;
    assert!(check(&shadow, "VersionUpgradePath").is_some());
    assert!(
        shadow.status.as_ref().unwrap().stages.is_empty(),
        "nothing may start without a request"
    );

    // The unknown release is not Ready and says why.
    let manifests: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    let unknown = manifests
        .get(&ProductManifest::name_for_version("4.9.9"))
        .await
        .unwrap();
    let ready = conditions::find(unknown.conditions(), types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ReleaseNotFound")
    );
    let known = manifests.get("v4.3.1").await.unwrap();
    assert!(known.is_ready());
    assert_eq!(known.release().unwrap().modules.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_creates_the_global_shadow_when_the_installer_did_not() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let _operator = run_operator(&env, "4.3.0", "replica-a");

    let shadow = wait_shadow(global, "global", "created at 4.3.0", LONG, |s| {
        s.current_version() == Some("4.3.0")
    })
    .await;
    assert_eq!(
        shadow.spec,
        Default::default(),
        "created empty: nothing requested, every default left to the API"
    );
    assert!(ready(&shadow), "{:?}", shadow.conditions());
}
