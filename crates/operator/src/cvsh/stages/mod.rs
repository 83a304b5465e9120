//! Execution: the stages of an upgrade and their operations, planned once when execution starts and
//! advanced on every reconcile until all are Finished.
//!
//! Everything an operation does is idempotent (server-side apply, waiting for a version, writing a
//! ConfigMap), so a resumed operator simply performs a Running or Pending operation again; a Succeeded
//! one is never touched again.

#[cfg(test)]
mod advance_tests;
pub mod kubernetes;
pub mod modules;
pub mod prepare;
pub mod verify;

use std::collections::BTreeSet;

use acp_api::cvsh::{KubernetesDriver, Operation, OperationAction, OperationPhase, Stage, StagePhase};
use acp_api::k8s::Time;
use acp_api::names::{self, annotations, labels};
use acp_api::stages::StandardStage;
use acp_policy::{KubeVersion, ProductRelease};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::clusters::ClusterError;
use crate::clusters::objects::{ObjectKey, ObjectStore, Readiness, readiness};
use crate::clusters::ownership::{self, Ownership};

/// How long a Failed operation waits before it is tried again.
pub const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(20);

/// What the plan is built from.
pub struct PlanInputs<'a> {
    pub current: Option<&'a ProductRelease>,
    pub target: &'a ProductRelease,
    /// The cluster's Kubernetes version when execution starts.
    pub kubernetes: Option<KubeVersion>,
    pub driver: KubernetesDriver,
    /// The Kubernetes patches of the releases up to the target (`Catalogue::kubernetes_patches`): what
    /// each hop ends on.
    pub kubernetes_patches: Vec<KubeVersion>,
}

/// The stages of an upgrade, every operation Pending.
pub fn plan(inputs: &PlanInputs<'_>) -> Vec<Stage> {
    let stage = |which: StandardStage, operations: Vec<Operation>| Stage {
        name: which.name().to_string(),
        priority: which.priority(),
        phase: StagePhase::Pending,
        operations,
    };
    vec![
        stage(StandardStage::Prepare, prepare::plan(inputs)),
        stage(StandardStage::Kubernetes, kubernetes::plan(inputs)),
        stage(
            StandardStage::Core,
            modules::plan(inputs, acp_policy::Lifecycle::Core),
        ),
        stage(
            StandardStage::Aligned,
            modules::plan(inputs, acp_policy::Lifecycle::Aligned),
        ),
        stage(StandardStage::Verify, verify::plan(inputs)),
    ]
}

/// A Pending operation.
pub fn operation(name: impl Into<String>, action: OperationAction) -> Operation {
    Operation::pending(name, action)
}

/// What executing needs besides the stages.
pub struct Execution<'a> {
    /// The cluster, or why no client could be built for it (kubeconfig Secret missing): nothing can
    /// run then.
    pub cluster: Result<&'a dyn ObjectStore, String>,
    pub current: Option<&'a ProductRelease>,
    pub target: &'a ProductRelease,
    /// The Kubernetes version observed at the start of this reconcile.
    pub kubernetes: Option<KubeVersion>,
    pub driver: KubernetesDriver,
    /// `spec.paused`: finish running operations, start no new one.
    pub paused: bool,
    pub now: Timestamp,
    /// How long a module operation waits before its culprits are looked for (`--insight-after`).
    pub insight_after: SignedDuration,
    /// The Cluster API objects the ClusterAPI driver moves; `None` with the other drivers.
    pub cluster_api: Option<kubernetes::cluster_api::Target<'a>>,
}

/// What one attempt at an operation concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Done(String),
    /// Nothing to do: the cluster already has what the operation would make (an unchanged module).
    Skipped(String),
    Waiting(String),
    /// The operation cannot succeed as things are (rejected manifest, failed rollout).
    Failed(String),
    /// The cluster did not answer; nothing is known.
    NoAnswer(String),
}

impl Step {
    fn from_error(err: &ClusterError) -> Self {
        if err.is_unreachable() {
            Step::NoAnswer(err.to_string())
        } else {
            Step::Failed(err.to_string())
        }
    }
}

/// How the upgrade stands after advancing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advance {
    pub finished: bool,
    /// Why progress is blocked by an error (Degraded), if it is.
    pub blocked: Option<Blocked>,
    /// What the upgrade waits for now, for the progress message.
    pub waiting: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub reason: &'static str,
    pub message: String,
}

/// Advances the stages as far as they go now: the first unfinished stage by priority runs its
/// operations whose dependencies succeeded; a stage finishes when every operation is done, and the next
/// one starts in the same pass.
pub async fn advance(stages: &mut [Stage], exec: &Execution<'_>) -> Advance {
    let mut order: Vec<usize> = (0..stages.len()).collect();
    order.sort_by_key(|&i| (stages[i].priority, stages[i].name.clone()));
    let mut result = Advance::default();
    for index in order {
        let stage = &mut stages[index];
        if stage.phase == StagePhase::Finished {
            continue;
        }
        if stage.phase == StagePhase::Pending {
            if exec.paused {
                result.waiting = Some(format!("paused before stage {}", stage.name));
                return result;
            }
            stage.phase = StagePhase::Running;
        }
        advance_stage(stage, exec, &mut result).await;
        if stage.operations.iter().all(is_done) {
            stage.phase = StagePhase::Finished;
            continue;
        }
        return result;
    }
    result.finished = true;
    result
}

fn is_done(op: &Operation) -> bool {
    op.phase.as_ref().is_some_and(OperationPhase::is_done)
}

async fn advance_stage(stage: &mut Stage, exec: &Execution<'_>, result: &mut Advance) {
    let Some(which) = StandardStage::from_name(&stage.name) else {
        result.blocked = Some(Blocked {
            reason: "UnknownStage",
            message: format!("stage {} is not one this operator knows how to run", stage.name),
        });
        return;
    };
    // Repeat while operations finish, so dependants start in the same pass.
    loop {
        let done: BTreeSet<String> = stage
            .operations
            .iter()
            .filter(|o| is_done(o))
            .map(|o| o.name.clone())
            .collect();
        let mut progressed = false;
        for op in stage.operations.iter_mut() {
            if is_done(op) || !op.depends_on.iter().all(|d| done.contains(d)) {
                continue;
            }
            let phase = op.phase.clone().unwrap_or(OperationPhase::Pending);
            let starting = !matches!(phase, OperationPhase::Running | OperationPhase::Failed);
            if starting && exec.paused {
                result
                    .waiting
                    .get_or_insert_with(|| format!("paused before operation {}", op.name));
                continue;
            }
            if phase == OperationPhase::Failed
                && let Some(since) = &op.last_transition_time
                && exec.now.duration_since(since.0) < RETRY_AFTER
            {
                note_failed(op, result);
                continue;
            }
            let step = match &exec.cluster {
                Err(why) => Step::NoAnswer(why.clone()),
                Ok(cluster) => perform(which, op, *cluster, exec).await,
            };
            progressed |= record_step(op, step, exec.now, result);
        }
        if !progressed {
            return;
        }
    }
}

/// Writes the step into the operation; true when the operation finished.
fn record_step(op: &mut Operation, step: Step, now: Timestamp, result: &mut Advance) -> bool {
    let set_phase = |op: &mut Operation, phase: OperationPhase, message: String| {
        if op.phase.as_ref() != Some(&phase) {
            op.last_transition_time = Some(Time(now));
        }
        op.phase = Some(phase);
        op.message = Some(message);
    };
    if matches!(step, Step::Done(_) | Step::Skipped(_)) {
        // Culprits explain a wait or a failure; an operation that is done has none.
        op.insights.clear();
        op.insights_time = None;
    }
    match step {
        Step::Done(message) => {
            set_phase(op, OperationPhase::Succeeded, message);
            true
        }
        Step::Skipped(message) => {
            set_phase(op, OperationPhase::Skipped, message);
            true
        }
        Step::Waiting(message) => {
            result
                .waiting
                .get_or_insert_with(|| format!("{}: {message}", op.name));
            set_phase(op, OperationPhase::Running, message);
            false
        }
        Step::Failed(message) => {
            set_phase(op, OperationPhase::Failed, message);
            note_failed(op, result);
            false
        }
        Step::NoAnswer(message) => {
            // Keep the phase: nothing is known. Say why it is stuck.
            op.message = Some(format!("waiting for the cluster to answer: {message}"));
            result.blocked.get_or_insert(Blocked {
                reason: "ClusterUnreachable",
                message,
            });
            false
        }
    }
}

fn note_failed(op: &Operation, result: &mut Advance) {
    result.blocked.get_or_insert_with(|| Blocked {
        reason: "OperationFailed",
        message: format!(
            "operation {} failed: {}; retrying every {}s",
            op.name,
            op.message.as_deref().unwrap_or("no detail"),
            RETRY_AFTER.as_secs()
        ),
    });
}

async fn perform(
    which: StandardStage,
    op: &mut Operation,
    cluster: &dyn ObjectStore,
    exec: &Execution<'_>,
) -> Step {
    match which {
        StandardStage::Prepare => prepare::perform(op, cluster, exec).await,
        StandardStage::Kubernetes => kubernetes::perform(op, exec).await,
        StandardStage::Core | StandardStage::Aligned => modules::perform(op, cluster, exec).await,
        StandardStage::Verify => verify::perform(op, cluster, exec).await,
    }
}

/// Who an applied object belongs to: the module that declares it, in the target release.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub module: &'a str,
    pub release: &'a str,
    /// The module's manifest digest, written on each object (annotation
    /// `config.alauda.io/manifest-digest`); Prepare objects carry none.
    pub digest: Option<&'a str>,
}

/// How many objects a refusal names before it counts the rest.
const LISTED: usize = 5;

/// Applies `manifests` with `owner`'s labels and reports whether every object is ready. Nothing is
/// applied while any of them exists and is not acp-cvo's to overwrite.
pub async fn apply_and_wait(
    cluster: &dyn ObjectStore,
    manifests: &[&serde_json::Value],
    owner: Owner<'_>,
) -> Step {
    let mut applied = Vec::with_capacity(manifests.len());
    let mut foreign = Vec::new();
    for manifest in manifests {
        let (mut manifest, adopt) = ownership::labelled(manifest, owner.module, owner.release);
        if let Some(digest) = owner.digest {
            ownership::annotate(&mut manifest, annotations::MANIFEST_DIGEST, digest);
        }
        let key = match ObjectKey::of(&manifest) {
            Ok(key) => key,
            Err(err) => return Step::Failed(err),
        };
        let live = match cluster.fetch(&key).await {
            Ok(live) => live,
            Err(err) => return Step::from_error(&err),
        };
        match ownership::decide(live.as_ref(), adopt) {
            Ownership::Foreign(why) => foreign.push(format!("{key} ({why})")),
            Ownership::Adoptable => {
                tracing::info!(object = %key, module = owner.module, "adopting an object the bundle marks for adoption");
            }
            Ownership::Absent | Ownership::Owned => {}
        }
        applied.push(manifest);
    }
    if !foreign.is_empty() {
        return Step::Failed(format!(
            "module {} of release {} would take over {} that acp-cvo does not manage: {}; nothing was \
             applied. Delete or rename the object if it is left over, label it {}={} if acp-cvo should \
             manage it, or mark its manifest in the bundle with annotation {}: \"true\" to adopt it",
            owner.module,
            owner.release,
            if foreign.len() == 1 {
                "an object"
            } else {
                "objects"
            },
            listed(&foreign),
            labels::MANAGED_BY,
            names::FIELD_MANAGER,
            annotations::ADOPT,
        ));
    }
    for manifest in &applied {
        if let Err(err) = cluster.apply(manifest).await {
            return Step::from_error(&err);
        }
    }
    let applied: Vec<&serde_json::Value> = applied.iter().collect();
    objects_ready(cluster, &applied).await
}

/// The first few items, then how many more.
pub fn listed(items: &[String]) -> String {
    let mut text: Vec<String> = items.iter().take(LISTED).cloned().collect();
    if items.len() > LISTED {
        text.push(format!("and {} more", items.len() - LISTED));
    }
    text.join(", ")
}

/// Whether every object of `manifests` exists and is ready.
pub async fn objects_ready(cluster: &dyn ObjectStore, manifests: &[&serde_json::Value]) -> Step {
    let mut applied = Vec::new();
    for manifest in manifests {
        let key = match ObjectKey::of(manifest) {
            Ok(key) => key,
            Err(err) => return Step::Failed(err),
        };
        let live = match cluster.fetch(&key).await {
            Ok(Some(live)) => live,
            Ok(None) => return Step::Waiting(format!("{key} does not exist yet")),
            Err(err) => return Step::from_error(&err),
        };
        match readiness(&key, &live) {
            Readiness::Ready => applied.push(key.to_string()),
            Readiness::Waiting(why) => return Step::Waiting(why),
            Readiness::Failed(why) => return Step::Failed(why),
        }
    }
    Step::Done(match applied.as_slice() {
        [] => "nothing to apply".to_string(),
        [one] => format!("{one} applied and ready"),
        many => format!("{} objects applied and ready", many.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_policy::AcpVersion;

    fn catalogue() -> acp_policy::Catalogue {
        crate::releases::builtin::catalogue()
    }

    fn plan_for(current: &str, target: &str, kube: &str) -> Vec<Stage> {
        let catalogue = catalogue();
        let current: AcpVersion = current.parse().unwrap();
        let target: AcpVersion = target.parse().unwrap();
        plan(&PlanInputs {
            current: catalogue.release(&current),
            target: catalogue.release(&target).unwrap(),
            kubernetes: Some(kube.parse().unwrap()),
            driver: KubernetesDriver::External,
            kubernetes_patches: catalogue.kubernetes_patches(&target),
        })
    }

    fn names(stage: &Stage) -> Vec<&str> {
        stage.operations.iter().map(|o| o.name.as_str()).collect()
    }

    #[test]
    fn an_upgrade_plans_the_five_stages_in_order() {
        let stages = plan_for("4.2.3", "4.3.1", "v1.33.7");
        let stage_names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            stage_names,
            ["Prepare", "Kubernetes", "Core", "Aligned", "Verify"]
        );
        assert!(stages.windows(2).all(|w| w[0].priority < w[1].priority));
        assert_eq!(
            names(&stages[0]),
            [
                "Namespace/cpaas-system",
                "CustomResourceDefinition/platformcapabilities.release.alauda.io"
            ]
        );
        assert_eq!(names(&stages[1]), ["kubernetes-1.34"]);
        assert_eq!(
            names(&stages[2]),
            ["platform-api", "platform-auth", "platform-console"]
        );
        assert_eq!(names(&stages[3]), ["cluster-logging"]);
        assert_eq!(
            names(&stages[4]),
            ["kubernetes-version", "modules-available", "record-version"]
        );
        let console = &stages[2].operations[2];
        assert_eq!(console.depends_on, ["platform-api", "platform-auth"]);
        assert_eq!(console.action, OperationAction::Upgrade);
        assert_eq!(console.current_version.as_deref(), Some("4.2.3"));
        assert_eq!(console.target_version.as_deref(), Some("4.3.1"));
        assert!(
            stages
                .iter()
                .flat_map(|s| &s.operations)
                .all(|o| o.phase == Some(OperationPhase::Pending))
        );
    }

    #[test]
    fn a_cluster_already_on_the_target_minor_skips_the_kubernetes_hops() {
        let stages = plan_for("4.2.3", "4.3.1", "v1.34.1");
        let ops = &stages[1].operations;
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].phase, Some(OperationPhase::Skipped));
        assert!(
            ops[0].message.as_deref().unwrap().contains("already runs"),
            "{:?}",
            ops[0].message
        );
    }

    #[test]
    fn hops_go_one_minor_at_a_time() {
        let stages = plan_for("4.0.5", "4.3.1", "v1.31.4");
        assert_eq!(
            names(&stages[1]),
            ["kubernetes-1.32", "kubernetes-1.33", "kubernetes-1.34"]
        );
        assert_eq!(stages[1].operations[1].depends_on, ["kubernetes-1.32"]);
    }

    #[test]
    fn modules_new_in_the_target_are_installed() {
        let stages = plan_for("4.2.3", "4.3.1", "v1.34.1");
        let catalogue = catalogue();
        let stages_without_current = plan(&PlanInputs {
            current: None,
            target: catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap(),
            kubernetes: Some("v1.34.1".parse().unwrap()),
            driver: KubernetesDriver::External,
            kubernetes_patches: Vec::new(),
        });
        assert_eq!(stages[2].operations[0].action, OperationAction::Upgrade);
        assert_eq!(
            stages_without_current[2].operations[0].action,
            OperationAction::Install
        );
    }

    fn op(name: &str, phase: OperationPhase, deps: &[&str]) -> Operation {
        Operation {
            phase: Some(phase),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            ..operation(name, OperationAction::Upgrade)
        }
    }

    fn exec_without_cluster<'a>(target: &'a ProductRelease, paused: bool) -> Execution<'a> {
        Execution {
            cluster: Err("kubeconfig Secret cpaas-system/east-kubeconfig does not exist".into()),
            current: None,
            target,
            kubernetes: None,
            driver: KubernetesDriver::External,
            paused,
            now: Timestamp::from_second(1_800_000_000).unwrap(),
            insight_after: crate::cvsh::insights::DEFAULT_INSIGHT_AFTER,
            cluster_api: None,
        }
    }

    #[tokio::test]
    async fn finished_stages_are_skipped_and_a_missing_client_blocks_with_the_reason() {
        let catalogue = catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        let mut stages = vec![
            Stage {
                name: "Prepare".into(),
                priority: 10,
                phase: StagePhase::Finished,
                operations: vec![],
            },
            Stage {
                name: "Core".into(),
                priority: 30,
                phase: StagePhase::Running,
                operations: vec![
                    op("platform-api", OperationPhase::Succeeded, &[]),
                    op("platform-auth", OperationPhase::Pending, &["platform-api"]),
                ],
            },
        ];
        let before = stages.clone();
        let advance = advance(&mut stages, &exec_without_cluster(target, false)).await;
        assert!(!advance.finished);
        let blocked = advance.blocked.unwrap();
        assert_eq!(blocked.reason, "ClusterUnreachable");
        assert!(blocked.message.contains("east-kubeconfig"));
        // Nothing finished is touched, nothing pending is marked as started.
        assert_eq!(stages[0], before[0]);
        assert_eq!(stages[1].operations[0], before[1].operations[0]);
        assert_eq!(stages[1].operations[1].phase, Some(OperationPhase::Pending));
    }

    #[tokio::test]
    async fn a_paused_upgrade_starts_nothing_new() {
        let catalogue = catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        let mut stages = vec![Stage {
            name: "Core".into(),
            priority: 30,
            phase: StagePhase::Pending,
            operations: vec![op("platform-api", OperationPhase::Pending, &[])],
        }];
        let advance = advance(&mut stages, &exec_without_cluster(target, true)).await;
        assert!(advance.waiting.unwrap().contains("paused"));
        assert!(advance.blocked.is_none());
        assert_eq!(stages[0].phase, StagePhase::Pending);
    }

    #[tokio::test]
    async fn all_done_means_finished() {
        let catalogue = catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        let mut stages = vec![Stage {
            name: "Kubernetes".into(),
            priority: 20,
            phase: StagePhase::Running,
            operations: vec![op("kubernetes", OperationPhase::Skipped, &[])],
        }];
        let advance = advance(&mut stages, &exec_without_cluster(target, false)).await;
        assert!(advance.finished);
        assert_eq!(stages[0].phase, StagePhase::Finished);
    }

    #[test]
    fn a_failure_records_when_it_happened_and_blocks() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut op = op("platform-api", OperationPhase::Running, &[]);
        let mut result = Advance::default();
        record_step(
            &mut op,
            Step::Failed("Deployment is invalid: spec.replicas".into()),
            now,
            &mut result,
        );
        assert_eq!(op.phase, Some(OperationPhase::Failed));
        assert_eq!(op.last_transition_time, Some(Time(now)));
        assert!(result.blocked.unwrap().message.contains("spec.replicas"));
    }
}
