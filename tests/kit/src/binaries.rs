//! Where the Kubernetes binaries and the workspace's own binaries come from.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

/// Environment variable naming a directory that already holds the harness binaries; when set the kit never
/// builds them.
pub const HARNESS_BIN_ENV: &str = "ACP_HARNESS_BIN";

/// The binaries a local cluster runs, as file names inside the harness directory.
pub(crate) const KUBE_APISERVER: &str = "kube-apiserver";
pub(crate) const KUBE_CONTROLLER_MANAGER: &str = "kube-controller-manager";
pub(crate) const KUBE_SCHEDULER: &str = "kube-scheduler";
pub(crate) const ETCD: &str = "etcd";
pub(crate) const KWOK: &str = "kwok";
pub(crate) const KUBECTL: &str = "kubectl";

const ALL: [&str; 6] = [
    KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    ETCD,
    KWOK,
    KUBECTL,
];

/// Root of the repository (the kit lives in `tests/kit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Directory holding kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and kubectl.
///
/// `ACP_HARNESS_BIN` wins when set. Otherwise `tests/harness/build.sh` runs once per test process (it does
/// nothing when the binaries in `target/harness/bin`, or `$ACP_HARNESS_OUT/bin`, are current, and needs Go
/// to build them when they are not).
pub fn harness_bin_dir() -> Result<PathBuf> {
    static DIR: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    let cell = DIR.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = guard.as_ref() {
        return Ok(dir.clone());
    }
    let dir = locate_or_build()?;
    *guard = Some(dir.clone());
    Ok(dir)
}

fn missing(dir: &Path) -> Vec<&'static str> {
    ALL.into_iter().filter(|b| !dir.join(b).is_file()).collect()
}

fn locate_or_build() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(HARNESS_BIN_ENV) {
        let dir = PathBuf::from(dir);
        let absent = missing(&dir);
        if !absent.is_empty() {
            return Err(Error::Binaries(format!(
                "{HARNESS_BIN_ENV}={} lacks {}; unset it to build them with tests/harness/build.sh",
                dir.display(),
                absent.join(", ")
            )));
        }
        return Ok(dir);
    }
    let dir = std::env::var_os("ACP_HARNESS_OUT")
        .map_or_else(|| repo_root().join("target/harness"), PathBuf::from)
        .join("bin");
    // The script does nothing (in a fraction of a second) when the binaries match their sources, and
    // rebuilds them when the harness changed, so tests never run stale binaries.
    match run_build_script("main") {
        Ok(()) => {}
        Err(e) if missing(&dir).is_empty() => {
            eprintln!(
                "warning: {e}\nusing the Kubernetes binaries already in {}",
                dir.display()
            );
        }
        Err(e) => return Err(e),
    }
    let absent = missing(&dir);
    if absent.is_empty() {
        Ok(dir)
    } else {
        Err(Error::Binaries(format!(
            "tests/harness/build.sh succeeded but {} still lacks {}; is ACP_HARNESS_TARGETS leaving out \"main\"?",
            dir.display(),
            absent.join(", ")
        )))
    }
}

/// Oldest and newest Kubernetes minor (of 1.x) a local cluster can report.
pub(crate) const MINORS: std::ops::RangeInclusive<u64> = 30..=34;

/// Subdirectory of the harness directory holding the Kubernetes 1.30 control plane.
const K8S_1_30: &str = "k8s-1.30";
const CONTROL_PLANE: [&str; 3] = [KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER];

/// Directory of the kube-apiserver, kube-controller-manager and kube-scheduler that play Kubernetes 1.`minor`:
/// the main build (1.34 code) for 1.31 to 1.34, which emulates older minors; a Kubernetes 1.30 build for 1.30,
/// as emulation reaches back to 1.31 only.
pub(crate) fn control_plane_dir(minor: u64) -> Result<PathBuf> {
    let main = harness_bin_dir()?;
    if !MINORS.contains(&minor) {
        return Err(Error::Usage(format!(
            "Kubernetes 1.{minor} cannot be played by the harness: local clusters report 1.{} to 1.{}",
            MINORS.start(),
            MINORS.end()
        )));
    }
    if minor > 30 {
        return Ok(main);
    }
    let dir = main.join(K8S_1_30);
    let absent = |dir: &Path| CONTROL_PLANE.iter().any(|b| !dir.join(b).is_file());
    let built = build_once(K8S_1_30);
    if absent(&dir) {
        built?;
        return Err(Error::Binaries(format!(
            "{} lacks the Kubernetes 1.30 control plane; build it with `ACP_HARNESS_TARGETS=k8s-1.30 bash tests/harness/build.sh`",
            dir.display()
        )));
    }
    warn_if_stale(built, &dir);
    Ok(dir)
}

/// A Cluster API manager built by target "cluster-api" of tests/harness/build.sh: `cluster-api` (the core
/// manager) or `cluster-api-kubeadm-control-plane`; built on first use unless `ACP_HARNESS_BIN` names
/// prebuilt binaries.
pub fn cluster_api_binary(name: &str) -> Result<PathBuf> {
    let path = harness_bin_dir()?.join(name);
    let built = build_once("cluster-api");
    if !path.is_file() {
        built?;
        return Err(Error::Binaries(format!(
            "{} is missing; build it with `ACP_HARNESS_TARGETS=cluster-api bash tests/harness/build.sh`",
            path.display()
        )));
    }
    warn_if_stale(built, &path);
    Ok(path)
}

/// Runs the build script for `target` once per test process, so a changed target is rebuilt before it
/// runs (the script returns at once when the target is current); nothing when `ACP_HARNESS_BIN` names
/// prebuilt binaries.
fn build_once(target: &'static str) -> Result<()> {
    static TRIED: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    if std::env::var_os(HARNESS_BIN_ENV).is_some() {
        return Ok(());
    }
    let mut tried = TRIED.lock().unwrap_or_else(|p| p.into_inner());
    if tried.contains(&target) {
        return Ok(());
    }
    tried.push(target);
    run_build_script(target)
}

/// A failed rebuild with binaries already in place: they are used, with a warning.
fn warn_if_stale(built: Result<()>, path: &Path) {
    if let Err(e) = built {
        eprintln!("warning: {e}\nusing the binaries already in {}", path.display());
    }
}

/// Runs `tests/harness/build.sh` for `target` (unless `ACP_HARNESS_TARGETS` chooses), failing with its
/// output: a test builds only what it runs.
fn run_build_script(target: &str) -> Result<()> {
    let root = repo_root();
    let script = root.join("tests/harness/build.sh");
    let mut command = Command::new("bash");
    if std::env::var_os("ACP_HARNESS_TARGETS").is_none() {
        command.env("ACP_HARNESS_TARGETS", target);
    }
    let output = command
        .arg(&script)
        .current_dir(&root)
        .output()
        .map_err(|e| Error::io(format!("run {}", script.display()), e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Binaries(format!(
        "{} failed ({}); run it by hand to see why, or set {HARNESS_BIN_ENV}:\n{}{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

/// Path of a harness binary by file name (e.g. `"kubectl"`).
pub(crate) fn harness_binary(name: &str) -> Result<PathBuf> {
    Ok(harness_bin_dir()?.join(name))
}

/// The `kubectl` to use: the harness one when available, else `kubectl` from `PATH` (clusters given by
/// kubeconfig, e.g. kind, may run without Go).
pub fn kubectl_path() -> PathBuf {
    harness_binary(KUBECTL).unwrap_or_else(|_| PathBuf::from("kubectl"))
}

/// Builds binary `bin` of workspace package `package` (debug profile, once per test process and binary) and
/// returns its path, for tests that run the product as a real process with [`crate::ChildProcess`].
///
/// `ACP_BIN_DIR`, when set, names a directory that already holds the binary; nothing is built then.
pub fn workspace_binary(package: &str, bin: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    if let Some(dir) = std::env::var_os("ACP_BIN_DIR") {
        let path = PathBuf::from(dir).join(bin);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Usage(format!(
                "ACP_BIN_DIR does not hold {bin} ({}); build it or unset ACP_BIN_DIR",
                path.display()
            )))
        };
    }
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(b, _)| b == bin) {
        return Ok(path.clone());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = repo_root();
    let output = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            "--bin",
            bin,
            "--message-format=short",
        ])
        .current_dir(&root)
        .output()
        .map_err(|e| Error::io(format!("run cargo build -p {package} --bin {bin}"), e))?;
    if !output.status.success() {
        return Err(Error::Usage(format!(
            "cargo build -p {package} --bin {bin} failed; fix the build first:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let path = target_dir(&root).join("debug").join(bin);
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "cargo built {bin} but {} does not exist; set ACP_BIN_DIR to where it is",
            path.display()
        )));
    }
    built.push((bin.to_owned(), path.clone()));
    Ok(path)
}

/// Like [`workspace_binary`], unless the environment variable `var` names the binary to run instead, e.g. a
/// release build for a benchmark (`ACP_OPERATOR_BIN=target/release/acp-cvo`; a relative path is taken from the
/// repository root, as tests run in their package's directory).
pub fn workspace_binary_from_env(var: &str, package: &str, bin: &str) -> Result<PathBuf> {
    let Some(path) = std::env::var_os(var) else {
        return workspace_binary(package, bin);
    };
    let path = PathBuf::from(path);
    let path = if path.is_absolute() {
        path
    } else {
        repo_root().join(path)
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Usage(format!(
            "{var}={} is not a file; build it (e.g. `cargo build --release -p {package} --bin {bin}`) or unset {var}",
            path.display()
        )))
    }
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { root.join(dir) }
        }
        None => root.join("target"),
    }
}
