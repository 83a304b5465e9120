//! `ac adm upgrade` and `ac adm upgrade status` as a user runs them, against a real API server. The
//! status the operator would write is written by the test through the status subresource.

use acp_api::names;
use acp_e2e::cli::{ac, condition, cvsh_api, platform, write_status};
use acp_e2e::{create_cvsh, install_crds};
use acp_testkit::{ClusterSpec, TestEnv};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// The global cluster at 4.2.5, offered 4.3.1 and 4.3.0, preflight for 4.3.1 blocked.
fn idle_status() -> Value {
    json!({
        "current": {"version": "4.2.5"},
        "availableUpdates": [{"version": "4.3.1"}, {"version": "4.3.0"}],
        "observed": {"kubernetesVersion": "v1.34.0", "reachable": true},
        "conditions": [
            condition("Ready", true, "AtDesiredVersion", "Cluster global runs 4.2.5"),
            condition("Reconciling", false, "Idle", "No upgrade requested"),
            condition("Degraded", false, "AsExpected", ""),
        ],
        "preflight": {
            "targetVersion": "4.3.1",
            "checks": [
                {"name": "VersionUpgradePath", "policy": "Once", "state": "Passed",
                 "reason": "UpgradePathSupported", "message": "4.2.5 upgrades to 4.3.1 directly"},
                {"name": "KubernetesVersionSupported", "policy": "Always", "state": "Failed",
                 "reason": "KubernetesBelowCompatibleRange",
                 "message": "workload cluster edge-7 runs Kubernetes v1.30.2, below 1.31-1.34"},
            ],
        },
        "history": [{"version": "4.2.5", "image": "", "state": "Completed",
                     "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"}],
    })
}

/// A timestamp `minutes` before now: the upgrade's elapsed time and ETA are measured against the clock.
fn minutes_ago(minutes: i64) -> String {
    let then = Timestamp::now() - SignedDuration::from_mins(minutes);
    then.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The same cluster executing 4.3.1 (stage Core running).
fn executing_status() -> Value {
    let mut status = idle_status();
    status["desired"] = json!({"version": "4.3.1"});
    status["conditions"] = json!([
        condition("Ready", false, "Upgrading", "Working towards 4.3.1"),
        condition("Reconciling", true, "Upgrading", "Stage Core"),
    ]);
    status["preflight"]["checks"][1]["state"] = json!("Passed");
    status["stages"] = json!([
        {"name": "Prepare", "priority": 10, "phase": "Finished",
         "operations": [{"name": "crds", "action": "Upgrade", "currentVersion": "4.2.5", "targetVersion": "4.3.1", "phase": "Succeeded"}]},
        {"name": "Core", "priority": 30, "phase": "Running",
         "operations": [{"name": "platform-api", "action": "Upgrade", "currentVersion": "4.2.5", "targetVersion": "4.3.1", "phase": "Running"}]},
    ]);
    status["history"] = json!([
        {"version": "4.3.1", "image": "", "state": "Partial", "startedTime": minutes_ago(1)},
        {"version": "4.2.5", "image": "", "state": "Completed",
         "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"},
    ]);
    status
}

/// The upgrade to 4.3.1 finished.
fn completed_status() -> Value {
    let mut status = executing_status();
    status["current"] = json!({"version": "4.3.1"});
    status["availableUpdates"] = json!([]);
    status["conditions"] = json!([condition(
        "Ready",
        true,
        "AtDesiredVersion",
        "Cluster global runs 4.3.1"
    )]);
    status["stages"][1]["phase"] = json!("Finished");
    status["stages"][1]["operations"][0]["phase"] = json!("Succeeded");
    status["history"][0]["state"] = json!("Completed");
    status["history"][0]["completionTime"] = json!(minutes_ago(0));
    status
}

/// True when a line of a table holds exactly these cells.
fn has_row(text: &str, cells: &[&str]) -> bool {
    text.lines()
        .any(|line| line.split_whitespace().collect::<Vec<_>>() == cells)
}

async fn desired_update(env: &TestEnv) -> Option<Value> {
    let cvsh = cvsh_api(env.cluster("global")).await.get("global").await.unwrap();
    cvsh.spec.desired_update.map(|d| serde_json::to_value(d).unwrap())
}

#[tokio::test]
async fn missing_api_and_missing_cluster_say_what_to_do() {
    let env = TestEnv::start([ClusterSpec::new("global", "1.34")])
        .await
        .unwrap();
    let global = env.cluster("global");

    let stderr = ac(global, &["adm", "upgrade"]).await.failed_with(1).to_owned();
    assert!(
        stderr.contains("the ClusterVersionShadow API is not installed on https://127.0.0.1:")
            && stderr.contains("install acp-cvo (kubectl apply -k deploy/)"),
        "{stderr}"
    );
    let stderr = ac(global, &["adm", "release", "list"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("the ProductManifest API is not installed"),
        "{stderr}"
    );

    install_crds(global).await;
    let out = ac(global, &["adm", "upgrade", "status", "--cluster", "edge-1"]).await;
    assert_eq!(
        out.failed_with(1).trim(),
        "error: no ClusterVersionShadow `edge-1` in namespace cpaas-system; list clusters with `ac adm cluster list`"
    );

    // Unreachable API server: the message names it and says what to check.
    let mut bad = global.kubeconfig_yaml().to_owned();
    bad = bad.replace(global.server(), "https://127.0.0.1:1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, bad).unwrap();
    let out = ac(
        global,
        &["adm", "upgrade", "--kubeconfig", path.to_str().unwrap()],
    )
    .await;
    let stderr = out.failed_with(1);
    assert!(
        stderr.contains("cannot reach the API server at https://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(stderr.contains("--kubeconfig/--context"), "{stderr}");
}

#[tokio::test]
async fn upgrade_requests_are_guarded_and_patch_only_desired_update() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({})).await;

    // Before the operator wrote anything: no updates, and --to-latest says what is missing.
    let stdout = ac(global, &["adm", "upgrade"]).await.ok().to_owned();
    assert!(stdout.contains("No updates available"), "{stdout}");
    let stderr = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("no updates are available for cluster global"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ac adm release import-manifest --version=V"),
        "{stderr}"
    );

    write_status(global, "global", idle_status()).await;
    let stdout = ac(global, &["adm", "upgrade"]).await.ok().to_owned();
    assert!(stdout.contains("Current version:    4.2.5"), "{stdout}");
    assert!(
        stdout.contains(
            "Newest update: 4.3.1 is blocked by KubernetesVersionSupported: workload cluster edge-7 runs"
        ),
        "{stdout}"
    );
    let json_out = ac(global, &["adm", "upgrade", "-o", "json"])
        .await
        .ok()
        .to_owned();
    let object: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(object["status"]["current"]["version"], "4.2.5");

    // Usage errors exit 2 and change nothing.
    let stderr = ac(global, &["adm", "upgrade", "--to", "4.x"])
        .await
        .failed_with(2)
        .to_owned();
    assert!(stderr.contains("invalid ACP version \"4.x\""), "{stderr}");
    ac(global, &["adm", "upgrade", "--to", "4.3.1", "--clear"])
        .await
        .failed_with(2);

    // Not offered: refused with the list, nothing written.
    let stderr = ac(global, &["adm", "upgrade", "--to", "4.4.0"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(stderr.contains("available updates: 4.3.1, 4.3.0"), "{stderr}");
    assert!(stderr.contains("--allow-explicit-upgrade"), "{stderr}");
    assert_eq!(desired_update(&env).await, None);

    // --to-latest picks 4.3.1, written by field manager `ac`.
    let stdout = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .ok()
        .to_owned();
    assert!(
        stdout.contains("Requested upgrade of cluster global from 4.2.5 to 4.3.1"),
        "{stdout}"
    );
    assert_eq!(desired_update(&env).await, Some(json!({"version": "4.3.1"})));
    let cvsh = cvsh_api(global).await.get("global").await.unwrap();
    let managers: Vec<String> = cvsh
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&names::CLI_FIELD_MANAGER.to_owned()),
        "{managers:?}"
    );
    // The status, owned by the operator, is untouched.
    assert_eq!(cvsh.status.unwrap().current_version(), Some("4.2.5"));

    // Same request again: nothing to do.
    let stdout = ac(global, &["adm", "upgrade", "--to", "4.3.1"])
        .await
        .ok()
        .to_owned();
    assert!(stdout.contains("already requested"), "{stdout}");

    // --force retargets to 4.3.0 with a warning on stderr.
    let out = ac(global, &["adm", "upgrade", "--to", "4.3.0", "--force"]).await;
    out.ok();
    assert!(out.stderr.contains("warning: --force"), "{}", out.stderr);
    assert_eq!(
        desired_update(&env).await,
        Some(json!({"version": "4.3.0", "force": true}))
    );

    // --allow-explicit-upgrade requests a version not offered; force is withdrawn.
    let out = ac(
        global,
        &["adm", "upgrade", "--to", "4.4.0", "--allow-explicit-upgrade"],
    )
    .await;
    out.ok();
    assert!(
        out.stderr.contains("4.4.0 is not an available update"),
        "{}",
        out.stderr
    );
    assert_eq!(desired_update(&env).await, Some(json!({"version": "4.4.0"})));

    // --clear cancels the request.
    let stdout = ac(global, &["adm", "upgrade", "--clear"]).await.ok().to_owned();
    assert!(
        stdout.contains("Cancelled the requested upgrade of cluster global to 4.4.0"),
        "{stdout}"
    );
    assert_eq!(desired_update(&env).await, None);

    // Degraded: refused unless --allow-upgrade-with-warnings.
    let mut degraded = idle_status();
    degraded["conditions"][2] = condition("Degraded", true, "ObserveFailed", "cannot list nodes");
    write_status(global, "global", degraded).await;
    let stderr = ac(global, &["adm", "upgrade", "--to", "4.3.1"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("cluster global is Degraded (cannot list nodes)"),
        "{stderr}"
    );
    assert_eq!(desired_update(&env).await, None);
    let out = ac(
        global,
        &["adm", "upgrade", "--to", "4.3.1", "--allow-upgrade-with-warnings"],
    )
    .await;
    out.ok();
    assert!(
        out.stderr.contains("requesting the upgrade anyway"),
        "{}",
        out.stderr
    );
    assert_eq!(desired_update(&env).await, Some(json!({"version": "4.3.1"})));

    // Once stages run, --clear is refused and the request stays.
    write_status(global, "global", executing_status()).await;
    let stderr = ac(global, &["adm", "upgrade", "--clear"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("is executing (stage Core, 50% done) and cannot be cancelled"),
        "{stderr}"
    );
    assert_eq!(desired_update(&env).await, Some(json!({"version": "4.3.1"})));
}

#[tokio::test]
async fn status_shows_progress_and_watch_ends_when_the_upgrade_completes() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({"desiredUpdate": {"version": "4.3.1"}})).await;

    let stdout = ac(global, &["adm", "upgrade", "status"]).await.ok().to_owned();
    assert!(stdout.contains("Preflight: no result yet"), "{stdout}");
    assert!(stdout.contains("Assessment:  Requested"), "{stdout}");

    write_status(global, "global", executing_status()).await;
    let stdout = ac(global, &["adm", "upgrade", "status"]).await.ok().to_owned();
    assert!(stdout.contains("Upgrade:     4.2.5 → 4.3.1"), "{stdout}");
    assert!(
        stdout.contains("Completion:  50% (1 of 2 operations done)"),
        "{stdout}"
    );
    assert!(stdout.contains("(the last upgrade took 21m)"), "{stdout}");
    assert!(
        has_row(
            &stdout,
            &["Core", "platform-api", "Upgrade", "4.2.5", "4.3.1", "Running"]
        ),
        "{stdout}"
    );
    // The same through kubectl, which finds kubectl-ac on PATH.
    let plugin = acp_testkit::workspace_binary("acp-cli", "kubectl-ac").unwrap();
    let path = format!(
        "{}:{}",
        plugin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new(acp_testkit::kubectl_path())
        .args(["ac", "adm", "upgrade", "status"])
        .env("PATH", path)
        .env("KUBECONFIG", global.kubeconfig_path())
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().nth(1),
        stdout.lines().nth(1)
    );
    let yaml = ac(global, &["adm", "upgrade", "status", "-o", "yaml"])
        .await
        .ok()
        .to_owned();
    assert!(yaml.contains("kind: ClusterVersionShadow"), "{yaml}");

    // Still running when the timeout passes: exit 1 and say how far it got.
    let out = ac(
        global,
        &[
            "adm",
            "upgrade",
            "status",
            "--watch",
            "--timeout",
            "2s",
            "--interval",
            "1s",
        ],
    )
    .await;
    let stderr = out.failed_with(1);
    assert!(stderr.contains("it is still Upgrading (50% done)"), "{stderr}");
    assert!(out.stdout.contains("Assessment:  Upgrading"), "{}", out.stdout);

    // Completed while watching (or before the first read): the watch ends with exit 0.
    let watch = {
        let global = global.kubeconfig_path().to_owned();
        tokio::spawn(async move {
            let out = tokio::process::Command::new(acp_e2e::cli::ac_path())
                .args([
                    "adm",
                    "upgrade",
                    "status",
                    "--watch",
                    "--timeout",
                    "60s",
                    "--interval",
                    "1s",
                ])
                .env("KUBECONFIG", global)
                .env("NO_COLOR", "1")
                .kill_on_drop(true)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        })
    };
    write_status(global, "global", completed_status()).await;
    let (code, stdout) = watch.await.unwrap();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.trim_end().contains("Assessment:  Idle"), "{stdout}");
    // Off a terminal: no escape sequences, no progress bar.
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}
