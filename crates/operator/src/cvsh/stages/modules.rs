//! Core and Aligned: each module's manifests applied to the target cluster by server-side apply, in the
//! order its dependsOn gives, each waited on until rolled out.

use acp_api::cvsh::{Operation, OperationAction};
use acp_policy::{Lifecycle, Module};
use serde_json::Value;

use super::prepare::is_prepare_kind;
use super::{Execution, Owner, PlanInputs, Step, apply_and_wait, listed, operation};
use crate::clusters::objects::{ObjectKey, ObjectStore};
use crate::clusters::ownership::{self, Removal};

pub fn plan(inputs: &PlanInputs<'_>, lifecycle: Lifecycle) -> Vec<Operation> {
    let target: Vec<&Module> = inputs
        .target
        .modules
        .iter()
        .filter(|m| m.lifecycle == lifecycle)
        .collect();
    let current: Vec<&Module> = inputs
        .current
        .map(|c| c.modules.iter().filter(|m| m.lifecycle == lifecycle).collect())
        .unwrap_or_default();
    let names: Vec<&str> = target.iter().map(|m| m.name.as_str()).collect();
    let mut operations: Vec<Operation> = target
        .iter()
        .map(|module| {
            let before = current.iter().find(|m| m.name == module.name);
            let action = if before.is_some() {
                OperationAction::Upgrade
            } else {
                OperationAction::Install
            };
            Operation {
                current_version: before.map(|m| m.version.clone()),
                target_version: Some(module.version.clone()),
                // Dependencies on modules of other stages are met by stage order.
                depends_on: module
                    .depends_on
                    .iter()
                    .filter(|d| names.contains(&d.as_str()))
                    .cloned()
                    .collect(),
                module_info: Some(module.name.clone()),
                ..operation(&module.name, action)
            }
        })
        .collect();
    operations.extend(
        current
            .iter()
            .filter(|m| !names.contains(&m.name.as_str()))
            .map(|module| Operation {
                current_version: Some(module.version.clone()),
                module_info: Some(module.name.clone()),
                ..operation(&module.name, OperationAction::Delete)
            }),
    );
    operations
}

/// The module's own objects (namespaces and CRDs belong to Prepare).
fn workload_manifests(module: &Module) -> Vec<&Value> {
    module.manifests.iter().filter(|m| !is_prepare_kind(m)).collect()
}

pub async fn perform(op: &Operation, cluster: &dyn ObjectStore, exec: &Execution<'_>) -> Step {
    let name = op.module_info.as_deref().unwrap_or(&op.name);
    if op.action == OperationAction::Delete {
        let Some(module) = exec
            .current
            .and_then(|c| c.modules.iter().find(|m| m.name == name))
        else {
            return Step::Done(format!(
                "module {name} is not part of the current release; nothing to delete"
            ));
        };
        return delete(cluster, name, &workload_manifests(module)).await;
    }
    let Some(module) = exec.target.modules.iter().find(|m| m.name == name) else {
        return Step::Failed(format!("release {} has no module {name}", exec.target.version));
    };
    let release = exec.target.version.to_string();
    let owner = Owner {
        module: &module.name,
        release: &release,
    };
    apply_and_wait(cluster, &workload_manifests(module), owner).await
}

/// Deletes the objects of a dropped module that acp-cvo manages for it; others stay, and the
/// operation's message names them.
async fn delete(cluster: &dyn ObjectStore, module: &str, manifests: &[&Value]) -> Step {
    let mut remaining = Vec::new();
    let mut kept = Vec::new();
    for manifest in manifests {
        let Ok(key) = ObjectKey::of(manifest) else {
            continue;
        };
        match cluster.fetch(&key).await {
            Ok(None) => {}
            Ok(Some(live)) => match ownership::removal(&live, module) {
                Removal::Delete => {
                    if let Err(err) = cluster.delete(&key).await {
                        return Step::from_error(&err);
                    }
                    remaining.push(key.to_string());
                }
                Removal::Keep(why) => kept.push(format!("{key} ({why})")),
            },
            Err(err) => return Step::from_error(&err),
        }
    }
    if !remaining.is_empty() {
        return Step::Waiting(format!("deleting {}", remaining.join(", ")));
    }
    if kept.is_empty() {
        Step::Done(format!("module {module} removed"))
    } else {
        Step::Done(format!(
            "module {module} removed; left in place, because acp-cvo does not manage them for this \
             module: {}",
            listed(&kept)
        ))
    }
}
