//! Releases from a real OCI registry: a 4.4.0 bundle published with `ac adm release push`, offered once
//! its ProductManifest (by image) resolves, requested by image, and applied — its own modules rolled out.
//! A version the configured release repository lacks is not Ready and says so.

use acp_api::conditions::{self, types};
use acp_api::{ProductManifest, names};
use acp_e2e::bundles::{bundle_release, push_release, start_registry};
use acp_e2e::operator::*;
use acp_testkit::{wait_for, wait_for_some};
use kube::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_pulled_from_a_registry_is_offered_requested_by_image_and_applied() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");

    let (host, _registry) = start_registry(&env).await;

    // ACP 4.4.0 as a bundle: reachable from 4.3, on Kubernetes 1.34 here, with its own module versions.
    let repository = format!("{host}/acp/release");
    let pinned = push_release(env.dir(), &repository, &bundle_release("4.4.0"), None).await;
    let digest = pinned.rsplit_once('@').unwrap().1.to_string();
    let image = format!("{repository}:4.4.0");

    install_release(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let spec = operator_spec(global, "4.3.1", "replica-a").args(["--release-repository", &repository]);
    let operator = env.spawn(spec).unwrap();
    import_image(global, "acp-4-4-0", &image).await;
    import(global, "4.5.0").await;

    let manifests: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    let resolved = wait_for_some("the 4.4.0 ProductManifest to be Ready", LONG, || async {
        manifests.get("acp-4-4-0").await.ok().filter(|pm| pm.is_ready())
    })
    .await
    .unwrap();
    let status = resolved.status.as_ref().unwrap();
    assert_eq!(status.resolved_image_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(status.release.as_ref().unwrap().version, "4.4.0");
    // Started without --release-verification-key: offered, and it says the signature was not checked.
    let signature = conditions::find(resolved.conditions(), types::SIGNATURE_VERIFIED).unwrap();
    assert_eq!(
        (signature.status.as_str(), signature.reason.as_str()),
        ("False", "VerificationDisabled"),
        "{}",
        signature.message
    );
    let missing = wait_for_some("4.5.0 to be refused", LONG, || async {
        let pm = manifests.get("v4.5.0").await.ok()?;
        conditions::find(pm.conditions(), types::READY).cloned()
    })
    .await
    .unwrap();
    assert_eq!(
        (missing.status.as_str(), missing.reason.as_str()),
        ("False", "BundleNotFound"),
        "{}",
        missing.message
    );

    wait_shadow(global, "global", "4.4.0 offered", LONG, |s| {
        offered(s) == ["4.4.0"]
    })
    .await;
    // What AcpCvoReleaseUnsigned alerts on: an offered release whose signature nobody checked.
    let addr = metrics_addr(&operator);
    wait_for("acp_cvo_release_unsigned for 4.4.0", LONG, || async {
        metric(&addr, "acp_cvo_release_unsigned{version=\"4.4.0\"}").await == Some(1.0)
    })
    .await
    .unwrap();
    request_image(global, "global", &image).await;
    let done = wait_shadow(global, "global", "4.4.0 completed", LONG, |s| {
        s.current_version() == Some("4.4.0") && ready(s)
    })
    .await;
    let status = done.status.as_ref().unwrap();
    assert_eq!(
        status.current.as_ref().unwrap().image.as_deref(),
        Some(image.as_str())
    );
    assert_eq!(status.history[0].image, image);
    assert_eq!(history(&done)[1], ("4.3.1".into(), "Completed".into()));
    assert_modules_upgraded_once(global, "4.4.0").await;
}
