//! An in-memory cluster for tests of what the operator applies: objects in a map, every call logged,
//! and the cluster's answers programmable (refuse an apply, stop answering, hold a rollout).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::ClusterError;
use super::objects::{ListQuery, ObjectKey, ObjectStore};

/// One call the fake answered (or refused to), naming the object as messages do
/// (`Deployment cpaas-system/platform-api`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Apply(String),
    Fetch(String),
    Delete(String),
    List(String),
}

impl Call {
    fn object(&self) -> &str {
        match self {
            Call::Apply(key) | Call::Fetch(key) | Call::Delete(key) | Call::List(key) => key,
        }
    }
}

/// A cluster named `fake` whose objects roll out the moment they are applied, unless told otherwise.
#[derive(Default)]
pub struct FakeCluster {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<ObjectKey, Value>,
    calls: Vec<Call>,
    /// Object name → the refusal its applies get.
    rejected: BTreeMap<String, String>,
    /// Object names whose rollout does not progress.
    held: BTreeSet<String>,
    silent: bool,
}

pub const NAME: &str = "fake";

/// More calls than any test makes: past it, the code under test is looping, and the fake says so
/// instead of letting the test hang.
const MAX_CALLS: usize = 1_000;

impl FakeCluster {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logs `call` and answers whether the fake answers at all.
    fn log(&self, call: Call) -> Result<MutexGuard<'_, State>, ClusterError> {
        let mut state = self.state();
        assert!(
            state.calls.len() < MAX_CALLS,
            "more than {MAX_CALLS} calls to the fake cluster: the code under test loops; last: {call:?}"
        );
        state.calls.push(call);
        if state.silent {
            return Err(Self::unreachable());
        }
        Ok(state)
    }

    /// Applies of objects named `name` are refused with `message`, as an API server refuses an invalid
    /// manifest (HTTP 422).
    pub fn reject_apply(&self, name: &str, message: &str) {
        self.state().rejected.insert(name.into(), message.into());
    }

    /// Objects named `name` are stored when applied but do not roll out (no status) until
    /// [`FakeCluster::roll_out`].
    pub fn hold(&self, name: &str) {
        self.state().held.insert(name.into());
    }

    /// Objects named `name` roll out: the live ones now, later applies at once.
    pub fn roll_out(&self, name: &str) {
        let mut state = self.state();
        state.held.remove(name);
        for (key, live) in state.objects.iter_mut() {
            if key.name == name {
                *live = rolled_out(key, live.clone());
            }
        }
    }

    /// Stop answering (`true`) or answer again (`false`): every call then fails as unreachable.
    pub fn silent(&self, silent: bool) {
        self.state().silent = silent;
    }

    /// Stores `manifest` as a live object, rolled out unless held, as if it had been applied before;
    /// no call is logged.
    pub fn insert(&self, manifest: Value) {
        let key = ObjectKey::of(&manifest).unwrap();
        let mut state = self.state();
        let live = if state.held.contains(&key.name) {
            manifest
        } else {
            rolled_out(&key, manifest)
        };
        state.objects.insert(key, live);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// The objects applied so far, in order, each once.
    pub fn applied(&self) -> Vec<String> {
        let mut applied: Vec<String> = Vec::new();
        for call in self.calls() {
            if let Call::Apply(key) = call
                && !applied.contains(&key)
            {
                applied.push(key);
            }
        }
        applied
    }

    /// Whether any call named an object whose key text ends with `/name` or ` name`.
    pub fn touched(&self, name: &str) -> bool {
        self.calls().iter().any(|c| names(c.object(), name))
    }

    /// The live object of `kind` named `name`.
    pub fn object(&self, kind: &str, name: &str) -> Option<Value> {
        self.state()
            .objects
            .iter()
            .find(|(k, _)| k.kind == kind && k.name == name)
            .map(|(_, v)| v.clone())
    }

    fn unreachable() -> ClusterError {
        ClusterError::Unreachable {
            cluster: NAME.into(),
            message: "connection refused".into(),
        }
    }

    fn do_apply(&self, manifest: &Value) -> Result<(), ClusterError> {
        let key = ObjectKey::of(manifest).map_err(|message| ClusterError::Refused {
            cluster: NAME.into(),
            what: "apply a manifest".into(),
            code: 422,
            message,
        })?;
        let mut state = self.log(Call::Apply(key.to_string()))?;
        if let Some(message) = state.rejected.get(&key.name) {
            return Err(ClusterError::Refused {
                cluster: NAME.into(),
                what: format!("apply {key}"),
                code: 422,
                message: message.clone(),
            });
        }
        let live = if state.held.contains(&key.name) {
            manifest.clone()
        } else {
            rolled_out(&key, manifest.clone())
        };
        state.objects.insert(key, live);
        Ok(())
    }

    fn do_fetch(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let state = self.log(Call::Fetch(key.to_string()))?;
        Ok(state.objects.get(key).cloned())
    }

    /// Objects of the query's kind and namespace whose labels hold every `key=value` of its selector.
    fn do_list(&self, query: &ListQuery) -> Result<Vec<Value>, ClusterError> {
        let state = self.log(Call::List(query.to_string()))?;
        let wanted: Vec<(&str, &str)> = query
            .selector
            .iter()
            .flat_map(|s| s.split(','))
            .filter_map(|pair| pair.split_once('='))
            .collect();
        Ok(state
            .objects
            .iter()
            .filter(|(key, _)| {
                key.api_version == query.api_version
                    && key.kind == query.kind
                    && (query.namespace.is_none() || key.namespace == query.namespace)
            })
            .filter(|(_, live)| {
                wanted.iter().all(|(k, v)| {
                    live.pointer("/metadata/labels")
                        .and_then(|labels| labels.get(*k))
                        .and_then(Value::as_str)
                        == Some(*v)
                })
            })
            .take(query.limit as usize)
            .map(|(_, live)| live.clone())
            .collect())
    }

    fn do_delete(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        let mut state = self.log(Call::Delete(key.to_string()))?;
        state.objects.remove(key);
        Ok(())
    }
}

fn names(key: &str, name: &str) -> bool {
    key.strip_suffix(name)
        .is_some_and(|rest| rest.ends_with('/') || rest.ends_with(' '))
}

/// `live` with the status its controller reports once it has rolled out.
fn rolled_out(key: &ObjectKey, mut live: Value) -> Value {
    let replicas = live
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status = match key.kind.as_str() {
        "Deployment" | "StatefulSet" => json!({
            "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
        }),
        "CustomResourceDefinition" => json!({"conditions": [{"type": "Established", "status": "True"}]}),
        _ => return live,
    };
    if let Some(object) = live.as_object_mut() {
        object.insert("status".into(), status);
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("generation".into(), json!(1));
        }
    }
    live
}

impl ObjectStore for FakeCluster {
    fn apply<'a>(&'a self, manifest: &'a Value) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(async move { self.do_apply(manifest) })
    }

    fn fetch<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Option<Value>, ClusterError>> {
        Box::pin(async move { self.do_fetch(key) })
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(async move { self.do_delete(key) })
    }

    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, Result<Vec<Value>, ClusterError>> {
        Box::pin(async move { self.do_list(query) })
    }
}
