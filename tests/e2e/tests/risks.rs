//! Known risks on real clusters, through the operator's real fact readers: a workload cluster still
//! running Flannel (DaemonSet `kube-system/kube-flannel-ds`) is held from 4.2.5 by
//! ConditionalUpdateRisksAccepted naming the DaemonSet while the other cluster is not; `ac` refuses the
//! not-recommended update until `--allow-not-recommended --accept FlannelRemoved`, after which the upgrade
//! starts and its history entry records the accepted risk with its evidence. A node on containerd 1.7
//! exposes its cluster to 4.3's containerd 2.0 risk, a cluster that stops answering shows its risks as
//! Unknown, and `ac adm release risks` prints the fleet matrix. One set of clusters serves every step.

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::{CheckState, HistoryState};
use acp_api::names;
use acp_api::risks::{ConditionalUpdateRisk, RiskExposure};
use acp_e2e::cli;
use acp_e2e::operator::*;
use acp_testkit::{ClusterSpec, NodeSpec};
use serde_json::{Value, json};

const CHECK: &str = "ConditionalUpdateRisksAccepted";
const OLD_RUNTIME_NODE: &str = "plain-containerd-1-7";

/// The exposure of `cluster`'s update to `version` to `risk`, once the operator published it.
fn risk<'a>(
    shadow: &'a ClusterVersionShadow,
    version: &str,
    risk: &str,
) -> Option<&'a ConditionalUpdateRisk> {
    let version = version.parse().ok()?;
    shadow
        .status
        .as_ref()?
        .conditional_update(&version)?
        .risks
        .iter()
        .find(|r| r.name == risk)
}

fn exposed(shadow: &ClusterVersionShadow, version: &str, name: &str, exposure: RiskExposure) -> bool {
    risk(shadow, version, name).is_some_and(|r| r.exposure == exposure)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_risks_hold_exposed_clusters_until_accepted_and_the_fleet_sees_them() {
    let started = std::time::Instant::now();
    let env = start([
        ClusterSpec::new("global", "1.34"),
        ClusterSpec::new("flannel", "1.32"),
        ClusterSpec::new("plain", "1.32"),
    ])
    .await;
    let (global, flannel, plain) = (
        env.cluster("global"),
        env.cluster("flannel"),
        env.cluster("plain"),
    );
    for workload in [flannel, plain] {
        record_version(workload, "4.1.5").await;
    }
    apply(flannel, &flannel_daemon_set()).await;
    plain
        .create_node(NodeSpec::new(OLD_RUNTIME_NODE).container_runtime("containerd://1.7"))
        .await
        .unwrap();
    for version in ["4.2.5", "4.3.1"] {
        import(global, version).await;
    }
    // The workload clusters run neither their release's modules nor kwok (no node reports Ready here):
    // cluster health is not the subject.
    disable_checks(global, &["ClusterModuleStable", "ClusterRunning"]).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    register(global, flannel).await;
    register(global, plain).await;
    // `ghost` is first registered on plain's API server (so its version is known), then loses it.
    register_with(global, "ghost", plain.kubeconfig_yaml(), json!({})).await;
    let _operator = run_operator(&env, "4.3.1", "replica-a");

    // Each cluster is judged against each available update's risks from what it runs.
    let seen = wait_shadow(global, "flannel", "FlannelRemoved applies to 4.2.5", LONG, |s| {
        exposed(s, "4.2.5", "FlannelRemoved", RiskExposure::Applies)
    })
    .await;
    let evidence = &risk(&seen, "4.2.5", "FlannelRemoved").unwrap().evidence;
    assert!(
        evidence.contains("DaemonSet kube-system/kube-flannel-ds is present"),
        "{evidence}"
    );
    assert!(
        !seen
            .status
            .as_ref()
            .unwrap()
            .is_recommended(&"4.2.5".parse().unwrap())
    );
    let other = wait_shadow(global, "plain", "risks evaluated", LONG, |s| {
        exposed(s, "4.2.5", "FlannelRemoved", RiskExposure::DoesNotApply)
            && exposed(s, "4.3.1", "Containerd2Baseline", RiskExposure::Applies)
    })
    .await;
    let containerd = &risk(&other, "4.3.1", "Containerd2Baseline").unwrap().evidence;
    assert!(
        containerd.contains(&format!(
            "node {OLD_RUNTIME_NODE} reports containerRuntimeVersion containerd://1.7"
        )),
        "{containerd}"
    );
    assert!(
        other
            .status
            .as_ref()
            .unwrap()
            .is_recommended(&"4.2.5".parse().unwrap())
    );

    // ghost stops answering: its risks cannot be evaluated, and Unknown counts as exposed.
    let dead = format!("https://127.0.0.1:{}", free_port());
    write_kubeconfig(
        global,
        "ghost",
        &plain.kubeconfig_yaml().replace(plain.server(), &dead),
    )
    .await;

    // Requested without accepting: the Flannel cluster is held naming the DaemonSet, the other is not.
    request(global, "flannel", "4.2.5").await;
    request(global, "plain", "4.2.5").await;
    let held = wait_shadow(global, "flannel", "held by the Flannel risk", LONG, |s| {
        preflight_for(s, "4.2.5", CHECK).is_some_and(|c| c.state == CheckState::Failed)
    })
    .await;
    let message = preflight_for(&held, "4.2.5", CHECK)
        .unwrap()
        .message
        .clone()
        .unwrap();
    for subject in [
        "FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)",
        "Kube-OVN",
        "--accept FlannelRemoved",
    ] {
        assert!(message.contains(subject), "{subject}: {message}");
    }
    assert!(
        held.status
            .as_ref()
            .unwrap()
            .history
            .iter()
            .all(|h| h.version.as_deref() != Some("4.2.5")),
        "held: {:?}",
        history(&held)
    );
    let free = wait_shadow(global, "plain", "not held by a risk", LONG, |s| {
        preflight_for(s, "4.2.5", CHECK).is_some_and(|c| c.state != CheckState::Retry)
    })
    .await;
    let check = preflight_for(&free, "4.2.5", CHECK).unwrap();
    assert_eq!(
        (check.state, check.reason.as_deref()),
        (CheckState::Passed, Some("NotExposed")),
        "{:?}",
        check.message
    );

    // `ac` shows the update as not recommended and refuses it without --allow-not-recommended.
    let page = cli::ac(global, &["adm", "upgrade", "--cluster", "flannel"]).await;
    let page = page.ok();
    assert!(page.contains("no (FlannelRemoved)"), "{page}");
    assert!(
        page.contains("DaemonSet kube-system/kube-flannel-ds is present"),
        "{page}"
    );
    let refused = cli::ac(
        global,
        &["adm", "upgrade", "--cluster", "flannel", "--to", "4.2.5"],
    )
    .await;
    assert!(
        refused
            .failed_with(1)
            .contains("4.2.5 is not recommended for cluster flannel"),
        "{refused:?}"
    );

    // Accepted on record: the upgrade starts and its history entry names the risk and its evidence.
    let accepted = cli::ac(
        global,
        &[
            "adm",
            "upgrade",
            "--cluster",
            "flannel",
            "--to",
            "4.2.5",
            "--allow-not-recommended",
            "--accept",
            "FlannelRemoved",
        ],
    )
    .await;
    assert!(accepted.ok().contains("accepting FlannelRemoved"), "{accepted:?}");
    let upgrading = wait_shadow(global, "flannel", "the upgrade to 4.2.5 started", LONG, |s| {
        s.status
            .as_ref()
            .and_then(|st| st.history.first())
            .is_some_and(|h| h.version.as_deref() == Some("4.2.5"))
    })
    .await;
    let entry = &upgrading.status.as_ref().unwrap().history[0];
    assert_eq!(entry.state, HistoryState::Partial);
    let risks = entry.accepted_risks.as_deref().unwrap_or_default();
    assert!(
        risks.contains("ConditionalUpdateRisksAccepted: accepted FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)"),
        "acceptedRisks: {risks:?}"
    );

    let ghost = wait_shadow(global, "ghost", "its risks are Unknown", LONG, |s| {
        exposed(s, "4.2.5", "FlannelRemoved", RiskExposure::Unknown)
    })
    .await;
    let why = &risk(&ghost, "4.2.5", "FlannelRemoved").unwrap().evidence;
    assert!(why.contains("cluster ghost is unreachable"), "{why}");

    // The fleet at a glance.
    let json_out = cli::ac(global, &["adm", "release", "risks", "4.2.5", "-o", "json"]).await;
    let matrix: Value = serde_json::from_str(json_out.ok()).unwrap();
    let flannel_risk = &matrix["risks"][0];
    assert_eq!(flannel_risk["name"], "FlannelRemoved");
    assert_eq!(
        (
            &flannel_risk["applies"],
            &flannel_risk["unknown"],
            &flannel_risk["doesNotApply"],
            &flannel_risk["notEvaluated"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{matrix}"
    );
    let exposure_of = |cluster: &str| {
        matrix["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster"] == cluster)
            .map(|c| c["risks"][0]["exposure"].clone())
    };
    assert_eq!(exposure_of("flannel"), Some(json!("Applies")));
    assert_eq!(exposure_of("plain"), Some(json!("DoesNotApply")));
    assert_eq!(exposure_of("ghost"), Some(json!("Unknown")));
    assert_eq!(exposure_of("global"), Some(json!("NotEvaluated")));
    let table = cli::ac(global, &["adm", "release", "risks", "4.2.5"]).await;
    let table = table.ok();
    assert!(
        table.contains("FlannelRemoved: 1 applies, 1 unknown, 1 does not apply, 1 not evaluated"),
        "{table}"
    );
    eprintln!("risks e2e took {:?}", started.elapsed());
}

fn preflight_for<'a>(
    shadow: &'a ClusterVersionShadow,
    target: &str,
    name: &str,
) -> Option<&'a acp_api::cvsh::PreflightCheck> {
    let preflight = shadow.status.as_ref()?.preflight.as_ref()?;
    (preflight.target_version.as_deref() == Some(target)).then_some(())?;
    preflight.checks.iter().find(|c| c.name == name)
}

/// Flannel's DaemonSet as the CNI installs it.
fn flannel_daemon_set() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": "kube-system", "labels": {"app": "flannel"}},
        "spec": {
            "selector": {"matchLabels": {"app": "flannel"}},
            "template": {
                "metadata": {"labels": {"app": "flannel"}},
                "spec": {"containers": [{"name": "kube-flannel", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    })
}
