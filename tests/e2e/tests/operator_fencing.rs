//! Status writes are fenced by the resourceVersion they were computed from: a replica working from an
//! outdated object (one that lost its Lease without noticing) gets a conflict instead of overwriting.

use acp_api::ClusterVersionShadowStatus;
use acp_api::cvsh::Release;
use acp_e2e::operator::*;
use acp_testkit::ClusterSpec;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_from_an_outdated_object_is_refused() {
    let env = start([ClusterSpec::new("global", "1.34")]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({})).await;
    let api = shadows(global).await;
    let seen = api.get("global").await.unwrap();

    let first = ClusterVersionShadowStatus {
        current: Some(Release::version("4.2.3")),
        ..Default::default()
    };
    let written = acp_operator::status::apply(&api, &seen, &first).await.unwrap();
    assert_eq!(written.current_version(), Some("4.2.3"));

    let stale = ClusterVersionShadowStatus {
        current: Some(Release::version("4.0.0")),
        ..Default::default()
    };
    let err = acp_operator::status::apply(&api, &seen, &stale)
        .await
        .unwrap_err();
    assert!(acp_operator::status::is_conflict(&err), "{err}");
    assert_eq!(api.get("global").await.unwrap().current_version(), Some("4.2.3"));

    // Computed from the object as it is now, the write goes through.
    let next = ClusterVersionShadowStatus {
        current: Some(Release::version("4.3.1")),
        ..Default::default()
    };
    acp_operator::status::apply(&api, &written, &next).await.unwrap();
    assert_eq!(api.get("global").await.unwrap().current_version(), Some("4.3.1"));
}
