//! The reads and writes of ClusterVersionShadow and ProductManifest objects the commands share, with
//! errors that say what to do next.

use acp_api::{ClusterVersionShadow, ProductManifest, names};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::Value;

use crate::connect::Connection;
use crate::errors::{Kind, Request};

fn request<'a>(conn: &'a Connection, verb: &'static str, name: &'a str) -> Request<'a> {
    Request {
        server: &conn.server,
        verb,
        kind: Kind::ClusterVersionShadow,
        name,
        namespace: Some(&conn.namespace),
    }
}

fn api(conn: &Connection) -> Api<ClusterVersionShadow> {
    Api::namespaced(conn.client.clone(), &conn.namespace)
}

/// One GET of the cluster's ClusterVersionShadow.
pub async fn get_cvsh(conn: &Connection, name: &str) -> anyhow::Result<ClusterVersionShadow> {
    api(conn)
        .get(name)
        .await
        .map_err(|e| request(conn, "read", name).explain(e))
}

/// What one read of a watched ClusterVersionShadow saw.
pub enum Watched {
    Seen(Box<ClusterVersionShadow>),
    /// The API server did not answer (restarting, overloaded); the message says which server and why.
    Unreachable(String),
}

/// One GET for `--watch`: outages of the API server are reported, not fatal; every other error is.
pub async fn watch_cvsh(conn: &Connection, name: &str) -> anyhow::Result<Watched> {
    match api(conn).get(name).await {
        Ok(cvsh) => Ok(Watched::Seen(Box::new(cvsh))),
        Err(e) if crate::errors::is_transient(&e) => {
            Ok(Watched::Unreachable(request(conn, "read", name).message(&e)))
        }
        Err(e) => Err(request(conn, "read", name).explain(e)),
    }
}

/// The cluster's ClusterVersionShadow, or None when there is none (the API itself must exist).
pub async fn get_cvsh_opt(conn: &Connection, name: &str) -> anyhow::Result<Option<ClusterVersionShadow>> {
    match api(conn).get(name).await {
        Ok(cvsh) => Ok(Some(cvsh)),
        Err(e) if crate::errors::is_object_missing(&e) => Ok(None),
        Err(e) => Err(request(conn, "read", name).explain(e)),
    }
}

/// Every ClusterVersionShadow of the namespace.
pub async fn list_cvsh(conn: &Connection) -> anyhow::Result<Vec<ClusterVersionShadow>> {
    api(conn)
        .list(&Default::default())
        .await
        .map(|list| list.items)
        .map_err(|e| request(conn, "list", "").explain(e))
}

/// A JSON merge patch of the cvsh's spec, by the CLI's field manager.
pub async fn merge_patch_cvsh(
    conn: &Connection,
    name: &str,
    body: &Value,
) -> anyhow::Result<ClusterVersionShadow> {
    let params = PatchParams {
        field_manager: Some(names::CLI_FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    api(conn)
        .patch(name, &params, &Patch::Merge(body))
        .await
        .map_err(|e| request(conn, "update", name).explain(e))
}

/// Every ProductManifest (they are cluster-scoped).
pub async fn list_manifests(conn: &Connection) -> anyhow::Result<Vec<ProductManifest>> {
    Api::<ProductManifest>::all(conn.client.clone())
        .list(&Default::default())
        .await
        .map(|list| list.items)
        .map_err(|e| {
            Request {
                server: &conn.server,
                verb: "list",
                kind: Kind::ProductManifest,
                name: "",
                namespace: None,
            }
            .explain(e)
        })
}
