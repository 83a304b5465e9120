//! Two replicas, the leader SIGKILLed again and again during one upgrade (each time an operation turns
//! Running): the standby takes the Lease once it expires, never while the other still leads, and finishes
//! the same upgrade. Takeover time is measured against the Lease duration.

use std::time::{Duration, Instant};

use acp_api::cvsh::{ClusterVersionShadowStatus, OperationPhase};
use acp_e2e::operator::*;
use acp_testkit::wait_for_some;

use super::record::{self, Recorder, Seen};
use super::{fault_points, finish_and_check, secs, spread};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
/// The `--lease-duration` the operator specs use.
const LEASE: Duration = Duration::from_secs(6);
const LEADER: &str = "acp_cvo_leader ";

fn phase_of(s: &ClusterVersionShadowStatus, op: &str) -> Option<OperationPhase> {
    s.stages
        .iter()
        .flat_map(|st| &st.operations)
        .find(|o| o.name == op)
        .map(|o| o.phase.clone().unwrap_or(OperationPhase::Pending))
}

/// Which of the replicas (by metrics address) leads now; panics on two leaders.
async fn leader(addrs: &[String]) -> Option<usize> {
    let mut leading = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        if metric(addr, LEADER).await == Some(1.0) {
            leading.push(i);
        }
    }
    assert!(leading.len() <= 1, "two replicas lead at once: {leading:?}");
    leading.first().copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_again_and_again_hands_over_within_the_lease() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let replicas = [
        operate_global(&env, FROM, TARGET).await,
        run_operator(&env, FROM, "replica-b"),
    ];
    let addrs: Vec<String> = replicas.iter().map(metrics_addr).collect();
    wait_for_some("replica-b ready as a standby", SHORT, || async {
        http_get(&addrs[1], "/readyz")
            .await
            .filter(|(code, body)| *code == 200 && body.contains("standby"))
    })
    .await
    .unwrap();
    let recorder = Recorder::start(global, "global", global).await;
    let before = record::modules(global).await;

    request(global, "global", TARGET).await;
    let kills = fault_points().min(CORE_MODULES.len() + ALIGNED_MODULES.len());
    let mut takeovers = Vec::new();
    let mut tried = Vec::new();
    let mut cursor = 0;
    for op in CORE_MODULES.iter().chain(&ALIGNED_MODULES).take(kills) {
        let (index, _) = recorder
            .wait(&format!("{op} Running or done"), cursor, LONG, |s| {
                matches!(s, Seen::Status(s) if phase_of(s, op)
                    .is_some_and(|p| p == OperationPhase::Running || p.is_done()))
            })
            .await;
        cursor = index;
        if recorder
            .try_wait(
                index,
                Duration::ZERO,
                |s| matches!(s, Seen::Status(s) if phase_of(s, op).is_some_and(|p| p.is_done())),
            )
            .await
            .is_some()
        {
            continue;
        }
        let Some(old) = leader(&addrs).await else {
            continue;
        };
        replicas[old].kill();
        let killed = Instant::now();
        let new = 1 - old;
        wait_for_some("the other replica to lead", LONG, || async {
            (leader(&addrs).await == Some(new)).then_some(())
        })
        .await
        .unwrap();
        takeovers.push(killed.elapsed());
        tried.push(format!("{op} Running"));
        // Back as the standby.
        replicas[old].restart().unwrap();
    }

    let violations = finish_and_check(&recorder, global, FROM, TARGET, &before).await;
    assert_eq!(
        events(global, "global", "UpgradeStarted").await.len(),
        1,
        "the upgrade was started once"
    );
    println!(
        "faults: leader_kills: {} leader kills ({}), 1 upgrade completed, {} invariant violations; \
         takeover {} against a {} Lease",
        tried.len(),
        tried.join(", "),
        violations.len(),
        spread(takeovers.clone()),
        secs(LEASE)
    );
    assert!(
        violations.is_empty(),
        "invariants broken:\n{}",
        violations.join("\n")
    );
    assert!(!tried.is_empty(), "no leader kill landed");
    for takeover in takeovers {
        assert!(
            takeover < LEASE * 3,
            "takeover took {} with a {} Lease",
            secs(takeover),
            secs(LEASE)
        );
    }
}
