//! A workload cluster reached over a degraded network ([`proxy`](super::proxy)): every request slowed, some
//! answers held back longer than the operator's request timeout, and a fraction of requests answered with
//! the errors of an overloaded API server (503, 500, 429). The operator's waits stay bounded (it gives up
//! on every held answer and asks again), no operation is ever Failed (that would need a person), and the
//! upgrade completes once, at its target.

use std::time::{Duration, Instant};

use acp_api::names;
use acp_e2e::operator::*;
use serde_json::json;

use super::proxy::{Proxy, Schedule};
use super::record::{self, Recorder};
use super::{assert_no_violations, completed, finish_and_check, secs};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
/// The operator's request timeout here: every call to the cluster ends within it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Every request slowed by `delay`; every 41st answer held longer than the test waits for the upgrade, so
/// the upgrade completes only if every wait on one ends; every 17th request refused (the 503s and 429s are
/// retried inside the operator's client, the 500s reach the operator). Primes, so the faults fall on
/// every position of a reconcile's calls; one reconcile is 6 to 60 calls.
const DEGRADED: Schedule = Schedule {
    delay: Duration::from_millis(100),
    slow_every: 41,
    slow_by: Duration::from_secs(600),
    fail_every: 17,
};
const _: () = assert!(DEGRADED.slow_by.as_secs() > LONG.as_secs());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_and_erring_workload_cluster_is_upgraded_once() {
    let env = start([cluster("global", "1.34"), cluster("east", "1.34")]).await;
    let (global, east) = (env.cluster("global"), env.cluster("east"));
    install_release(global, TARGET).await;
    import(global, TARGET).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    record_version(east, FROM).await;
    let proxy = Proxy::start(east).await;
    register_with(global, "east", &proxy.kubeconfig(east), json!({})).await;
    let timeout = REQUEST_TIMEOUT.as_secs().to_string();
    let operator = env
        .spawn(operator_spec_with(
            global,
            TARGET,
            "replica-a",
            &[("--request-timeout", timeout.as_str())],
        ))
        .unwrap();
    wait_shadow(
        global,
        "east",
        "current 4.2.3 read through the proxy",
        LONG,
        |s| s.current_version() == Some(FROM),
    )
    .await;
    let recorder = Recorder::start(global, "east", east).await;
    let before = record::modules(east).await;

    // The network degrades from the request on: the whole upgrade runs over it.
    let clean = proxy.counts();
    proxy.degrade(DEGRADED);
    let started = Instant::now();
    request(global, "east", TARGET).await;
    recorder
        .wait_status(&format!("{TARGET} completed"), 0, LONG, |s| completed(s, TARGET))
        .await;
    let took = started.elapsed();
    let counts = proxy.counts();
    // The network heals: what follows checks that the completed upgrade stays as it is, and the final
    // conditions are judged on a cluster that answers.
    proxy.degrade(Schedule::CLEAN);

    let violations = finish_and_check(&recorder, east, FROM, TARGET, &before).await;
    let requests = counts.requests - clean.requests;
    println!(
        "faults: degraded_network: 1 upgrade over a degraded network completed in {}, {} invariant \
         violations; {requests} requests proxied, {} delayed {}ms, {} answers held {} (past the {} request \
         timeout; {} given up on by the operator), {} refused (1 in {}: 503, 500, 429 in turn)",
        secs(took),
        violations.len(),
        counts.delayed - clean.delayed,
        DEGRADED.delay.as_millis(),
        counts.slowed,
        secs(DEGRADED.slow_by),
        secs(REQUEST_TIMEOUT),
        counts.abandoned,
        counts.failed,
        DEGRADED.fail_every,
    );
    assert_no_violations(&violations, &operator);
    assert!(
        counts.failed > 0 && counts.slowed > 0,
        "the upgrade met no fault: {counts:?}"
    );
}
