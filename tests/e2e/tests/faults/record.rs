//! What a scenario saw, through watches rather than snapshots: every status the cvsh went through and
//! every change of a module Deployment, in order, so a transition that lasted one write is not missed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acp_api::cvsh::ClusterVersionShadowStatus;
use acp_api::{ClusterVersionShadow, names};
use acp_e2e::operator::{ALIGNED_MODULES, CORE_MODULES};
use acp_testkit::Cluster;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One thing a watch delivered.
#[derive(Clone, Debug)]
pub enum Seen {
    /// A status of the cvsh, as written.
    Status(Box<ClusterVersionShadowStatus>),
    /// A module Deployment's spec generation.
    Module { name: String, generation: i64 },
}

/// Watches one cvsh (in the global cluster) and the module Deployments of the cluster it governs.
pub struct Recorder {
    seen: Arc<Mutex<Vec<(Instant, Seen)>>>,
    count: watch::Receiver<usize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Recorder {
    /// Starts watching the cvsh `name` in `global` and the module Deployments of `cluster`; returns once
    /// both watches have delivered their first listing.
    pub async fn start(global: &Cluster, name: &str, cluster: &Cluster) -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel(0usize);
        let tx = Arc::new(tx);
        let shadows: Api<ClusterVersionShadow> =
            Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let shadow_task = {
            let (seen, tx) = (seen.clone(), tx.clone());
            tokio::spawn(async move {
                let mut stream = watcher(shadows, config)
                    .default_backoff()
                    .applied_objects()
                    .boxed();
                while let Some(event) = stream.next().await {
                    let Ok(shadow) = event else { continue };
                    let status = shadow.status.unwrap_or_default();
                    push(&seen, &tx, Seen::Status(Box::new(status)));
                }
            })
        };
        let deployments: Api<Deployment> = Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE);
        let module_task = {
            let (seen, tx) = (seen.clone(), tx.clone());
            tokio::spawn(async move {
                let mut stream = watcher(deployments, watcher::Config::default())
                    .default_backoff()
                    .applied_objects()
                    .boxed();
                let mut last = std::collections::BTreeMap::new();
                while let Some(event) = stream.next().await {
                    let Ok(deployment) = event else { continue };
                    let name = deployment.name_any();
                    if !is_module(&name) {
                        continue;
                    }
                    let generation = deployment.metadata.generation.unwrap_or_default();
                    // Status updates of the rollout are not the operator's doing: keep spec changes.
                    if last.insert(name.clone(), generation) == Some(generation) {
                        continue;
                    }
                    push(&seen, &tx, Seen::Module { name, generation });
                }
            })
        };
        let recorder = Recorder {
            seen,
            count,
            tasks: vec![shadow_task, module_task],
        };
        recorder
            .wait("the first status", 0, Duration::from_secs(60), |s| {
                matches!(s, Seen::Status(_))
            })
            .await;
        recorder
    }

    /// How many things were seen so far: a cursor for [`wait`](Self::wait).
    pub fn cursor(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Every status seen, in order.
    pub fn statuses(&self) -> Vec<ClusterVersionShadowStatus> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, s)| match s {
                Seen::Status(s) => Some((**s).clone()),
                Seen::Module { .. } => None,
            })
            .collect()
    }

    /// The last status seen.
    pub fn last_status(&self) -> ClusterVersionShadowStatus {
        self.statuses().pop().unwrap_or_default()
    }

    /// Waits until something seen at or after `from` satisfies `accept`; returns its index and when it
    /// was seen. Panics with the last status after `timeout`.
    pub async fn wait(
        &self,
        what: &str,
        from: usize,
        timeout: Duration,
        accept: impl Fn(&Seen) -> bool,
    ) -> (usize, Instant) {
        self.try_wait(from, timeout, accept).await.unwrap_or_else(|| {
            panic!(
                "not seen within {timeout:?}: {what}\nlast status:\n{}",
                serde_json::to_string_pretty(&self.last_status()).unwrap()
            )
        })
    }

    /// Like [`wait`](Self::wait), `None` after `timeout`.
    pub async fn try_wait(
        &self,
        from: usize,
        timeout: Duration,
        accept: impl Fn(&Seen) -> bool,
    ) -> Option<(usize, Instant)> {
        let mut count = self.count.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut next = from;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                if let Some(at) = seen[next.min(seen.len())..].iter().position(|(_, s)| accept(s)) {
                    let index = next + at;
                    return Some((index, seen[index].0));
                }
                next = seen.len();
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Waits for a status at or after `from` that satisfies `accept`.
    pub async fn wait_status(
        &self,
        what: &str,
        from: usize,
        timeout: Duration,
        accept: impl Fn(&ClusterVersionShadowStatus) -> bool,
    ) -> (usize, Instant) {
        self.wait(what, from, timeout, |s| matches!(s, Seen::Status(s) if accept(s)))
            .await
    }
}

fn push(seen: &Mutex<Vec<(Instant, Seen)>>, tx: &watch::Sender<usize>, item: Seen) {
    let len = {
        let mut seen = seen.lock().unwrap();
        seen.push((Instant::now(), item));
        seen.len()
    };
    tx.send_replace(len);
}

pub fn is_module(name: &str) -> bool {
    CORE_MODULES.contains(&name) || ALIGNED_MODULES.contains(&name)
}

/// What one module looks like in its cluster: spec generation (0 when absent), and the versions of its
/// ReplicaSets' templates, one entry per ReplicaSet (one per rollout).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleState {
    pub generation: i64,
    pub replica_sets: Vec<Option<String>>,
}

/// The state of every module Deployment in `cluster`.
pub async fn modules(cluster: &Cluster) -> std::collections::BTreeMap<String, ModuleState> {
    let client = cluster.client().await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), names::NAMESPACE);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client, names::NAMESPACE);
    let mut states = std::collections::BTreeMap::new();
    for name in CORE_MODULES.iter().chain(&ALIGNED_MODULES) {
        let generation = deployments
            .get_opt(name)
            .await
            .unwrap()
            .and_then(|d| d.metadata.generation)
            .unwrap_or_default();
        let owned = replica_sets
            .list(&kube::api::ListParams::default().labels(&format!("app.kubernetes.io/name={name}")))
            .await
            .unwrap();
        let replica_sets = owned
            .items
            .iter()
            .map(|rs| {
                rs.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .and_then(|t| t.spec.as_ref())
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.env.as_ref())
                    .and_then(|env| env.iter().find(|e| e.name == "ACP_VERSION"))
                    .and_then(|e| e.value.clone())
            })
            .collect();
        states.insert(
            (*name).to_string(),
            ModuleState {
                generation,
                replica_sets,
            },
        );
    }
    states
}
