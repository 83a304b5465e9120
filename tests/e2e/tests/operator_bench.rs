//! Measurements, not tests: they print numbers and assert nothing about speed. Run them with
//! `cargo test -p acp-e2e --test e2e operator_bench:: -- --ignored --nocapture --test-threads 1`.
//!
//! - `request_to_reconciling_latency`: time from `spec.desiredUpdate` being written to the operator
//!   answering it in the cvsh's status (`status.desired` names the target), for 20 workload clusters in turn
//!   (median, spread). The 20 names reach one API server, which the operator knows to be one cluster: the
//!   first starts executing (`Reconciling=True`), the others are held as `DuplicateCluster` — the same
//!   reconcile, gather → decide → project, answers each request.
//! - `resident_memory_with_100_clusters`: the operator's RSS with 100 registered workload clusters (each
//!   its own Secret and client), which point at two real API servers.

use std::time::{Duration, Instant};

use acp_api::{ClusterVersionShadow, names};
use acp_e2e::operator::*;
use acp_testkit::{ClusterSpec, wait_for};
use futures::StreamExt;
use kube::runtime::watcher;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn request_to_reconciling_latency() {
    const SAMPLES: usize = 20;
    let env = start([cluster("global", "1.34"), cluster("fleet", "1.34")]).await;
    let (global, fleet) = (env.cluster("global"), env.cluster("fleet"));
    record_version(fleet, "4.2.3").await;
    import(global, "4.3.1").await;
    // The clusters share one API server, so one cluster's rollout must not hold the next one's preflight.
    disable_checks(global, &["ClusterModuleStable"]).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let names: Vec<String> = (0..SAMPLES).map(|i| format!("w-{i:02}")).collect();
    for name in &names {
        register_as(global, fleet, name).await;
    }
    let _operator = run_operator(&env, "4.3.1", "bench");
    for name in &names {
        wait_shadow(global, name, "idle at 4.2.3 with 4.3.1 offered", LONG, |s| {
            s.current_version() == Some("4.2.3") && offered(s) == ["4.3.1"]
        })
        .await;
    }

    let api = shadows(global).await;
    let mut samples = Vec::with_capacity(SAMPLES);
    for name in &names {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut changes = watcher::watcher(api.clone(), config).boxed();
        // The initial listing: the watch is established before the request is written.
        while let Some(Ok(event)) = changes.next().await {
            if matches!(event, watcher::Event::InitDone) {
                break;
            }
        }
        let start = Instant::now();
        request(global, name, "4.3.1").await;
        let reconciling = |shadow: &ClusterVersionShadow| shadow.desired_version() == Some("4.3.1");
        let deadline = tokio::time::timeout(LONG, async {
            while let Some(Ok(event)) = changes.next().await {
                if let watcher::Event::Apply(shadow) = event
                    && reconciling(&shadow)
                {
                    return;
                }
            }
        });
        deadline.await.unwrap();
        samples.push(start.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "desiredUpdate -> answered in status over {SAMPLES} clusters: median {:.0} ms, min {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        ms(samples[SAMPLES / 2]),
        ms(samples[0]),
        ms(samples[SAMPLES * 9 / 10]),
        ms(samples[SAMPLES - 1])
    );
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn resident_memory_with_100_clusters() {
    const CLUSTERS: usize = 100;
    let env = start([
        cluster("global", "1.34"),
        ClusterSpec::new("a", "1.34"),
        ClusterSpec::new("b", "1.33"),
    ])
    .await;
    let global = env.cluster("global");
    let backends = [env.cluster("a"), env.cluster("b")];
    for backend in backends {
        record_version(backend, "4.2.3").await;
    }
    for version in ["4.2.5", "4.3.0", "4.3.1"] {
        import(global, version).await;
    }
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    // Production's resync (30 s) rather than the tests' 3 s.
    let operator = env
        .spawn(operator_spec_with(
            global,
            "4.3.1",
            "bench",
            &[("--resync", "30")],
        ))
        .unwrap();
    let pid = operator.pid().unwrap();
    wait_shadow(global, "global", "the global cluster observed", LONG, |s| {
        offered(s).is_empty() && ready(s)
    })
    .await;
    let idle_rss = rss_kib(pid).unwrap_or_default();
    let names: Vec<String> = (0..CLUSTERS).map(|i| format!("c-{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        register_as(global, backends[i % 2], name).await;
    }
    let started = Instant::now();
    let api = shadows(global).await;
    wait_for("all 100 clusters observed with their version", LONG, || async {
        let list = api.list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .filter(|s| s.current_version() == Some("4.2.3") && offered(s).len() == 3)
            .count()
            == CLUSTERS
    })
    .await
    .unwrap();
    let all_observed = started.elapsed();

    // Steady state: sample for 60 s, two resync periods, while every cluster is re-observed and preflighted.
    let mut peak = 0;
    let mut last = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        last = rss_kib(pid).unwrap_or_default();
        peak = peak.max(last);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let metrics = http_get(&metrics_addr(&operator), "/metrics").await.unwrap().1;
    let reconciles = metrics
        .lines()
        .find_map(|l| l.strip_prefix("acp_cvo_reconciles_total{controller=\"ClusterVersion\"} "))
        .unwrap_or("?")
        .to_string();
    println!(
        "operator RSS: {} MiB with the global cluster only; with {CLUSTERS} workload clusters (2 API servers): {} MiB steady, \
         {} MiB peak; all observed after {:.1} s; {reconciles} cluster reconciles so far",
        idle_rss / 1024,
        last / 1024,
        peak / 1024,
        all_observed.as_secs_f64()
    );
}
