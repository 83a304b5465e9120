//! Release bundles as a vendor publishes them: a real OCI registry on loopback, and releases derived from
//! the built-in 4.3.1 pushed to it with `ac adm release push`.

use std::path::Path;

use acp_policy::{AcpVersion, GlobalUpgradeRule, ProductRelease};
use acp_testkit::{ChildProcess, ProcessSpec, TestEnv, wait_for};

use crate::cli::ac_without_cluster;
use crate::operator::{SHORT, free_port, http_get};

/// Starts Debian's `docker-registry` on loopback, owned by the test; returns `127.0.0.1:PORT` and the
/// process (the registry stops when it is dropped).
pub async fn start_registry(env: &TestEnv) -> (String, ChildProcess) {
    let dir = env.dir().join("registry");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let host = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
        dir.join("data").display()
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let registry = env
        .spawn(
            ProcessSpec::new("docker-registry")
                .arg("serve")
                .arg(dir.join("config.yml")),
        )
        .unwrap();
    wait_for("the registry to serve /v2/", SHORT, || async {
        http_get(&host, "/v2/").await.is_some_and(|(code, _)| code == 200)
    })
    .await
    .unwrap();
    (host, registry)
}

/// ACP `version` with the sample modules at that version, reachable from 4.3 and on Kubernetes 1.34 like
/// the built-in 4.3.1.
pub fn bundle_release(version: &str) -> ProductRelease {
    let version: AcpVersion = version.parse().unwrap();
    let mut release = acp_operator::releases::builtin::catalogue()
        .release(&"4.3.1".parse().unwrap())
        .cloned()
        .unwrap();
    release.upgrade_from = vec![format!(">=4.3.0, <{version}").parse().unwrap()];
    release.kubernetes.global_upgrade_rule = Some(GlobalUpgradeRule::WithinCompatibleRange);
    release.modules = acp_operator::releases::builtin::sample_modules(&version);
    release.version = version;
    release
}

/// Publishes `release` to `repository:VERSION` with `ac adm release push`, signed with `sign_key` when
/// given, its YAML written in `dir`; returns the reference `ac` printed, pinned to the digest.
pub async fn push_release(
    dir: &Path,
    repository: &str,
    release: &ProductRelease,
    sign_key: Option<&Path>,
) -> String {
    let file = dir.join(format!("acp-{}.yaml", release.version));
    std::fs::write(&file, serde_saphyr::to_string(release).unwrap()).unwrap();
    let mut args = vec![
        "adm",
        "release",
        "push",
        "--file",
        file.to_str().unwrap(),
        "--to",
        repository,
    ];
    if let Some(key) = sign_key {
        args.extend(["--sign-key", key.to_str().unwrap()]);
    }
    let out = ac_without_cluster(&args).await;
    let stdout = out.ok();
    if sign_key.is_some() {
        assert!(stdout.contains("Signed sha256:"), "{stdout}");
    }
    let prefix = format!("Pushed ACP {} to ", release.version);
    stdout
        .lines()
        .next()
        .and_then(|line| line.strip_prefix(&prefix))
        .filter(|pinned| pinned.contains("@sha256:"))
        .unwrap_or_else(|| panic!("no pinned reference in: {stdout}"))
        .to_owned()
}
