//! A run's writes to ClusterVersionShadows: setting a cluster's request when its turn comes, and
//! withdrawing one the run set. Both carry the resourceVersion the decision read, so a person's change
//! made in between wins and the run decides again on fresh data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use acp_api::ClusterVersionShadow;
use acp_api::names::{FIELD_MANAGER, annotations, labels};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

/// Requests this replica wrote whose watch events the cache may not hold yet. A step must read the
/// cluster as written, or it would take the missing request for a withdrawn one.
#[derive(Default)]
pub struct Written(Mutex<HashMap<String, Arc<ClusterVersionShadow>>>);

impl Written {
    /// The newer of the cached object and the one this replica wrote (by `metadata.generation`, which
    /// every spec write moves).
    pub fn newest(&self, cached: Arc<ClusterVersionShadow>) -> Arc<ClusterVersionShadow> {
        let mut written = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let name = cached.name_any();
        match written.get(&name) {
            Some(ours) if ours.meta().generation > cached.meta().generation => ours.clone(),
            Some(_) => {
                written.remove(&name);
                cached
            }
            None => cached,
        }
    }

    fn remember(&self, shadow: ClusterVersionShadow) {
        let mut written = self.0.lock().unwrap_or_else(|p| p.into_inner());
        written.insert(shadow.name_any(), Arc::new(shadow));
    }
}

/// Sets `spec.desiredUpdate.version` to `target` and labels the cvsh with the run.
pub async fn start(
    api: &Api<ClusterVersionShadow>,
    written: &Written,
    shadow: &ClusterVersionShadow,
    run: &str,
    target: &str,
) -> Result<(), kube::Error> {
    let patch = if shadow.requested_version() == Some(target) {
        // Someone already asks for the target: the run follows that request as it is (with whatever
        // force or acceptance a person chose) and only marks it.
        serde_json::json!({
            "metadata": {
                "resourceVersion": shadow.resource_version(),
                "labels": { labels::UPGRADE_RUN: run },
            },
        })
    } else {
        // The whole request is replaced: a finished earlier request's `force` must not carry over to
        // the run's.
        serde_json::json!({
            "metadata": {
                "resourceVersion": shadow.resource_version(),
                "labels": { labels::UPGRADE_RUN: run },
                "annotations": { annotations::RUN_REQUEST: run },
            },
            "spec": { "desiredUpdate": {
                "version": target,
                "image": null,
                "force": null,
                "ignoreMaintenanceWindow": null,
                "acceptRisks": null,
            } },
        })
    };
    let stored = api
        .patch(
            &shadow.name_any(),
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Merge(&patch),
        )
        .await?;
    written.remember(stored);
    Ok(())
}

/// Withdraws the request the run set (only when the cvsh still carries the run's label).
pub async fn withdraw(
    api: &Api<ClusterVersionShadow>,
    written: &Written,
    shadow: &ClusterVersionShadow,
    run: &str,
) -> Result<(), kube::Error> {
    if shadow.labels().get(labels::UPGRADE_RUN).map(String::as_str) != Some(run) {
        return Ok(());
    }
    // A request a person made (the run only marked it) stays: only the run's mark goes.
    let wrote_it = shadow
        .annotations()
        .get(annotations::RUN_REQUEST)
        .map(String::as_str)
        == Some(run);
    let patch = if wrote_it {
        serde_json::json!({
            "metadata": {
                "resourceVersion": shadow.resource_version(),
                "labels": { labels::UPGRADE_RUN: null },
                "annotations": { annotations::RUN_REQUEST: null },
            },
            "spec": { "desiredUpdate": null },
        })
    } else {
        serde_json::json!({
            "metadata": {
                "resourceVersion": shadow.resource_version(),
                "labels": { labels::UPGRADE_RUN: null },
            },
        })
    };
    let stored = api
        .patch(
            &shadow.name_any(),
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Merge(&patch),
        )
        .await?;
    written.remember(stored);
    Ok(())
}
