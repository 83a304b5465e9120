//! Cluster API objects in the global cluster, read and written as dynamic objects: the ClusterAPI
//! Kubernetes driver and its preflight check read a Cluster, its KubeadmControlPlane, MachineDeployments
//! and Machines, and move one version field at a time.
//!
//! The API version is the one the global cluster prefers for each group (discovery), so the same code
//! reads `v1beta1` and `v1beta2` objects: every field used here has the same path in both.

use std::fmt;

use futures::future::BoxFuture;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::{Cluster, ClusterError};

/// The label Cluster API puts on every object of a cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// The label on control-plane Machines.
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// The label on Machines of a MachineDeployment.
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";
/// Holds the upgrade of this MachineDeployment and of every one after it.
pub const HOLD_UPGRADE_SEQUENCE: &str = "topology.cluster.x-k8s.io/hold-upgrade-sequence";
/// Defers the upgrade of this MachineDeployment only.
pub const DEFER_UPGRADE: &str = "topology.cluster.x-k8s.io/defer-upgrade";
/// Pauses reconciliation of any Cluster API object.
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

/// Pages of a list; a cluster with more Machines than `PAGES * PAGE` is refused, not read in part.
const PAGE: u32 = 500;
const PAGES: usize = 10;

/// The Cluster API kinds the driver touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    KubeadmControlPlane,
    MachineDeployment,
    Machine,
}

impl Kind {
    pub fn group(self) -> &'static str {
        match self {
            Kind::KubeadmControlPlane => "controlplane.cluster.x-k8s.io",
            _ => "cluster.x-k8s.io",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Cluster => "Cluster",
            Kind::KubeadmControlPlane => "KubeadmControlPlane",
            Kind::MachineDeployment => "MachineDeployment",
            Kind::Machine => "Machine",
        }
    }

    /// The field that carries the object's Kubernetes version, as a JSON pointer.
    pub fn version_field(self) -> &'static str {
        match self {
            Kind::Cluster => "/spec/topology/version",
            Kind::KubeadmControlPlane | Kind::Machine => "/spec/version",
            Kind::MachineDeployment => "/spec/template/spec/version",
        }
    }

    /// The version field as people write it (`spec.topology.version`).
    pub fn version_path(self) -> String {
        self.version_field().trim_start_matches('/').replace('/', ".")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version write, fenced on the resourceVersion the decision was made on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionWrite {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub version: String,
}

impl VersionWrite {
    /// The JSON merge patch: the version field, and the resourceVersion as a precondition (a 409 when
    /// the object changed since it was read).
    pub fn patch(&self) -> Value {
        let mut value = json!(self.version);
        for key in self.kind.version_field().trim_start_matches('/').split('/').rev() {
            value = json!({ key: value });
        }
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "metadata".into(),
                json!({"resourceVersion": self.resource_version}),
            );
        }
        value
    }
}

/// What the driver needs from the global cluster's Cluster API objects, and all it may do there.
pub trait ClusterApiObjects: Send + Sync {
    /// One object; `None` when it (or its kind) does not exist.
    fn get<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, ClusterError>>;
    /// The objects of `kind` labelled for Cluster `cluster` in `namespace`.
    fn list_of_cluster<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
        cluster: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, ClusterError>>;
    /// Moves one version field.
    fn set_version<'a>(&'a self, write: &'a VersionWrite) -> BoxFuture<'a, Result<(), ClusterError>>;
}

impl Cluster {
    async fn cluster_api_resource(&self, kind: Kind) -> Result<Option<ApiResource>, ClusterError> {
        let what = format!("discover {} {}", kind.group(), kind.name());
        // A group the server does not serve (Cluster API not installed) is an answer, not an error.
        let discover = async {
            match kube::discovery::group(&self.client, kind.group()).await {
                Ok(group) => Ok(Some(group)),
                Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => Ok(None),
                Err(err) => Err(self.classify(&what, err)),
            }
        };
        let Some(group) = self.bounded(&what, discover).await? else {
            return Ok(None);
        };
        Ok(group.recommended_kind(kind.name()).map(|(resource, _)| resource))
    }

    async fn cluster_api(
        &self,
        kind: Kind,
        namespace: &str,
    ) -> Result<Option<Api<DynamicObject>>, ClusterError> {
        Ok(self
            .cluster_api_resource(kind)
            .await?
            .map(|resource| Api::namespaced_with(self.client.clone(), namespace, &resource)))
    }

    async fn cluster_api_get(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let Some(api) = self.cluster_api(kind, namespace).await? else {
            return Ok(None);
        };
        let object = self
            .get_opt(&format!("get {kind} {namespace}/{name}"), api.get(name))
            .await?;
        Ok(object.and_then(|o| serde_json::to_value(o).ok()))
    }

    async fn cluster_api_list(
        &self,
        kind: Kind,
        namespace: &str,
        cluster: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let Some(api) = self.cluster_api(kind, namespace).await? else {
            return Ok(Vec::new());
        };
        let what = format!("list {kind}s of Cluster {namespace}/{cluster}");
        let mut params = ListParams::default()
            .labels(&format!("{CLUSTER_NAME_LABEL}={cluster}"))
            .limit(PAGE);
        let mut items = Vec::new();
        for _ in 0..PAGES {
            let page = self.call(&what, api.list(&params)).await?;
            items.extend(
                page.items
                    .into_iter()
                    .filter_map(|o| serde_json::to_value(o).ok()),
            );
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(items),
            }
        }
        Err(ClusterError::Refused {
            cluster: self.name.clone(),
            what,
            code: 413,
            message: format!(
                "more than {} objects; the ClusterAPI driver reads at most that many",
                PAGE as usize * PAGES
            ),
        })
    }

    async fn cluster_api_set_version(&self, write: &VersionWrite) -> Result<(), ClusterError> {
        let what = format!(
            "set {} of {} {}/{} to {}",
            write.kind.version_path(),
            write.kind,
            write.namespace,
            write.name,
            write.version
        );
        let Some(api) = self.cluster_api(write.kind, &write.namespace).await? else {
            return Err(ClusterError::Refused {
                cluster: self.name.clone(),
                what,
                code: 404,
                message: format!("the global cluster serves no {} kind", write.kind),
            });
        };
        let params = PatchParams {
            field_manager: Some(super::objects::FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        self.call(
            &what,
            api.patch(&write.name, &params, &Patch::Merge(write.patch())),
        )
        .await?;
        Ok(())
    }
}

impl ClusterApiObjects for Cluster {
    fn get<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, ClusterError>> {
        Box::pin(self.cluster_api_get(kind, namespace, name))
    }

    fn list_of_cluster<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
        cluster: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, ClusterError>> {
        Box::pin(self.cluster_api_list(kind, namespace, cluster))
    }

    fn set_version<'a>(&'a self, write: &'a VersionWrite) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(self.cluster_api_set_version(write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_write_is_fenced_on_the_resource_version() {
        let write = VersionWrite {
            kind: Kind::MachineDeployment,
            namespace: "fleet".into(),
            name: "east-md-0".into(),
            resource_version: "42".into(),
            version: "v1.33.7".into(),
        };
        assert_eq!(
            write.patch(),
            json!({
                "metadata": {"resourceVersion": "42"},
                "spec": {"template": {"spec": {"version": "v1.33.7"}}}
            })
        );
        assert_eq!(Kind::Cluster.version_path(), "spec.topology.version");
    }
}
