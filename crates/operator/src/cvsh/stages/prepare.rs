//! Prepare: the namespaces and CRDs of the release, applied before anything that needs them.

use acp_api::cvsh::{Operation, OperationAction};
use acp_policy::ProductRelease;
use serde_json::Value;

use super::{Execution, PlanInputs, Step, apply_and_wait, operation};
use crate::clusters::Cluster;
use crate::clusters::objects::ObjectKey;

/// Kinds applied in Prepare rather than with their module.
pub const KINDS: [&str; 2] = ["Namespace", "CustomResourceDefinition"];

pub fn is_prepare_kind(manifest: &Value) -> bool {
    manifest
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| KINDS.contains(&k))
}

/// The release's Prepare objects by operation name (`Kind/name`), without duplicates.
pub fn objects(release: &ProductRelease) -> Vec<(String, &Value)> {
    let mut objects: Vec<(String, &Value)> = Vec::new();
    for manifest in release
        .modules
        .iter()
        .flat_map(|m| &m.manifests)
        .filter(|m| is_prepare_kind(m))
    {
        let Ok(key) = ObjectKey::of(manifest) else {
            continue;
        };
        let name = format!("{}/{}", key.kind, key.name);
        if !objects.iter().any(|(n, _)| *n == name) {
            objects.push((name, manifest));
        }
    }
    objects
}

pub fn plan(inputs: &PlanInputs<'_>) -> Vec<Operation> {
    let existing: Vec<String> = inputs
        .current
        .map(|c| objects(c).into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default();
    objects(inputs.target)
        .into_iter()
        .map(|(name, _)| {
            let action = if existing.contains(&name) {
                OperationAction::Upgrade
            } else {
                OperationAction::Install
            };
            Operation {
                current_version: inputs
                    .current
                    .filter(|_| action == OperationAction::Upgrade)
                    .map(|c| c.version.to_string()),
                target_version: Some(inputs.target.version.to_string()),
                ..operation(name, action)
            }
        })
        .collect()
}

pub async fn perform(op: &Operation, cluster: &Cluster, exec: &Execution<'_>) -> Step {
    let objects = objects(exec.target);
    let Some((_, manifest)) = objects.iter().find(|(name, _)| *name == op.name) else {
        return Step::Failed(format!(
            "release {} has no object {}",
            exec.target.version, op.name
        ));
    };
    apply_and_wait(cluster, &[manifest]).await
}
