//! Prepare: the namespaces and CRDs of the release, applied before anything that needs them.

use acp_api::cvsh::{Operation, OperationAction};
use acp_policy::ProductRelease;
use serde_json::Value;

use super::{Execution, Owner, PlanInputs, Step, apply_and_wait, operation};
use crate::clusters::objects::{ObjectKey, ObjectStore};

/// Kinds applied in Prepare rather than with their module.
pub const KINDS: [&str; 2] = ["Namespace", "CustomResourceDefinition"];

pub fn is_prepare_kind(manifest: &Value) -> bool {
    manifest
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| KINDS.contains(&k))
}

/// A Prepare object: its operation name (`Kind/name`), the first module declaring it, its manifest.
pub struct PrepareObject<'a> {
    pub name: String,
    pub module: &'a str,
    pub manifest: &'a Value,
}

/// The release's Prepare objects, without duplicates.
pub fn objects(release: &ProductRelease) -> Vec<PrepareObject<'_>> {
    let mut objects: Vec<PrepareObject<'_>> = Vec::new();
    for module in &release.modules {
        for manifest in module.manifests.iter().filter(|m| is_prepare_kind(m)) {
            let Ok(key) = ObjectKey::of(manifest) else {
                continue;
            };
            let name = format!("{}/{}", key.kind, key.name);
            if !objects.iter().any(|o| o.name == name) {
                objects.push(PrepareObject {
                    name,
                    module: &module.name,
                    manifest,
                });
            }
        }
    }
    objects
}

pub fn plan(inputs: &PlanInputs<'_>) -> Vec<Operation> {
    let existing: Vec<String> = inputs
        .current
        .map(|c| objects(c).into_iter().map(|o| o.name).collect())
        .unwrap_or_default();
    objects(inputs.target)
        .into_iter()
        .map(|PrepareObject { name, .. }| {
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

pub async fn perform(op: &Operation, cluster: &dyn ObjectStore, exec: &Execution<'_>) -> Step {
    let objects = objects(exec.target);
    let Some(object) = objects.iter().find(|o| o.name == op.name) else {
        return Step::Failed(format!(
            "release {} has no object {}",
            exec.target.version, op.name
        ));
    };
    let release = exec.target.version.to_string();
    let owner = Owner {
        module: object.module,
        release: &release,
        digest: None,
    };
    apply_and_wait(cluster, &[object.manifest], owner).await
}
