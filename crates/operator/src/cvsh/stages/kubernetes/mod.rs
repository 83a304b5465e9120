//! Kubernetes: one operation per hop, each ending on the release data's Kubernetes patch of its minor
//! (the target's exact version on the last one); a patch-only change is a hop too. The plan is the
//! same for every driver; the driver decides how a hop is performed:
//!
//! - External: someone else upgrades Kubernetes; the hop waits until the cluster reports its version.
//! - ClusterAPI ([`cluster_api`]): moves the Cluster API objects of the cluster, one hop at a time.
//! - None: the stage is skipped.

pub mod cluster_api;

use acp_api::cvsh::{KubernetesDriver, Operation, OperationAction, OperationPhase};
use acp_policy::{AcpVersion, Catalogue, KubeHop, KubeMinor, KubeVersion, kubernetes_hop_plan};

use super::{Execution, PlanInputs, Step, operation};

const PREFIX: &str = "kubernetes-";

pub fn plan(inputs: &PlanInputs<'_>) -> Vec<Operation> {
    let skipped = |message: String| {
        vec![Operation {
            phase: Some(OperationPhase::Skipped),
            message: Some(message),
            ..operation("kubernetes", OperationAction::Upgrade)
        }]
    };
    if inputs.driver == KubernetesDriver::None {
        return skipped("the platform does not manage this cluster's Kubernetes (driver None)".into());
    }
    let Some(target) = inputs.target.kubernetes.target_minor() else {
        return skipped(format!(
            "ACP {} names no Kubernetes version",
            inputs.target.version
        ));
    };
    let exact = inputs.target.kubernetes.version;
    let hops = kubernetes_hop_plan(inputs.kubernetes, target, exact, &inputs.kubernetes_patches);
    if hops.is_empty() {
        let observed = inputs
            .kubernetes
            .map_or_else(|| "an unknown version".to_string(), |k| k.to_string());
        return skipped(format!(
            "the cluster already runs {observed}, the Kubernetes {} of ACP {}",
            exact.map_or_else(|| format!("minor {target}"), |e| format!("version {e}")),
            inputs.target.version
        ));
    }
    let mut previous: Option<String> = inputs.kubernetes.map(|k| k.to_string());
    let mut previous_op: Option<String> = None;
    hops.iter()
        .map(|hop| {
            let name = format!("{PREFIX}{}", hop.minor);
            let op = Operation {
                current_version: previous.clone(),
                target_version: Some(hop.to_string()),
                depends_on: previous_op.iter().cloned().collect(),
                ..operation(name.clone(), OperationAction::Upgrade)
            };
            previous = Some(hop.to_string());
            previous_op = Some(name);
            op
        })
        .collect()
}

/// The Kubernetes patches a hop to `target` may end on: those of the releases up to `target` that the
/// operator knows (imported ones) and of the built-in release data (which knows every published patch,
/// e.g. 4.3.0's v1.34.5 when only 4.3.1 was imported).
pub fn patches(catalogue: &Catalogue, target: &AcpVersion) -> Vec<KubeVersion> {
    let mut patches = catalogue.kubernetes_patches(target);
    patches.extend(Catalogue::builtin().kubernetes_patches(target));
    patches.sort();
    patches.dedup();
    patches
}

/// The hop an operation performs: its minor from the name, its version from `targetVersion` (an exact
/// patch, or only the minor when the release data names none).
pub fn hop_of(op: &Operation) -> Option<KubeHop> {
    let minor: KubeMinor = op.name.strip_prefix(PREFIX)?.parse().ok()?;
    let version = op
        .target_version
        .as_deref()
        .and_then(|t| t.parse::<KubeVersion>().ok())
        .filter(|v| v.minor_line() == minor);
    Some(KubeHop { minor, version })
}

pub async fn perform(op: &mut Operation, exec: &Execution<'_>) -> Step {
    let Some(hop) = hop_of(op) else {
        return Step::Failed(format!("operation {} names no Kubernetes minor", op.name));
    };
    if exec.driver == KubernetesDriver::ClusterAPI {
        return cluster_api::perform(op, hop, exec).await;
    }
    let Some(observed) = exec.kubernetes else {
        return Step::NoAnswer("the cluster's Kubernetes version is not known".into());
    };
    if hop.reached_by(observed) {
        return Step::Done(format!("the cluster reports Kubernetes {observed}"));
    }
    Step::Waiting(format!(
        "waiting for the cluster to report Kubernetes {hop} (it reports {observed}): upgrade its control plane \
         to {hop}; the External driver only waits"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn plan_for(current: &str, target: &str, kube: &str) -> Vec<Operation> {
        let catalogue = crate::releases::builtin::catalogue();
        let target: AcpVersion = target.parse().unwrap();
        plan(&PlanInputs {
            current: catalogue.release(&current.parse().unwrap()),
            target: catalogue.release(&target).unwrap(),
            kubernetes: Some(kube.parse().unwrap()),
            driver: KubernetesDriver::External,
            kubernetes_patches: catalogue.kubernetes_patches(&target),
        })
    }

    fn versions(ops: &[Operation]) -> Vec<(&str, &str, &str)> {
        ops.iter()
            .map(|o| {
                (
                    o.name.as_str(),
                    o.current_version.as_deref().unwrap_or("-"),
                    o.target_version.as_deref().unwrap_or("-"),
                )
            })
            .collect()
    }

    #[test]
    fn hops_end_on_the_release_patches_and_chain() {
        let ops = plan_for("4.1.3", "4.3.1", "v1.32.7");
        assert_eq!(
            versions(&ops),
            [
                ("kubernetes-1.33", "v1.32.7", "v1.33.7"),
                ("kubernetes-1.34", "v1.33.7", "v1.34.5"),
            ]
        );
        assert_eq!(ops[1].depends_on, ["kubernetes-1.33"]);
        // 4.3.1 records no patch of its own: its last hop ends on 4.3.0's v1.34.5, as a 4.3.0 target's does.
        let ops = plan_for("4.1.3", "4.3.0", "v1.32.7");
        assert_eq!(
            versions(&ops),
            [
                ("kubernetes-1.33", "v1.32.7", "v1.33.7"),
                ("kubernetes-1.34", "v1.33.7", "v1.34.5"),
            ]
        );
    }

    #[test]
    fn a_patch_release_is_a_hop() {
        let ops = plan_for("4.1.3", "4.1.5", "v1.32.7");
        assert_eq!(versions(&ops), [("kubernetes-1.32", "v1.32.7", "v1.32.11")]);
        let done = plan_for("4.1.3", "4.1.5", "v1.32.11");
        assert_eq!(done[0].phase, Some(OperationPhase::Skipped));
    }

    #[test]
    fn hops_use_the_built_in_patches_when_only_the_target_was_imported() {
        let mut imported = Catalogue::default();
        let target = AcpVersion::new(4, 3, 1);
        imported
            .insert(
                crate::releases::builtin::catalogue()
                    .release(&target)
                    .unwrap()
                    .clone(),
            )
            .unwrap();
        assert!(patches(&imported, &target).contains(&"v1.34.5".parse().unwrap()));
        assert!(!patches(&imported, &AcpVersion::new(4, 2, 5)).contains(&"v1.34.5".parse().unwrap()));
    }

    fn exec<'a>(target: &'a acp_policy::ProductRelease, kube: &str) -> Execution<'a> {
        Execution {
            cluster: Err("no client".into()),
            current: None,
            target,
            kubernetes: Some(kube.parse().unwrap()),
            driver: KubernetesDriver::External,
            paused: false,
            now: Timestamp::UNIX_EPOCH,
            insight_after: crate::cvsh::insights::DEFAULT_INSIGHT_AFTER,
            cluster_api: None,
        }
    }

    #[tokio::test]
    async fn the_external_driver_waits_for_the_exact_patch() {
        let catalogue = crate::releases::builtin::catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 1, 5)).unwrap();
        let mut op = Operation {
            target_version: Some("v1.32.11".into()),
            ..operation("kubernetes-1.32", OperationAction::Upgrade)
        };
        match perform(&mut op, &exec(target, "v1.32.7")).await {
            Step::Waiting(message) => {
                assert!(message.contains("report Kubernetes v1.32.11"), "{message}")
            }
            other => panic!("expected to wait, got {other:?}"),
        }
        assert!(matches!(
            perform(&mut op, &exec(target, "v1.32.11")).await,
            Step::Done(_)
        ));
    }

    #[tokio::test]
    async fn a_hop_planned_by_minor_succeeds_on_any_patch_of_it() {
        let catalogue = crate::releases::builtin::catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        let mut op = Operation {
            target_version: Some("1.34".into()),
            ..operation("kubernetes-1.34", OperationAction::Upgrade)
        };
        match perform(&mut op, &exec(target, "v1.33.7")).await {
            Step::Waiting(message) => {
                assert!(message.contains("upgrade its control plane to 1.34"), "{message}")
            }
            other => panic!("expected to wait, got {other:?}"),
        }
        assert!(matches!(
            perform(&mut op, &exec(target, "v1.34.0")).await,
            Step::Done(_)
        ));
        assert!(matches!(
            perform(&mut op, &exec(target, "v1.35.0")).await,
            Step::Done(_)
        ));
    }
}
