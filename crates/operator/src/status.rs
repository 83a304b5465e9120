//! Status writes: server-side apply on the status subresource with the operator's field manager,
//! fenced by the resourceVersion the new status was computed from.
//!
//! The fence matters when two replicas briefly both believe they lead (a paused process that lost its
//! Lease): the stale one's write fails with a conflict instead of overwriting newer progress.

use acp_api::names::FIELD_MANAGER;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes `status` onto `object`, requiring that it is still at `object`'s resourceVersion. Returns the
/// object as stored afterwards.
pub async fn apply<K>(api: &Api<K>, object: &K, status: &impl Serialize) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut patch = acp_api::ssa::status_body::<K>(status).map_err(kube::Error::SerdeError)?;
    patch["metadata"] = serde_json::json!({
        "name": object.name_any(),
        "resourceVersion": object.resource_version(),
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
}

/// True for the conflict a stale write gets; the reconcile simply runs again on fresh data.
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}
