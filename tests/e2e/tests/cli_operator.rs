//! The documented journey with the operator running: `ac adm upgrade` shows what acp-cvo observed,
//! `ac adm release import-manifest --wait` makes a release available, `ac adm upgrade --to-latest` asks for
//! it, `ac adm upgrade status --watch` follows it to Completed.

use acp_e2e::cli::{AcOutput, ac};
use acp_e2e::operator::{
    LONG, SHORT, cluster, create_cvsh, install_crds, install_release, run_operator, start,
};
use acp_testkit::{ClusterSpec, NodeSpec, TestEnv, wait_for_some};
use serde_json::json;

/// Runs `ac args` until its output satisfies `accept`, returning that output.
async fn ac_until(
    global: &acp_testkit::Cluster,
    args: &[&str],
    what: &str,
    timeout: std::time::Duration,
    accept: impl Fn(&AcOutput) -> bool,
) -> AcOutput {
    let last = std::sync::Mutex::new(String::new());
    let found = wait_for_some(what, timeout, || async {
        let out = ac(global, args).await;
        *last.lock().unwrap() = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        accept(&out).then_some(out)
    })
    .await;
    match found {
        Ok(out) => out,
        Err(err) => panic!("{err}\nlast `ac {}`:\n{}", args.join(" "), last.lock().unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_request_and_watch_an_upgrade_to_completion() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    install_release(global, "4.3.0").await;
    create_cvsh(global, "global", json!({})).await;
    let _operator = run_operator(&env, "4.3.0", "replica-a");

    // What acp-cvo observed, and no updates until a release is imported.
    let out = ac_until(
        global,
        &["adm", "upgrade"],
        "the global cluster at 4.3.0",
        LONG,
        |o| o.code == Some(0) && o.stdout.contains("Current version:    4.3.0") && o.stdout.contains("v1.34"),
    )
    .await;
    assert!(out.stdout.contains("No updates available"), "{}", out.stdout);
    let stderr = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("ac adm release import-manifest --version=V"),
        "{stderr}"
    );

    // Import 4.3.1 and wait until acp-cvo resolved it.
    let stdout = ac(
        global,
        &[
            "adm",
            "release",
            "import-manifest",
            "--version",
            "4.3.1",
            "--wait",
            "--timeout",
            "2m",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(stdout.contains("ProductManifest v4.3.1 is Ready"), "{stdout}");

    // The continuous preflight answers "could 4.3.1 start now?".
    let out = ac_until(
        global,
        &["adm", "upgrade"],
        "a preflight verdict for 4.3.1",
        LONG,
        |o| {
            o.stdout.contains("Newest update: 4.3.1 could start now")
                || o.stdout.contains("4.3.1 is blocked by")
        },
    )
    .await;
    assert!(
        out.stdout.contains("Newest update: 4.3.1 could start now"),
        "{}",
        out.stdout
    );

    let stdout = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .ok()
        .to_owned();
    assert!(
        stdout.contains("Requested upgrade of cluster global from 4.3.0 to 4.3.1"),
        "{stdout}"
    );

    // Follow it to the end.
    let out = ac(
        global,
        &[
            "adm",
            "upgrade",
            "status",
            "--watch",
            "--timeout",
            "4m",
            "--interval",
            "1s",
        ],
    )
    .await;
    out.ok();
    let last_page = out.stdout.rsplit("---").next().unwrap();
    assert!(last_page.contains("Assessment:  Idle"), "{last_page}");
    assert!(out.stdout.contains("Assessment:  Upgrading") || out.stdout.contains("Assessment:  Requested"));

    let stdout = ac(global, &["adm", "upgrade"]).await.ok().to_owned();
    assert!(stdout.contains("Current version:    4.3.1"), "{stdout}");
    let stdout = ac(global, &["adm", "upgrade", "status"]).await.ok().to_owned();
    let history = stdout.split("History").nth(1).unwrap();
    assert!(
        history
            .lines()
            .any(|l| l.starts_with("4.3.1") && l.contains("Completed")),
        "{stdout}"
    );
    let stdout = ac_until(
        global,
        &["adm", "cluster", "list"],
        "global listed Idle at 4.3.1",
        SHORT,
        |o| {
            o.stdout.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&"global")
                    && cells.get(3) == Some(&"4.3.1")
                    && cells.last() == Some(&"Idle")
            })
        },
    )
    .await;
    assert_eq!(stdout.code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_workload_cluster_on_kubernetes_1_30_holds_the_global_cluster_back() {
    // The global cluster runs workloads (its modules roll out); the workload cluster only needs /version.
    let env = TestEnv::start([cluster("global", "1.34"), ClusterSpec::new("edge-1", "1.30")])
        .await
        .unwrap();
    let global = env.cluster("global");
    let edge = env.cluster("edge-1");
    global
        .create_node(NodeSpec::new("global-worker-1"))
        .await
        .unwrap();
    install_crds(global).await;
    install_release(global, "4.2.5").await;
    create_cvsh(global, "global", json!({})).await;
    let _operator = run_operator(&env, "4.2.5", "replica-a");
    ac(
        global,
        &["adm", "release", "import-manifest", "--version", "4.3.1"],
    )
    .await
    .ok();
    ac_until(
        global,
        &["adm", "upgrade"],
        "the global cluster at 4.2.5",
        LONG,
        |o| o.stdout.contains("Current version:    4.2.5"),
    )
    .await;

    // ACP 4.2.5 manages Kubernetes 1.30: the cluster is registered, its version recorded in it.
    let edge_kubeconfig = edge.kubeconfig_path().to_str().unwrap().to_owned();
    let stdout = ac(
        global,
        &[
            "adm",
            "cluster",
            "register",
            "edge-1",
            "--kubeconfig",
            &edge_kubeconfig,
            "--version",
            "4.2.5",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(
        stdout.starts_with("Registered cluster edge-1 (Workload, PlatformManaged, Kubernetes v1.30"),
        "{stdout}"
    );

    // acp-cvo observes it: Kubernetes from /version, platform version from its acp-version ConfigMap.
    ac_until(
        global,
        &["adm", "cluster", "list"],
        "edge-1 observed at 4.2.5 on 1.30",
        LONG,
        |o| {
            o.stdout.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&"edge-1")
                    && cells.get(3) == Some(&"4.2.5")
                    && cells.get(5).is_some_and(|k| k.starts_with("v1.30"))
            })
        },
    )
    .await;

    // ACP 4.3 needs every workload cluster on 1.31-1.34 first: the newest update is blocked, naming edge-1.
    let out = ac_until(
        global,
        &["adm", "upgrade"],
        "4.3.1 blocked by KubernetesVersionSupported",
        LONG,
        |o| {
            o.stdout
                .contains("Newest update: 4.3.1 is blocked by KubernetesVersionSupported")
        },
    )
    .await;
    let verdict = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Newest update:"))
        .unwrap();
    assert!(verdict.contains("edge-1"), "{verdict}");

    // It can still be requested (it is offered); it stays Blocked and can be cancelled.
    ac(global, &["adm", "upgrade", "--to", "4.3.1"]).await.ok();
    let out = ac_until(
        global,
        &["adm", "upgrade", "status"],
        "the request blocked by preflight",
        LONG,
        |o| {
            o.stdout
                .contains("Preflight:   4.3.1 is blocked by KubernetesVersionSupported")
        },
    )
    .await;
    assert!(out.stdout.contains("Assessment:  Blocked"), "{}", out.stdout);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("KubernetesVersionSupported") && l.contains("Failed")),
        "{}",
        out.stdout
    );
    let stdout = ac(global, &["adm", "upgrade", "--clear"]).await.ok().to_owned();
    assert!(
        stdout.contains("Cancelled the requested upgrade of cluster global to 4.3.1"),
        "{stdout}"
    );
}
