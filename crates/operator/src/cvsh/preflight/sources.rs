//! Narrow views of a cluster that the checks gather facts through. The real [`Cluster`] implements
//! them all; unit tests implement the one a check needs.

use std::collections::BTreeMap;

use acp_api::maintenance_window::{MaintenanceWindow, MaintenanceWindowSpec};
use acp_policy::ProductRelease;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::clusters::objects::{ObjectKey, Readiness, readiness};
use crate::clusters::{Cluster, ClusterError};

/// A CronJob and what its containers run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronJobFact {
    pub namespace: String,
    pub name: String,
    /// Command and arguments of each container, joined with spaces.
    pub commands: Vec<String>,
    pub suspended: bool,
}

/// A pod and its phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFact {
    pub namespace: String,
    pub name: String,
    pub phase: String,
}

/// An object of a custom resource, found by kind.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomObjectFact {
    pub namespace: Option<String>,
    pub name: String,
    pub annotations: BTreeMap<String, String>,
    pub status: Value,
}

/// A workload a module applied, and how it stands (`None`: not on the cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleObjectFact {
    pub module: String,
    pub key: ObjectKey,
    pub readiness: Option<Readiness>,
}

pub trait CronJobSource {
    fn cron_jobs(&self) -> impl Future<Output = Result<Vec<CronJobFact>, ClusterError>> + Send;
}

pub trait PodSource {
    /// Pods in every namespace matching a label selector.
    fn pods(&self, selector: &str) -> impl Future<Output = Result<Vec<PodFact>, ClusterError>> + Send;
}

pub trait CustomObjectSource {
    /// Every object of the custom resource whose kind is `kind`; `None` when no CRD defines it.
    fn custom_objects(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Option<Vec<CustomObjectFact>>, ClusterError>> + Send;
}

pub trait ModuleSource {
    /// The Deployments, StatefulSets and DaemonSets `release`'s modules apply, as they stand.
    fn module_objects(
        &self,
        release: &ProductRelease,
    ) -> impl Future<Output = Result<Vec<ModuleObjectFact>, ClusterError>> + Send;
}

pub trait MetricsSource {
    /// The API server's `/metrics` text.
    fn apiserver_metrics(&self) -> impl Future<Output = Result<String, ClusterError>> + Send;
}

/// The most of an API server's `/metrics` answer read: real ones are a few MiB.
pub const MAX_METRICS_BYTES: usize = 32 * 1024 * 1024;

/// How many `/metrics` answers are read at once, across all clusters: each is held whole while it is
/// parsed, so with every reconcile worker reading one the operator's memory peaked at tens of MiB for
/// these alone (heaptrack, scale benchmark).
const METRICS_READS_AT_ONCE: usize = 4;
static METRICS_READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(METRICS_READS_AT_ONCE);

impl MetricsSource for Cluster {
    async fn apiserver_metrics(&self) -> Result<String, ClusterError> {
        // Waiting for a turn is bounded like the read itself.
        let Ok(Ok(_turn)) = tokio::time::timeout(self.timeout, METRICS_READS.acquire()).await else {
            return Err(ClusterError::Unreachable {
                cluster: self.name.clone(),
                message: format!(
                    "get /metrics got no turn within {}s: the operator reads at most \
                     {METRICS_READS_AT_ONCE} API servers' metrics at once; it tries again",
                    self.timeout.as_secs()
                ),
            });
        };
        let answer = self.get_bounded("/metrics", MAX_METRICS_BYTES).await?;
        let refused = |message: String| ClusterError::Refused {
            cluster: self.name.clone(),
            what: "get /metrics".into(),
            code: answer.status,
            message,
        };
        match answer.status {
            200 if answer.truncated => Err(refused(format!(
                "the answer is larger than {} MiB, more than the operator reads",
                MAX_METRICS_BYTES / (1024 * 1024)
            ))),
            200 => Ok(answer.text),
            // As for any other call: a server that is there but not serving is retried later.
            code if code >= 500 || code == 429 => Err(ClusterError::Unreachable {
                cluster: self.name.clone(),
                message: format!("get /metrics failed with HTTP {code}"),
            }),
            code => Err(refused(format!("HTTP {code}"))),
        }
    }
}

impl MetricsSource for NoCluster {
    async fn apiserver_metrics(&self) -> Result<String, ClusterError> {
        Err(no_client())
    }
}

/// The operator's own settings in the global cluster's platform namespace.
pub trait PlatformSource {
    fn config_map(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, ClusterError>> + Send;
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, Vec<u8>>>, ClusterError>> + Send;
    /// The spec of MaintenanceWindow `name`; `None` when there is none (or its CRD is not installed).
    fn maintenance_window(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<MaintenanceWindowSpec>, ClusterError>> + Send;
    /// The global cluster's Cluster API objects (kubernetesDriver ClusterAPI); `None` where there are none
    /// to read.
    fn cluster_api(&self) -> Option<&dyn crate::clusters::cluster_api::ClusterApiObjects> {
        None
    }
}

impl CronJobSource for Cluster {
    async fn cron_jobs(&self) -> Result<Vec<CronJobFact>, ClusterError> {
        let api: Api<CronJob> = Api::all(self.client.clone());
        let list = self
            .call("list CronJobs", api.list(&ListParams::default()))
            .await?;
        Ok(list
            .items
            .iter()
            .map(|job| {
                let containers = job
                    .spec
                    .as_ref()
                    .and_then(|s| s.job_template.spec.as_ref())
                    .and_then(|s| s.template.spec.as_ref())
                    .map(|s| s.containers.as_slice())
                    .unwrap_or_default();
                CronJobFact {
                    suspended: job.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false),
                    namespace: job.metadata.namespace.clone().unwrap_or_default(),
                    name: job.metadata.name.clone().unwrap_or_default(),
                    commands: containers
                        .iter()
                        .map(|c| {
                            let mut words = c.command.clone().unwrap_or_default();
                            words.extend(c.args.clone().unwrap_or_default());
                            words.join(" ")
                        })
                        .collect(),
                }
            })
            .collect())
    }
}

impl PodSource for Cluster {
    async fn pods(&self, selector: &str) -> Result<Vec<PodFact>, ClusterError> {
        let api: Api<Pod> = Api::all(self.client.clone());
        let list = self
            .call(
                &format!("list pods with labels {selector}"),
                api.list(&ListParams::default().labels(selector)),
            )
            .await?;
        Ok(list
            .items
            .iter()
            .map(|pod| PodFact {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                phase: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "Unknown".into()),
            })
            .collect())
    }
}

impl CustomObjectSource for Cluster {
    async fn custom_objects(&self, kind: &str) -> Result<Option<Vec<CustomObjectFact>>, ClusterError> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let list = self
            .call(
                "list CustomResourceDefinitions",
                crds.list(&ListParams::default()),
            )
            .await?;
        let Some(crd) = list.items.into_iter().find(|crd| crd.spec.names.kind == kind) else {
            return Ok(None);
        };
        let Some(version) = crd
            .spec
            .versions
            .iter()
            .find(|v| v.storage)
            .or_else(|| crd.spec.versions.iter().find(|v| v.served))
        else {
            return Ok(Some(Vec::new()));
        };
        let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let objects = self
            .call(&format!("list {kind} objects"), api.list(&ListParams::default()))
            .await?;
        Ok(Some(
            objects
                .items
                .into_iter()
                .map(|o| CustomObjectFact {
                    namespace: o.metadata.namespace.clone(),
                    name: o.metadata.name.clone().unwrap_or_default(),
                    annotations: o.metadata.annotations.clone().unwrap_or_default(),
                    status: o.data.get("status").cloned().unwrap_or(Value::Null),
                })
                .collect(),
        ))
    }
}

/// Kinds whose rollout tells whether a module is stable.
const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

impl ModuleSource for Cluster {
    async fn module_objects(&self, release: &ProductRelease) -> Result<Vec<ModuleObjectFact>, ClusterError> {
        let mut facts = Vec::new();
        for module in &release.modules {
            for manifest in &module.manifests {
                let Ok(key) = ObjectKey::of(manifest) else {
                    continue;
                };
                if !WORKLOAD_KINDS.contains(&key.kind.as_str()) {
                    continue;
                }
                let live = self.fetch(&key).await?;
                facts.push(ModuleObjectFact {
                    module: module.name.clone(),
                    readiness: live.as_ref().map(|live| readiness(&key, live)),
                    key,
                });
            }
        }
        Ok(facts)
    }
}

/// The global cluster's platform namespace, where the operator's ConfigMaps and Secrets live.
pub struct Platform {
    pub cluster: Cluster,
    pub namespace: String,
}

impl PlatformSource for Platform {
    async fn config_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ClusterError> {
        let api: Api<ConfigMap> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let what = format!("get ConfigMap {}/{name}", self.namespace);
        let config_map = self.cluster.get_opt(&what, api.get(name)).await?;
        Ok(config_map.map(|cm| cm.data.unwrap_or_default()))
    }

    async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let what = format!("get Secret {}/{name}", self.namespace);
        let secret = self.cluster.get_opt(&what, api.get(name)).await?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()
        }))
    }

    async fn maintenance_window(&self, name: &str) -> Result<Option<MaintenanceWindowSpec>, ClusterError> {
        let api: Api<MaintenanceWindow> = Api::namespaced(self.cluster.client.clone(), &self.namespace);
        let what = format!("get MaintenanceWindow {}/{name}", self.namespace);
        let window = self.cluster.get_opt(&what, api.get(name)).await?;
        Ok(window.map(|w| w.spec))
    }

    fn cluster_api(&self) -> Option<&dyn crate::clusters::cluster_api::ClusterApiObjects> {
        Some(&self.cluster)
    }
}

/// Stands in for a cluster no client could be built for: every question goes unanswered.
pub struct NoCluster;

fn no_client() -> ClusterError {
    ClusterError::Unreachable {
        cluster: String::new(),
        message: "no client for the cluster".into(),
    }
}

impl CronJobSource for NoCluster {
    async fn cron_jobs(&self) -> Result<Vec<CronJobFact>, ClusterError> {
        Err(no_client())
    }
}

impl PodSource for NoCluster {
    async fn pods(&self, _selector: &str) -> Result<Vec<PodFact>, ClusterError> {
        Err(no_client())
    }
}

impl CustomObjectSource for NoCluster {
    async fn custom_objects(&self, _kind: &str) -> Result<Option<Vec<CustomObjectFact>>, ClusterError> {
        Err(no_client())
    }
}

impl ModuleSource for NoCluster {
    async fn module_objects(&self, _release: &ProductRelease) -> Result<Vec<ModuleObjectFact>, ClusterError> {
        Err(no_client())
    }
}

/// Looks up the objects a known risk's `ObjectPresent` rule names (see `cvsh::risks`).
pub trait ObjectPresenceSource {
    fn find_objects(
        &self,
        rule: &acp_policy::risks::ObjectPresent,
    ) -> impl Future<Output = acp_policy::risks::rules::ObjectLookup> + Send;
}

/// The most objects an `ObjectPresent` lookup lists: enough to name them, never a whole kind.
pub const MAX_OBJECTS_LISTED: u32 = 10;

impl ObjectPresenceSource for Cluster {
    async fn find_objects(
        &self,
        rule: &acp_policy::risks::ObjectPresent,
    ) -> acp_policy::risks::rules::ObjectLookup {
        use acp_policy::risks::rules::ObjectLookup;
        use kube::discovery::{Scope, pinned_kind};

        let (group, version) = rule
            .api_version
            .split_once('/')
            .unwrap_or(("", rule.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &rule.kind);
        let what = format!("discover {} {}", rule.api_version, rule.kind);
        // A group version the server does not serve answers 404; one that does not hold the kind is a
        // discovery error of kube's own: both mean no such object can exist.
        let discovered = self
            .call(&what, async {
                match pinned_kind(&self.client, &gvk).await {
                    Ok(found) => Ok(Some(found)),
                    Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(_))) => Ok(None),
                    Err(err) => Err(err),
                }
            })
            .await;
        let (resource, capabilities) = match discovered {
            Ok(Some(found)) => found,
            Ok(None) => return ObjectLookup::KindNotServed,
            Err(err) if err.is_not_found() => return ObjectLookup::KindNotServed,
            Err(err) => return ObjectLookup::Failed(err.to_string()),
        };
        let namespace = rule
            .namespace
            .as_deref()
            .filter(|_| capabilities.scope == Scope::Namespaced);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        let described = rule.describe();
        let named = |o: &DynamicObject| match &o.metadata.namespace {
            Some(ns) => format!("{ns}/{}", o.metadata.name.as_deref().unwrap_or_default()),
            None => o.metadata.name.clone().unwrap_or_default(),
        };
        let found = match (&rule.name, namespace, capabilities.scope) {
            // One object by its full name: a GET.
            (Some(name), Some(_), _) | (Some(name), None, Scope::Cluster) => self
                .get_opt(&format!("get {described}"), api.get(name))
                .await
                .map(|o| o.iter().map(named).collect()),
            (name, _, _) => {
                let mut params = ListParams::default().limit(MAX_OBJECTS_LISTED);
                if let Some(name) = name {
                    params = params.fields(&format!("metadata.name={name}"));
                }
                if let Some(selector) = &rule.label_selector {
                    params = params.labels(selector);
                }
                self.call(&format!("list {described}"), api.list(&params))
                    .await
                    .map(|list| list.items.iter().map(named).collect())
            }
        };
        match found {
            Ok(found) => ObjectLookup::Found(found),
            Err(err) => ObjectLookup::Failed(err.to_string()),
        }
    }
}

impl ObjectPresenceSource for NoCluster {
    async fn find_objects(
        &self,
        _rule: &acp_policy::risks::ObjectPresent,
    ) -> acp_policy::risks::rules::ObjectLookup {
        acp_policy::risks::rules::ObjectLookup::Failed(no_client().to_string())
    }
}
