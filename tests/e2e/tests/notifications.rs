//! What a platform team plugs in: upgrade notifications posted to a webhook as CloudEvents, and the chart's
//! dashboard and alerts, whose every metric must be one a running operator exports.
//!
//! One global upgrade, two operator replicas (only the leader sends), and a receiver that fails the first
//! attempts: every lifecycle event still arrives exactly once, in order, matching the Kubernetes Events.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use acp_api::names;
use acp_e2e::helm_path;
use acp_e2e::operator::*;
use acp_testkit::wait_for;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "webhook-t0ken-4f9a";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Request {
    answered: u16,
    content_type: String,
    authorization: String,
    body: Value,
}

#[derive(Default)]
struct Receiver {
    /// Requests still to be answered 503.
    fail_next: usize,
    requests: Vec<Request>,
}

async fn hook(
    State(receiver): State<Arc<Mutex<Receiver>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut receiver = receiver.lock().unwrap();
    let answered = if receiver.fail_next > 0 {
        receiver.fail_next -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::ACCEPTED
    };
    receiver.requests.push(Request {
        answered: answered.as_u16(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    answered
}

/// Starts a webhook receiver on loopback; its URL and what it got.
async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        fail_next: fail_first,
        ..Receiver::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/upgrades", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hooks/upgrades", axum::routing::post(hook))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn delivered(receiver: &Mutex<Receiver>) -> Vec<Request> {
    let receiver = receiver.lock().unwrap();
    receiver
        .requests
        .iter()
        .filter(|r| r.answered == 202)
        .cloned()
        .collect()
}

fn short_type(event: &Value) -> String {
    event["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("io.alauda.acp.cvo.upgrade.")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_events_reach_the_webhook_once_in_order_and_dashboards_use_real_metrics() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    install_release(global, "4.2.3").await;
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;

    // The receiver refuses the first three attempts: the first event is retried, later ones wait.
    let (url, received) = receiver(3).await;
    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "upgrade-webhook", "namespace": names::NAMESPACE},
            "stringData": {"url": url, "token": TOKEN},
        }),
    )
    .await;
    let flags = [("--notification-secret", "upgrade-webhook")];
    let replica_a = env
        .spawn(operator_spec_with(global, "4.2.3", "replica-a", &flags))
        .unwrap();
    let replica_b = env
        .spawn(operator_spec_with(global, "4.2.3", "replica-b", &flags))
        .unwrap();
    wait_shadow(global, "global", "current 4.2.3 with 4.3.1 offered", LONG, |s| {
        s.current_version() == Some("4.2.3") && offered(s).contains(&"4.3.1".to_string())
    })
    .await;

    request(global, "global", "4.3.1").await;
    wait_shadow(global, "global", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    wait_for("the completed notification", LONG, || async {
        delivered(&received)
            .iter()
            .any(|r| short_type(&r.body) == "completed")
    })
    .await
    .unwrap();

    // Each event once, in lifecycle order.
    let cloud: Vec<Value> = delivered(&received).into_iter().map(|r| r.body).collect();
    let types: Vec<String> = cloud.iter().map(short_type).collect();
    let ids: BTreeSet<&str> = cloud.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), cloud.len(), "an event arrived twice: {types:?}");
    assert_eq!(types.first().map(String::as_str), Some("requested"), "{types:?}");
    assert_eq!(types.get(1).map(String::as_str), Some("started"), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("completed"), "{types:?}");
    let middle = &types[2..types.len() - 1];
    assert!(
        !middle.is_empty() && middle.iter().all(|t| t == "stage.finished"),
        "{types:?}"
    );
    let stages: Vec<&str> = cloud[2..cloud.len() - 1]
        .iter()
        .map(|e| e["data"]["stage"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&&str> = stages.iter().collect();
    assert_eq!(distinct.len(), stages.len(), "a stage finished twice: {stages:?}");
    assert!(stages.contains(&"Core"), "{stages:?}");

    // Structured-mode CloudEvents about the cluster, with the token as a bearer token and nowhere else.
    for request in delivered(&received) {
        let event = &request.body;
        assert_eq!(
            request.content_type,
            "application/cloudevents+json; charset=utf-8"
        );
        assert_eq!(request.authorization, format!("Bearer {TOKEN}"));
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["subject"], "global");
        assert_eq!(event["data"]["cluster"], "global");
        assert_eq!(event["data"]["targetVersion"], "4.3.1");
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
        assert!(!event.to_string().contains(TOKEN), "{event}");
    }
    assert_eq!(cloud.last().unwrap()["data"]["currentVersion"], "4.3.1");

    // The refused attempts were all the first event, retried until accepted.
    let all = received.lock().unwrap().requests.clone();
    let refused: Vec<&Request> = all.iter().filter(|r| r.answered == 503).collect();
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|r| r.body["id"] == cloud[0]["id"]));

    // The same transitions as the Kubernetes Events, one notification per occurrence. (Events of one
    // reason are aggregated into a series that keeps the first note, so occurrences are compared.)
    for (reason, kind) in [
        ("UpgradeRequested", "requested"),
        ("UpgradeStarted", "started"),
        ("StageFinished", "stage.finished"),
        ("UpgradeCompleted", "completed"),
    ] {
        let (occurrences, first_note) = event_occurrences(global, reason).await;
        let notified = events_of(&cloud, kind);
        assert_eq!(occurrences, notified.len(), "{reason}: {notified:?}");
        assert!(
            notified.contains(&first_note),
            "{reason}: {first_note} not in {notified:?}"
        );
    }

    // Delivery is counted by the leader; the standby sent nothing and exports no cluster series.
    let (leader, standby) = leader_and_standby(&replica_a, &replica_b).await;
    let count = cloud.len() as f64;
    wait_for("delivered notifications counted", SHORT, || async {
        metric(&leader, "acp_cvo_notifications_total{result=\"delivered\"}").await == Some(count)
    })
    .await
    .unwrap();
    assert_eq!(
        metric(&standby, "acp_cvo_notifications_total{result=\"delivered\"}").await,
        Some(0.0)
    );
    assert_eq!(
        metric(&standby, "acp_cvo_cluster_reachable{cluster=\"global\"}").await,
        None
    );
    assert_eq!(
        metric(
            &leader,
            "acp_cvo_cluster_info{cluster=\"global\",tier=\"Global\",version=\"4.3.1\"}"
        )
        .await,
        Some(1.0)
    );
    assert_eq!(
        metric(&leader, "acp_cvo_cluster_reachable{cluster=\"global\"}").await,
        Some(1.0)
    );
    // The state label is read from the status the operator wrote: the upgrade is over, the cluster Idle.
    assert_eq!(
        metric(
            &leader,
            "acp_cvo_cluster_state{cluster=\"global\",state=\"Idle\"}"
        )
        .await,
        Some(1.0)
    );

    // Every metric the dashboard and the alerts query, and every one the README documents, is one the
    // running operator exports.
    let (_, scrape) = http_get(&leader, "/metrics").await.unwrap();
    let exported = exported_series(&scrape);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "charts/acp-cvo/dashboards/acp-cvo.json",
        "docs/dashboards/acp-cvo.json",
        "charts/acp-cvo/templates/prometheusrule.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let queried = metric_names(&text);
        assert!(!queried.is_empty(), "{file} queries no acp_cvo metric");
        let unknown: Vec<&String> = queried.iter().filter(|m| !exported.contains(*m)).collect();
        assert!(
            unknown.is_empty(),
            "{file} queries metrics the operator does not export: {unknown:?}\nexported: {exported:?}"
        );
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for family in documented_names(&scrape) {
        assert!(
            readme.contains(&format!("`{family}")),
            "README's metrics table lacks {family}"
        );
    }
    drop((replica_a, replica_b));
}

/// How often the operator recorded an Event of `reason` about the global cvsh, and the note it kept.
async fn event_occurrences(global: &acp_testkit::Cluster, reason: &str) -> (usize, String) {
    let events: Vec<_> = events_about(global, "global")
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect();
    let occurrences = events
        .iter()
        .map(|e| e.series.as_ref().map_or(1, |s| usize::try_from(s.count).unwrap()))
        .sum();
    let note = events.first().and_then(|e| e.note.clone()).unwrap_or_default();
    (occurrences, note)
}

/// Notes of the notifications of one kind.
fn events_of(events: &[Value], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| short_type(e) == kind)
        .map(|e| e["data"]["message"].as_str().unwrap().to_string())
        .collect()
}

/// The metrics addresses of the replica holding the Lease and of the other one.
async fn leader_and_standby(
    a: &acp_testkit::ChildProcess,
    b: &acp_testkit::ChildProcess,
) -> (String, String) {
    let (a, b) = (metrics_addr(a), metrics_addr(b));
    if metric(&a, "acp_cvo_leader").await == Some(1.0) {
        (a, b)
    } else {
        assert_eq!(metric(&b, "acp_cvo_leader").await, Some(1.0));
        (b, a)
    }
}

/// Every series name a scrape can contain, from its `# TYPE` lines (so a family without samples yet
/// counts): counters as `_total`, histograms as `_bucket`, `_sum`, `_count`.
fn exported_series(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// The names the README's metrics table should show: counters with `_total`, others as registered.
fn documented_names(scrape: &str) -> Vec<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next()?, parts.next()?);
            Some(if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            })
        })
        .collect()
}

/// `acp_cvo_…` identifiers in a text (queries, rule expressions).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("acp_cvo_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// The chart passes the notification Secret to the operator and ships the dashboard for Grafana's sidecar.
#[tokio::test]
async fn the_chart_wires_the_notification_secret_and_the_dashboard() {
    let root = acp_testkit::repo_root();
    let out = tokio::process::Command::new(helm_path())
        .args(["template", "acp-cvo"])
        .arg(root.join("charts/acp-cvo"))
        .args([
            "--set",
            "notifications.secret=upgrade-webhook",
            "--set",
            "dashboard.enabled=true",
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rendered = String::from_utf8(out.stdout).unwrap();
    assert!(
        rendered.contains("- --notification-secret=upgrade-webhook"),
        "{rendered}"
    );
    assert!(rendered.contains("name: acp-cvo-dashboard"), "{rendered}");
    assert!(rendered.contains("grafana_dashboard: \"1\""), "{rendered}");
    // Off by default: the Prometheus Operator's CRDs may be absent.
    let out = tokio::process::Command::new(helm_path())
        .args(["template", "acp-cvo"])
        .arg(root.join("charts/acp-cvo"))
        .output()
        .await
        .unwrap();
    let plain = String::from_utf8(out.stdout).unwrap();
    for kind in [
        "kind: PrometheusRule",
        "kind: ServiceMonitor",
        "acp-cvo-dashboard",
        "--notification-secret",
    ] {
        assert!(!plain.contains(kind), "{kind} rendered by default");
    }
}
