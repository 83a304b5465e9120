//! Releases from a real OCI registry: a 4.4.0 bundle published with `ac adm release push`, offered once
//! its ProductManifest (by image) resolves, requested by image, and applied — its own modules rolled out.
//! A version the configured release repository lacks is not Ready and says so. The bundle declares a
//! known risk of its own, evaluated on the cluster like a built-in one: the update is not recommended,
//! the request is held naming the risk until it is accepted, and the history records the acceptance.

use acp_api::conditions::{self, types};
use acp_api::cvsh::{CheckState, PreflightCheck};
use acp_api::risks::{ConditionalUpdateRisk, RiskExposure};
use acp_api::{ClusterVersionShadow, ProductManifest, names};
use acp_e2e::bundles::{bundle_release, push_release, start_registry};
use acp_e2e::operator::*;
use acp_testkit::{wait_for, wait_for_some};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const RISK: &str = "CustomCNIRemoved";
const RISK_CHECK: &str = "ConditionalUpdateRisksAccepted";
/// What the risk's ObjectPresent rule names, and what its evidence says once the object exists.
const EVIDENCE: &str = "ConfigMap kube-system/custom-cni-config is present";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_pulled_from_a_registry_is_offered_requested_by_image_and_applied() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");

    let (host, _registry) = start_registry(&env).await;

    // ACP 4.4.0 as a bundle: reachable from 4.3, on Kubernetes 1.34 here, with its own module versions,
    // and a known risk of its own that this cluster is exposed to.
    let repository = format!("{host}/acp/release");
    let mut release = bundle_release("4.4.0");
    release
        .risks
        .push(serde_json::from_value(custom_cni_risk()).unwrap());
    let pinned = push_release(env.dir(), &repository, &release, None).await;
    let digest = pinned.rsplit_once('@').unwrap().1.to_string();
    let image = format!("{repository}:4.4.0");

    install_release(global, "4.3.1").await;
    apply(global, &custom_cni_config()).await;
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
    let declared = &status.release.as_ref().unwrap().risks;
    let declared = declared.iter().find(|r| r.name == RISK);
    assert_eq!(
        declared.map(|r| serde_json::to_value(r).unwrap()),
        Some(custom_cni_risk()),
        "status.release.risks: {:?}",
        status.release.as_ref().unwrap().risks
    );
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
    // The bundle's risk is evaluated on the cluster like a built-in one.
    let seen = wait_shadow(
        global,
        "global",
        "the bundle's risk applies to 4.4.0",
        LONG,
        |s| risk(s).is_some_and(|r| r.exposure == RiskExposure::Applies),
    )
    .await;
    let evidence = &risk(&seen).unwrap().evidence;
    assert!(evidence.contains(EVIDENCE), "{evidence}");
    assert!(
        !seen
            .status
            .as_ref()
            .unwrap()
            .is_recommended(&"4.4.0".parse().unwrap())
    );

    // Requested without accepting: held, naming the risk and its evidence; nothing started.
    request_image(global, "global", &image).await;
    let held = wait_shadow(global, "global", "held by the bundle's risk", LONG, |s| {
        risk_check(s).is_some_and(|c| c.state == CheckState::Failed)
    })
    .await;
    let message = risk_check(&held).unwrap().message.clone().unwrap_or_default();
    for subject in [
        format!("{RISK} (Applies: {EVIDENCE})"),
        format!("--accept {RISK}"),
    ] {
        assert!(message.contains(&subject), "{subject}: {message}");
    }
    assert!(
        history(&held).iter().all(|(version, _)| version != "4.4.0"),
        "held: {:?}",
        history(&held)
    );

    // Accepted in the same request: the upgrade proceeds and its history entry records the acceptance.
    let patch = json!({"spec": {"desiredUpdate": {"image": image, "acceptRisks": [RISK]}}});
    shadows(global)
        .await
        .patch("global", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
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
    let accepted = status.history[0].accepted_risks.as_deref().unwrap_or_default();
    assert!(
        accepted.contains(&format!("{RISK_CHECK}: accepted {RISK} (Applies: {EVIDENCE})")),
        "acceptedRisks: {accepted:?}"
    );
    assert_eq!(history(&done)[1], ("4.3.1".into(), "Completed".into()));
    assert_modules_upgraded_once(global, "4.4.0").await;
}

/// A risk as a vendor writes it in a bundle: applies upgrading from 4.3 while the custom CNI's
/// ConfigMap exists.
fn custom_cni_risk() -> Value {
    json!({
        "name": RISK,
        "message": "ACP 4.4 drops the custom CNI: migrate the cluster to Kube-OVN before upgrading.",
        "url": "https://docs.example.com/acp/4.4/custom-cni",
        "appliesFrom": [">=4.3.0, <4.4.0"],
        "matchingRules": [{
            "type": "ObjectPresent",
            "objectPresent": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "namespace": "kube-system", "name": "custom-cni-config",
            },
        }],
    })
}

fn custom_cni_config() -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "custom-cni-config", "namespace": "kube-system"},
        "data": {"cni": "custom"},
    })
}

/// The cluster's exposure to the bundle's risk of 4.4.0, once the operator published it.
fn risk(shadow: &ClusterVersionShadow) -> Option<&ConditionalUpdateRisk> {
    shadow
        .status
        .as_ref()?
        .conditional_update(&"4.4.0".parse().ok()?)?
        .risks
        .iter()
        .find(|r| r.name == RISK)
}

/// ConditionalUpdateRisksAccepted of the preflight for 4.4.0.
fn risk_check(shadow: &ClusterVersionShadow) -> Option<&PreflightCheck> {
    let preflight = shadow.status.as_ref()?.preflight.as_ref()?;
    (preflight.target_version.as_deref() == Some("4.4.0")).then_some(())?;
    preflight.checks.iter().find(|c| c.name == RISK_CHECK)
}

/// A release that keeps one module as it was: upgrading 4.3.1 to a 4.3.2 bundle whose cluster-logging
/// is 4.3.1's, byte for byte, rolls out the other modules and leaves cluster-logging alone — no apply,
/// no new ReplicaSet — recorded Skipped, "unchanged since 4.3.1".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_unchanged_by_the_release_is_skipped_and_not_rolled_out() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    const UNCHANGED: &str = "cluster-logging";
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let (host, _registry) = start_registry(&env).await;
    let repository = format!("{host}/acp/release");
    let mut release = bundle_release("4.3.2");
    let kept = acp_operator::releases::builtin::sample_modules(&"4.3.1".parse().unwrap())
        .into_iter()
        .find(|m| m.name == UNCHANGED)
        .unwrap();
    for module in &mut release.modules {
        if module.name == UNCHANGED {
            *module = kept.clone();
        }
    }
    push_release(env.dir(), &repository, &release, None).await;
    let image = format!("{repository}:4.3.2");

    install_release(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let spec = operator_spec(global, "4.3.1", "replica-a").args(["--release-repository", &repository]);
    let _operator = env.spawn(spec).unwrap();
    import_image(global, "acp-4-3-2", &image).await;
    wait_shadow(global, "global", "4.3.2 offered", LONG, |s| {
        offered(s).contains(&"4.3.2".to_string())
    })
    .await;
    request_image(global, "global", &image).await;
    let done = wait_shadow(global, "global", "4.3.2 completed", LONG, |s| {
        s.current_version() == Some("4.3.2") && ready(s)
    })
    .await;

    let skipped = operation(&done, UNCHANGED).unwrap();
    assert_eq!(skipped.phase.as_ref().map(|p| p.as_str()), Some("Skipped"));
    let message = skipped.message.as_deref().unwrap_or_default();
    assert!(message.starts_with("unchanged since 4.3.1"), "{message}");
    let logging = module(global, UNCHANGED).await;
    assert!(rolled_out(&logging, "4.3.1"), "{:?}", logging.status);
    assert_eq!(
        logging.metadata.generation,
        Some(1),
        "{UNCHANGED} must not be touched"
    );
    let replica_sets: Api<ReplicaSet> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let owned = replica_sets
        .list(&kube::api::ListParams::default().labels(&format!("app.kubernetes.io/name={UNCHANGED}")))
        .await
        .unwrap();
    assert_eq!(owned.items.len(), 1, "{UNCHANGED}: no new ReplicaSet");
    for name in CORE_MODULES {
        let deployment = module(global, name).await;
        assert!(
            rolled_out(&deployment, "4.3.2"),
            "{name}: {:?}",
            deployment.status
        );
        assert_eq!(
            operation(&done, name)
                .and_then(|o| o.phase.as_ref())
                .map(|p| p.as_str()),
            Some("Succeeded")
        );
    }
}
