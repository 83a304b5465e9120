//! Processes run by tests (such as the operator) are killed with everything they started, can be stopped
//! gracefully and restarted, and log to a file.

use std::path::Path;
use std::time::Duration;

use acp_testkit::{ChildProcess, ProcessSpec, wait_for, wait_for_some};

const SHORT: Duration = Duration::from_secs(20);

/// Whether a process is gone (or a zombie waiting to be reaped by init).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status.lines().any(|l| l.starts_with("State:") && l.contains('Z')),
    }
}

/// Whether the process printed `line` (the log's header lines quote the command, so match whole lines).
fn has_line(process: &ChildProcess, line: &str) -> bool {
    process.logs().lines().any(|l| l == line)
}

async fn read_pid(path: &Path) -> u32 {
    wait_for_some("the grandchild's pid file", SHORT, || async {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn kill_takes_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let script = format!("sleep 600 & echo $! > {}; echo started; wait", pid_file.display());
    let process = ChildProcess::spawn(
        ProcessSpec::new("sh").name("shell").args(["-c", &script]),
        dir.path().join("shell.log"),
    )
    .unwrap();
    let grandchild = read_pid(&pid_file).await;
    let child = process.pid().unwrap();
    assert!(process.is_running());

    process.kill();

    assert!(!process.is_running());
    assert!(process.pid().is_none());
    assert!(is_gone(child));
    wait_for("the grandchild to be killed with its group", SHORT, || async {
        is_gone(grandchild)
    })
    .await
    .unwrap();
    assert!(has_line(&process, "started"));
}

#[tokio::test]
async fn terminate_asks_first_and_restart_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done";
    let process = ChildProcess::spawn(
        ProcessSpec::new("sh").name("graceful").args(["-c", script]),
        dir.path().join("graceful.log"),
    )
    .unwrap();
    wait_for("the script to be ready", SHORT, || async {
        has_line(&process, "ready")
    })
    .await
    .unwrap();
    let first = process.pid().unwrap();

    let status = process.terminate(Duration::from_secs(10)).await.unwrap();
    assert!(status.success(), "the script exits 0 on SIGTERM: {status}");
    assert!(has_line(&process, "got TERM"));

    process.restart().unwrap();
    let second = process.pid().unwrap();
    assert_ne!(first, second);
    wait_for("the restarted script to be ready", SHORT, || async {
        process.logs().lines().filter(|l| *l == "ready").count() == 2
    })
    .await
    .unwrap();
    assert_eq!(process.logs().matches("===== starting graceful").count(), 2);
    drop(process);
    assert!(is_gone(second));
}

#[tokio::test]
async fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap '' TERM; echo ready; while true; do sleep 0.1; done";
    let process = ChildProcess::spawn(
        ProcessSpec::new("sh").name("stubborn").args(["-c", script]),
        dir.path().join("stubborn.log"),
    )
    .unwrap();
    wait_for("the script to be ready", SHORT, || async {
        has_line(&process, "ready")
    })
    .await
    .unwrap();
    let status = process.terminate(Duration::from_millis(500)).await.unwrap();
    assert!(!status.success(), "killed by SIGKILL: {status}");
    assert!(!process.is_running());
}
