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
//! - `scale`: a hub with thousands of registered clusters, run on a release build of the operator:
//!
//!   ```text
//!   cargo build --release -p acp-operator --bin acp-cvo
//!   ACP_OPERATOR_BIN=target/release/acp-cvo ACP_HARNESS_BIN=/path/to/harness/bin \
//!     cargo test -p acp-e2e --test e2e operator_bench::scale -- --ignored --nocapture
//!   ```
//!
//!   Three workload API servers record ACP 4.2.3; 4.2.5, 4.3.0 and 4.3.1 are imported; the operator runs with
//!   production's `--resync 30`. Clusters are registered in waves, `ACP_BENCH_CLUSTERS` cumulative counts
//!   (default `1000,5000`), each its own kubeconfig Secret and cvsh, spread over the three API servers and
//!   written 48 at a time. Per wave it reports: time until every cluster is observed (`status.observed`,
//!   current 4.2.3, updates offered), or how many were when the deadline (300 s, or 180 ms a cluster) passed;
//!   over the idle minute that follows, the operator's RSS (steady and peak), reconciles/s
//!   (`acp_cvo_reconciles_total`) and the hub API server's requests/s (its own `apiserver_request_total`,
//!   every verb but WATCH); the age of the oldest observation (the operator's gauge if it has one, and from
//!   `status.observed.observedAt`); time from registering one more cluster to its first observation; and
//!   time from `spec.desiredUpdate` on one idle cluster to `status.desired` naming it and to
//!   `Reconciling=True`. Each wave's request goes to a cluster on an API server no earlier request upgrades,
//!   so no other cvsh upgrades that cluster and the upgrade may start (the others reaching it are idle).
//!   The benchmark follows the clusters through one watch, not by listing them, so the hub measures the
//!   operator; each wait has a deadline and reports what it saw when it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acp_api::conditions::types;
use acp_api::{ClusterVersionShadow, names};
use acp_e2e::operator::*;
use acp_testkit::{Cluster, ClusterSpec, wait_for};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
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
            &[("--resync", "30"), ("--resync-max", "300")],
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

/// What the scale benchmark's one watcher on the cvsh objects has seen of each cluster, and when.
#[derive(Default)]
struct Sightings {
    clusters: HashMap<String, Sighting>,
    /// Workload clusters observed at least once (see [`idle_at_4_2_3`]).
    observed: usize,
}

#[derive(Default)]
struct Sighting {
    /// When the cluster was first seen observed (by the benchmark's clock).
    first_observed: Option<Instant>,
    /// `status.observed.observedAt`, Unix seconds.
    observed_at: Option<i64>,
    /// `status.desired.version` and when it last changed to that.
    desired: Option<(String, Instant)>,
    /// Since when `Reconciling` has been True.
    reconciling_since: Option<Instant>,
}

/// A workload cluster the operator has observed: `status.observed` written, current version 4.2.3 (recorded in
/// every workload API server) and updates offered.
fn idle_at_4_2_3(shadow: &ClusterVersionShadow) -> bool {
    observed(shadow).is_some() && shadow.current_version() == Some("4.2.3") && !offered(shadow).is_empty()
}

impl Sightings {
    fn see(&mut self, shadow: &ClusterVersionShadow) {
        let now = Instant::now();
        let seen = self.clusters.entry(shadow.name_any()).or_default();
        if seen.first_observed.is_none() && idle_at_4_2_3(shadow) {
            seen.first_observed = Some(now);
            self.observed += 1;
        }
        seen.observed_at = observed(shadow)
            .and_then(|o| o.observed_at.as_ref())
            .map(|t| t.0.as_second());
        let desired = shadow.desired_version();
        if seen.desired.as_ref().map(|(v, _)| v.as_str()) != desired {
            seen.desired = desired.map(|v| (v.to_string(), now));
        }
        match (
            shadow.is_condition_true(types::RECONCILING),
            seen.reconciling_since,
        ) {
            (true, None) => seen.reconciling_since = Some(now),
            (false, Some(_)) => seen.reconciling_since = None,
            _ => {}
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(gone) = self.clusters.remove(name)
            && gone.first_observed.is_some()
        {
            self.observed -= 1;
        }
    }

    /// Seconds since the least recently observed cluster's `status.observed.observedAt`.
    fn oldest_observation_age(&self) -> Option<i64> {
        let oldest = self.clusters.values().filter_map(|s| s.observed_at).min()?;
        Some(acp_api::k8s::Timestamp::now().as_second() - oldest)
    }
}

/// One watch on every cvsh, folded into [`Sightings`]; `changed` ticks on every event. The benchmark waits on
/// this instead of listing thousands of objects, so the hub measures the operator and not the benchmark.
struct Watch {
    seen: Arc<Mutex<Sightings>>,
    changed: tokio::sync::watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Starts watching; returns once the initial listing is in.
    async fn start(api: Api<ClusterVersionShadow>) -> Watch {
        let seen = Arc::new(Mutex::new(Sightings::default()));
        let (tick, changed) = tokio::sync::watch::channel(0u64);
        let (listed, is_listed) = tokio::sync::oneshot::channel();
        let fold = seen.clone();
        let task = tokio::spawn(async move {
            let mut listed = Some(listed);
            let mut events = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => {
                        fold.lock().unwrap().see(&s)
                    }
                    Ok(watcher::Event::Delete(s)) => fold.lock().unwrap().forget(&s.name_any()),
                    Ok(watcher::Event::InitDone) => {
                        if let Some(listed) = listed.take() {
                            let _ = listed.send(());
                        }
                    }
                    Ok(watcher::Event::Init) => {}
                    Err(err) => eprintln!("benchmark watch: {err} (retrying)"),
                }
                tick.send_modify(|n| *n += 1);
            }
        });
        tokio::time::timeout(SHORT, is_listed).await.unwrap().unwrap();
        Watch { seen, changed, task }
    }

    /// Waits until `done` holds or `timeout` passes; returns the time waited (from `since`) or `None`.
    async fn until(
        &mut self,
        since: Instant,
        timeout: Duration,
        done: impl Fn(&Sightings) -> bool,
    ) -> Option<Duration> {
        let deadline = since + timeout;
        loop {
            self.changed.borrow_and_update();
            if done(&self.seen.lock().unwrap()) {
                return Some(since.elapsed());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            // A closed channel (the watch task ended) leaves the deadline to end the wait.
            if tokio::time::timeout(left, self.changed.changed()).await.is_err() {
                return done(&self.seen.lock().unwrap()).then(|| since.elapsed());
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Sightings) -> T) -> T {
        f(&self.seen.lock().unwrap())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Registers `names` as `register_as` does (a kubeconfig Secret and a cvsh each), the i-th reaching
/// `backends[(first + i) % len]`, `concurrency` at a time over one client. Retries a failed write a few times:
/// the hub is busy and one timeout must not end a 20-minute run.
async fn register_many(
    global: &Cluster,
    backends: &[&Cluster],
    first: usize,
    names: &[String],
    concurrency: usize,
) {
    let client = global.client().await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), names::NAMESPACE);
    let shadows: Api<ClusterVersionShadow> = Api::namespaced(client, names::NAMESPACE);
    let apply = PatchParams::apply("e2e-admin").force();
    futures::stream::iter(names.iter().enumerate())
        .for_each_concurrent(concurrency, |(i, name)| {
            let (secrets, shadows, apply) = (&secrets, &shadows, &apply);
            let backend = backends[(first + i) % backends.len()];
            async move {
                let secret = kubeconfig_secret(name, backend.kubeconfig_yaml());
                let shadow = json!({
                    "apiVersion": names::API_VERSION, "kind": "ClusterVersionShadow",
                    "metadata": {"name": name, "namespace": names::NAMESPACE},
                    "spec": {"kubeconfigSecretRef": {"name": format!("{name}-kubeconfig")}},
                });
                let secret_name = format!("{name}-kubeconfig");
                let (secret, shadow) = (Patch::Apply(&secret), Patch::Apply(&shadow));
                retry(|| secrets.patch(&secret_name, apply, &secret)).await;
                retry(|| shadows.patch(name, apply, &shadow)).await;
            }
        })
        .await;
}

async fn retry<T, F: Future<Output = kube::Result<T>>>(write: impl Fn() -> F) -> T {
    let mut attempt = 0;
    loop {
        match write().await {
            Ok(done) => return done,
            Err(err) if attempt < 5 => {
                attempt += 1;
                eprintln!("benchmark write failed ({err}); retrying");
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            Err(err) => panic!("benchmark write failed 6 times: {err}"),
        }
    }
}

/// The hub API server's own /metrics (as its administrator).
async fn apiserver_metrics(client: &kube::Client) -> String {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    client.request_text(request).await.unwrap_or_default()
}

/// Requests the hub API server has served, all verbs but WATCH (a watch is one long request).
fn requests_served(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && !l.contains("verb=\"WATCH\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// `apiserver_storage_objects` of one resource, e.g. `secrets`.
fn stored_objects(metrics: &str, resource: &str) -> String {
    let series = format!("apiserver_storage_objects{{resource=\"{resource}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or("?")
        .to_string()
}

/// The operator's own gauge of its oldest observation's age, if it has one.
fn oldest_observation_metric(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|name| name.contains("oldest_observation"))
        })
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

/// The figures of one wave, printed as they are measured and again as a table at the end.
struct Wave {
    clusters: usize,
    registered_in: Duration,
    /// Time until every cluster was observed, or how many were when the deadline passed.
    all_observed: Result<Duration, (usize, Duration)>,
    rss_mib: (u64, u64),
    reconciles_per_s: f64,
    hub_requests_per_s: f64,
    oldest_metric: Option<f64>,
    oldest_status: Option<i64>,
    one_more: Result<Duration, Duration>,
    answered: Result<Duration, Duration>,
    reconciling: Result<Duration, String>,
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn within(result: &Result<Duration, Duration>) -> String {
    match result {
        Ok(took) => secs(*took),
        Err(deadline) => format!("not within {}", secs(*deadline)),
    }
}

impl Wave {
    fn lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("registered in", secs(self.registered_in)),
            (
                "every cluster observed",
                match self.all_observed {
                    Ok(took) => secs(took),
                    Err((seen, deadline)) => format!(
                        "NOT within {}: {seen} of {} observed",
                        secs(deadline),
                        self.clusters
                    ),
                },
            ),
            ("one more cluster -> first observation", within(&self.one_more)),
            ("desiredUpdate -> status.desired", within(&self.answered)),
            (
                "desiredUpdate -> Reconciling=True",
                match &self.reconciling {
                    Ok(took) => secs(*took),
                    Err(why) => why.clone(),
                },
            ),
            (
                "operator RSS steady / peak",
                format!("{} / {} MiB", self.rss_mib.0, self.rss_mib.1),
            ),
            (
                "reconciles/s (idle minute)",
                format!("{:.1}", self.reconciles_per_s),
            ),
            (
                "hub API requests/s (idle minute, no WATCH)",
                format!("{:.1}", self.hub_requests_per_s),
            ),
            (
                "oldest observation age: metric / status",
                format!(
                    "{} / {}",
                    self.oldest_metric
                        .map_or("-".to_string(), |a| format!("{a:.0} s")),
                    self.oldest_status.map_or("-".to_string(), |a| format!("{a} s"))
                ),
            ),
        ]
    }
}

/// The cluster counts of the waves, cumulative: `ACP_BENCH_CLUSTERS`, default `1000,5000`.
fn wave_sizes() -> Vec<usize> {
    let sizes = std::env::var("ACP_BENCH_CLUSTERS").unwrap_or_else(|_| "1000,5000".into());
    let sizes: Vec<usize> = sizes
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("ACP_BENCH_CLUSTERS: comma-separated cluster counts, e.g. 1000,5000")
        })
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "ACP_BENCH_CLUSTERS: counts grow from wave to wave"
    );
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn scale() {
    const REGISTERING: usize = 48;
    const PROBE_DEADLINE: Duration = Duration::from_secs(180);
    let sizes = wave_sizes();
    let env = start([
        cluster("global", "1.34"),
        // kwok keeps each workload cluster's node Ready, so that preflight lets a requested upgrade start.
        ClusterSpec::new("a", "1.34").kwok(true),
        ClusterSpec::new("b", "1.33").kwok(true),
        ClusterSpec::new("c", "1.32").kwok(true),
    ])
    .await;
    let global = env.cluster("global");
    let backends = [env.cluster("a"), env.cluster("b"), env.cluster("c")];
    for backend in backends {
        record_version(backend, "4.2.3").await;
    }
    for version in ["4.2.5", "4.3.0", "4.3.1"] {
        import(global, version).await;
    }
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let hub = global.client().await.unwrap();
    let mut watch = Watch::start(shadows(global).await).await;

    // The hub's own traffic (its controller-manager, scheduler, this benchmark's watch) before the operator runs.
    let before = requests_served(&apiserver_metrics(&hub).await);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let baseline = (requests_served(&apiserver_metrics(&hub).await) - before) / 20.0;

    // Production's cadence (--resync 30, --resync-max 300) and log level.
    let operator = env
        .spawn(
            operator_spec_with(
                global,
                "4.3.1",
                "bench",
                &[("--resync", "30"), ("--resync-max", "300")],
            )
            .env("RUST_LOG", "info,kube=warn"),
        )
        .unwrap();
    let pid = operator.pid().unwrap();
    let addr = metrics_addr(&operator);
    wait_shadow(global, "global", "the global cluster observed", LONG, |s| {
        offered(s).is_empty() && ready(s)
    })
    .await;
    let idle_rss = rss_kib(pid).unwrap_or_default() / 1024;
    let binary = std::env::var(OPERATOR_BIN_ENV).unwrap_or_else(|_| "debug build".into());
    println!(
        "scale: operator {binary}; global cluster only: RSS {idle_rss} MiB; hub API {baseline:.1} requests/s before the operator ran"
    );

    let mut waves = Vec::new();
    let mut registered = 0;
    for (wave, &size) in sizes.iter().enumerate() {
        // Register the wave.
        let names: Vec<String> = (registered..size).map(|i| format!("c-{i:05}")).collect();
        let started = Instant::now();
        register_many(global, &backends, registered, &names, REGISTERING).await;
        let registered_in = started.elapsed();
        registered = size;
        // Extra clusters from earlier waves' probes are observed too.
        let workloads = registered + wave;
        let deadline = Duration::from_secs(300).max(Duration::from_millis(180) * size as u32);
        let all_observed = match watch.until(started, deadline, |s| s.observed >= workloads).await {
            Some(took) => Ok(took),
            None => Err((watch.read(|s| s.observed), deadline)),
        };
        println!(
            "scale: wave {}: {size} registered in {}, every one observed: {all_observed:?}",
            wave + 1,
            secs(registered_in)
        );

        let idle = Idle::measure(pid, &addr, &hub).await;
        let (hub_metrics, operator_metrics) = (idle.hub_metrics.clone(), idle.operator_metrics.clone());
        println!(
            "scale: wave {}: hub stores {} secrets, {} cvsh (apiserver_storage_objects, refreshed every minute or so)",
            wave + 1,
            stored_objects(&hub_metrics, "secrets"),
            stored_objects(&hub_metrics, &format!("clusterversionshadows.{}", names::GROUP)),
        );

        // One more cluster while the others are idle.
        let late = format!("late-{}", wave + 1);
        let started = Instant::now();
        register_many(global, &backends, wave, std::slice::from_ref(&late), 1).await;
        let one_more = watch
            .until(started, PROBE_DEADLINE, |s| {
                s.clusters.get(&late).is_some_and(|c| c.first_observed.is_some())
            })
            .await
            .ok_or(PROBE_DEADLINE);

        // A request on an idle cluster, on an API server no earlier wave's request upgrades.
        let requested = (registered - names.len()..registered)
            .find(|i| i % backends.len() == wave % backends.len())
            .map(|i| format!("c-{i:05}"))
            .unwrap();
        let started = Instant::now();
        request(global, &requested, "4.3.1").await;
        let answered = watch
            .until(started, PROBE_DEADLINE, |s| {
                s.clusters
                    .get(&requested)
                    .and_then(|c| c.desired.as_ref())
                    .is_some_and(|(v, _)| v == "4.3.1")
            })
            .await
            .ok_or(PROBE_DEADLINE);
        let reconciling = match watch
            .until(started, PROBE_DEADLINE, |s| {
                s.clusters
                    .get(&requested)
                    .is_some_and(|c| c.reconciling_since.is_some())
            })
            .await
        {
            Some(took) => Ok(took),
            None => {
                let shadow = shadows(global).await.get(&requested).await.unwrap();
                let why = shadow
                    .condition(types::RECONCILING)
                    .map(|c| format!("{} {}: {}", c.status, c.reason, c.message))
                    .unwrap_or_else(|| "no Reconciling condition".into());
                Err(format!("not within {}: {why}", secs(PROBE_DEADLINE)))
            }
        };

        let result = Wave {
            clusters: size,
            registered_in,
            all_observed,
            rss_mib: idle.rss_mib,
            reconciles_per_s: idle.reconciles_per_s,
            hub_requests_per_s: idle.hub_requests_per_s,
            oldest_metric: oldest_observation_metric(&operator_metrics),
            oldest_status: watch.read(Sightings::oldest_observation_age),
            one_more,
            answered,
            reconciling,
        };
        for (what, value) in result.lines() {
            println!("scale: wave {} ({size} clusters): {what}: {value}", wave + 1);
        }
        waves.push(result);
    }

    println!(
        "\nscale benchmark: operator {binary}, 3 workload API servers, --resync 30; hub API {baseline:.1} requests/s \
         before the operator ran"
    );
    let header: Vec<String> = waves.iter().map(|w| format!("{} clusters", w.clusters)).collect();
    println!("{:<46} | {}", "", header.join(" | "));
    let rows: Vec<Vec<(&str, String)>> = waves.iter().map(Wave::lines).collect();
    for (row, (what, _)) in rows[0].iter().enumerate() {
        let values: Vec<&str> = rows.iter().map(|r| r[row].1.as_str()).collect();
        println!("{what:<46} | {}", values.join(" | "));
    }

    // Settled: once the intervals of idle clusters have stretched (ACP_BENCH_SETTLE seconds later).
    let settle = std::env::var("ACP_BENCH_SETTLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    if !settle.is_zero() {
        tokio::time::sleep(settle).await;
        let idle = Idle::measure(pid, &addr, &hub).await;
        println!(
            "scale: settled, {} after the last wave ({registered} clusters): RSS steady / peak {} / {} MiB, \
             {:.1} reconciles/s, hub {:.1} requests/s, oldest observation {}",
            secs(settle),
            idle.rss_mib.0,
            idle.rss_mib.1,
            idle.reconciles_per_s,
            idle.hub_requests_per_s,
            oldest_observation_metric(&idle.operator_metrics).map_or("-".into(), |s| format!("{s:.0} s")),
        );
    }
}

/// An idle minute of the operator: its RSS, reconciles/s, and the hub's requests/s.
struct Idle {
    rss_mib: (u64, u64),
    reconciles_per_s: f64,
    hub_requests_per_s: f64,
    hub_metrics: String,
    operator_metrics: String,
}

impl Idle {
    async fn measure(pid: u32, addr: &str, hub: &kube::Client) -> Self {
        const IDLE: Duration = Duration::from_secs(60);
        let reconciles = || metric(addr, "acp_cvo_reconciles_total{controller=\"ClusterVersion\"}");
        let (reconciles_before, hub_before) =
            (reconciles().await, requests_served(&apiserver_metrics(hub).await));
        let idle_from = Instant::now();
        let (mut last, mut peak) = (0, 0);
        while idle_from.elapsed() < IDLE {
            last = rss_kib(pid).unwrap_or_default() / 1024;
            peak = peak.max(last);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let idle = idle_from.elapsed().as_secs_f64();
        let reconciles_per_s =
            (reconciles().await.unwrap_or(f64::NAN) - reconciles_before.unwrap_or(f64::NAN)) / idle;
        let hub_metrics = apiserver_metrics(hub).await;
        let hub_requests_per_s = (requests_served(&hub_metrics) - hub_before) / idle;
        let operator_metrics = http_get(addr, "/metrics")
            .await
            .map(|(_, body)| body)
            .unwrap_or_default();
        Self {
            rss_mib: (last, peak),
            reconciles_per_s,
            hub_requests_per_s,
            hub_metrics,
            operator_metrics,
        }
    }
}
