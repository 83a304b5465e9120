//! Core and Aligned: each module's manifests applied to the target cluster by server-side apply, in the
//! order its dependsOn gives, each waited on until rolled out.
//!
//! Only what changed is applied. Before a module operation acts, it reads what the cluster has of the
//! module (objects acp-cvo manages for it, the release and manifest digest they carry) and decides
//! ([`decide`]): a module whose version and manifests are the same in the current and target release,
//! and whose objects are all there, is Skipped and nothing restarts; a module the cluster lacks is
//! installed even when the current release lists it; objects that already carry the target's digest
//! (an earlier attempt applied them before the operator stopped) are only waited on, never applied again.

use acp_api::cvsh::{Operation, OperationAction};
use acp_api::k8s::Time;
use acp_api::names::{annotations, labels};
use acp_policy::{Lifecycle, Module};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::prepare::is_prepare_kind;
use super::{Execution, Owner, PlanInputs, Step, apply_and_wait, listed, objects_ready, operation};
use crate::clusters::ClusterError;
use crate::clusters::objects::{ObjectKey, ObjectStore};
use crate::clusters::ownership::{self, Removal};
use crate::cvsh::insights;

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
                manifest_digest: Some(digest(module)),
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

/// `sha256:` digest of a module's own manifests as its release has them (keys in a fixed order), so two
/// releases with the same manifests give the same digest.
pub fn digest(module: &Module) -> String {
    let mut hasher = Sha256::new();
    for manifest in workload_manifests(module) {
        hasher.update(manifest.to_string().as_bytes());
        hasher.update(b"\n");
    }
    let hash = hasher.finalize();
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A module as one release has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release<'a> {
    /// The release's version, e.g. `4.3.0`.
    pub release: &'a str,
    /// The module's version in it.
    pub version: &'a str,
    /// [`digest`] of its manifests.
    pub digest: &'a str,
}

/// What the cluster has of a module's objects (those its manifests name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// Objects that exist and acp-cvo manages for this module.
    pub owned: usize,
    /// Objects that are missing, or that acp-cvo does not manage for this module.
    pub missing: usize,
    /// The release that last applied the owned objects (their release-version label), when they agree.
    pub release: Option<String>,
    /// The manifest digest the owned objects carry, when every one carries the same.
    pub digest: Option<String>,
}

/// What a module operation does, given the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do; the text says why.
    Skip(String),
    /// Apply the target's manifests, as an Install or an Upgrade.
    Apply(OperationAction),
    /// The objects already carry the target's manifests: wait for them, apply nothing.
    Wait,
}

/// Decides a module operation of the target release from the module in the `current` release (None:
/// not part of it) and what the cluster has of the target's objects. A module the target drops is
/// always deleted: [`delete`] removes what acp-cvo manages and names what it leaves.
pub fn decide(
    module: &str,
    target: Release<'_>,
    current: Option<Release<'_>>,
    installed: &Installed,
) -> Decision {
    if installed.owned == 0 {
        return Decision::Apply(OperationAction::Install);
    }
    let complete = installed.missing == 0;
    if complete && installed.digest.as_deref() == Some(target.digest) {
        let unchanged = current.is_some_and(|c| c.version == target.version && c.digest == target.digest);
        if !unchanged {
            return Decision::Wait;
        }
    }
    match current {
        Some(current)
            if complete
                && current.version == target.version
                && current.digest == target.digest
                && installed.digest.as_deref().is_none_or(|d| d == target.digest) =>
        {
            let since = installed.release.as_deref().unwrap_or(current.release);
            Decision::Skip(format!(
                "unchanged since {since}: module {module} {} has the same manifests ({}) in {}; \
                 nothing applied, nothing restarted",
                target.version,
                short(target.digest),
                target.release,
            ))
        }
        _ => Decision::Apply(OperationAction::Upgrade),
    }
}

/// The first 12 hex digits of a digest, as messages show it.
fn short(digest: &str) -> &str {
    let end = digest.find(':').map_or(0, |i| i + 1) + 12;
    digest.get(..end).unwrap_or(digest)
}

/// Reads what the cluster has of the objects `manifests` name, for `module`.
pub async fn installed(
    cluster: &dyn ObjectStore,
    module: &str,
    manifests: &[&Value],
) -> Result<Installed, ClusterError> {
    let mut found = Installed::default();
    let mut releases = Vec::new();
    let mut digests = Vec::new();
    for manifest in manifests {
        let Ok(key) = ObjectKey::of(manifest) else {
            found.missing += 1;
            continue;
        };
        match cluster.fetch(&key).await? {
            Some(live) if ownership::removal(&live, module) == Removal::Delete => {
                found.owned += 1;
                let text = |pointer: String| live.pointer(&pointer).and_then(Value::as_str).map(String::from);
                releases.push(text(format!(
                    "/metadata/labels/{}",
                    escape(labels::RELEASE_VERSION)
                )));
                digests.push(text(format!(
                    "/metadata/annotations/{}",
                    escape(annotations::MANIFEST_DIGEST)
                )));
            }
            _ => found.missing += 1,
        }
    }
    found.release = agreed(releases);
    found.digest = agreed(digests);
    Ok(found)
}

/// The value every entry has, if they all have the same one.
fn agreed(values: Vec<Option<String>>) -> Option<String> {
    let first = values.first()?.clone()?;
    values
        .iter()
        .all(|v| v.as_deref() == Some(&first))
        .then_some(first)
}

/// A key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

pub async fn perform(op: &mut Operation, cluster: &dyn ObjectStore, exec: &Execution<'_>) -> Step {
    let name = op.module_info.clone().unwrap_or_else(|| op.name.clone());
    let target = exec.target.modules.iter().find(|m| m.name == name);
    let current = exec
        .current
        .and_then(|c| c.modules.iter().find(|m| m.name == name));
    let deleting = op.action == OperationAction::Delete;
    if deleting {
        let Some(module) = current else {
            return Step::Done(format!(
                "module {name} is not part of the current release; nothing to delete"
            ));
        };
        return delete(cluster, &name, &workload_manifests(module)).await;
    }
    let Some(target) = target else {
        return Step::Failed(format!("release {} has no module {name}", exec.target.version));
    };
    let manifests = workload_manifests(target);
    let installed = match installed(cluster, &name, &manifests).await {
        Ok(installed) => installed,
        Err(err) => return Step::from_error(&err),
    };
    let target_release = exec.target.version.to_string();
    let current_release = exec.current.map(|c| c.version.to_string()).unwrap_or_default();
    let target_digest = digest(target);
    let current_digest = current.map(digest);
    let target_view = Release {
        release: &target_release,
        version: &target.version,
        digest: &target_digest,
    };
    let current_view = current
        .zip(current_digest.as_deref())
        .map(|(module, digest)| Release {
            release: &current_release,
            version: &module.version,
            digest,
        });
    let step = match decide(&name, target_view, current_view, &installed) {
        Decision::Skip(message) => return Step::Skipped(message),
        Decision::Wait => objects_ready(cluster, &manifests).await,
        Decision::Apply(action) => {
            op.action = action;
            let owner = Owner {
                module: &name,
                release: &target_release,
                digest: Some(&target_digest),
            };
            apply_and_wait(cluster, &manifests, owner).await
        }
    };
    explain(op, step, cluster, &manifests, exec).await
}

/// A wait that has lasted `exec.insight_after`, or a rollout that failed, names its culprits: in the
/// operation's insights (looked for at most every [`insights::REFRESH`]), and the first of them in its
/// message. A look the cluster cannot answer keeps the last culprits found.
async fn explain(
    op: &mut Operation,
    step: Step,
    cluster: &dyn ObjectStore,
    manifests: &[&Value],
    exec: &Execution<'_>,
) -> Step {
    let (message, failed) = match step {
        Step::Waiting(message) => (message, false),
        Step::Failed(message) => (message, true),
        other => return other,
    };
    if insights::look_now(op, failed, exec.now, exec.insight_after) {
        match insights::gather(cluster, manifests).await {
            Ok(facts) => {
                op.insights = insights::diagnose(&facts);
                op.insights_time = Some(Time(exec.now));
            }
            Err(err) => {
                tracing::debug!(operation = %op.name, error = %err, "cannot look for the culprits of a wait");
            }
        }
    }
    let message = insights::with_culprit(op, message);
    if failed {
        Step::Failed(message)
    } else {
        Step::Waiting(message)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "sha256:1111111111111111";
    const NEW: &str = "sha256:2222222222222222";

    fn at(release: &'static str, version: &'static str, digest: &'static str) -> Release<'static> {
        Release {
            release,
            version,
            digest,
        }
    }

    fn cluster(owned: usize, missing: usize, release: Option<&str>, digest: Option<&str>) -> Installed {
        Installed {
            owned,
            missing,
            release: release.map(String::from),
            digest: digest.map(String::from),
        }
    }

    #[test]
    fn a_module_is_decided_from_both_releases_and_what_the_cluster_has() {
        let skip = |text: &str| Decision::Skip(text.to_string());
        let unchanged = "unchanged since 4.3.0: module logging 1.0 has the same manifests (sha256:111111111111) \
                         in 4.3.1; nothing applied, nothing restarted";
        let table = [
            (
                "same version and manifests, every object there: skipped",
                at("4.3.1", "1.0", OLD),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.0"), Some(OLD)),
                skip(unchanged),
            ),
            (
                "objects applied before digests were recorded: skipped",
                at("4.3.1", "1.0", OLD),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.0"), None),
                skip(unchanged),
            ),
            (
                "unchanged, but an object is missing: applied again",
                at("4.3.1", "1.0", OLD),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(1, 1, Some("4.3.0"), Some(OLD)),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "unchanged in the releases, but the cluster carries other manifests: applied",
                at("4.3.1", "1.0", OLD),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.2.0"), Some(NEW)),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "same version, other manifests: upgraded",
                at("4.3.1", "1.0", NEW),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.0"), Some(OLD)),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "same version, other manifests, objects applied before digests were recorded: upgraded",
                at("4.3.1", "1.0", NEW),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.0"), None),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "new version: upgraded",
                at("4.3.1", "1.1", NEW),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.0"), None),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "listed in the current release but absent from the cluster: installed",
                at("4.3.1", "1.0", OLD),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(0, 2, None, None),
                Decision::Apply(OperationAction::Install),
            ),
            (
                "new in the target, its objects left by someone else: installed (ownership refuses later)",
                at("4.3.1", "1.0", NEW),
                None,
                cluster(0, 2, None, None),
                Decision::Apply(OperationAction::Install),
            ),
            (
                "new in the target, yet the cluster has it from an earlier install: upgraded",
                at("4.3.1", "1.0", NEW),
                None,
                cluster(2, 0, Some("4.2.0"), Some(OLD)),
                Decision::Apply(OperationAction::Upgrade),
            ),
            (
                "objects already carry the target's manifests (an attempt before a restart): only waited on",
                at("4.3.1", "1.1", NEW),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(2, 0, Some("4.3.1"), Some(NEW)),
                Decision::Wait,
            ),
            (
                "an earlier attempt applied only some objects: applied again",
                at("4.3.1", "1.1", NEW),
                Some(at("4.3.0", "1.0", OLD)),
                cluster(1, 1, Some("4.3.1"), Some(NEW)),
                Decision::Apply(OperationAction::Upgrade),
            ),
        ];
        for (case, target, current, installed, want) in table {
            assert_eq!(decide("logging", target, current, &installed), want, "{case}");
        }
    }

    #[test]
    fn the_digest_changes_with_the_manifests_and_only_with_them() {
        let module = |env: &str, version: &str| Module {
            name: "logging".into(),
            lifecycle: Lifecycle::Aligned,
            version: version.into(),
            depends_on: Vec::new(),
            manifests: vec![serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "logging", "namespace": "cpaas-system"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "V", "value": env}]}]}}},
            })],
        };
        let base = digest(&module("1", "1.0"));
        assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
        assert_eq!(
            digest(&module("1", "1.1")),
            base,
            "the version is compared on its own"
        );
        assert_ne!(digest(&module("2", "1.0")), base);
    }
}
