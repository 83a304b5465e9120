//! Fleet rollouts (UpgradeRun) on real API servers with the operator running: one global cluster at
//! 4.3.1 and six workload clusters (each its own API server, at 4.2.0 on Kubernetes v1.33.7: the patch 4.2.1
//! records, so no patch-only hop waits for a Kubernetes upgrade nobody plays), shared by the
//! scenarios, which run in phases on disjoint clusters or one after another:
//!
//! 1. at once, each on its own clusters (chosen by label) and release:
//!    - a canary whose module manifest an admission policy rejects halts its run, which names the cluster
//!      and why, and requests nothing more;
//!    - an Approval gate holds its stage until `ac adm upgrade rollout approve`;
//!    - `ac adm upgrade rollout pause` holds new starts while a started cluster finishes, `resume`
//!      continues;
//!    - a maintenance window closed (by a freeze) when the run starts holds the cluster's start until it
//!      opens;
//! 2. the whole fleet, canaries then two waves: `maxConcurrency` holds at every instant, read from the
//!    watched ClusterVersionShadows, and every cluster is upgraded exactly once;
//! 3. the whole fleet again, with the operator SIGKILLed mid-run: the restarted operator continues the
//!    frozen plan and every cluster is upgraded exactly once.
//!
//! Every cvsh change is recorded through one watch; the assertions about what was requested when read
//! that record, not the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acp_api::conditions;
use acp_api::k8s::Timestamp;
use acp_api::rollout::decide::types as run_types;
use acp_api::rollout::{ClusterEntry, ClusterState, RunPhase, UpgradeRun};
use acp_api::{ClusterVersionShadow, names};
use acp_e2e::operator::*;
use acp_testkit::{Cluster, ClusterSpec, TestEnv, wait_for, wait_for_some};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The release the global cluster runs (the operator's install version).
const GLOBAL_VERSION: &str = "4.3.1";
/// Where every workload cluster starts.
const FROM: &str = "4.2.0";
/// The workload clusters, in plan order (a run orders clusters by name).
const WORKLOADS: [&str; 6] = ["w1", "w2", "w3", "w4", "w5", "w6"];
/// Label choosing a scenario's clusters.
const SCENARIO: &str = "e2e.alauda.io/scenario";
/// Label every workload cluster carries, for the fleet-wide runs.
const FLEET: &str = "e2e.alauda.io/fleet";
/// The MaintenanceWindow w6 names.
const WINDOW: &str = "after-freeze";
/// How long after the window scenario begins its freeze ends: long enough to see the start held.
const FREEZE_SECS: i64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_rollouts() {
    let started = Instant::now();
    let specs = std::iter::once(ClusterSpec::new("global", "1.34"))
        .chain(WORKLOADS.iter().map(|w| cluster(w, "v1.33.7")));
    let env = start(specs).await;
    let global = env.cluster("global");
    for version in ["4.2.1", "4.2.2", "4.2.3"] {
        import(global, version).await;
    }
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let scenarios = [
        ("w1", "halt"),
        ("w2", "halt"),
        ("w3", "gate"),
        ("w4", "pause"),
        ("w5", "pause"),
        ("w6", "window"),
    ];
    for (name, scenario) in scenarios {
        let workload = env.cluster(name);
        record_version(workload, FROM).await;
        write_kubeconfig(global, name, workload.kubeconfig_yaml()).await;
        let mut labels = json!({SCENARIO: scenario, FLEET: "rollouts"});
        if scenario == "window" {
            labels[names::labels::MAINTENANCE_WINDOW] = json!(WINDOW);
        }
        apply(
            global,
            &json!({
                "apiVersion": names::API_VERSION, "kind": "ClusterVersionShadow",
                "metadata": {"name": name, "namespace": names::NAMESPACE, "labels": labels},
                "spec": {"kubeconfigSecretRef": {"name": format!("{name}-kubeconfig")}},
            }),
        )
        .await;
    }
    // The canary of the halt scenario refuses platform-auth 4.2.1, as a site policy would.
    hold_platform_auth(env.cluster("w1"), "4.2.1").await;
    let operator = env
        .spawn(operator_spec_with(
            global,
            GLOBAL_VERSION,
            "replica-a",
            &[("--stall-after", "8")],
        ))
        .unwrap();
    wait_shadow(global, "global", "current 4.3.1", LONG, |s| {
        s.current_version() == Some(GLOBAL_VERSION)
    })
    .await;
    for name in WORKLOADS {
        wait_shadow(global, name, "current 4.2.0", LONG, |s| {
            s.current_version() == Some(FROM)
        })
        .await;
    }
    let record = Record::start(global).await;
    let mut timings = vec![("setup", started.elapsed())];

    let phase = Instant::now();
    let (((), halt_took), ((), gate_took), ((), pause_took), ((), window_took)) = tokio::join!(
        timed(a_failed_canary_halts_the_run(&env, &record)),
        timed(an_approval_gate_holds_until_approved(global, &record)),
        timed(pause_holds_new_starts_and_resume_continues(&env, &record)),
        timed(a_closed_window_holds_the_start_until_it_opens(global)),
    );
    timings.push(("canary halts (concurrently)", halt_took));
    timings.push(("approval gate (concurrently)", gate_took));
    timings.push(("pause/resume (concurrently)", pause_took));
    timings.push(("maintenance window (concurrently)", window_took));
    timings.push(("first phase", phase.elapsed()));

    let phase = Instant::now();
    canaries_then_two_waves(global, &record).await;
    timings.push(("canaries then two waves", phase.elapsed()));

    let phase = Instant::now();
    an_operator_killed_mid_run_continues_the_plan(global, &record, &operator).await;
    timings.push(("operator SIGKILLed mid-run", phase.elapsed()));

    let phase = Instant::now();
    deleted_runs_are_let_go(global).await;
    timings.push(("runs deleted", phase.elapsed()));

    timings.push(("total", started.elapsed()));
    let report: Vec<String> = timings
        .iter()
        .map(|(what, took)| format!("{what} {:.1}s", took.as_secs_f64()))
        .collect();
    println!("rollouts: {}", report.join(", "));
}

/// Every run carries the operator's finalizer, and deleting one lets it go once the requests it wrote
/// that had not begun executing are withdrawn (none here: every cluster finished or stalled).
async fn deleted_runs_are_let_go(global: &Cluster) {
    let api = runs(global).await;
    let all = api.list(&Default::default()).await.unwrap().items;
    assert!(!all.is_empty());
    for run in &all {
        assert!(
            run.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == acp_operator::rollouts::controller::FINALIZER),
            "run {:?} has no finalizer",
            run.metadata.name
        );
        api.delete(run.metadata.name.as_deref().unwrap(), &Default::default())
            .await
            .unwrap();
    }
    acp_testkit::wait_for("every deleted run to be let go", LONG, || {
        let api = api.clone();
        async move {
            api.list(&Default::default())
                .await
                .ok()
                .is_some_and(|l| l.items.is_empty())
        }
    })
    .await
    .unwrap();
}

async fn timed<T>(scenario: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = scenario.await;
    (out, started.elapsed())
}

/// Canary `w1` cannot install platform-auth 4.2.1 (an admission policy refuses it): its upgrade fails,
/// turns Stalled, and the run halts naming it and the reason; `w2`, next in the plan, is never
/// requested, also after `w1` recovers once the policy is gone.
async fn a_failed_canary_halts_the_run(env: &TestEnv, record: &Record) {
    let global = env.cluster("global");
    let run = "halt";
    create_run(
        global,
        run,
        "4.2.1",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {SCENARIO: "halt"}},
                           "canaries": 1, "maxConcurrency": 1}]}),
    )
    .await;
    let halted = wait_run(global, run, "Halted", LONG, |r| {
        condition_is_true(r, run_types::HALTED)
    })
    .await;
    let condition = conditions::find(run_conditions(&halted), run_types::HALTED).unwrap();
    assert_eq!(condition.reason, "CanaryFailed", "{condition:?}");
    assert!(
        condition.message.contains("w1") && condition.message.contains("stalled"),
        "the Halted condition names the canary and why: {}",
        condition.message
    );
    assert_eq!(phase(&halted), Some(RunPhase::Halted));
    let w1 = entry(&halted, "w1");
    assert_eq!(w1.state, ClusterState::Failed, "{w1:?}");
    assert_eq!(w1.reason.as_deref(), Some("Stalled"), "{w1:?}");
    assert_eq!(entry(&halted, "w2").state, ClusterState::Pending);

    // The cause goes away: w1's own upgrade completes (the cvsh retries), and the halted run still
    // starts nothing.
    unhold_platform_auth(env.cluster("w1")).await;
    let w1 = wait_shadow(global, "w1", "4.2.1 completed", LONG, |s| {
        s.current_version() == Some("4.2.1") && ready(s)
    })
    .await;
    assert_eq!(started_count(&w1, "4.2.1"), 1);
    let after = get_run(global, run).await;
    assert_eq!(phase(&after), Some(RunPhase::Halted));
    assert_eq!(entry(&after, "w2").state, ClusterState::Pending);
    let requested = record.requested_by(run);
    assert_eq!(
        requested,
        BTreeSet::from(["w1".to_owned()]),
        "only the canary was ever requested"
    );
    let w2 = shadows(global).await.get("w2").await.unwrap();
    assert!(w2.spec.desired_update.is_none(), "{:?}", w2.spec.desired_update);
    assert_eq!(w2.current_version(), Some(FROM));
}

/// A stage with an Approval gate starts nothing until `ac adm upgrade rollout approve`, then runs.
async fn an_approval_gate_holds_until_approved(global: &Cluster, record: &Record) {
    let run = "gate";
    create_run(
        global,
        run,
        "4.2.1",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {SCENARIO: "gate"}},
                           "beforeGates": [{"type": "Approval"}]}]}),
    )
    .await;
    let waiting = wait_run(global, run, "waiting for gate fleet-before", LONG, |r| {
        r.status.as_ref().is_some_and(|s| {
            s.pending_gates.iter().any(|g| g.name == "fleet-before")
                && s.clusters.iter().any(|e| e.state == ClusterState::WaitingForGate)
        })
    })
    .await;
    let progressing = conditions::find(run_conditions(&waiting), run_types::PROGRESSING).unwrap();
    assert_eq!(progressing.reason, "WaitingForGate", "{progressing:?}");
    assert!(
        progressing
            .message
            .contains("ac adm upgrade rollout approve gate fleet-before"),
        "the condition says how to approve: {}",
        progressing.message
    );
    let approved_at = record.len();
    assert!(
        record.requested_by(run).is_empty(),
        "nothing starts before approval"
    );
    rollout(global, &["approve", run, "fleet-before"]).await;

    let done = wait_run(global, run, "Succeeded", LONG, |r| {
        phase(r) == Some(RunPhase::Succeeded)
    })
    .await;
    assert!(done.status.as_ref().unwrap().pending_gates.is_empty());
    assert!(
        record.requested_by_before(run, approved_at).is_empty(),
        "w3 was requested before the gate was approved"
    );
    let w3 = shadows(global).await.get("w3").await.unwrap();
    assert_eq!(w3.current_version(), Some("4.2.1"));
    assert_eq!(started_count(&w3, "4.2.1"), 1);
}

/// One at a time over w4 and w5: while w4 upgrades the run is paused; w4 finishes, w5 does not start
/// until the run is resumed.
async fn pause_holds_new_starts_and_resume_continues(env: &TestEnv, record: &Record) {
    let global = env.cluster("global");
    let run = "pause";
    // w4's rollout waits while its node is cordoned, so the pause lands while it upgrades.
    cordon(env.cluster("w4")).await;
    create_run(
        global,
        run,
        "4.2.1",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {SCENARIO: "pause"}},
                           "maxConcurrency": 1}]}),
    )
    .await;
    wait_shadow(global, "w4", "upgrading to 4.2.1", LONG, |s| {
        s.is_executing() && started_count(s, "4.2.1") == 1
    })
    .await;
    rollout(global, &["pause", run]).await;
    wait_run(global, run, "Paused", LONG, |r| {
        phase(r) == Some(RunPhase::Paused) && observed_current(r)
    })
    .await;
    uncordon(env.cluster("w4")).await;
    let paused = wait_run(global, run, "w4 Succeeded while paused", LONG, |r| {
        r.status.as_ref().is_some_and(|s| {
            s.clusters
                .iter()
                .any(|e| e.name == "w4" && e.state == ClusterState::Succeeded)
        })
    })
    .await;
    assert_eq!(phase(&paused), Some(RunPhase::Paused));
    assert_eq!(entry(&paused, "w5").state, ClusterState::Pending);
    let progressing = conditions::find(run_conditions(&paused), run_types::PROGRESSING).unwrap();
    assert_eq!(progressing.reason, "Paused", "{progressing:?}");
    assert_eq!(
        record.requested_by(run),
        BTreeSet::from(["w4".to_owned()]),
        "only w4 was requested while the run was paused"
    );

    let resumed_at = record.len();
    rollout(global, &["resume", run]).await;
    wait_run(global, run, "Succeeded", LONG, |r| {
        phase(r) == Some(RunPhase::Succeeded)
    })
    .await;
    assert_eq!(
        record.requested_by_before(run, resumed_at),
        BTreeSet::from(["w4".to_owned()])
    );
    for name in ["w4", "w5"] {
        let shadow = shadows(global).await.get(name).await.unwrap();
        assert_eq!(shadow.current_version(), Some("4.2.1"), "{name}");
        assert_eq!(started_count(&shadow, "4.2.1"), 1, "{name}");
    }
}

/// w6 names a window open every minute for an hour, that is always, but for a freeze that ends
/// shortly after its run starts: the run holds w6's start, says when its window opens, and starts it
/// once it does.
async fn a_closed_window_holds_the_start_until_it_opens(global: &Cluster) {
    let run = "window";
    let now = Timestamp::now().as_second();
    let opens = Timestamp::from_second(now + FREEZE_SECS).unwrap();
    apply(
        global,
        &json!({
            "apiVersion": names::ROLLOUT_API_VERSION, "kind": "MaintenanceWindow",
            "metadata": {"name": WINDOW, "namespace": names::NAMESPACE},
            "spec": {
                "schedule": "* * * * *",
                "duration": "1h",
                "exclusions": [{
                    "start": Timestamp::from_second(now - 3600).unwrap().to_string(),
                    "end": opens.to_string(),
                    "reason": "change freeze",
                }],
            },
        }),
    )
    .await;
    let statuses = RunWatch::start(global, run).await;
    create_run(
        global,
        run,
        "4.2.1",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {SCENARIO: "window"}}}]}),
    )
    .await;
    let done = wait_run(global, run, "Succeeded", LONG, |r| {
        phase(r) == Some(RunPhase::Succeeded)
    })
    .await;
    // Every status the run went through, from its watch: one of them held w6 for its window.
    let seen = statuses
        .until("the Succeeded status", |s| s.phase == Some(RunPhase::Succeeded))
        .await;
    let held: Vec<&ClusterEntry> = seen
        .iter()
        .flat_map(|s| &s.clusters)
        .filter(|e| e.name == "w6" && e.state == ClusterState::WaitingForWindow)
        .collect();
    let states: Vec<String> = seen
        .iter()
        .flat_map(|s| &s.clusters)
        .map(|e| e.state.as_str().to_owned())
        .collect();
    let w6 = held
        .first()
        .unwrap_or_else(|| panic!("the run never held w6 for its window; w6 went {states:?}"));
    assert_eq!(w6.window_opens_at.as_ref().map(|t| t.0), Some(opens), "{w6:?}");
    assert!(
        w6.message.as_deref().is_some_and(|m| m.contains(WINDOW)),
        "the entry names the window: {w6:?}"
    );
    let requested = entry(&done, "w6").started_at.as_ref().map(|t| t.0);
    assert!(
        requested.is_some_and(|t| t >= opens),
        "the run requested w6 at {requested:?}, before its window opened at {opens}"
    );
    let w6 = shadows(global).await.get("w6").await.unwrap();
    let started: Vec<_> = w6
        .status
        .as_ref()
        .unwrap()
        .history
        .iter()
        .filter(|h| h.version.as_deref() == Some("4.2.1"))
        .collect();
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(
        started[0].started_time.0 >= opens,
        "w6 started at {} before its window opened at {opens}",
        started[0].started_time.0
    );
}

/// The whole fleet to 4.2.2: two canaries one at a time, then two waves of two. At every recorded cvsh
/// change, the clusters the run has in flight are all of one batch, and every earlier batch is done.
async fn canaries_then_two_waves(global: &Cluster, record: &Record) {
    let run = "waves";
    let from = record.len();
    create_run(
        global,
        run,
        "4.2.2",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {FLEET: "rollouts"}},
                           "canaries": 2, "maxConcurrency": 2}]}),
    )
    .await;
    let done = wait_run(global, run, "Succeeded", LONG * 2, |r| {
        phase(r) == Some(RunPhase::Succeeded)
    })
    .await;
    assert_all_succeeded(&done);
    let batches = planned_batches(&done);
    assert_eq!(
        batches,
        [
            vec!["w1".to_owned()],
            vec!["w2".to_owned()],
            vec!["w3".to_owned(), "w4".to_owned()],
            vec!["w5".to_owned(), "w6".to_owned()],
        ],
        "canaries first, one each, then batches of maxConcurrency by name"
    );
    let flights = record.in_flight(run, "4.2.2", from);
    assert_batches_in_order(&flights, &batches, 2);
    for name in WORKLOADS {
        let shadow = shadows(global).await.get(name).await.unwrap();
        assert_eq!(shadow.current_version(), Some("4.2.2"), "{name}");
        assert_eq!(started_count(&shadow, "4.2.2"), 1, "{name} upgraded exactly once");
    }
}

/// The whole fleet to 4.2.3: one canary, then waves of three. The operator is SIGKILLed while the
/// first wave upgrades and started again; it continues the frozen plan: same batches, nothing started
/// twice, every cluster upgraded exactly once.
async fn an_operator_killed_mid_run_continues_the_plan(
    global: &Cluster,
    record: &Record,
    operator: &acp_testkit::ChildProcess,
) {
    let run = "restart";
    let from = record.len();
    create_run(
        global,
        run,
        "4.2.3",
        json!({"stages": [{"name": "fleet", "selector": {"matchLabels": {FLEET: "rollouts"}},
                           "canaries": 1, "maxConcurrency": 3}]}),
    )
    .await;
    let wave = record
        .wait("the first wave upgrading", from, LONG, |view| {
            ["w2", "w3", "w4"]
                .iter()
                .any(|n| view.get(*n).is_some_and(|s| s.executing && s.started("4.2.3")))
        })
        .await;
    let before = get_run(global, run).await;
    operator.kill();
    operator.restart().unwrap();
    let done = wait_run(global, run, "Succeeded", LONG * 2, |r| {
        phase(r) == Some(RunPhase::Succeeded)
    })
    .await;
    let (before, after) = (before.status.unwrap(), done.status.clone().unwrap());
    assert_eq!(
        before.started_at, after.started_at,
        "the plan was not frozen again"
    );
    assert_eq!(
        planned_batches_of(&before),
        planned_batches_of(&after),
        "the frozen plan is the one that ran"
    );
    assert_all_succeeded(&done);
    let batches = planned_batches(&done);
    assert_eq!(batches.len(), 3, "{batches:?}");
    let flights = record.in_flight(run, "4.2.3", from);
    assert!(
        flights.iter().any(|f| f.index > wave),
        "the run went on after the kill"
    );
    assert_batches_in_order(&flights, &batches, 3);
    for name in WORKLOADS {
        let shadow = shadows(global).await.get(name).await.unwrap();
        assert_eq!(shadow.current_version(), Some("4.2.3"), "{name}");
        assert_eq!(started_count(&shadow, "4.2.3"), 1, "{name} upgraded exactly once");
    }
}

/// Every instant's clusters in flight belong to one batch, each earlier batch has finished (been in
/// flight and left), and at most `limit` are in flight; the waves ran their batches at full width.
fn assert_batches_in_order(flights: &[Flight], batches: &[Vec<String>], limit: usize) {
    let describe = || {
        flights
            .iter()
            .map(|f| format!("#{} {:?}", f.index, f.clusters))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let batch_of = |name: &str| batches.iter().position(|b| b.iter().any(|n| n == name));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut peak_by_batch = vec![0usize; batches.len()];
    for flight in flights {
        assert!(
            flight.clusters.len() <= limit,
            "more than maxConcurrency {limit} in flight at #{}: {describe}",
            flight.index,
            describe = describe()
        );
        let Some(first) = flight.clusters.iter().next() else {
            continue;
        };
        let current = batch_of(first).unwrap_or_else(|| panic!("{first} is in no batch"));
        for name in &flight.clusters {
            assert_eq!(
                batch_of(name),
                Some(current),
                "clusters of two batches in flight at #{}: {}",
                flight.index,
                describe()
            );
        }
        for earlier in &batches[..current] {
            for name in earlier {
                assert!(
                    seen.contains(name),
                    "{name} of an earlier batch had not run when batch {current} was in flight: {}",
                    describe()
                );
            }
        }
        peak_by_batch[current] = peak_by_batch[current].max(flight.clusters.len());
        seen.extend(flight.clusters.iter().cloned());
    }
    for (i, batch) in batches.iter().enumerate() {
        assert_eq!(
            peak_by_batch[i],
            batch.len(),
            "batch {i} {batch:?} never had all its clusters in flight at once: {}",
            describe()
        );
    }
}

// ---- the run as an administrator writes and reads it ----

async fn runs(global: &Cluster) -> Api<UpgradeRun> {
    Api::namespaced(global.client().await.unwrap(), names::NAMESPACE)
}

async fn create_run(global: &Cluster, name: &str, target: &str, strategy: Value) {
    apply(
        global,
        &json!({
            "apiVersion": names::ROLLOUT_API_VERSION, "kind": "UpgradeRun",
            "metadata": {"name": name, "namespace": names::NAMESPACE},
            "spec": {"targetVersion": target, "strategy": strategy},
        }),
    )
    .await;
}

/// `ac adm upgrade rollout ARGS...`, as a person types it; returns its output.
async fn rollout(global: &Cluster, args: &[&str]) -> String {
    let mut all = vec!["adm", "upgrade", "rollout"];
    all.extend_from_slice(args);
    acp_e2e::cli::ac(global, &all).await.ok().to_owned()
}

async fn get_run(global: &Cluster, name: &str) -> UpgradeRun {
    runs(global).await.get(name).await.unwrap()
}

/// Polls the run until `accept` holds; the failure message shows its last status.
async fn wait_run(
    global: &Cluster,
    name: &str,
    what: &str,
    timeout: Duration,
    accept: impl Fn(&UpgradeRun) -> bool,
) -> UpgradeRun {
    let api = runs(global).await;
    let last = Mutex::new(None);
    let found = wait_for_some(&format!("UpgradeRun {name}: {what}"), timeout, || async {
        let run = api.get(name).await.ok()?;
        let ok = accept(&run);
        *last.lock().unwrap() = Some(run.clone());
        ok.then_some(run)
    })
    .await;
    match found {
        Ok(run) => run,
        Err(err) => {
            let status = last.lock().unwrap().take().and_then(|r| r.status);
            panic!(
                "{err}\nlast status:\n{}",
                serde_yaml_like(&serde_json::to_value(&status).unwrap())
            );
        }
    }
}

/// The status without the frozen strategy, which repeats the spec.
fn serde_yaml_like(status: &Value) -> String {
    let mut status = status.clone();
    if let Some(plan) = status.get_mut("plan").and_then(Value::as_object_mut) {
        plan.remove("strategy");
    }
    serde_json::to_string_pretty(&status).unwrap()
}

fn run_conditions(run: &UpgradeRun) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
    run.status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default()
}

fn condition_is_true(run: &UpgradeRun, type_: &str) -> bool {
    conditions::find(run_conditions(run), type_).is_some_and(|c| c.status == "True")
}

fn phase(run: &UpgradeRun) -> Option<RunPhase> {
    run.status.as_ref()?.phase
}

/// The status was computed for the current spec.
fn observed_current(run: &UpgradeRun) -> bool {
    run.status.as_ref().and_then(|s| s.observed_generation) == run.metadata.generation
}

fn entry<'a>(run: &'a UpgradeRun, cluster: &str) -> &'a ClusterEntry {
    run.status
        .as_ref()
        .and_then(|s| s.clusters.iter().find(|e| e.name == cluster))
        .unwrap_or_else(|| panic!("{cluster} is not in the plan of {}", run.name_any()))
}

/// Every cluster of the run succeeded: none was skipped or failed on the way.
fn assert_all_succeeded(run: &UpgradeRun) {
    let status = run.status.as_ref().unwrap();
    let not_succeeded: Vec<String> = status
        .clusters
        .iter()
        .filter(|e| e.state != ClusterState::Succeeded)
        .map(|e| {
            format!(
                "{} {}: {}",
                e.name,
                e.state.as_str(),
                e.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        not_succeeded.is_empty(),
        "run {} succeeded without upgrading every cluster: {not_succeeded:?}",
        run.name_any()
    );
}

fn planned_batches(run: &UpgradeRun) -> Vec<Vec<String>> {
    planned_batches_of(run.status.as_ref().unwrap())
}

fn planned_batches_of(status: &acp_api::rollout::UpgradeRunStatus) -> Vec<Vec<String>> {
    status
        .plan
        .as_ref()
        .map(|p| {
            p.stages
                .iter()
                .flat_map(|s| &s.groups)
                .flat_map(|g| &g.batches)
                .map(|b| b.clusters.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// How many upgrades to `version` the cvsh's history records (each start adds one entry).
fn started_count(shadow: &ClusterVersionShadow, version: &str) -> usize {
    shadow
        .status
        .as_ref()
        .map(|s| {
            s.history
                .iter()
                .filter(|h| h.version.as_deref() == Some(version))
                .count()
        })
        .unwrap_or(0)
}

// ---- a module manifest refused by admission ----

const POLICY: &str = "hold-platform-auth";

/// An admission policy in `cluster` refusing platform-auth at `version`; returns once it takes effect.
async fn hold_platform_auth(cluster: &Cluster, version: &str) {
    apply(
        cluster,
        &json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]},
                "validations": [{
                    "expression": format!("object.metadata.name != 'platform-auth' || object.spec.template.spec.containers.all(c, !has(c.env) || c.env.all(e, e.name != 'ACP_VERSION' || e.value != '{version}'))"),
                    "message": format!("platform-auth {version} is held by site policy"),
                }],
            },
        }),
    )
    .await;
    apply(
        cluster,
        &json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY},
            "spec": {"policyName": POLICY, "validationActions": ["Deny"]},
        }),
    )
    .await;
    let manifest = acp_operator::releases::builtin::sample_modules(&version.parse().unwrap())
        .into_iter()
        .find(|m| m.name == "platform-auth")
        .unwrap()
        .manifests
        .last()
        .cloned()
        .unwrap();
    let probe: Deployment = serde_json::from_value(manifest).unwrap();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client().await.unwrap(), "default");
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    wait_for("the admission policy to take effect", SHORT, || async {
        deployments.create(&dry_run, &probe).await.is_err()
    })
    .await
    .unwrap();
}

async fn unhold_platform_auth(cluster: &Cluster) {
    let bindings: Api<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding> =
        Api::all(cluster.client().await.unwrap());
    bindings.delete(POLICY, &DeleteParams::default()).await.unwrap();
}

// ---- every status of one run, through a watch ----

/// Every status one UpgradeRun went through, in order, so a state that lasted one write is not missed.
struct RunWatch {
    seen: Arc<Mutex<Vec<acp_api::rollout::UpgradeRunStatus>>>,
    task: JoinHandle<()>,
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunWatch {
    async fn start(global: &Cluster, name: &str) -> RunWatch {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let api = runs(global).await;
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut stream = watcher(api, config).default_backoff().applied_objects().boxed();
                while let Some(event) = stream.next().await {
                    let Ok(run) = event else { continue };
                    seen.lock().unwrap().push(run.status.unwrap_or_default());
                }
            })
        };
        RunWatch { seen, task }
    }

    /// Every status so far, once one of them is accepted.
    async fn until(
        &self,
        what: &str,
        accept: impl Fn(&acp_api::rollout::UpgradeRunStatus) -> bool,
    ) -> Vec<acp_api::rollout::UpgradeRunStatus> {
        wait_for_some(what, SHORT, || async {
            let seen = self.seen.lock().unwrap().clone();
            seen.iter().any(&accept).then_some(seen)
        })
        .await
        .unwrap()
    }
}

// ---- every cvsh change, through one watch ----

/// What one watch event showed of a cvsh.
#[derive(Clone, Debug)]
struct Seen {
    name: String,
    /// The `cvo.alauda.io/upgrade-run` label.
    run: Option<String>,
    /// `spec.desiredUpdate.version`.
    requested: Option<String>,
    current: Option<String>,
    executing: bool,
    /// Versions of its history entries (an entry is added when an upgrade starts).
    history: Vec<String>,
}

impl Seen {
    fn of(shadow: &ClusterVersionShadow) -> Seen {
        Seen {
            name: shadow.name_any(),
            run: shadow.labels().get(names::labels::UPGRADE_RUN).cloned(),
            requested: shadow
                .spec
                .desired_update
                .as_ref()
                .and_then(|d| d.version.clone()),
            current: shadow.current_version().map(str::to_owned),
            executing: shadow.is_executing(),
            history: shadow
                .status
                .as_ref()
                .map(|s| s.history.iter().filter_map(|h| h.version.clone()).collect())
                .unwrap_or_default(),
        }
    }

    fn started(&self, version: &str) -> bool {
        self.history.iter().any(|v| v == version)
    }

    /// Requested by `run` for `target` and not done with it yet.
    fn in_flight(&self, run: &str, target: &str) -> bool {
        let done = self.current.as_deref() == Some(target) && !self.executing;
        self.run.as_deref() == Some(run) && self.requested.as_deref() == Some(target) && !done
    }
}

/// The clusters a run had in flight after the recorded event `index`.
#[derive(Clone, Debug, PartialEq)]
struct Flight {
    index: usize,
    clusters: BTreeSet<String>,
}

/// Every cvsh change in the global cluster's namespace, in the order the watch delivered them.
struct Record {
    seen: Arc<Mutex<Vec<Seen>>>,
    count: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Record {
    /// Starts the watch; returns once it has listed every workload cvsh.
    async fn start(global: &Cluster) -> Record {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel(0usize);
        let api = shadows(global).await;
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut stream = watcher(api, watcher::Config::default())
                    .default_backoff()
                    .applied_objects()
                    .boxed();
                while let Some(event) = stream.next().await {
                    let Ok(shadow) = event else { continue };
                    let len = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(Seen::of(&shadow));
                        seen.len()
                    };
                    let _ = tx.send(len);
                }
            })
        };
        let record = Record { seen, count, task };
        record
            .wait("every workload cvsh listed", 0, SHORT, |view| {
                WORKLOADS.iter().all(|w| view.contains_key(*w))
            })
            .await;
        record
    }

    fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits until the latest view of every cvsh (after an event at or after `from`) satisfies `accept`;
    /// returns the index of that event.
    async fn wait(
        &self,
        what: &str,
        from: usize,
        timeout: Duration,
        accept: impl Fn(&BTreeMap<String, Seen>) -> bool,
    ) -> usize {
        let mut count = self.count.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = 0;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                let mut view = BTreeMap::new();
                for (i, s) in seen.iter().enumerate() {
                    view.insert(s.name.clone(), s.clone());
                    if i >= from.max(checked) && accept(&view) {
                        return i;
                    }
                }
                checked = seen.len();
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                _ => panic!("timed out after {timeout:?} waiting for {what}"),
            }
        }
    }

    /// Clusters `run` ever requested.
    fn requested_by(&self, run: &str) -> BTreeSet<String> {
        self.requested_by_before(run, usize::MAX)
    }

    /// Clusters `run` requested in the events before `index`.
    fn requested_by_before(&self, run: &str, index: usize) -> BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .take(index)
            .filter(|s| s.run.as_deref() == Some(run) && s.requested.is_some())
            .map(|s| s.name.clone())
            .collect()
    }

    /// The clusters `run` had in flight for `target`, replayed event by event from `from` (with every
    /// cvsh's state before `from` as the start), at each change.
    fn in_flight(&self, run: &str, target: &str, from: usize) -> Vec<Flight> {
        let seen = self.seen.lock().unwrap();
        let mut view: BTreeMap<String, &Seen> = BTreeMap::new();
        let mut flights: Vec<Flight> = Vec::new();
        for (index, s) in seen.iter().enumerate() {
            view.insert(s.name.clone(), s);
            if index < from {
                continue;
            }
            let clusters: BTreeSet<String> = view
                .values()
                .filter(|s| s.in_flight(run, target))
                .map(|s| s.name.clone())
                .collect();
            if flights.last().is_none_or(|f| f.clusters != clusters) {
                flights.push(Flight { index, clusters });
            }
        }
        flights
    }
}
