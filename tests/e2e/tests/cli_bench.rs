//! Whole-process benchmark: `ac adm upgrade status` (release build) against
//! `kubectl get cvsh global -n cpaas-system -o yaml`, both reading the same object from the same local API
//! server. Prints the median wall time of each and the ratio; the target is a ratio of at most 1.0.
//!
//!   cargo test --release -p acp-e2e --test e2e cli_bench:: -- --ignored --nocapture
//!
//! `ac` is built with `cargo build --release` unless ACP_BIN_DIR names a directory holding it. kubectl runs
//! with a warm discovery cache (its best case). Ignored by default: a benchmark measures, it does not pass or
//! fail on time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acp_e2e::cli::{condition, platform, write_status};
use acp_e2e::create_cvsh;
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
