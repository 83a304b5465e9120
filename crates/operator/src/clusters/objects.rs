//! Release manifests on a managed cluster: server-side apply, read back, delete, and whether an object
//! is ready (Deployment/StatefulSet/DaemonSet rolled out, CRD established, Ready/Available condition).

use std::fmt;

use futures::future::BoxFuture;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope, pinned_kind};
use serde_json::Value;

use super::{Cluster, ClusterError};

/// Field manager of every apply the operator makes.
pub const FIELD_MANAGER: &str = acp_api::names::FIELD_MANAGER;

/// Identity of a manifest: enough to find the live object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// Reads apiVersion, kind, metadata.namespace and metadata.name of a manifest.
    pub fn of(manifest: &Value) -> Result<Self, String> {
        let text = |pointer: &str| {
            manifest
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let api_version = text("/apiVersion").ok_or("manifest has no apiVersion")?;
        let kind = text("/kind").ok_or("manifest has no kind")?;
        let name = text("/metadata/name").ok_or_else(|| format!("{kind} manifest has no metadata.name"))?;
        Ok(Self {
            api_version,
            kind,
            namespace: text("/metadata/namespace"),
            name,
        })
    }

    fn gvk(&self) -> GroupVersionKind {
        let (group, version) = match self.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", self.api_version.as_str()),
        };
        GroupVersionKind::gvk(group, version, &self.kind)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

impl Cluster {
    async fn dynamic_api(&self, key: &ObjectKey) -> Result<Api<DynamicObject>, ClusterError> {
        let what = format!("discover {} {}", key.api_version, key.kind);
        let (resource, capabilities): (ApiResource, ApiCapabilities) =
            self.call(&what, pinned_kind(&self.client, &key.gvk())).await?;
        Ok(match capabilities.scope {
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            Scope::Namespaced => {
                let namespace = key.namespace.as_deref().unwrap_or("default");
                Api::namespaced_with(self.client.clone(), namespace, &resource)
            }
        })
    }

    /// Server-side applies `manifest` with the operator's field manager, taking over conflicting fields.
    pub async fn apply(&self, manifest: &Value) -> Result<(), ClusterError> {
        let key = ObjectKey::of(manifest).map_err(|message| ClusterError::Refused {
            cluster: self.name.clone(),
            what: "apply a manifest".into(),
            code: 422,
            message,
        })?;
        let api = self.dynamic_api(&key).await?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.call(
            &format!("apply {key}"),
            api.patch(&key.name, &params, &Patch::Apply(manifest)),
        )
        .await?;
        Ok(())
    }

    /// The live object as JSON; `None` when it (or its kind) does not exist.
    pub async fn fetch(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let api = match self.dynamic_api(key).await {
            Ok(api) => api,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        let object = self.get_opt(&format!("get {key}"), api.get(&key.name)).await?;
        object
            .map(|o| {
                serde_json::to_value(o).map_err(|e| ClusterError::Unreachable {
                    cluster: self.name.clone(),
                    message: format!("cannot read {key}: {e}"),
                })
            })
            .transpose()
    }

    /// At most `query.limit` objects of a kind, in one namespace or all, matching a label selector: one
    /// page, never more, since what is listed comes from a cluster the operator does not control.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Value>, ClusterError> {
        let key = ObjectKey {
            api_version: query.api_version.clone(),
            kind: query.kind.clone(),
            namespace: query.namespace.clone(),
            name: String::new(),
        };
        let api = match self.dynamic_api(&key).await {
            Ok(api) => api,
            Err(err) if err.is_not_found() => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let mut params = ListParams::default().limit(query.limit);
        if let Some(selector) = &query.selector {
            params = params.labels(selector);
        }
        let list = self.call(&format!("list {query}"), api.list(&params)).await?;
        list.items
            .into_iter()
            .take(query.limit as usize)
            .map(|o| {
                serde_json::to_value(o).map_err(|e| ClusterError::Unreachable {
                    cluster: self.name.clone(),
                    message: format!("cannot read {query}: {e}"),
                })
            })
            .collect()
    }

    /// Deletes the object; already gone is fine.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        let api = match self.dynamic_api(key).await {
            Ok(api) => api,
            Err(err) if err.is_not_found() => return Ok(()),
            Err(err) => return Err(err),
        };
        self.get_opt(
            &format!("delete {key}"),
            api.delete(&key.name, &DeleteParams::background()),
        )
        .await?;
        Ok(())
    }
}

/// What applying a release needs from a cluster, and all it may do there: server-side apply a
/// manifest, read an object back, delete one. [`Cluster`] is the real one; the stages take it as a
/// trait object so that tests can run them against an in-memory cluster.
pub trait ObjectStore: Send + Sync {
    /// Server-side applies `manifest` with the operator's field manager.
    fn apply<'a>(&'a self, manifest: &'a Value) -> BoxFuture<'a, Result<(), ClusterError>>;
    /// The live object as JSON; `None` when it (or its kind) does not exist.
    fn fetch<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Option<Value>, ClusterError>>;
    /// Deletes the object; already gone is fine.
    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), ClusterError>>;
    /// One bounded page of objects (see [`ListQuery`]); a kind the cluster does not serve lists nothing.
    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, Result<Vec<Value>, ClusterError>>;
}

/// Which objects to list: a kind, a namespace (or all), a label selector, and how many at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    /// A label selector as `kubectl -l` takes it (`app=api,tier=web`).
    pub selector: Option<String>,
    pub limit: u32,
}

impl fmt::Display for ListQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        if let Some(selector) = &self.selector {
            write!(f, " with labels {selector}")?;
        }
        Ok(())
    }
}

impl ObjectStore for Cluster {
    fn apply<'a>(&'a self, manifest: &'a Value) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(Cluster::apply(self, manifest))
    }

    fn fetch<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Option<Value>, ClusterError>> {
        Box::pin(Cluster::fetch(self, key))
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(Cluster::delete(self, key))
    }

    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, Result<Vec<Value>, ClusterError>> {
        Box::pin(Cluster::list(self, query))
    }
}

/// Whether a live object has reached what its manifest asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Still converging; the text says on what.
    Waiting(String),
    /// Will not converge without help (e.g. a Deployment past its progress deadline).
    Failed(String),
}

/// Readiness of the live object `live` described by `key`.
pub fn readiness(key: &ObjectKey, live: &Value) -> Readiness {
    let int = |pointer: &str| live.pointer(pointer).and_then(Value::as_i64);
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = int("/status/observedGeneration").unwrap_or(0);
    let stale = || {
        Readiness::Waiting(format!(
            "{key}: controller has not seen generation {generation} yet"
        ))
    };
    match key.kind.as_str() {
        "Deployment" => {
            if let Some(c) = condition(live, "Progressing")
                && c.reason == "ProgressDeadlineExceeded"
            {
                return Readiness::Failed(format!(
                    "{key}: rollout exceeded its progress deadline: {}",
                    c.message
                ));
            }
            if observed < generation {
                return stale();
            }
            let want = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let available = int("/status/availableReplicas").unwrap_or(0);
            let total = int("/status/replicas").unwrap_or(0);
            if updated < want {
                Readiness::Waiting(format!("{key}: {updated} of {want} replicas updated"))
            } else if total > updated {
                Readiness::Waiting(format!(
                    "{key}: {} old replicas still terminating",
                    total - updated
                ))
            } else if available < want {
                Readiness::Waiting(format!("{key}: {available} of {want} replicas available"))
            } else {
                Readiness::Ready
            }
        }
        "StatefulSet" => {
            if observed < generation {
                return stale();
            }
            let want = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let ready = int("/status/readyReplicas").unwrap_or(0);
            let text = |p: &str| {
                live.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            if updated < want || text("/status/currentRevision") != text("/status/updateRevision") {
                Readiness::Waiting(format!("{key}: {updated} of {want} replicas updated"))
            } else if ready < want {
                Readiness::Waiting(format!("{key}: {ready} of {want} replicas ready"))
            } else {
                Readiness::Ready
            }
        }
        "DaemonSet" => {
            if observed < generation {
                return stale();
            }
            let want = int("/status/desiredNumberScheduled").unwrap_or(0);
            let updated = int("/status/updatedNumberScheduled").unwrap_or(0);
            let available = int("/status/numberAvailable").unwrap_or(0);
            if updated < want {
                Readiness::Waiting(format!("{key}: {updated} of {want} pods updated"))
            } else if available < want {
                Readiness::Waiting(format!("{key}: {available} of {want} pods available"))
            } else {
                Readiness::Ready
            }
        }
        "CustomResourceDefinition" => match condition(live, "Established") {
            Some(c) if c.status == "True" => Readiness::Ready,
            _ => Readiness::Waiting(format!("{key}: not established yet")),
        },
        "Namespace" => match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Terminating") => Readiness::Failed(format!("{key} is being deleted")),
            _ => Readiness::Ready,
        },
        _ => match condition(live, "Ready").or_else(|| condition(live, "Available")) {
            Some(c) if c.status == "True" => Readiness::Ready,
            Some(c) => Readiness::Waiting(format!("{key}: {} is {}: {}", c.type_, c.status, c.message)),
            // Objects without a readiness signal (ConfigMaps, RBAC, ...) are ready once they exist.
            None => Readiness::Ready,
        },
    }
}

struct ConditionView {
    type_: String,
    status: String,
    reason: String,
    message: String,
}

fn condition(live: &Value, type_: &str) -> Option<ConditionView> {
    let conditions = live.pointer("/status/conditions")?.as_array()?;
    let c = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Some(ConditionView {
        type_: text("type"),
        status: text("status"),
        reason: text("reason"),
        message: text("message"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: &str) -> ObjectKey {
        ObjectKey {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: Some("cpaas-system".into()),
            name: "platform-api".into(),
        }
    }

    #[test]
    fn manifests_name_their_object() {
        let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                              "metadata": {"name": "a", "namespace": "cpaas-system"}});
        let key = ObjectKey::of(&manifest).unwrap();
        assert_eq!(key.to_string(), "Deployment cpaas-system/a");
        assert_eq!(key.gvk().group, "apps");
        let core =
            ObjectKey::of(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}))
                .unwrap();
        assert_eq!(core.gvk().group, "");
        assert_eq!(core.to_string(), "Namespace x");
        assert!(
            ObjectKey::of(&json!({"kind": "Deployment"}))
                .unwrap_err()
                .contains("apiVersion")
        );
    }

    #[test]
    fn deployment_rollouts_are_judged_on_generation_and_replicas() {
        let deployment = |generation: i64, observed: i64, updated: i64, available: i64, total: i64| {
            json!({"metadata": {"generation": generation}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": observed, "updatedReplicas": updated,
                              "availableReplicas": available, "replicas": total}})
        };
        let table = [
            (deployment(2, 1, 2, 2, 2), "has not seen generation 2"),
            (deployment(2, 2, 1, 2, 3), "1 of 2 replicas updated"),
            (deployment(2, 2, 2, 2, 3), "1 old replicas still terminating"),
            (deployment(2, 2, 2, 1, 2), "1 of 2 replicas available"),
        ];
        for (live, expected) in table {
            match readiness(&key("Deployment"), &live) {
                Readiness::Waiting(text) => assert!(text.contains(expected), "{text}"),
                other => panic!("expected waiting on {expected}, got {other:?}"),
            }
        }
        assert_eq!(
            readiness(&key("Deployment"), &deployment(2, 2, 2, 2, 2)),
            Readiness::Ready
        );
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_failed() {
        let live = json!({"metadata": {"generation": 3}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 3, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"x\" has timed out progressing."}]}});
        assert!(
            matches!(readiness(&key("Deployment"), &live), Readiness::Failed(m) if m.contains("timed out"))
        );
    }

    #[test]
    fn crds_need_to_be_established_and_plain_objects_just_exist() {
        let crd =
            |status: &str| json!({"status": {"conditions": [{"type": "Established", "status": status}]}});
        assert_eq!(
            readiness(&key("CustomResourceDefinition"), &crd("True")),
            Readiness::Ready
        );
        assert!(matches!(
            readiness(&key("CustomResourceDefinition"), &crd("False")),
            Readiness::Waiting(_)
        ));
        assert_eq!(
            readiness(&key("ConfigMap"), &json!({"data": {}})),
            Readiness::Ready
        );
        let not_ready =
            json!({"status": {"conditions": [{"type": "Ready", "status": "False", "message": "x"}]}});
        assert!(matches!(
            readiness(&key("Widget"), &not_ready),
            Readiness::Waiting(_)
        ));
    }

    #[test]
    fn statefulsets_and_daemonsets_wait_for_every_replica() {
        let sts = json!({"metadata": {"generation": 1}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 2,
                       "currentRevision": "a", "updateRevision": "a"}});
        assert!(
            matches!(readiness(&key("StatefulSet"), &sts), Readiness::Waiting(m) if m.contains("2 of 3"))
        );
        let ds = json!({"metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
                       "numberAvailable": 2}});
        assert_eq!(readiness(&key("DaemonSet"), &ds), Readiness::Ready);
    }
}
