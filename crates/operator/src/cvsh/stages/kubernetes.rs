//! Kubernetes: one operation per control-plane minor hop. The External driver does not upgrade
//! Kubernetes itself; it waits until the cluster reports each hop's version.

use acp_api::cvsh::{KubernetesDriver, Operation, OperationAction, OperationPhase};
use acp_policy::{KubeMinor, kubernetes_hops};

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
    let hops = match inputs.kubernetes {
        Some(observed) => {
            let hops = kubernetes_hops(observed.minor_line(), target);
            if hops.is_empty() {
                return skipped(format!(
                    "the cluster already runs {observed}, the Kubernetes minor of ACP {}",
                    inputs.target.version
                ));
            }
            hops
        }
        None => vec![target],
    };
    let mut previous: Option<KubeMinor> = inputs.kubernetes.map(|k| k.minor_line());
    hops.iter()
        .map(|hop| {
            let last = *hop == target;
            let op = Operation {
                current_version: previous.map(|p| p.to_string()),
                target_version: Some(match (last, inputs.target.kubernetes.version) {
                    (true, Some(version)) => version.to_string(),
                    _ => hop.to_string(),
                }),
                depends_on: previous
                    .filter(|p| hops.contains(p))
                    .map(|p| format!("{PREFIX}{p}"))
                    .into_iter()
                    .collect(),
                ..operation(format!("{PREFIX}{hop}"), OperationAction::Upgrade)
            };
            previous = Some(*hop);
            op
        })
        .collect()
}

/// The minor a hop operation waits for.
fn hop_of(op: &Operation) -> Option<KubeMinor> {
    op.name.strip_prefix(PREFIX)?.parse().ok()
}

pub fn perform(op: &Operation, exec: &Execution<'_>) -> Step {
    let Some(hop) = hop_of(op) else {
        return Step::Failed(format!("operation {} names no Kubernetes minor", op.name));
    };
    let Some(observed) = exec.kubernetes else {
        return Step::NoAnswer("the cluster's Kubernetes version is not known".into());
    };
    if observed.minor_line() >= hop {
        return Step::Done(format!("the cluster reports Kubernetes {observed}"));
    }
    Step::Waiting(match exec.driver {
        KubernetesDriver::ClusterAPI => format!(
            "the cluster reports {observed}; the ClusterAPI driver does not drive Cluster.spec.topology.version yet: \
             move it to {hop} and this operation continues"
        ),
        _ => format!(
            "waiting for the cluster to report Kubernetes {hop} (it reports {observed}): upgrade its control plane \
             to {hop}; the External driver only waits"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_policy::AcpVersion;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn a_hop_succeeds_once_the_cluster_reports_its_minor() {
        let catalogue = crate::releases::builtin::catalogue();
        let target = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        let exec = |kube: &str| Execution {
            cluster: Err("no client".into()),
            current: None,
            target,
            kubernetes: Some(kube.parse().unwrap()),
            driver: KubernetesDriver::External,
            paused: false,
            now: Timestamp::UNIX_EPOCH,
        };
        let op = operation("kubernetes-1.34", OperationAction::Upgrade);
        match perform(&op, &exec("v1.33.7")) {
            Step::Waiting(message) => {
                assert!(message.contains("upgrade its control plane to 1.34"), "{message}")
            }
            other => panic!("expected to wait, got {other:?}"),
        }
        assert!(matches!(perform(&op, &exec("v1.34.0")), Step::Done(_)));
        assert!(matches!(perform(&op, &exec("v1.35.0")), Step::Done(_)));
    }
}
