//! Waits that name their culprit, on a real cluster: kube-scheduler's own message for a pod no node
//! fits, a container kwok reports crash-looping, a node whose kubelet went away. Each is in the
//! operation's status and message, under the operation in `ac adm upgrade status`, and counted by reason
//! on `/metrics`.

use std::time::Duration;

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::Insight;
use acp_api::names;
use acp_e2e::bundles::{bundle_release, push_release, start_registry};
use acp_e2e::cli::ac;
use acp_e2e::operator::*;
use acp_testkit::{CRASH_LOOP_LABEL, NodeSpec};
use serde_json::{Value, json};

const API: &str = "platform-api";
const AUTH: &str = "platform-auth";
const CONSOLE: &str = "platform-console";
/// The node the console's new pods are bound to, taken down before the upgrade.
const LOST_NODE: &str = "global-worker-2";

/// The Deployment of a sample module, for editing its pod template.
fn deployment_of<'a>(release: &'a mut acp_policy::ProductRelease, module: &str) -> &'a mut Value {
    release
        .modules
        .iter_mut()
        .find(|m| m.name == module)
        .and_then(|m| m.manifests.iter_mut().find(|o| o["kind"] == "Deployment"))
        .unwrap()
}

fn insights<'a>(shadow: &'a ClusterVersionShadow, op: &str) -> &'a [Insight] {
    operation(shadow, op).map_or(&[], |o| o.insights.as_slice())
}

fn names_culprit(shadow: &ClusterVersionShadow, op: &str, reason: &str) -> bool {
    insights(shadow, op).iter().any(|i| i.reason == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_modules_name_their_culprits_in_status_in_ac_and_in_metrics() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let (host, _registry) = start_registry(&env).await;

    // 4.3.2 breaks three modules, each its own way; none waits for another.
    let repository = format!("{host}/acp/release");
    let mut release = bundle_release("4.3.2");
    deployment_of(&mut release, API)["spec"]["template"]["spec"]["nodeSelector"] =
        json!({"acp.example/pool": "gpu"});
    deployment_of(&mut release, AUTH)["spec"]["template"]["metadata"]["labels"][CRASH_LOOP_LABEL.0] =
        json!(CRASH_LOOP_LABEL.1);
    deployment_of(&mut release, CONSOLE)["spec"]["template"]["spec"]["nodeName"] = json!(LOST_NODE);
    for module in &mut release.modules {
        module.depends_on.clear();
    }
    push_release(env.dir(), &repository, &release, None).await;
    let image = format!("{repository}:4.3.2");

    install_release(global, "4.3.1").await;
    // Joins after 4.3.1 rolled out, its kubelet already down.
    global
        .create_node(NodeSpec::new(LOST_NODE).not_ready("KubeletNotReady", "container runtime is down"))
        .await
        .unwrap();
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    // The lost node would hold the upgrade at preflight; it is lost on purpose here.
    disable_checks(global, &["ClusterRunning"]).await;
    let spec = operator_spec(global, "4.3.1", "replica-a").args([
        "--release-repository",
        &repository,
        "--insight-after",
        "5",
    ]);
    let operator = env.spawn(spec).unwrap();
    import_image(global, "acp-4-3-2", &image).await;
    wait_shadow(global, "global", "4.3.2 offered", LONG, |s| {
        offered(s).contains(&"4.3.2".to_string())
    })
    .await;
    request_image(global, "global", &image).await;

    let stuck = wait_shadow(
        global,
        "global",
        "each stuck module to name its culprit",
        LONG,
        |s| {
            names_culprit(s, API, "Unschedulable")
                && names_culprit(s, AUTH, "CrashLoopBackOff")
                && names_culprit(s, CONSOLE, "NodeNotReady")
        },
    )
    .await;

    let api = &insights(&stuck, API)[0];
    assert!(
        api.object.starts_with("Pod cpaas-system/platform-api-"),
        "{api:?}"
    );
    assert!(
        api.message.contains("didn't match Pod's node affinity/selector"),
        "the scheduler's own words: {api:?}"
    );
    let auth = &insights(&stuck, AUTH)[0];
    assert!(
        auth.message
            .contains("container platform-auth keeps crashing (last exit code 1, 5 restarts)"),
        "{auth:?}"
    );
    let console = insights(&stuck, CONSOLE)
        .iter()
        .find(|i| i.reason == "NodeNotReady")
        .unwrap();
    assert_eq!(console.object, format!("Node {LOST_NODE}"));
    assert!(console.message.starts_with("node is not Ready"), "{console:?}");
    let message = operation(&stuck, API)
        .unwrap()
        .message
        .clone()
        .unwrap_or_default();
    assert!(
        message.contains("; Pod cpaas-system/platform-api-")
            && message.contains("the scheduler cannot place it"),
        "the operation's message names the culprit too: {message}"
    );

    let status = ac(global, &["adm", "upgrade", "status"]).await.ok().to_owned();
    let waiting = &status[status.find("Waiting on:").unwrap_or_else(|| panic!("{status}"))..];
    for expected in [
        "Core/platform-api (looked ",
        "(Unschedulable): the scheduler cannot place it",
        "Core/platform-auth (looked ",
        "(CrashLoopBackOff): container platform-auth keeps crashing",
        "What to do: read the container's logs",
        "Core/platform-console (looked ",
        "Node global-worker-2 (NodeNotReady)",
    ] {
        assert!(waiting.contains(expected), "{expected:?} missing from:\n{status}");
    }

    let metrics = metrics_addr(&operator);
    for reason in ["Unschedulable", "CrashLoopBackOff", "NodeNotReady"] {
        let series = format!("acp_cvo_upgrade_wait_insights{{cluster=\"global\",reason=\"{reason}\"}}");
        acp_testkit::wait_for_some(&series, Duration::from_secs(30), || async {
            metric(&metrics, &series).await.filter(|n| *n >= 1.0)
        })
        .await
        .unwrap();
    }
}
