//! `ac console` as a process for the console suites (`console::` in a browser, `console_http::` over HTTP).

use std::path::Path;
use std::time::Duration;

use acp_testkit::{ChildProcess, Cluster, ProcessSpec, TestEnv};

/// How long `ac console` may take to print its URL.
const READY: Duration = Duration::from_secs(30);

/// Runs `ac` (the binary at `ac`) as `ac console --port 0` on `global`'s kubeconfig with `extra` flags, and
/// returns the process and the URL it printed, without its trailing slash (`http://127.0.0.1:PORT`).
pub async fn serve(
    env: &TestEnv,
    ac: &Path,
    global: &Cluster,
    name: &str,
    extra: &[&str],
) -> (ChildProcess, String) {
    let process = env
        .spawn(
            ProcessSpec::new(ac)
                .name(format!("ac-console-{name}"))
                .args(["console", "--port", "0", "--kubeconfig"])
                .arg(global.kubeconfig_path())
                .args(extra)
                .env("RUST_LOG", "info"),
        )
        .unwrap();
    let url = acp_testkit::wait_for_some("`ac console` to print its URL", READY, || async {
        process.logs().lines().find_map(|line| {
            line.strip_prefix("Console: ")
                .map(|u| u.trim().trim_end_matches('/').to_owned())
        })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}:\n{}", process.log_tail(40)));
    (process, url)
}
