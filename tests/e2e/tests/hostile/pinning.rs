//! Spec fields the operator must not believe, upgrades pinned to their cluster and release, and status
//! that a hostile cluster cannot bloat:
//!
//! - a forged tier: `tier: Global` on a workload cluster and a changed tier are refused by the API server;
//!   a second `GlobalStandby` is refused by the operator and gains nothing (it waits for the global tier and
//!   counts against the workload limit); a standby's version comes from its own cluster.
//! - a kubeconfig swapped to another cluster mid-upgrade: `ClusterIdentityChanged`, nothing applied there;
//!   swapped back, the upgrade resumes and completes.
//! - two ClusterVersionShadows on one cluster: `DuplicateCluster` on both, and they take turns.
//! - a hostile endpoint posing as a cluster with a multi-megabyte `/readyz` and multi-megabyte error text:
//!   the status is still written, every message clipped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use acp_api::conditions::{self, types};
use acp_api::cvsh::bounds::{MAX_MESSAGE_CHARS, TRUNCATION_MARKER};
use acp_api::cvsh::{CheckState, HistoryState};
use acp_api::{ClusterVersionShadow, names};
use acp_testkit::{Cluster, ClusterSpec, wait_for};
use base64::Engine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use acp_e2e::operator::*;

/// The UID of a cluster's kube-system namespace: its identity.
async fn identity(cluster: &Cluster) -> String {
    let namespaces: Api<Namespace> = Api::all(cluster.client().await.unwrap());
    namespaces.get("kube-system").await.unwrap().uid().unwrap()
}

fn condition(shadow: &ClusterVersionShadow, type_: &str) -> Option<(String, String, String)> {
    conditions::find(shadow.conditions(), type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn has_condition(shadow: &ClusterVersionShadow, type_: &str, reason: &str) -> bool {
    condition(shadow, type_).is_some_and(|(status, r, _)| status == "True" && r == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_tier_is_refused_or_gains_nothing() {
    let env = start([
        ClusterSpec::new("global", "1.34"),
        ClusterSpec::new("dr", "1.34"),
        ClusterSpec::new("edge", "1.34"),
    ])
    .await;
    let (global, dr, edge) = (env.cluster("global"), env.cluster("dr"), env.cluster("edge"));
    record_version(dr, "4.1.0").await;
    record_version(edge, "4.2.3").await;
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let api = shadows(global).await;

    // The API server refuses Global on any object but `global`, and any change of tier.
    let forged = serde_json::from_value::<ClusterVersionShadow>(json!({
        "apiVersion": names::API_VERSION, "kind": "ClusterVersionShadow",
        "metadata": {"name": "edge-global", "namespace": names::NAMESPACE},
        "spec": {"tier": "Global"},
    }))
    .unwrap();
    let refused = api.create(&PostParams::default(), &forged).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("reserved for the ClusterVersionShadow named global"),
        "{refused}"
    );
    register_with(
        global,
        "dr",
        dr.kubeconfig_yaml(),
        json!({"tier": "GlobalStandby"}),
    )
    .await;
    for (name, tier) in [("dr", "Workload"), ("global", "GlobalStandby")] {
        let patch = json!({"spec": {"tier": tier}});
        let refused = api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("spec.tier is immutable"),
            "{name}: {refused}"
        );
    }
    // Writing the tier an object already has by default is no change.
    let same = json!({"spec": {"tier": "Global"}});
    api.patch("global", &PatchParams::default(), &Patch::Merge(&same))
        .await
        .unwrap();

    // A second standby, on a workload cluster.
    register_with(
        global,
        "edge",
        edge.kubeconfig_yaml(),
        json!({"tier": "GlobalStandby"}),
    )
    .await;
    let _operator = run_operator(&env, "4.2.3", "forged-tier");

    let refused = wait_shadow(global, "edge", "TierRefused naming the standby", LONG, |s| {
        has_condition(s, "TierRefused", "StandbyAlreadyClaimed") && s.current_version() == Some("4.2.3")
    })
    .await;
    let (_, _, message) = condition(&refused, "TierRefused").unwrap();
    assert!(message.contains("`dr` is already the GlobalStandby"), "{message}");
    // The standby's version is its own cluster's, not the operator's --install-version.
    wait_shadow(
        global,
        "dr",
        "the standby at its own cluster's version",
        LONG,
        |s| s.current_version() == Some("4.1.0") && condition(s, "TierRefused").is_none(),
    )
    .await;

    // The refused standby is a workload cluster: it waits for the global tier and takes a workload slot.
    request(global, "edge", "4.3.1").await;
    let held = wait_shadow(global, "edge", "held by GlobalTierReached", LONG, |s| {
        s.desired_version() == Some("4.3.1")
            && check(s, "GlobalTierReached").is_some_and(|c| c.state == CheckState::Failed)
    })
    .await;
    // Judged as a workload cluster: behind the standby `dr` (and the primary).
    let reason = check(&held, "GlobalTierReached").unwrap().reason.clone();
    assert!(
        matches!(
            reason.as_deref(),
            Some("GlobalStandbyBehind" | "GlobalTierBehind")
        ),
        "{reason:?}"
    );
    assert_eq!(
        check(&held, "ConcurrentUpgradeLimit").unwrap().reason.as_deref(),
        Some("SlotAvailable"),
        "counted against the workload limit"
    );
    assert!(!held.is_executing());

    // The real standby goes first only in step with its primary: from 4.1.0 it may not pass 4.2.3.
    request(global, "dr", "4.3.1").await;
    let out_of_step = wait_shadow(global, "dr", "held: out of step with the primary", LONG, |s| {
        check(s, "GlobalTierReached").is_some_and(|c| c.reason.as_deref() == Some("GlobalTierOutOfStep"))
    })
    .await;
    assert!(!out_of_step.is_executing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_swapped_mid_upgrade_applies_nothing_on_the_other_cluster() {
    let env = start([
        ClusterSpec::new("global", "1.34"),
        cluster("edge", "1.34"),
        ClusterSpec::new("other", "1.34"),
    ])
    .await;
    let (global, edge, other) = (env.cluster("global"), env.cluster("edge"), env.cluster("other"));
    for workload in [edge, other] {
        record_version(workload, "4.2.3").await;
    }
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    register_with(global, "edge", edge.kubeconfig_yaml(), json!({})).await;
    let spec = operator_spec_with(global, "4.3.1", "swap", &[("--stall-after", "8")]);
    let _operator = env.spawn(spec).unwrap();
    wait_shadow(global, "edge", "current 4.2.3", LONG, |s| {
        s.current_version() == Some("4.2.3")
    })
    .await;

    // The first Core module's rollout waits on the cordoned node: the upgrade is caught mid-stage.
    cordon(edge).await;
    request(global, "edge", "4.3.1").await;
    let running = wait_shadow(global, "edge", "platform-api rolling out", LONG, |s| {
        operation_in(s, "Core", "platform-api", "Running")
    })
    .await;
    let (edge_uid, other_uid) = (identity(edge).await, identity(other).await);
    let entry = running
        .status
        .as_ref()
        .unwrap()
        .running_upgrade()
        .unwrap()
        .clone();
    assert_eq!(entry.cluster_identity.as_deref(), Some(edge_uid.as_str()));
    assert_eq!(entry.release_digest.as_deref(), Some("builtin"));

    write_kubeconfig(global, "edge", other.kubeconfig_yaml()).await;
    let stopped = wait_shadow(global, "edge", "Degraded ClusterIdentityChanged", LONG, |s| {
        has_condition(s, types::DEGRADED, "ClusterIdentityChanged")
    })
    .await;
    let (_, _, message) = condition(&stopped, types::DEGRADED).unwrap();
    for part in [
        "`edge`",
        &edge_uid,
        &other_uid,
        "nothing is applied",
        "Point the kubeconfig back",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // Stalled after 8 s of it: several reconciles later, still nothing reached the other cluster.
    let stalled = wait_shadow(global, "edge", "Stalled on the changed identity", LONG, |s| {
        condition(s, types::STALLED).is_some_and(|(status, _, m)| status == "True" && m.contains(&other_uid))
    })
    .await;
    assert!(operation_in(&stalled, "Core", "platform-api", "Running"));
    let deployments: Api<Deployment> = Api::namespaced(other.client().await.unwrap(), names::NAMESPACE);
    assert!(
        deployments
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing may be applied on the cluster the kubeconfig was swapped to"
    );
    let namespaces: Api<Namespace> = Api::all(other.client().await.unwrap());
    assert!(namespaces.get("cpaas-system").await.is_ok());

    // Pointed back, the upgrade resumes on its own cluster.
    write_kubeconfig(global, "edge", edge.kubeconfig_yaml()).await;
    uncordon(edge).await;
    let done = wait_shadow(global, "edge", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    assert_eq!(history(&done)[0], ("4.3.1".into(), "Completed".into()));
    assert!(condition_is(&done, types::DEGRADED, "False"));
    assert!(
        deployments
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shadows_on_one_cluster_are_flagged_and_take_turns() {
    let env = start([ClusterSpec::new("global", "1.34"), cluster("fleet", "1.34")]).await;
    let (global, fleet) = (env.cluster("global"), env.cluster("fleet"));
    record_version(fleet, "4.2.3").await;
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let twins = ["twin-a", "twin-b"];
    for name in twins {
        register_with(global, name, fleet.kubeconfig_yaml(), json!({})).await;
    }
    let _operator = run_operator(&env, "4.3.1", "twins");
    let uid = identity(fleet).await;
    for (name, other) in [("twin-a", "twin-b"), ("twin-b", "twin-a")] {
        let flagged = wait_shadow(global, name, "DuplicateCluster naming the other", LONG, |s| {
            condition(s, types::DUPLICATE_CLUSTER).is_some_and(|(status, _, _)| status == "True")
        })
        .await;
        let (_, _, message) = condition(&flagged, types::DUPLICATE_CLUSTER).unwrap();
        assert!(
            message.contains(&format!("`{other}` reaches the same cluster as `{name}`"))
                && message.contains(&uid),
            "{message}"
        );
        // Observed as usual: the duplicate only holds upgrades back.
        assert_eq!(flagged.current_version(), Some("4.2.3"));
    }

    cordon(fleet).await;
    for name in twins {
        request(global, name, "4.3.1").await;
    }
    let api = shadows(global).await;
    let list = |api: Api<ClusterVersionShadow>| async move {
        let items = api.list(&Default::default()).await.unwrap().items;
        items
            .into_iter()
            .filter(|s| twins.contains(&s.name_any().as_str()))
            .collect::<Vec<_>>()
    };
    wait_for("one twin executing, the other held", LONG, || async {
        let twins = list(api.clone()).await;
        let executing = twins.iter().filter(|s| s.is_executing()).count();
        assert!(executing <= 1, "two upgrades at once on one cluster");
        let held = twins
            .iter()
            .filter(|s| {
                condition(s, types::READY).is_some_and(|(_, r, m)| {
                    r == "DuplicateCluster" && m.contains("is upgrading the same cluster")
                })
            })
            .count();
        executing == 1 && held == 1
    })
    .await
    .unwrap();

    uncordon(fleet).await;
    wait_for("both twins upgraded, one after the other", LONG, || async {
        let twins = list(api.clone()).await;
        assert!(
            twins.iter().filter(|s| s.is_executing()).count() <= 1,
            "two upgrades at once on one cluster"
        );
        twins
            .iter()
            .all(|s| s.current_version() == Some("4.3.1") && ready(s))
    })
    .await
    .unwrap();
    for name in twins {
        let done = api.get(name).await.unwrap();
        let entry = &done.status.as_ref().unwrap().history[0];
        assert_eq!(entry.state, HistoryState::Completed);
        assert_eq!(entry.cluster_identity.as_deref(), Some(uid.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_endpoint_cannot_bloat_the_status() {
    const HUGE: usize = 3 * 1024 * 1024;
    let env = start([ClusterSpec::new("global", "1.34")]).await;
    let global = env.cluster("global");
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let not_ready = Hostile::start("hostile-readyz", |path| match path {
        "/readyz" => Some(Answer::text(
            500,
            &format!("[-]etcd failed: {}", "x".repeat(HUGE)),
        )),
        // Longer than the CRD allows for a pinned identity: not taken as one.
        "/api/v1/namespaces/kube-system" => Some(Answer::json(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "kube-system", "uid": "0".repeat(300)},
        }))),
        _ => None,
    })
    .await;
    let erring = Hostile::start("hostile-errors", |path| match path {
        "/api/v1/namespaces/kube-system/pods" => {
            Some(Answer::text(403, &format!("forbidden: {}", "é".repeat(HUGE / 2))))
        }
        _ => None,
    })
    .await;
    for (name, hostile) in [("not-ready", &not_ready), ("erring", &erring)] {
        register_with(global, name, &hostile.kubeconfig(), json!({})).await;
    }
    let _operator = run_operator(&env, "4.3.1", "hostile");

    let clipped = |text: &str| text.chars().count() <= MAX_MESSAGE_CHARS && text.ends_with(TRUNCATION_MARKER);
    let shadow = wait_shadow(
        global,
        "not-ready",
        "ClusterRunning with a clipped /readyz",
        LONG,
        |s| check(s, "ClusterRunning").is_some_and(|c| c.message.as_deref().is_some_and(clipped)),
    )
    .await;
    let seen = observed(&shadow).unwrap();
    assert_eq!(seen.reachable, Some(true));
    assert_eq!(seen.cluster_identity, None, "a 300-character UID is no identity");
    assert_eq!(shadow.current_version(), Some("4.2.3"));
    let preflight_ready = condition(&shadow, types::PREFLIGHT_READY).unwrap().2;
    assert!(
        preflight_ready.chars().count() <= MAX_MESSAGE_CHARS,
        "{}",
        preflight_ready.len()
    );
    assert!(serde_json::to_string(&shadow).unwrap().len() < 100_000);

    let shadow = wait_shadow(global, "erring", "the error text clipped", LONG, |s| {
        observed(s).is_some_and(|o| o.reachable == Some(false) && o.message.as_deref().is_some_and(clipped))
            && condition(s, types::DEGRADED).is_some_and(|(status, _, m)| status == "True" && clipped(&m))
    })
    .await;
    let message = observed(&shadow).unwrap().message.clone().unwrap();
    assert!(
        message.contains("refused list pods in kube-system: forbidden: éé"),
        "{}",
        &message[..200]
    );
    assert!(serde_json::to_string(&shadow).unwrap().len() < 100_000);
    // Both were asked many times; the operator is still answering and writing.
    assert!(not_ready.requests("/readyz") >= 1);
}

/// An answer of the hostile endpoint.
struct Answer {
    code: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn json(value: Value) -> Self {
        Self {
            code: 200,
            content_type: "application/json",
            body: serde_json::to_vec(&value).unwrap(),
        }
    }

    fn text(code: u16, text: &str) -> Self {
        Self {
            code,
            content_type: "text/plain",
            body: text.as_bytes().to_vec(),
        }
    }
}

type Route = dyn Fn(&str) -> Option<Answer> + Send + Sync;

/// A TLS endpoint posing as a cluster: `/version`, namespace kube-system (its UID is the endpoint's name),
/// empty node and pod lists and `cpaas-system/acp-version` at 4.2.3 answer normally, unless `route` answers
/// a path otherwise; anything else is a 404 Status.
struct Hostile {
    name: String,
    addr: SocketAddr,
    ca_pem: String,
    counts: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    async fn start(name: &str, route: impl Fn(&str) -> Option<Answer> + Send + Sync + 'static) -> Self {
        let (ca_pem, config) = loopback_tls();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let route: Arc<Route> = Arc::new(route);
        let (uid, seen) = (name.to_string(), counts.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, route, uid, seen) =
                    (acceptor.clone(), route.clone(), uid.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Some(path) = read_request_path(&mut tls).await else {
                        return;
                    };
                    *seen.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                    let answer = route(&path).unwrap_or_else(|| normal_answer(&path, &uid));
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.code,
                        answer.content_type,
                        answer.body.len()
                    );
                    // The client may stop reading early: that is what the operator is supposed to do.
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&answer.body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            name: name.to_string(),
            addr,
            ca_pem,
            counts,
            task,
        }
    }

    fn kubeconfig(&self) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {n}\n  cluster:\n    server: https://{addr}\n    \
             certificate-authority-data: {ca}\nusers:\n- name: {n}\n  user:\n    token: not-a-secret\ncontexts:\n\
             - name: {n}\n  context:\n    cluster: {n}\n    user: {n}\ncurrent-context: {n}\n",
            n = self.name,
            addr = self.addr
        )
    }

    fn requests(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// The path (without query) of one HTTP/1.1 request; its head is bounded.
async fn read_request_path(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    let target = line.split_whitespace().nth(1)?;
    Some(target.split('?').next().unwrap_or(target).to_string())
}

fn normal_answer(path: &str, uid: &str) -> Answer {
    let list = |kind: &str| json!({"apiVersion": "v1", "kind": kind, "metadata": {}, "items": []});
    match path {
        "/version" => Answer::json(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.7", "gitCommit": "", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64",
        })),
        "/readyz" => Answer::text(200, "ok"),
        "/api/v1/namespaces/kube-system" => Answer::json(json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": uid},
        })),
        "/api/v1/nodes" => Answer::json(list("NodeList")),
        "/api/v1/namespaces/kube-system/pods" => Answer::json(list("PodList")),
        "/api/v1/namespaces/cpaas-system/configmaps/acp-version" => Answer::json(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "acp-version", "namespace": "cpaas-system"},
            "data": {"version": "4.2.3"},
        })),
        _ => Answer {
            code: 404,
            content_type: "application/json",
            body: serde_json::to_vec(&json!({
                "apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound",
                "message": format!("{path} not found"), "code": 404,
            }))
            .unwrap(),
        },
    }
}
