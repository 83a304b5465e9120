//! Bad input gets a clear condition and loses nothing: requests that are not versions, downgrades,
//! releases nobody knows, kubeconfig Secrets that are missing or broken, and a module manifest the API
//! server rejects (the operation fails with the server's message, the cluster turns Degraded, then Stalled,
//! and the upgrade completes once the cause is gone).

use acp_api::conditions::{self, types};
use acp_api::cvsh::CheckState;
use acp_api::names;
use acp_e2e::operator::*;
use acp_testkit::wait_for;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

fn reason_of(shadow: &acp_api::ClusterVersionShadow, type_: &str) -> String {
    conditions::find(shadow.conditions(), type_)
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_broken_access_get_clear_conditions() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    create_cvsh(
        global,
        "ghost",
        json!({"kubeconfigSecretRef": {"name": "ghost-kubeconfig"}}),
    )
    .await;
    apply(
        global,
        &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "garbled-kubeconfig", "namespace": names::NAMESPACE,
                             "labels": {names::labels::KUBECONFIG: "true"}},
                "stringData": {"value": "this is not a kubeconfig: ["}}),
    )
    .await;
    create_cvsh(
        global,
        "garbled",
        json!({"kubeconfigSecretRef": {"name": "garbled-kubeconfig"}}),
    )
    .await;
    let _operator = run_operator(&env, "4.2.3", "replica-a");

    let ghost = wait_shadow(global, "ghost", "Degraded for the missing Secret", LONG, |s| {
        reason_of(s, types::DEGRADED) == "KubeconfigSecretMissing"
    })
    .await;
    let degraded = conditions::find(ghost.conditions(), types::DEGRADED).unwrap();
    assert!(
        degraded.message.contains("cpaas-system/ghost-kubeconfig"),
        "{}",
        degraded.message
    );
    assert_eq!(reason_of(&ghost, types::READY), "VersionUnknown");
    assert_eq!(observed(&ghost).unwrap().reachable, Some(false));
    wait_shadow(
        global,
        "garbled",
        "Degraded for the broken kubeconfig",
        LONG,
        |s| reason_of(s, types::DEGRADED) == "KubeconfigInvalid",
    )
    .await;

    request(global, "global", "4.x").await;
    let invalid = wait_shadow(global, "global", "InvalidVersion", LONG, |s| {
        reason_of(s, types::READY) == "InvalidVersion"
    })
    .await;
    assert!(
        conditions::find(invalid.conditions(), types::READY)
            .unwrap()
            .message
            .contains("spec.desiredUpdate.version")
    );

    request(global, "global", "4.2.0").await;
    let downgrade = wait_shadow(global, "global", "downgrade refused", LONG, |s| {
        s.desired_version() == Some("4.2.0")
            && check(s, "VersionUpgradePath").is_some_and(|c| c.reason.as_deref() == Some("Downgrade"))
    })
    .await;
    assert_eq!(
        check(&downgrade, "VersionUpgradePath").unwrap().state,
        CheckState::Failed
    );
    assert_eq!(reason_of(&downgrade, types::READY), "PreflightFailed");
    assert!(downgrade.status.as_ref().unwrap().stages.is_empty());

    request(global, "global", "4.9.9").await;
    let unknown = wait_shadow(global, "global", "unknown release waits", LONG, |s| {
        s.desired_version() == Some("4.9.9")
            && check(s, "VersionUpgradePath").is_some_and(|c| c.state == CheckState::Retry)
    })
    .await;
    assert!(
        check(&unknown, "VersionUpgradePath")
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains("import-manifest")
    );

    // Withdrawing a request that never started cancels it.
    clear_request(global, "global").await;
    let cleared = wait_shadow(global, "global", "request cancelled", LONG, |s| {
        s.desired_version().is_none()
    })
    .await;
    assert!(ready(&cleared));
    assert_eq!(history(&cleared), [("4.2.3".into(), "Completed".into())]);
    wait_for("a RequestCancelled Event", SHORT, || async {
        !events(global, "global", "RequestCancelled").await.is_empty()
    })
    .await
    .unwrap();

    request(global, "global", "4.2.3").await;
    let same = wait_shadow(global, "global", "at the requested version", LONG, |s| {
        s.desired_version() == Some("4.2.3")
    })
    .await;
    assert!(ready(&same));
    assert!(same.status.as_ref().unwrap().stages.is_empty());
}

const POLICY: &str = "hold-platform-auth";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_manifest_fails_the_operation_then_stalls_and_recovers() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    install_release(global, "4.2.3").await;
    import(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;

    // An admission policy refuses platform-auth 4.3.1, as a site policy or a broken manifest would.
    apply(
        global,
        &json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]},
                "validations": [{
                    "expression": "object.metadata.name != 'platform-auth' || object.spec.template.spec.containers.all(c, !has(c.env) || c.env.all(e, e.name != 'ACP_VERSION' || e.value != '4.3.1'))",
                    "message": "platform-auth 4.3.1 is held by site policy",
                }],
            },
        }),
    )
    .await;
    apply(
        global,
        &json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY},
            "spec": {"policyName": POLICY, "validationActions": ["Deny"]},
        }),
    )
    .await;
    let probe_manifest = acp_operator::releases::builtin::sample_modules(&"4.3.1".parse().unwrap())
        .into_iter()
        .find(|m| m.name == "platform-auth")
        .unwrap()
        .manifests
        .last()
        .cloned()
        .unwrap();
    let probe: Deployment = serde_json::from_value(probe_manifest).unwrap();
    let deployments: Api<Deployment> = Api::namespaced(global.client().await.unwrap(), "default");
    wait_for("the admission policy to take effect", SHORT, || async {
        deployments
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &probe,
            )
            .await
            .is_err()
    })
    .await
    .unwrap();

    let operator = env
        .spawn(operator_spec_with(
            global,
            "4.2.3",
            "replica-a",
            &[("--stall-after", "8")],
        ))
        .unwrap();
    wait_shadow(global, "global", "current 4.2.3", LONG, |s| {
        s.current_version() == Some("4.2.3")
    })
    .await;
    request(global, "global", "4.3.1").await;

    let failed = wait_shadow(global, "global", "platform-auth failed", LONG, |s| {
        operation_in(s, "Core", "platform-auth", "Failed") && condition_is(s, types::DEGRADED, "True")
    })
    .await;
    let op = operation(&failed, "platform-auth").unwrap();
    assert!(
        op.message.as_deref().unwrap().contains("held by site policy"),
        "{:?}",
        op.message
    );
    assert_eq!(reason_of(&failed, types::DEGRADED), "OperationFailed");
    assert!(operation_in(&failed, "Core", "platform-api", "Succeeded"));
    assert!(
        operation_in(&failed, "Core", "platform-console", "Pending"),
        "dependants wait"
    );
    assert!(condition_is(&failed, types::RECONCILING, "True"));

    let stalled = wait_shadow(global, "global", "Stalled after the deadline", LONG, |s| {
        condition_is(s, types::STALLED, "True")
    })
    .await;
    let message = conditions::find(stalled.conditions(), types::STALLED)
        .unwrap()
        .message
        .clone();
    assert!(message.contains("held by site policy"), "{message}");
    assert!(!events(global, "global", "OperationFailed").await.is_empty());

    // The cause goes away: the operation is retried and the upgrade completes.
    let bindings: Api<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding> =
        Api::all(global.client().await.unwrap());
    bindings.delete(POLICY, &DeleteParams::default()).await.unwrap();
    let done = wait_shadow(global, "global", "4.3.1 completed", LONG, |s| {
        s.current_version() == Some("4.3.1") && ready(s)
    })
    .await;
    assert!(condition_is(&done, types::DEGRADED, "False"));
    assert!(condition_is(&done, types::STALLED, "False"));
    assert_modules_upgraded_once(global, "4.3.1").await;
    drop(operator);
}
