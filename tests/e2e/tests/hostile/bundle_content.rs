//! A release bundle's blast radius, with bundles pushed to a real registry and imported by image:
//! a bundle writing into kube-system is refused when it is resolved and never offered; a bundle whose
//! module would take over a Deployment acp-cvo does not manage fails that operation and leaves the
//! Deployment as it was, while the same bundle with the adoption marker takes it over.

use acp_api::conditions::{self, types};
use acp_api::{ProductManifest, names};
use acp_e2e::bundles::{bundle_release, push_release, start_registry};
use acp_policy::{Lifecycle, Module, ProductRelease};
use acp_testkit::{ChildProcess, Cluster, TestEnv, wait_for_some};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use acp_e2e::operator::*;

/// The Deployment someone else installed in the platform namespace before this release.
const GATEWAY: &str = "gateway";
const GATEWAY_MODULE: &str = "platform-gateway";

/// The built-in modules of `version` plus `extra`, reachable from 4.3 on Kubernetes 1.34.
fn release(version: &str, extra: Vec<Module>) -> ProductRelease {
    let mut release = bundle_release(version);
    release.modules.extend(extra);
    release
}

fn bundle_module(name: &str, version: &str, manifests: Vec<Value>) -> Module {
    Module {
        name: name.into(),
        lifecycle: Lifecycle::Core,
        version: version.into(),
        depends_on: vec![],
        manifests,
    }
}

/// Publishes `release` with `ac adm release push` and returns its `repository:version` reference.
async fn push(env: &TestEnv, host: &str, release: &ProductRelease) -> String {
    let repository = format!("{host}/acp/release");
    let pinned = push_release(env.dir(), &repository, release, None).await;
    pinned.split('@').next().unwrap().to_owned()
}

/// The gateway Deployment as its owner wrote it, or as a release ships it (`version`, `adopt`).
fn gateway(env_value: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": GATEWAY, "namespace": names::NAMESPACE,
                     "labels": {"app.kubernetes.io/name": GATEWAY}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": GATEWAY}},
                "spec": {"containers": [{
                    "name": GATEWAY,
                    "image": acp_operator::releases::builtin::SAMPLE_IMAGE,
                    "env": [{"name": "ACP_VERSION", "value": env_value}],
                }]},
            },
        },
    })
}

/// The global cluster at 4.3.1 with the operator running, a registry, and a `gateway` Deployment that
/// a tenant installed with its own field manager.
struct Platform {
    // Stopped before the clusters they talk to.
    _processes: Vec<ChildProcess>,
    env: TestEnv,
    registry: String,
    /// The tenant's gateway before the operator started.
    gateway: Deployment,
}

async fn platform_with_a_tenant_gateway() -> Platform {
    let env = start([cluster("global", "1.34")]).await;
    let (host, registry) = start_registry(&env).await;
    let global = env.cluster("global");
    install_release(global, "4.3.1").await;
    let deployments: Api<Deployment> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    deployments
        .patch(
            GATEWAY,
            &PatchParams::apply("tenant").force(),
            &Patch::Apply(gateway("tenant-1")),
        )
        .await
        .unwrap();
    let before = wait_for_some("the tenant's gateway to roll out", LONG, || async {
        deployments
            .get(GATEWAY)
            .await
            .ok()
            .filter(|d| rolled_out(d, "tenant-1"))
    })
    .await
    .unwrap();
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let operator = env.spawn(operator_spec(global, "4.3.1", "replica-a")).unwrap();
    Platform {
        _processes: vec![operator, registry],
        env,
        registry: host,
        gateway: before,
    }
}

/// Waits until the ProductManifest is Ready and 4.4.0 is offered, then asks for it by image.
async fn upgrade_to(global: &Cluster, image: &str) {
    wait_shadow(global, "global", "4.4.0 offered", LONG, |s| {
        offered(s).contains(&"4.4.0".to_string())
    })
    .await;
    request_image(global, "global", image).await;
}

fn labels(d: &Deployment) -> std::collections::BTreeMap<String, String> {
    d.metadata.labels.clone().unwrap_or_default()
}

fn managers(d: &Deployment) -> Vec<String> {
    d.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_may_not_write_into_kube_system_nor_take_over_a_deployment_it_does_not_own() {
    let platform = platform_with_a_tenant_gateway().await;
    let (env, host, before) = (&platform.env, &platform.registry, &platform.gateway);
    let global = env.cluster("global");

    // 4.5.0 ships a node agent in kube-system: refused when resolved, never offered, although its
    // upgradeFrom admits 4.3.1 like 4.4.0's does.
    let agent = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
                 "template": {"metadata": {"labels": {"app": "node-agent"}},
                              "spec": {"containers": [{"name": "agent",
                                       "image": acp_operator::releases::builtin::SAMPLE_IMAGE}]}}}});
    let privileged = release("4.5.0", vec![bundle_module("node-agent", "4.5.0", vec![agent])]);
    let privileged_image = push(env, host, &privileged).await;
    import_image(global, "acp-4-5-0", &privileged_image).await;

    // 4.4.0 adds a module whose Deployment is the tenant's gateway, without marking it for adoption.
    let takeover = release(
        "4.4.0",
        vec![bundle_module(GATEWAY_MODULE, "4.4.0", vec![gateway("4.4.0")])],
    );
    let image = push(env, host, &takeover).await;
    import_image(global, "acp-4-4-0", &image).await;

    let manifests: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    let refused = wait_for_some("4.5.0 to be refused", LONG, || async {
        let pm = manifests.get("acp-4-5-0").await.ok()?;
        conditions::find(pm.conditions(), types::READY)
            .filter(|c| c.status == "False")
            .cloned()
    })
    .await
    .unwrap();
    assert_eq!(refused.reason, "ReleaseContentRefused", "{}", refused.message);
    assert!(
        refused.message.contains(
            "module node-agent: DaemonSet kube-system/node-agent writes into namespace kube-system"
        ),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("--allow-privileged-release-content"),
        "{}",
        refused.message
    );
    let shadow = wait_shadow(global, "global", "4.4.0 offered", LONG, |s| {
        !offered(s).is_empty()
    })
    .await;
    assert_eq!(offered(&shadow), ["4.4.0"], "4.5.0 is never offered");

    upgrade_to(global, &image).await;
    let failed = wait_shadow(global, "global", "the gateway module to fail", LONG, |s| {
        operation_in(s, "Core", GATEWAY_MODULE, "Failed")
    })
    .await;
    assert!(
        !offered(&failed).contains(&"4.5.0".to_string()),
        "{:?}",
        offered(&failed)
    );
    let message = operation(&failed, GATEWAY_MODULE)
        .and_then(|o| o.message.clone())
        .unwrap();
    assert!(
        message.contains("Deployment cpaas-system/gateway (it has no app.kubernetes.io/managed-by label)"),
        "{message}"
    );
    assert!(message.contains("config.alauda.io/adopt"), "{message}");

    // The tenant's Deployment is exactly as the tenant left it.
    let after = module(global, GATEWAY).await;
    assert_eq!(after.metadata.generation, before.metadata.generation);
    assert_eq!(labels(&after), labels(before));
    assert_eq!(
        after.spec.as_ref().unwrap().template,
        before.spec.as_ref().unwrap().template
    );
    assert!(
        !managers(&after).contains(&names::FIELD_MANAGER.to_string()),
        "{:?}",
        managers(&after)
    );
    // The platform's own modules, which acp-cvo manages, went ahead.
    wait_shadow(global, "global", "platform-api upgraded", LONG, |s| {
        operation_in(s, "Core", "platform-api", "Succeeded")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_that_marks_the_deployment_for_adoption_takes_it_over() {
    let platform = platform_with_a_tenant_gateway().await;
    let (env, host) = (&platform.env, &platform.registry);
    let global = env.cluster("global");

    // The release also drops cluster-logging, whose Deployment another team has taken over since.
    let handed_over = json!({"metadata": {"labels": {(names::labels::MANAGED_BY): "logging-team"}}});
    let deployments: Api<Deployment> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    deployments
        .patch(
            "cluster-logging",
            &PatchParams::default(),
            &Patch::Merge(&handed_over),
        )
        .await
        .unwrap();

    let mut adopted = gateway("4.4.0");
    adopted["metadata"]["annotations"] = json!({(names::annotations::ADOPT): "true"});
    let mut takeover = release(
        "4.4.0",
        vec![bundle_module(GATEWAY_MODULE, "4.4.0", vec![adopted])],
    );
    takeover.modules.retain(|m| m.name != "cluster-logging");
    let image = push(env, host, &takeover).await;
    import_image(global, "acp-4-4-0", &image).await;

    upgrade_to(global, &image).await;
    let done = wait_shadow(global, "global", "4.4.0 completed", LONG, |s| {
        s.current_version() == Some("4.4.0") && ready(s)
    })
    .await;
    let after = module(global, GATEWAY).await;
    assert!(rolled_out(&after, "4.4.0"), "{:?}", after.status);
    let labels = labels(&after);
    assert_eq!(labels[names::labels::MANAGED_BY], names::FIELD_MANAGER);
    assert_eq!(labels[names::labels::MODULE], GATEWAY_MODULE);
    assert_eq!(labels[names::labels::RELEASE_VERSION], "4.4.0");
    assert!(
        !after
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(names::annotations::ADOPT),
        "the adoption marker is the bundle's, not the object's"
    );
    for name in CORE_MODULES {
        let deployment = module(global, name).await;
        assert!(
            rolled_out(&deployment, "4.4.0"),
            "{name}: {:?}",
            deployment.status
        );
    }

    // The dropped module's Deployment is no longer acp-cvo's: left in place, and the operation says so.
    let logging = module(global, "cluster-logging").await;
    assert!(logging.metadata.deletion_timestamp.is_none());
    let removal = operation(&done, "cluster-logging")
        .and_then(|o| o.message.clone())
        .unwrap();
    assert!(
        removal.contains("left in place")
            && removal.contains("Deployment cpaas-system/cluster-logging (acp-cvo does not manage it"),
        "{removal}"
    );
}
