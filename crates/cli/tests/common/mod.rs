//! What the `ac` binary tests share: running the real binary the way a user would (from the repository root,
//! no colour, never the machine's own kubeconfig or registry logins) and comparing output with snapshots.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `ac ARGS` with `envs` added; the machine's kubeconfig and docker config are never read.
pub fn ac_with<K: AsRef<OsStr>, V: AsRef<OsStr>>(args: &[&str], envs: &[(K, V)]) -> Output {
    let no_docker_config = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ac"));
    command
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("DOCKER_CONFIG", no_docker_config.path());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().unwrap()
}

pub fn ac(args: &[&str]) -> Output {
    ac_with::<&str, &str>(args, &[])
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Compares with the checked-in snapshot; `UPDATE_SNAPSHOTS=1` rewrites it.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "output differs from {}; rerun with UPDATE_SNAPSHOTS=1 to accept",
        path.display()
    );
}
