//! A workload cluster's API server gone mid-Core for several times the operator's request timeout: the
//! cvsh says Degraded while it is gone, no operation is ever Failed (that would need a person), and the
//! upgrade completes once the cluster is back.

use std::time::{Duration, Instant};

use acp_api::conditions::{self, types};
use acp_api::names;
use acp_e2e::operator::*;
use serde_json::json;

use super::record::{self, Recorder};
use super::{assert_no_violations, finish_and_check, progress, recovery, running_in, secs};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
/// The operator's request timeout here; the outage lasts several of them.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const OUTAGE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_cluster_gone_mid_core_is_waited_for_then_finished() {
    let env = start([cluster("global", "1.34"), cluster("east", "1.34")]).await;
    let (global, east) = (env.cluster("global"), env.cluster("east"));
    install_release(global, TARGET).await;
    import(global, TARGET).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    record_version(east, FROM).await;
    register(global, east).await;
    let timeout = REQUEST_TIMEOUT.as_secs().to_string();
    let operator = env
        .spawn(operator_spec_with(
            global,
            TARGET,
            "replica-a",
            &[("--request-timeout", timeout.as_str())],
        ))
        .unwrap();
    wait_shadow(global, "east", "current 4.2.3 read from the cluster", LONG, |s| {
        s.current_version() == Some(FROM)
    })
    .await;
    let recorder = Recorder::start(global, "east", east).await;
    let before = record::modules(east).await;

    request(global, "east", TARGET).await;
    recorder
        .wait_status("a Core operation Running", 0, LONG, |s| {
            running_in(s, "Core").is_some()
        })
        .await;
    // Measured from the moment the stop begins: the operator may notice before it has finished.
    let down = Instant::now();
    let gone = recorder.cursor();
    east.stop().await.unwrap();
    let (_, degraded_at) = recorder
        .wait_status("Degraded while east is gone", gone, LONG, |s| {
            conditions::find(&s.conditions, types::DEGRADED).is_some_and(|c| c.status == "True")
        })
        .await;
    let noticed = degraded_at.saturating_duration_since(down);
    // The fault is the outage itself: it lasts OUTAGE, whatever the operator does meanwhile.
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    let during = recorder.last_status();
    let degraded = conditions::find(&during.conditions, types::DEGRADED).cloned();
    let at_stop = progress(&during);
    east.start_again().await.unwrap();
    let back = Instant::now();

    let (first_write, recovery) = recovery(global, "east", at_stop, back).await;

    let violations = finish_and_check(&recorder, east, FROM, TARGET, &before).await;
    println!(
        "faults: workload_outage: 1 fault point (east down {} mid-Core, request timeout {}), 1 upgrade \
         completed, {} invariant violations; Degraded {} after the loss; east back -> first status \
         write {}, -> next status progress {}",
        secs(OUTAGE),
        secs(REQUEST_TIMEOUT),
        violations.len(),
        secs(noticed),
        first_write.map_or("-".into(), secs),
        secs(recovery)
    );
    assert_no_violations(&violations, &operator);
    let degraded = degraded.expect("a Degraded condition while east was gone");
    assert_eq!(degraded.status, "True", "{}", degraded.message);
    assert!(
        degraded.message.contains("east"),
        "Degraded names the cluster: {}",
        degraded.message
    );
}
