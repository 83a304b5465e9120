//! `advance` against an in-memory cluster: the upgrade 4.2.3 → 4.3.1 of the built-in releases on a
//! cluster already on Kubernetes 1.34, so its stages are Prepare (namespace, CRD), Kubernetes (skipped),
//! Core (platform-api ← platform-auth ← platform-console), Aligned (cluster-logging) and Verify.

use acp_api::cvsh::{KubernetesDriver, Operation, OperationPhase, Stage, StagePhase};
use acp_api::k8s::Time;
use acp_policy::{AcpVersion, ProductRelease};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;

use super::{Advance, Execution, PlanInputs, RETRY_AFTER, advance, plan};
use crate::clusters::fake::{Call, FakeCluster};

use OperationPhase::{Failed, Pending, Running, Skipped, Succeeded};

const API: &str = "platform-api";
const AUTH: &str = "platform-auth";
const CONSOLE: &str = "platform-console";
const LOGGING: &str = "cluster-logging";

struct Upgrade {
    current: ProductRelease,
    target: ProductRelease,
}

impl Upgrade {
    fn new() -> Self {
        let catalogue = crate::releases::builtin::catalogue();
        let release = |v: &str| {
            let version: AcpVersion = v.parse().unwrap();
            catalogue.release(&version).unwrap().clone()
        };
        Self {
            current: release("4.2.3"),
            target: release("4.3.1"),
        }
    }

    /// The stages as planned when execution starts, every operation Pending.
    fn stages(&self) -> Vec<Stage> {
        plan(&PlanInputs {
            current: Some(&self.current),
            target: &self.target,
            kubernetes: Some("v1.34.1".parse().unwrap()),
            driver: KubernetesDriver::External,
            kubernetes_patches: Vec::new(),
        })
    }

    /// The stages of an upgrade that got as far as Core before the operator stopped: Prepare finished,
    /// platform-api Succeeded, platform-auth Running, platform-console Pending.
    fn interrupted_in_core(&self) -> Vec<Stage> {
        let mut stages = self.stages();
        for stage in &mut stages[..2] {
            stage.phase = StagePhase::Finished;
            for op in &mut stage.operations {
                if op.phase == Some(Pending) {
                    set(op, Succeeded, 0);
                }
            }
        }
        stages[2].phase = StagePhase::Running;
        set(operation(&mut stages, API), Succeeded, 0);
        set(operation(&mut stages, AUTH), Running, 0);
        stages
    }

    /// Puts the target's objects of module `module` in `cluster`, rolled out, as an operator that
    /// stopped after the module succeeded left them.
    fn rolled_out_before(&self, cluster: &FakeCluster, module: &str) {
        let module = self.target.modules.iter().find(|m| m.name == module).unwrap();
        for manifest in &module.manifests {
            cluster.insert(manifest.clone());
        }
    }

    fn on<'a>(&'a self, cluster: &'a FakeCluster, now: Timestamp) -> Execution<'a> {
        Execution {
            cluster: Ok(cluster),
            current: Some(&self.current),
            target: &self.target,
            kubernetes: Some("v1.34.1".parse().unwrap()),
            driver: KubernetesDriver::External,
            paused: false,
            now,
            insight_after: crate::cvsh::insights::DEFAULT_INSIGHT_AFTER,
            cluster_api: None,
        }
    }
}

/// `seconds` after the moment the tests start from.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn set(op: &mut Operation, phase: OperationPhase, since: i64) {
    op.phase = Some(phase);
    op.last_transition_time = Some(Time(at(since)));
}

fn operation<'a>(stages: &'a mut [Stage], name: &str) -> &'a mut Operation {
    stages
        .iter_mut()
        .flat_map(|s| s.operations.iter_mut())
        .find(|o| o.name == name)
        .unwrap()
}

fn phase_of(stages: &[Stage], name: &str) -> OperationPhase {
    stages
        .iter()
        .flat_map(|s| &s.operations)
        .find(|o| o.name == name)
        .and_then(|o| o.phase.clone())
        .unwrap()
}

fn stage_phase(stages: &[Stage], name: &str) -> StagePhase {
    stages.iter().find(|s| s.name == name).unwrap().phase
}

fn deployment(name: &str) -> String {
    format!("Deployment cpaas-system/{name}")
}

#[tokio::test]
async fn operations_wait_for_their_dependencies_and_stages_run_by_priority() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    cluster.hold(API);
    let mut stages = upgrade.stages();
    // The order stages are listed in does not matter: their priority does.
    stages.reverse();

    let first = advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert_eq!(stage_phase(&stages, "Prepare"), StagePhase::Finished);
    assert_eq!(stage_phase(&stages, "Kubernetes"), StagePhase::Finished);
    assert_eq!(stage_phase(&stages, "Core"), StagePhase::Running);
    assert_eq!(phase_of(&stages, API), Running);
    let waiting = first.waiting.clone().unwrap();
    assert!(waiting.contains("0 of 1 replicas updated"), "{waiting}");
    assert!(first.blocked.is_none() && !first.finished, "{first:?}");
    // platform-auth and platform-console depend on platform-api, which has not rolled out.
    for (name, phase) in [(AUTH, Pending), (CONSOLE, Pending), (LOGGING, Pending)] {
        assert_eq!(phase_of(&stages, name), phase, "{name}");
        assert!(!cluster.touched(name), "{name}: {:?}", cluster.calls());
    }
    assert_eq!(stage_phase(&stages, "Aligned"), StagePhase::Pending);

    cluster.roll_out(API);
    let second = advance(&mut stages, &upgrade.on(&cluster, at(30))).await;

    // Each operation starts once the ones it depends on succeeded, and each stage once the one before
    // it finished, all in the same pass.
    assert!(second.finished, "{second:?}");
    assert_eq!(
        cluster.applied(),
        [
            "Namespace cpaas-system".to_string(),
            "CustomResourceDefinition platformcapabilities.release.alauda.io".into(),
            deployment(API),
            deployment(AUTH),
            deployment(CONSOLE),
            deployment(LOGGING),
            "ConfigMap cpaas-system/acp-version".into(),
        ]
    );
}

#[tokio::test]
async fn a_failed_operation_is_tried_again_only_after_the_retry_delay() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    let mut stages = upgrade.interrupted_in_core();
    let auth = operation(&mut stages, AUTH);
    set(auth, Failed, 0);
    auth.message =
        Some("Deployment cpaas-system/platform-auth: rollout exceeded its progress deadline".into());

    let early = at(RETRY_AFTER.as_secs() - 1);
    let waiting = advance(&mut stages, &upgrade.on(&cluster, early)).await;

    assert_eq!(cluster.calls(), []);
    assert_eq!(phase_of(&stages, AUTH), Failed);
    let blocked = waiting.blocked.unwrap();
    assert_eq!(blocked.reason, "OperationFailed");
    assert!(
        blocked.message.contains("operation platform-auth failed")
            && blocked.message.contains("progress deadline"),
        "{}",
        blocked.message
    );

    let due = at(RETRY_AFTER.as_secs());
    let retried = advance(&mut stages, &upgrade.on(&cluster, due)).await;

    assert!(retried.blocked.is_none(), "{retried:?}");
    assert_eq!(phase_of(&stages, AUTH), Succeeded);
    assert_eq!(cluster.applied()[0], deployment(AUTH));
}

#[tokio::test]
async fn a_restarted_operator_performs_running_operations_again_and_never_touches_succeeded_ones() {
    let upgrade = Upgrade::new();
    // A new operator process: nothing remembered but the stages in status.
    let cluster = FakeCluster::new();
    cluster.hold(LOGGING);
    let mut stages = upgrade.interrupted_in_core();

    advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert_eq!(
        cluster.applied(),
        [deployment(AUTH), deployment(CONSOLE), deployment(LOGGING)]
    );
    for name in [API, "cpaas-system", "platformcapabilities.release.alauda.io"] {
        assert!(!cluster.touched(name), "{name}: {:?}", cluster.calls());
    }
    assert_eq!(phase_of(&stages, AUTH), Succeeded);
    assert_eq!(phase_of(&stages, CONSOLE), Succeeded);
    assert_eq!(phase_of(&stages, LOGGING), Running);
}

#[tokio::test]
async fn a_refused_apply_fails_the_operation_and_blocks_naming_it() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    cluster.reject_apply(
        API,
        "Deployment.apps \"platform-api\" is invalid: spec.template.spec.containers[0].image: Required value",
    );
    let mut stages = upgrade.stages();

    let result = advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert!(!result.finished);
    let blocked = result.blocked.unwrap();
    assert_eq!(blocked.reason, "OperationFailed");
    for part in [
        "operation platform-api failed",
        "cluster fake refused apply Deployment cpaas-system/platform-api",
        "spec.template.spec.containers[0].image: Required value",
        "retrying every 20s",
    ] {
        assert!(blocked.message.contains(part), "{part}: {}", blocked.message);
    }
    let api = operation(&mut stages, API);
    assert_eq!(api.phase, Some(Failed));
    assert_eq!(api.last_transition_time, Some(Time(at(0))));
    assert!(api.message.as_deref().unwrap().contains("Required value"));
    assert!(!cluster.touched(AUTH));
}

#[tokio::test]
async fn an_unreachable_cluster_leaves_operations_as_they_were_and_blocks() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    cluster.silent(true);
    let mut stages = upgrade.interrupted_in_core();
    let before = stages.clone();

    let result = advance(&mut stages, &upgrade.on(&cluster, at(60))).await;

    let blocked = result.blocked.unwrap();
    assert_eq!(blocked.reason, "ClusterUnreachable");
    assert!(
        blocked.message.contains("cannot reach cluster fake"),
        "{}",
        blocked.message
    );
    let auth = operation(&mut stages, AUTH);
    assert_eq!(auth.phase, Some(Running));
    assert_eq!(auth.last_transition_time, Some(Time(at(0))));
    assert!(
        auth.message
            .as_deref()
            .unwrap()
            .starts_with("waiting for the cluster to answer"),
        "{:?}",
        auth.message
    );
    // Only the message of the operation it tried changed.
    auth.message = None;
    assert_eq!(stages, before);

    // Once the cluster answers again, the upgrade goes on from there.
    cluster.silent(false);
    upgrade.rolled_out_before(&cluster, API);
    let resumed = advance(&mut stages, &upgrade.on(&cluster, at(90))).await;
    assert!(resumed.finished, "{resumed:?}");
}

#[tokio::test]
async fn a_paused_upgrade_finishes_running_operations_and_starts_no_new_one() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    let mut stages = upgrade.interrupted_in_core();
    let paused = |now| Execution {
        paused: true,
        ..upgrade.on(&cluster, now)
    };

    let result = advance(&mut stages, &paused(at(0))).await;

    assert_eq!(phase_of(&stages, AUTH), Succeeded);
    assert_eq!(phase_of(&stages, CONSOLE), Pending);
    assert!(!cluster.touched(CONSOLE), "{:?}", cluster.calls());
    assert_eq!(
        result,
        Advance {
            waiting: Some("paused before operation platform-console".into()),
            ..Advance::default()
        }
    );

    // Nor does a new stage start.
    let mut stages = upgrade.interrupted_in_core();
    set(operation(&mut stages, CONSOLE), Succeeded, 0);
    let result = advance(&mut stages, &paused(at(0))).await;

    assert_eq!(stage_phase(&stages, "Core"), StagePhase::Finished);
    assert_eq!(stage_phase(&stages, "Aligned"), StagePhase::Pending);
    assert!(!cluster.touched(LOGGING), "{:?}", cluster.calls());
    assert_eq!(result.waiting.as_deref(), Some("paused before stage Aligned"));
}

#[tokio::test]
async fn an_upgrade_whose_stages_all_finish_is_finished_and_recorded_in_the_cluster() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    let mut stages = upgrade.stages();

    let result = advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert_eq!(
        result,
        Advance {
            finished: true,
            ..Advance::default()
        }
    );
    for stage in &stages {
        assert_eq!(stage.phase, StagePhase::Finished, "{}", stage.name);
        for op in &stage.operations {
            assert!(
                matches!(op.phase, Some(Succeeded | Skipped)),
                "{}: {:?}",
                op.name,
                op.phase
            );
        }
    }
    let record: ConfigMap =
        serde_json::from_value(cluster.object("ConfigMap", "acp-version").unwrap()).unwrap();
    assert_eq!(acp_api::acp_version::recorded(&record), Some("4.3.1"));

    // Advancing a finished upgrade does nothing.
    let calls = cluster.calls().len();
    assert!(advance(&mut stages, &upgrade.on(&cluster, at(30))).await.finished);
    assert_eq!(cluster.calls().len(), calls);
    assert!(!cluster.calls().iter().any(|c| matches!(c, Call::Delete(_))));
}

#[tokio::test]
async fn a_module_dropped_from_the_target_loses_only_the_objects_acp_cvo_manages_for_it() {
    let mut upgrade = Upgrade::new();
    let owned = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "legacy-metrics", "namespace": "cpaas-system", "labels": {
            (acp_api::names::labels::MANAGED_BY): "acp-cvo",
            (acp_api::names::labels::MODULE): "legacy-metrics",
        }},
        "spec": {"replicas": 1},
    });
    let foreign = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "legacy-metrics-settings", "namespace": "cpaas-system"},
    });
    upgrade.current.modules.push(acp_policy::Module {
        name: "legacy-metrics".into(),
        lifecycle: acp_policy::Lifecycle::Aligned,
        version: "4.2.3".into(),
        depends_on: Vec::new(),
        manifests: vec![owned.clone(), foreign.clone()],
    });
    let cluster = FakeCluster::new();
    cluster.insert(owned);
    cluster.insert(foreign);
    let mut stages = upgrade.stages();

    let result = advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert!(result.finished, "{result:?}");
    assert_eq!(
        cluster
            .calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Delete(_)))
            .collect::<Vec<_>>(),
        [Call::Delete(deployment("legacy-metrics"))]
    );
    assert!(cluster.object("Deployment", "legacy-metrics").is_none());
    assert!(cluster.object("ConfigMap", "legacy-metrics-settings").is_some());
    let dropped = operation(&mut stages, "legacy-metrics");
    assert_eq!(dropped.phase, Some(Succeeded));
    let message = dropped.message.as_deref().unwrap();
    assert!(
        message.contains("left in place")
            && message.contains("ConfigMap cpaas-system/legacy-metrics-settings"),
        "{message}"
    );
}

#[tokio::test]
async fn a_module_unchanged_between_the_releases_is_skipped_and_nothing_of_it_is_applied() {
    let mut upgrade = Upgrade::new();
    let logging = upgrade
        .target
        .modules
        .iter()
        .find(|m| m.name == LOGGING)
        .unwrap()
        .clone();
    for module in &mut upgrade.current.modules {
        if module.name == LOGGING {
            *module = logging.clone();
        }
    }
    let cluster = FakeCluster::new();
    upgrade.rolled_out_before(&cluster, LOGGING);
    let mut stages = upgrade.stages();

    let result = advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert!(result.finished, "{result:?}");
    assert!(
        !cluster.applied().contains(&deployment(LOGGING)),
        "{:?}",
        cluster.applied()
    );
    assert!(cluster.applied().contains(&deployment(AUTH)));
    let skipped = operation(&mut stages, LOGGING);
    assert_eq!(skipped.phase, Some(Skipped));
    let message = skipped.message.as_deref().unwrap();
    assert!(message.starts_with("unchanged since 4.3.1"), "{message}");
}

#[tokio::test]
async fn a_restarted_operator_waits_on_objects_that_already_carry_the_target_and_applies_them_never_again() {
    let upgrade = Upgrade::new();
    let auth = upgrade.target.modules.iter().find(|m| m.name == AUTH).unwrap();
    let cluster = FakeCluster::new();
    // The operator applied platform-auth's objects, then stopped before recording the result.
    for manifest in &auth.manifests {
        let mut manifest = manifest.clone();
        crate::clusters::ownership::annotate(
            &mut manifest,
            acp_api::names::annotations::MANIFEST_DIGEST,
            &super::modules::digest(auth),
        );
        cluster.insert(manifest);
    }
    let mut stages = upgrade.interrupted_in_core();

    advance(&mut stages, &upgrade.on(&cluster, at(0))).await;

    assert_eq!(
        cluster.applied(),
        [deployment(CONSOLE), deployment(LOGGING)],
        "platform-auth is applied once, before the restart"
    );
    assert_eq!(phase_of(&stages, AUTH), Succeeded);
}

/// A pod of platform-api that cannot be placed, as the scheduler leaves it.
fn pending_api_pod() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "platform-api-5d8f-x2lq", "namespace": "cpaas-system",
                     "labels": {"app.kubernetes.io/name": API}},
        "spec": {"containers": [{"name": API, "image": "registry.example/api:4.3.1"}]},
        "status": {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
        }]},
    })
}

#[tokio::test]
async fn a_wait_longer_than_the_threshold_or_a_failed_rollout_names_its_culprit_until_it_succeeds() {
    let upgrade = Upgrade::new();
    let cluster = FakeCluster::new();
    cluster.hold(API);
    cluster.insert(pending_api_pod());
    let mut stages = upgrade.stages();
    let api = |stages: &[Stage]| {
        stages
            .iter()
            .flat_map(|s| &s.operations)
            .find(|o| o.name == API)
            .cloned()
            .unwrap()
    };

    advance(&mut stages, &upgrade.on(&cluster, at(0))).await;
    let early = advance(&mut stages, &upgrade.on(&cluster, at(119))).await;
    assert!(api(&stages).insights.is_empty(), "not yet past the threshold");
    assert!(!early.waiting.unwrap().contains("scheduler"));
    assert!(
        !cluster.calls().iter().any(|c| matches!(c, Call::List(_))),
        "nothing is gathered before the threshold: {:?}",
        cluster.calls()
    );

    let late = advance(&mut stages, &upgrade.on(&cluster, at(120))).await;
    let op = api(&stages);
    assert_eq!(op.insights.len(), 1, "{:?}", op.insights);
    assert_eq!(op.insights[0].reason, "Unschedulable");
    assert_eq!(op.insights[0].object, "Pod cpaas-system/platform-api-5d8f-x2lq");
    let message = op.message.unwrap();
    assert!(
        message.contains("0 of 1 replicas updated; Pod cpaas-system/platform-api-5d8f-x2lq: the scheduler cannot place it: 0/2 nodes"),
        "{message}"
    );
    assert!(late.waiting.unwrap().contains("didn't match Pod's node affinity"));
    let looks = |cluster: &FakeCluster| {
        cluster
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::List(_)))
            .count()
    };
    let looked = looks(&cluster);
    advance(&mut stages, &upgrade.on(&cluster, at(130))).await;
    assert_eq!(looks(&cluster), looked, "not looked for again within the refresh");
    assert_eq!(api(&stages).insights.len(), 1, "the culprit found stays");

    // The rollout passes its progress deadline: the operation fails, and still names the culprit.
    let mut live = cluster.object("Deployment", API).unwrap();
    live["status"] = serde_json::json!({"conditions": [{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet platform-api-5d8f has timed out progressing.",
    }]});
    cluster.insert(live);
    advance(&mut stages, &upgrade.on(&cluster, at(700))).await;
    let op = api(&stages);
    assert_eq!(op.phase, Some(Failed));
    assert_eq!(
        op.insights.len(),
        1,
        "a failed rollout keeps its culprit: {:?}",
        op.insights
    );
    let message = op.message.unwrap();
    assert!(message.contains("the scheduler cannot place it"), "{message}");

    cluster.roll_out(API);
    advance(&mut stages, &upgrade.on(&cluster, at(800))).await;
    let op = api(&stages);
    assert_eq!(op.phase, Some(Succeeded));
    assert!(
        op.insights.is_empty(),
        "a finished wait keeps no culprits: {:?}",
        op.insights
    );
}
