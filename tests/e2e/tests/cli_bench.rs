//! Whole-process benchmark: `ac adm upgrade status` (release build) against
//! `kubectl get cvsh global -n cpaas-system -o yaml`, both reading the same object from the same local API
//! server. Prints the median wall time of each and the ratio; the target is a ratio of at most 1.0.
//!
//!   cargo test --release -p acp-e2e --test e2e cli_bench:: -- --ignored --nocapture
//!
//! The second measurement is `ac adm upgrade rollout plan` over 200 registered workload clusters (their
//! cvsh objects with status, three stages), against `kubectl get cvsh -n cpaas-system -o json` listing
//! the same objects: the plan is one list of the cvsh objects and one strategy read, then pure work.
//!
//! `ac` is built with `cargo build --release` unless ACP_BIN_DIR names a directory holding it. kubectl runs
//! with a warm discovery cache (its best case). Ignored by default: a benchmark measures, it does not pass or
//! fail on time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acp_e2e::cli::{condition, cvsh_api, platform, write_status};
use acp_e2e::create_cvsh;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const RUNS: usize = 40;
const WARMUP: usize = 3;

fn release_ac() -> PathBuf {
    if let Some(dir) = std::env::var_os("ACP_BIN_DIR") {
        return PathBuf::from(dir).join("ac");
    }
    let root = acp_testkit::repo_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "acp-cli", "--bin", "ac"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --release -p acp-cli failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target.join("release/ac")
}

/// Runs the command once, checks it succeeded, and returns its wall time.
fn time_once(program: &Path, args: &[&str], kubeconfig: &Path, home: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{} {} failed: {}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn ac_upgrade_status_versus_kubectl_get() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({"desiredUpdate": {"version": "4.3.1"}})).await;
    let operations: Vec<_> = (0..12)
        .map(|i| {
            json!({"name": format!("module-{i}"), "action": "Upgrade", "currentVersion": "4.2.5",
                   "targetVersion": "4.3.1", "phase": if i < 7 { "Succeeded" } else { "Pending" }})
        })
        .collect();
    write_status(
        global,
        "global",
        json!({
            "current": {"version": "4.2.5"},
            "desired": {"version": "4.3.1"},
            "conditions": [condition("Reconciling", true, "Upgrading", "Working towards 4.3.1")],
            "stages": [{"name": "Core", "priority": 30, "phase": "Running", "operations": operations}],
            "history": [
                {"version": "4.3.1", "image": "", "state": "Partial", "startedTime": "2026-03-01T11:48:00Z"},
                {"version": "4.2.5", "image": "", "state": "Completed",
                 "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"},
            ],
        }),
    )
    .await;

    let ac = release_ac();
    let kubectl = acp_testkit::kubectl_path();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = global.kubeconfig_path().to_owned();
    let ac_args = ["adm", "upgrade", "status"];
    let kubectl_args = ["get", "cvsh", "global", "-n", "cpaas-system", "-o", "yaml"];

    let (ac_median, kubectl_median) = tokio::task::spawn_blocking(move || {
        for _ in 0..WARMUP {
            time_once(&ac, &ac_args, &kubeconfig, home.path());
            time_once(&kubectl, &kubectl_args, &kubeconfig, home.path());
        }
        let mut ac_samples = Vec::with_capacity(RUNS);
        let mut kubectl_samples = Vec::with_capacity(RUNS);
        // Interleaved, so both see the same machine load.
        for _ in 0..RUNS {
            ac_samples.push(time_once(&ac, &ac_args, &kubeconfig, home.path()));
            kubectl_samples.push(time_once(&kubectl, &kubectl_args, &kubeconfig, home.path()));
        }
        (median(ac_samples), median(kubectl_samples))
    })
    .await
    .unwrap();

    let ratio = ac_median.as_secs_f64() / kubectl_median.as_secs_f64();
    println!(
        "ac adm upgrade status: median {:.1} ms; kubectl get cvsh -o yaml: median {:.1} ms; ratio {ratio:.2} \
         (target <= 1.0, {RUNS} runs each)",
        ac_median.as_secs_f64() * 1000.0,
        kubectl_median.as_secs_f64() * 1000.0,
    );
}

/// Workload clusters of the rollout plan measurement.
const FLEET: usize = 200;
/// How many cvsh objects are written at once while the fleet is set up.
const SETUP_CONCURRENCY: usize = 16;

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn ac_rollout_plan_over_200_clusters() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({})).await;
    write_status(global, "global", json!({"current": {"version": "4.3.1"}})).await;
    let names: Vec<String> = (0..FLEET).map(|i| format!("edge-{i:03}")).collect();
    let numbered: Vec<(usize, &String)> = names.iter().enumerate().collect();
    for chunk in numbered.chunks(SETUP_CONCURRENCY) {
        futures::future::join_all(chunk.iter().map(|&(i, name)| async move {
            // One canary, every tenth cluster early, the rest main.
            let ring = match i {
                0 => "canary",
                _ if i % 10 == 0 => "early",
                _ => "main",
            };
            create_cvsh(global, name, json!({})).await;
            cvsh_api(global)
                .await
                .patch(name, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": {"ring": ring}}})))
                .await
                .unwrap();
            write_status(
                global,
                name,
                json!({
                    "current": {"version": "4.2.5"},
                    "availableUpdates": [{"version": "4.3.1"}],
                    "preflight": {"targetVersion": "4.3.1", "checks": [
                        {"name": "VersionUpgradePath", "policy": "Once", "state": "Passed", "reason": "UpgradePathSupported", "message": "ok"}]},
                    "history": [{"version": "4.2.5", "image": "", "state": "Completed",
                                 "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"}],
                }),
            )
            .await;
        }))
        .await;
    }
    let strategy = env.dir().join("strategy.yaml");
    std::fs::write(
        &strategy,
        "stages:\n- name: canary\n  selector: {matchLabels: {ring: canary}}\n- name: early\n  selector: {matchLabels: {ring: early}}\n  canaries: 1\n  maxConcurrency: 5\n  afterGates: [{type: Approval}]\n- name: main\n  maxConcurrency: \"10%\"\n  soak: 1h\n",
    )
    .unwrap();

    let ac = release_ac();
    let kubectl = acp_testkit::kubectl_path();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = global.kubeconfig_path().to_owned();
    let strategy_arg = strategy.to_str().unwrap().to_owned();
    let (ac_median, ac_max, kubectl_median) = tokio::task::spawn_blocking(move || {
        let ac_args = [
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "-f",
            strategy_arg.as_str(),
        ];
        let kubectl_args = ["get", "cvsh", "-n", "cpaas-system", "-o", "json"];
        for _ in 0..WARMUP {
            time_once(&ac, &ac_args, &kubeconfig, home.path());
            time_once(&kubectl, &kubectl_args, &kubeconfig, home.path());
        }
        let mut ac_samples = Vec::with_capacity(RUNS);
        let mut kubectl_samples = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            ac_samples.push(time_once(&ac, &ac_args, &kubeconfig, home.path()));
            kubectl_samples.push(time_once(&kubectl, &kubectl_args, &kubeconfig, home.path()));
        }
        let max = ac_samples.iter().copied().max().unwrap_or_default();
        (median(ac_samples), max, median(kubectl_samples))
    })
    .await
    .unwrap();
    println!(
        "ac adm upgrade rollout plan over {FLEET} clusters: median {:.1} ms, max {:.1} ms; kubectl get cvsh -o json \
         (the same {FLEET} objects): median {:.1} ms ({RUNS} runs each; goal: well under a second)",
        ac_median.as_secs_f64() * 1000.0,
        ac_max.as_secs_f64() * 1000.0,
        kubectl_median.as_secs_f64() * 1000.0,
    );
}
