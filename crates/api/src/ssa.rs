//! Bodies for server-side apply. An apply body names apiVersion and kind and holds only the fields
//! its field manager owns; fields it leaves out are released (and removed if nobody else owns them).

use kube::Resource;
use serde::Serialize;
use serde_json::{Value, json};

/// Apply body for the status subresource of a `K`: `{apiVersion, kind, status}`.
pub fn status_body<K>(status: &impl Serialize) -> Result<Value, serde_json::Error>
where
    K: Resource<DynamicType = ()>,
{
    Ok(json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": serde_json::to_value(status)?,
    }))
}

/// Apply body for part of a `K`'s spec: `{apiVersion, kind, spec}`.
pub fn spec_body<K>(spec: &impl Serialize) -> Result<Value, serde_json::Error>
where
    K: Resource<DynamicType = ()>,
{
    Ok(json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "spec": serde_json::to_value(spec)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::{ClusterVersionShadowSpec, DesiredUpdate, Release};
    use crate::{ClusterVersionShadow, ClusterVersionShadowStatus, ProductManifest, ProductManifestStatus};

    #[test]
    fn a_status_body_names_the_kind_and_holds_only_what_is_set() {
        let status = ClusterVersionShadowStatus {
            current: Some(Release::version("4.3.0")),
            ..Default::default()
        };
        let body = status_body::<ClusterVersionShadow>(&status).unwrap();
        assert_eq!(
            body,
            json!({
                "apiVersion": "config.alauda.io/v1",
                "kind": "ClusterVersionShadow",
                "status": {"current": {"version": "4.3.0"}},
            })
        );
        let body = status_body::<ProductManifest>(&ProductManifestStatus::default()).unwrap();
        assert_eq!(body["kind"], "ProductManifest");
        assert_eq!(body["status"], json!({}));
    }

    #[test]
    fn a_spec_body_for_an_upgrade_request_holds_only_desired_update() {
        let spec = ClusterVersionShadowSpec {
            desired_update: Some(DesiredUpdate::version("4.3.1")),
            ..Default::default()
        };
        let body = spec_body::<ClusterVersionShadow>(&spec).unwrap();
        assert_eq!(body["spec"], json!({"desiredUpdate": {"version": "4.3.1"}}));
    }
}
