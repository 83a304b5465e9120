//! The operator as it runs in production: the image `scripts/image.sh` builds (the OCI layout
//! `target/oci`) unpacked into a runc bundle and run as the image's user, 65532, with a read-only root
//! file system, every capability dropped and no privilege escalation — the Deployment's securityContext.
//! Like a pod it finds the ServiceAccount's token, CA and namespace at
//! /var/run/secrets/kubernetes.io/serviceaccount and `KUBERNETES_SERVICE_HOST/PORT` in its environment, so it
//! configures itself in-cluster, with no kubeconfig, and may do only what the RBAC of `deploy/` grants. It
//! shares the host's network: the test's API server on 127.0.0.1 (its serving certificate names 127.0.0.1)
//! stands in for the `kubernetes` Service, and the probes are answered on a loopback port.
//!
//! Needs root, `runc` and `umoci` (to unpack the image); `make test` runs as root and builds the image
//! first. Without root or runc the test says on stderr that it was skipped. After changing the operator,
//! rebuild the image: `bash scripts/image.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use acp_api::names;
use acp_e2e::operator::*;
use acp_testkit::{ChildProcess, Cluster, ProcessSpec, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::{Value, json};

/// Where `scripts/image.sh` writes the image, tagged with the workspace version.
const IMAGE_LAYOUT: &str = "target/oci";
/// The user the image runs as (`nonroot` in its /etc/passwd).
const IMAGE_USER: u64 = 65532;
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const POD_NAME: &str = "acp-cvo-7d4b9c-x2k8q";

/// Why containers cannot run here, if they cannot: runc needs root.
fn cannot_run_containers() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("runc runs containers as root only; run the suite as root (CI does)".into());
    }
    if which("runc").is_none() {
        return Some("runc is not installed (apt-get install runc)".into());
    }
    None
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A container started with `runc run`; dropping it deletes the container even when runc was killed.
struct Container {
    runc: PathBuf,
    state: PathBuf,
    id: String,
}

impl Container {
    fn runc(&self) -> Command {
        let mut cmd = Command::new(&self.runc);
        cmd.arg("--root").arg(&self.state);
        cmd
    }

    /// The host's PID of the container's process (the operator), while it runs.
    fn pid(&self) -> Option<u32> {
        let out = self.runc().args(["state", &self.id]).output().ok()?;
        let state: Value = serde_json::from_slice(&out.stdout).ok()?;
        (state["status"] == "running")
            .then(|| state["pid"].as_u64())
            .flatten()
            .and_then(|p| u32::try_from(p).ok())
    }

    /// A field of /proc/<pid>/status of the operator, e.g. `VmRSS`, while it runs.
    fn status(&self, field: &str) -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(|v| v.trim().to_owned())
    }

    /// A memory field of /proc/<pid>/status (`VmRSS`, `VmHWM`) in MiB.
    fn mib(&self, field: &str) -> Option<f64> {
        let kib: f64 = self.status(field)?.trim_end_matches("kB").trim().parse().ok()?;
        Some(kib / 1024.0)
    }

    /// The options of the root mount as the operator sees it.
    fn root_mount_options(&self) -> String {
        let pid = self.pid().expect("the container is not running");
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        mounts
            .lines()
            .rfind(|l| l.split_whitespace().nth(4) == Some("/"))
            .and_then(|l| l.split_whitespace().nth(5))
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.runc().args(["delete", "--force", &self.id]).output();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks the image into `bundle` (rootfs and the runtime config umoci derives from the image's config)
/// and returns the config. Fails, saying how to build it, when the image is missing.
fn unpack_image(bundle: &Path) -> Value {
    let layout = acp_testkit::repo_root().join(IMAGE_LAYOUT);
    assert!(
        layout.join("index.json").is_file(),
        "no operator image at {}: build it with `bash scripts/image.sh` (make test does)",
        layout.display()
    );
    let umoci = which("umoci").expect("umoci unpacks the image: apt-get install umoci");
    let image = format!("{}:{}", layout.display(), env!("CARGO_PKG_VERSION"));
    run(Command::new(umoci)
        .args(["unpack", "--image", &image])
        .arg(bundle));
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

/// The runtime config of the Deployment's pod: the image's own user and entrypoint, read-only root, no
/// capabilities, no privilege escalation, the host's network, the ServiceAccount mounted, in-cluster
/// environment, the Deployment's flags with test-speed timings.
fn pod_like(mut config: Value, service_account: &Path, server_port: &str, metrics_addr: &str) -> Value {
    let process = &mut config["process"];
    process["terminal"] = json!(false);
    process["noNewPrivileges"] = json!(true);
    process["capabilities"] = json!({
        "bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": [],
    });
    let args = process["args"].as_array_mut().unwrap();
    for arg in [
        "--namespace=cpaas-system",
        "--install-version=4.2.3",
        "--lease-duration=6",
        "--resync=3",
        "--resync-max=3",
        "--stall-after=600",
    ] {
        args.push(json!(arg));
    }
    args.push(json!(format!("--metrics-addr={metrics_addr}")));
    let env = process["env"].as_array_mut().unwrap();
    for (key, value) in [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", server_port),
        ("POD_NAME", POD_NAME),
        ("RUST_LOG", "info,acp_operator=debug,kube=warn"),
    ] {
        env.push(json!(format!("{key}={value}")));
    }
    config["root"]["readonly"] = json!(true);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "network");
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": SERVICE_ACCOUNT_DIR,
        "type": "bind",
        "source": service_account,
        "options": ["rbind", "ro", "nosuid", "nodev", "noexec"],
    }));
    config
}

/// What the kubelet mounts for the ServiceAccount `acp-cvo`: a bound token, the cluster's CA, the namespace.
async fn mount_service_account(global: &Cluster, dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("token"), acp_e2e::service_account_token(global).await).unwrap();
    std::fs::write(dir.join("ca.crt"), acp_e2e::cluster_ca_pem(global)).unwrap();
    std::fs::write(dir.join("namespace"), names::NAMESPACE).unwrap();
    // Readable by the container's user, as the kubelet's projected volume is.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in ["token", "ca.crt", "namespace"] {
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "container: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_image_upgrades_the_global_cluster_as_a_restricted_non_root_container() {
    if let Some(reason) = cannot_run_containers() {
        acp_e2e::skip(
            "container::the_operator_image_upgrades_the_global_cluster_as_a_restricted_non_root_container",
            &reason,
        );
        return;
    }
    let env = start([cluster("global", "1.33")]).await;
    let global = env.cluster("global");
    install_release(global, "4.2.3").await;
    acp_e2e::apply_deploy_rbac(global).await;
    import(global, "4.2.5").await;

    let bundle = env.dir().join("bundle");
    let image_config = unpack_image(&bundle);
    let user = &image_config["process"]["user"];
    assert_eq!(
        (user["uid"].as_u64(), user["gid"].as_u64()),
        (Some(IMAGE_USER), Some(IMAGE_USER)),
        "the image must run as {IMAGE_USER}:{IMAGE_USER} (USER in scripts/image.sh and the Dockerfile)"
    );
    let passwd = std::fs::read_to_string(bundle.join("rootfs/etc/passwd")).unwrap_or_default();
    assert!(
        passwd.lines().any(|l| l.split(':').nth(2) == Some("65532")),
        "the image's /etc/passwd has no entry for 65532: {passwd:?}"
    );

    let service_account = env.dir().join("serviceaccount");
    mount_service_account(global, &service_account).await;
    let server_port = global.server().rsplit(':').next().unwrap().to_owned();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let config = pod_like(image_config, &service_account, &server_port, &metrics_addr);
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();

    let runc = which("runc").unwrap();
    let container = Container {
        runc: runc.clone(),
        state: env.dir().join("runc"),
        id: format!("acp-cvo-e2e-{}", std::process::id()),
    };
    let operator: ChildProcess = env
        .spawn(
            ProcessSpec::new(&runc)
                .name("acp-cvo-container")
                .arg("--root")
                .arg(&container.state)
                .args(["run", "--bundle"])
                .arg(&bundle)
                .arg(&container.id),
        )
        .unwrap();

    // Probes, from outside the container, as the kubelet asks them.
    wait_for("the container's /readyz to answer 200", SHORT, || async {
        http_get(&metrics_addr, "/readyz")
            .await
            .is_some_and(|(code, _)| code == 200)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", operator.log_tail(30)));
    assert_eq!(
        http_get(&metrics_addr, "/healthz").await.map(|(code, _)| code),
        Some(200)
    );

    // The process really is restricted, whatever the runtime config asked for.
    let uids = container.status("Uid").unwrap();
    assert!(
        uids.split_whitespace().all(|id| id == "65532"),
        "the operator runs as {uids}, not 65532"
    );
    assert_eq!(container.status("CapEff").unwrap(), "0000000000000000");
    assert_eq!(container.status("NoNewPrivs").unwrap(), "1");
    let root = container.root_mount_options();
    assert!(
        root.split(',').any(|o| o == "ro"),
        "the root file system is mounted {root}, not read-only"
    );

    // The `global` shadow does not exist: the operator creates it with the ServiceAccount's rights.
    wait_shadow(global, "global", "4.2.5 offered", LONG, |s| {
        offered(s) == ["4.2.5"]
    })
    .await;
    let idle = container.mib("VmRSS").unwrap();
    request(global, "global", "4.2.5").await;
    let peak = std::sync::Mutex::new(idle);
    let shadow = wait_shadow(global, "global", "4.2.5 completed", LONG, |s| {
        if let Some(rss) = container.mib("VmRSS") {
            let mut peak = peak.lock().unwrap();
            *peak = peak.max(rss);
        }
        s.current_version() == Some("4.2.5") && ready(s)
    })
    .await;
    // VmHWM is the kernel's high-water mark: it catches peaks between the samples above.
    report(&format!(
        "RSS {idle:.1} MiB idle, up to {:.1} MiB sampled during the upgrade, high-water mark {:.1} MiB",
        *peak.lock().unwrap(),
        container.mib("VmHWM").unwrap_or_default()
    ));
    assert_modules_upgraded_once(global, "4.2.5").await;
    assert_eq!(history(&shadow)[0], ("4.2.5".to_owned(), "Completed".to_owned()));
    let logs = operator.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator hit a permission deploy/ does not grant:\n{}",
        operator.log_tail(40)
    );

    // SIGTERM, as the kubelet stops a pod: a clean exit that hands the Lease back.
    let leases: Api<Lease> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let holder = |lease: Lease| lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
    assert_eq!(holder(leases.get("acp-cvo").await.unwrap()), POD_NAME);
    let exit = operator.terminate(Duration::from_secs(30)).await.unwrap();
    assert!(
        exit.success(),
        "the container exited with {exit}:\n{}",
        operator.log_tail(20)
    );
    assert_ne!(
        holder(leases.get("acp-cvo").await.unwrap()),
        POD_NAME,
        "the Lease must be released on SIGTERM"
    );
}

/// Words of a shell or Dockerfile command, line continuations joined.
fn words(text: &str) -> String {
    text.replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Users with Docker build the image the Dockerfile describes; `make test` builds and runs the one
/// `scripts/image.sh` makes. Both must be the same recipe: the same binaries in the same profile, the same
/// file system (`scripts/image-rootfs.sh`), the same user, entrypoint and port — and the Deployment runs it
/// as that user.
#[test]
fn the_dockerfile_and_the_offline_build_make_the_same_image() {
    let root = acp_testkit::repo_root();
    let dockerfile = words(&std::fs::read_to_string(root.join("Dockerfile")).unwrap());
    let script = words(&std::fs::read_to_string(root.join("scripts/image.sh")).unwrap());
    let build = "--profile image --target x86_64-unknown-linux-musl -p acp-operator --bin acp-cvo -p acp-cli --bin ac";
    for (recipe, text) in [("Dockerfile", &dockerfile), ("scripts/image.sh", &script)] {
        assert!(text.contains(build), "{recipe} must build `{build}`");
        assert!(
            text.contains("scripts/image-rootfs.sh"),
            "{recipe} must assemble the file system with scripts/image-rootfs.sh"
        );
    }
    let final_stage = dockerfile.rsplit("FROM ").next().unwrap();
    for line in [
        "scratch COPY --from=build /rootfs/ /",
        "USER 65532:65532",
        "EXPOSE 8080",
        r#"ENTRYPOINT ["/usr/local/bin/acp-cvo"]"#,
    ] {
        assert!(
            final_stage.contains(line),
            "the Dockerfile's image lacks `{line}`: {final_stage}"
        );
    }
    for flag in [
        "--config.user 65532:65532",
        "--config.entrypoint /usr/local/bin/acp-cvo",
        "--config.exposedports 8080/tcp",
    ] {
        assert!(script.contains(flag), "scripts/image.sh lacks `{flag}`");
    }
    let deployment = std::fs::read_to_string(root.join("deploy/operator/deployment.yaml")).unwrap();
    assert!(deployment.contains(&format!("runAsUser: {IMAGE_USER}")));
    assert!(deployment.contains("readOnlyRootFilesystem: true"));
}
