//! Two operator replicas: only the Lease holder writes; when it dies mid-upgrade the standby takes the
//! Lease and finishes the same upgrade.

use acp_api::names;
use std::time::Duration;

use acp_e2e::operator::*;
use acp_testkit::wait_for;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

const LEADER: &str = "acp_cvo_leader ";
const CVSH_RECONCILES: &str = "acp_cvo_reconciles_total{controller=\"ClusterVersion\"} ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_and_finishes_the_upgrade() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let a = operate_global(&env, "4.2.3", "4.3.1").await;
    let b = run_operator(&env, "4.2.3", "replica-b");
    let (a_http, b_http) = (metrics_addr(&a), metrics_addr(&b));

    wait_for("replica-b to be ready as a standby", SHORT, || async {
        http_get(&b_http, "/readyz")
            .await
            .is_some_and(|(code, body)| code == 200 && body.contains("standby"))
    })
    .await
    .unwrap();
    assert_eq!(metric(&a_http, LEADER).await, Some(1.0));
    assert_eq!(metric(&b_http, LEADER).await, Some(0.0));

    cordon(global).await;
    request(global, "global", "4.3.1").await;
    wait_shadow(global, "global", "platform-api rolling out", LONG, |s| {
        operation_in(s, "Core", "platform-api", "Running")
    })
    .await;
    // Only the leader reconciles and writes.
    assert!(metric(&a_http, CVSH_RECONCILES).await.unwrap() > 0.0);
    assert_eq!(
        metric(&b_http, CVSH_RECONCILES).await,
        None,
        "the standby must not reconcile"
    );
    let started = events(global, "global", "UpgradeStarted").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].0, "replica-a");

    // The leader dies without releasing the Lease: the standby waits for it to expire, then leads.
    a.kill();
    wait_for("replica-b to lead", LONG, || async {
        metric(&b_http, LEADER).await == Some(1.0)
    })
    .await
    .unwrap();
    uncordon(global).await;
    let done = wait_shadow(global, "global", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    assert_eq!(
        history(&done),
        [
            ("4.3.1".into(), "Completed".into()),
            ("4.2.3".into(), "Completed".into())
        ]
    );
    assert_modules_upgraded_once(global, "4.3.1").await;
    let completed = events(global, "global", "UpgradeCompleted").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].0, "replica-b");
    assert_eq!(
        events(global, "global", "UpgradeStarted").await.len(),
        1,
        "the upgrade was not started again"
    );

    // SIGTERM: the leader stops cleanly and hands the Lease back at once.
    let exit = b.terminate(Duration::from_secs(20)).await.unwrap();
    assert!(exit.success(), "acp-cvo exited with {exit}:\n{}", b.log_tail(20));
    let leases: Api<Lease> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let lease = leases.get("acp-cvo").await.unwrap();
    let holder = lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
    assert_ne!(holder, "replica-b", "the Lease must be released on shutdown");
}
