//! The hub (global cluster) control plane stopped mid-Core, status writes failing and watches dropped for
//! longer than the Lease, then started again: the operator picks the same upgrade up, repeats nothing,
//! and the time from the hub's return to the next recorded progress is measured.

use std::time::{Duration, Instant};

use acp_e2e::operator::*;

use super::record::{self, Recorder};
use super::{assert_no_violations, finish_and_check, progress, recovery, running_in, secs};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
/// How long the hub stays down: past the 6 s Lease and the operator's 10 s request timeout.
const OUTAGE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_restarted_mid_upgrade_loses_and_repeats_nothing() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let operator = operate_global(&env, FROM, TARGET).await;
    let recorder = Recorder::start(global, "global", global).await;
    let before = record::modules(global).await;

    request(global, "global", TARGET).await;
    recorder
        .wait_status("a Core operation Running", 0, LONG, |s| {
            running_in(s, "Core").is_some()
        })
        .await;
    global.stop().await.unwrap();
    let down = Instant::now();
    let at_stop = progress(&recorder.last_status());
    // The fault is the outage itself: it lasts OUTAGE, whatever the operator does meanwhile.
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    global.start_again().await.unwrap();
    let back = Instant::now();

    let (first_write, recovery) = recovery(global, "global", at_stop, back).await;

    let violations = finish_and_check(&recorder, global, FROM, TARGET, &before).await;
    println!(
        "faults: hub_restart: 1 fault point (hub down {} mid-Core), 1 upgrade completed, {} invariant \
         violations; hub back -> first status write {}, -> next \
         status progress {}",
        secs(OUTAGE),
        violations.len(),
        first_write.map_or("-".into(), secs),
        secs(recovery)
    );
    assert_no_violations(&violations, &operator);
}
