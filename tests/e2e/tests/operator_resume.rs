//! The operator killed with SIGKILL in the middle of the Core stage: a new process resumes from the status
//! alone, performs every remaining operation, repeats none, and records one history entry.

use acp_api::conditions::{self, types};
use acp_e2e::operator::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_operator_resumes_the_upgrade_where_it_stopped() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let operator = operate_global(&env, "4.2.3", "4.3.1").await;

    // New pods cannot be scheduled: the first Core module's rollout waits, so the kill lands mid-stage.
    cordon(global).await;
    request(global, "global", "4.3.1").await;
    let before = wait_shadow(global, "global", "platform-api rolling out", LONG, |s| {
        operation_in(s, "Core", "platform-api", "Running")
    })
    .await;
    assert!(operation_in(
        &before,
        "Prepare",
        "Namespace/cpaas-system",
        "Succeeded"
    ));
    assert!(operation_in(&before, "Core", "platform-auth", "Pending"));

    // A started upgrade cannot be withdrawn: clearing the request is explained, not obeyed.
    clear_request(global, "global").await;
    let explained = wait_shadow(global, "global", "the cleared request explained", LONG, |s| {
        conditions::find(s.conditions(), types::RECONCILING)
            .is_some_and(|c| c.status == "True" && c.message.contains("cannot be cancelled"))
    })
    .await;
    assert_eq!(explained.desired_version(), Some("4.3.1"));
    operator.kill();
    assert!(!operator.is_running());

    operator.restart().unwrap();
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
    assert!(condition_is(&done, types::DEGRADED, "False"));
    assert_modules_upgraded_once(global, "4.3.1").await;
    // The resumed process saw an upgrade already started: it did not start (or announce) another.
    assert_eq!(events(global, "global", "UpgradeStarted").await.len(), 1);
    assert_eq!(events(global, "global", "UpgradeCompleted").await.len(), 1);
    let log = operator.logs();
    assert_eq!(
        log.matches("upgrade started").count(),
        1,
        "one start across both processes"
    );
}
