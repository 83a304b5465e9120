//! Maintenance windows on the manual path: a cluster labelled with a window starts a requested upgrade
//! only while the window is open (an exclusion holds it), a request with `ignoreMaintenanceWindow` starts
//! at once and records that as an accepted risk, and lifting the freeze starts the held upgrade at once.

use acp_api::cvsh::CheckState;
use acp_api::k8s::Timestamp;
use acp_api::names;
use acp_e2e::operator::*;
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// How long the freeze lasts from the moment the window is created: longer than the test waits, so only
/// lifting it can start the held upgrade (a held cluster is not looked at again before the freeze would
/// end, or five minutes, unless the window changes).
const FREEZE_SECS: i64 = 1800;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_holds_the_start_until_it_opens_and_ignoring_it_starts_at_once() {
    let env = start([cluster("global", "1.34"), cluster("fleet", "1.34")]).await;
    let (global, fleet) = (env.cluster("global"), env.cluster("fleet"));
    record_version(fleet, "4.2.3").await;
    import(global, "4.3.1").await;
    // Two registered clusters share one API server here, so one's rollout must not hold another's preflight.
    disable_checks(global, &["ClusterModuleStable"]).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;

    let clusters = ["w-held", "w-ignored"];
    let api = shadows(global).await;
    for name in clusters {
        register_as(global, fleet, name).await;
        let label = json!({"metadata": {"labels": {names::labels::MAINTENANCE_WINDOW: "night-shift"}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&label))
            .await
            .unwrap();
    }
    let _operator = env.spawn(operator_spec(global, "4.3.1", "replica-a")).unwrap();
    for name in clusters {
        wait_shadow(global, name, "current 4.2.3", LONG, |s| {
            s.current_version() == Some("4.2.3")
        })
        .await;
    }

    // Open every minute for an hour, that is always, but for a freeze ending shortly. Created once the
    // clusters are observed, so that the freeze is still on when the requests come.
    let now = Timestamp::now().as_second();
    let freeze_ends = Timestamp::from_second(now + FREEZE_SECS).unwrap();
    apply(
        global,
        &json!({
            "apiVersion": names::ROLLOUT_API_VERSION,
            "kind": "MaintenanceWindow",
            "metadata": {"name": "night-shift", "namespace": names::NAMESPACE},
            "spec": {
                "schedule": "* * * * *",
                "duration": "1h",
                "timeZone": "Europe/Berlin",
                "exclusions": [{
                    "start": Timestamp::from_second(now - 3600).unwrap().to_string(),
                    "end": freeze_ends.to_string(),
                    "reason": "change freeze",
                }],
            },
        }),
    )
    .await;
    request(global, "w-held", "4.3.1").await;
    let ignore = json!({"spec": {"desiredUpdate": {"version": "4.3.1", "ignoreMaintenanceWindow": true}}});
    api.patch("w-ignored", &PatchParams::default(), &Patch::Merge(&ignore))
        .await
        .unwrap();

    let held = wait_shadow(global, "w-held", "held by its maintenance window", SHORT, |s| {
        check(s, "MaintenanceWindowOpen").is_some_and(|c| {
            c.state == CheckState::Retry
                && c.message
                    .as_deref()
                    .is_some_and(|m| m.contains("night-shift opens at"))
        }) && !s.is_executing()
    })
    .await;
    let message = check(&held, "MaintenanceWindowOpen")
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("maintenance window night-shift opens at") && message.contains("change freeze"),
        "{message}"
    );
    assert!(
        held.status
            .as_ref()
            .unwrap()
            .history
            .iter()
            .all(|h| h.version.as_deref() != Some("4.3.1"))
    );

    // The request that ignores the window started although the freeze still held the other one.
    let ignored = wait_shadow(global, "w-ignored", "4.3.1 started", SHORT, |s| {
        history(s).first().is_some_and(|(v, _)| v == "4.3.1")
    })
    .await;
    let entry = &ignored.status.as_ref().unwrap().history[0];
    assert!(entry.started_time.0 < freeze_ends, "{entry:?}");
    let risks = entry.accepted_risks.clone().unwrap_or_default();
    assert!(
        risks.contains("MaintenanceWindowOpen: ") && risks.contains("night-shift"),
        "{risks}"
    );

    // The freeze is lifted: the held upgrade starts now, and both complete.
    let lifted = json!({"spec": {"exclusions": []}});
    let windows: kube::Api<acp_api::maintenance_window::MaintenanceWindow> =
        kube::Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let lifted_at = Timestamp::now();
    windows
        .patch("night-shift", &PatchParams::default(), &Patch::Merge(&lifted))
        .await
        .unwrap();
    wait_shadow(
        global,
        "w-held",
        "4.3.1 started once the freeze was lifted",
        SHORT,
        |s| history(s).first().is_some_and(|(v, _)| v == "4.3.1"),
    )
    .await;
    for name in clusters {
        let done = wait_shadow(global, name, "4.3.1 completed", LONG, |s| {
            s.current_version() == Some("4.3.1") && ready(s)
        })
        .await;
        assert_eq!(history(&done)[0], ("4.3.1".into(), "Completed".into()));
    }
    let done = api.get("w-held").await.unwrap();
    let entry = &done.status.as_ref().unwrap().history[0];
    // Status times are whole seconds.
    assert!(
        entry.started_time.0.as_second() >= lifted_at.as_second(),
        "{entry:?}"
    );
    assert!(entry.accepted_risks.is_none(), "{entry:?}");
}
