//! Verify: the cluster runs the target's Kubernetes minor and every module of the target is rolled out;
//! then the new version is recorded in the cluster (ConfigMap `cpaas-system/acp-version`).

use acp_api::cvsh::{KubernetesDriver, Operation, OperationAction, OperationPhase};
use acp_api::{acp_version, names};
use acp_policy::AcpVersion;
use serde_json::Value;

use super::prepare::is_prepare_kind;
use super::{Execution, PlanInputs, Step, objects_ready, operation};
use crate::clusters::objects::ObjectStore;

pub const KUBERNETES_VERSION: &str = "kubernetes-version";
pub const MODULES_AVAILABLE: &str = "modules-available";
pub const RECORD_VERSION: &str = "record-version";

pub fn plan(inputs: &PlanInputs<'_>) -> Vec<Operation> {
    let target = inputs.target.version.to_string();
    let mut kubernetes = operation(KUBERNETES_VERSION, OperationAction::Upgrade);
    kubernetes.target_version = inputs.target.kubernetes.target_minor().map(|m| m.to_string());
    if inputs.driver == KubernetesDriver::None || kubernetes.target_version.is_none() {
        kubernetes.phase = Some(OperationPhase::Skipped);
        kubernetes.message = Some("the platform does not manage this cluster's Kubernetes".into());
    }
    let mut modules = operation(MODULES_AVAILABLE, OperationAction::Upgrade);
    modules.target_version = Some(target.clone());
    let mut record = operation(RECORD_VERSION, OperationAction::Upgrade);
    record.current_version = inputs.current.map(|c| c.version.to_string());
    record.target_version = Some(target);
    record.depends_on = vec![KUBERNETES_VERSION.into(), MODULES_AVAILABLE.into()];
    vec![kubernetes, modules, record]
}

pub async fn perform(op: &Operation, cluster: &dyn ObjectStore, exec: &Execution<'_>) -> Step {
    match op.name.as_str() {
        KUBERNETES_VERSION => {
            let Some(target) = exec.target.kubernetes.target_minor() else {
                return Step::Done("the release names no Kubernetes version".into());
            };
            match exec.kubernetes {
                Some(observed) if observed.minor_line() >= target => {
                    Step::Done(format!("the cluster runs Kubernetes {observed}"))
                }
                Some(observed) => Step::Waiting(format!("the cluster reports {observed}, not yet {target}")),
                None => Step::NoAnswer("the cluster's Kubernetes version is not known".into()),
            }
        }
        MODULES_AVAILABLE => {
            let manifests: Vec<&Value> = exec
                .target
                .modules
                .iter()
                .flat_map(|m| &m.manifests)
                .filter(|m| !is_prepare_kind(m))
                .collect();
            match objects_ready(cluster, &manifests).await {
                Step::Done(_) => Step::Done(format!(
                    "all {} module(s) rolled out and available",
                    exec.target.modules.len()
                )),
                other => other,
            }
        }
        RECORD_VERSION => record_version(cluster, &exec.target.version).await,
        other => Step::Failed(format!("Verify has no operation {other}")),
    }
}

/// Writes the platform version into the cluster, where `observe` and `ac` read it back.
pub async fn record_version(cluster: &dyn ObjectStore, version: &AcpVersion) -> Step {
    let manifests = [
        serde_json::to_value(acp_version::namespace()),
        serde_json::to_value(acp_version::config_map(version)),
    ];
    for manifest in manifests {
        let manifest = match manifest {
            Ok(manifest) => manifest,
            Err(err) => return Step::Failed(format!("cannot write the version record: {err}")),
        };
        if let Err(err) = cluster.apply(&manifest).await {
            return Step::from_error(&err);
        }
    }
    Step::Done(format!(
        "recorded {version} in ConfigMap {}/{}",
        names::NAMESPACE,
        names::acp_version_config_map::NAME
    ))
}
