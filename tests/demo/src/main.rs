//! `make demo`: the whole product on local control planes, narrated one line a step.
//!
//! A global cluster installed at ACP 4.2.3 on Kubernetes 1.33 and two workload clusters start side by side
//! (real kube-apiserver, controller-manager, scheduler and kwok nodes from `tests/harness`). The operator runs
//! as a local process; `ac` does everything a platform engineer would: register the workload clusters,
//! import releases, look at the available updates, upgrade the global cluster to the latest release, watch it
//! finish, then upgrade one workload cluster. Where ACP's installer would upgrade a control plane, the demo
//! restarts that cluster's API server at the new Kubernetes version, which is what the operator's External
//! driver waits for. Everything is torn down at the end, also on failure or Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use acp_api::cvsh::OperationPhase;
use acp_api::{ClusterVersionShadow, names};
use acp_testkit::{Cluster, ClusterSpec, NodeSpec, ProcessSpec, TestEnv};
use anyhow::{Context, Result, bail};
use kube::Api;

/// ACP version the global cluster was installed at, and the one every cluster ends on.
const INSTALLED: &str = "4.2.3";
const RELEASES: [&str; 3] = ["4.2.5", "4.3.0", "4.3.1"];
/// The Kubernetes patch ACP 4.3 installs (REFERENCE §1), played by the restarted API servers.
const KUBERNETES_OF_4_3: &str = "v1.34.5";
/// Bound for each watched upgrade; a healthy run takes well under a minute.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(300);

struct Demo {
    env: TestEnv,
    ac: PathBuf,
    global_kubeconfig: PathBuf,
    step: usize,
    started: Instant,
}

impl Demo {
    fn say(&mut self, line: &str) {
        self.step += 1;
        println!("\n\x1b[1m[{:>2}] {line}\x1b[0m", self.step);
    }

    fn cluster(&self, name: &str) -> &Cluster {
        self.env.cluster(name)
    }

    /// Runs `ac` against the global cluster with its output shown as is; fails when `ac` fails.
    async fn ac(&self, args: &[&str]) -> Result<()> {
        println!("$ ac {}", args.join(" "));
        let status = tokio::process::Command::new(&self.ac)
            .args(args)
            .env("KUBECONFIG", &self.global_kubeconfig)
            .stdin(Stdio::null())
            .status()
            .await
            .with_context(|| format!("run {}", self.ac.display()))?;
        if !status.success() {
            bail!("`ac {}` failed ({status})", args.join(" "));
        }
        Ok(())
    }

    /// `ac adm upgrade status --watch` for `cluster` while playing the platform installer: whenever the
    /// operator waits for a Kubernetes hop, that cluster's API server is restarted at the new version.
    async fn watch_upgrade(&self, cluster: &str) -> Result<()> {
        let args = [
            "adm",
            "upgrade",
            "status",
            "--cluster",
            cluster,
            "--watch",
            "--timeout",
            "5m",
        ];
        println!("$ ac {}", args.join(" "));
        let mut watch = tokio::process::Command::new(&self.ac)
            .args(args)
            .env("KUBECONFIG", &self.global_kubeconfig)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start `ac adm upgrade status --watch`")?;
        let shadows: Api<ClusterVersionShadow> =
            Api::namespaced(self.cluster("global").client().await?, names::NAMESPACE);
        let deadline = Instant::now() + UPGRADE_TIMEOUT;
        let mut upgraded_kubernetes = false;
        loop {
            if let Some(status) = watch.try_wait()? {
                if !status.success() {
                    bail!("the upgrade of `{cluster}` did not complete (ac exited with {status})");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the upgrade of `{cluster}` took longer than {UPGRADE_TIMEOUT:?}");
            }
            if !upgraded_kubernetes && waits_for_kubernetes(&shadows, cluster).await {
                println!(
                    "    (installer) upgrading the control plane of `{cluster}` to Kubernetes {KUBERNETES_OF_4_3}"
                );
                let target = self.cluster(cluster);
                target
                    .restart_at(KUBERNETES_OF_4_3)
                    .await
                    .with_context(|| format!("restart `{cluster}` at {KUBERNETES_OF_4_3}"))?;
                upgraded_kubernetes = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Whether the running upgrade of `cluster` waits on a Kubernetes hop (a `kubernetes-*` operation Running).
async fn waits_for_kubernetes(shadows: &Api<ClusterVersionShadow>, cluster: &str) -> bool {
    let Ok(cvsh) = shadows.get(cluster).await else {
        return false;
    };
    cvsh.status
        .iter()
        .flat_map(|s| &s.stages)
        .flat_map(|stage| &stage.operations)
        .any(|op| op.name.starts_with("kubernetes-") && op.phase == Some(OperationPhase::Running))
}

fn kubeconfig_arg(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("kubeconfig path {} is not UTF-8", path.display()))
}

async fn run() -> Result<()> {
    let started = Instant::now();
    println!(
        "acp-cvo demo: one global cluster and two workload clusters, upgraded from ACP {INSTALLED} to the latest release"
    );

    println!("\n[ 0] building the operator and the CLI (cached after the first run)");
    let operator = acp_testkit::workspace_binary("acp-operator", "acp-cvo")?;
    let ac = acp_testkit::workspace_binary("acp-cli", "ac")?;
    acp_testkit::harness_bin_dir().context("build the local Kubernetes control planes (tests/harness)")?;

    let env = TestEnv::start([
        ClusterSpec::new("global", "v1.33.7").with_workloads(),
        ClusterSpec::new("edge-beijing", "v1.33.7").with_workloads(),
        ClusterSpec::new("edge-shanghai", "v1.32.7"),
    ])
    .await
    .context("start the local clusters")?;
    let global_kubeconfig = env.cluster("global").kubeconfig_path().to_path_buf();
    let mut demo = Demo {
        env,
        ac,
        global_kubeconfig,
        step: 0,
        started,
    };
    demo.say(&format!(
        "started `global` (Kubernetes 1.33), `edge-beijing` (1.33) and `edge-shanghai` (1.32) on loopback in {:.1}s",
        demo.started.elapsed().as_secs_f64()
    ));
    for (cluster, kubelet) in [
        ("global", "v1.33.7"),
        ("edge-beijing", "v1.33.7"),
        ("edge-shanghai", "v1.32.7"),
    ] {
        demo.cluster(cluster)
            .create_node(
                NodeSpec::new(format!("{cluster}-worker-1"))
                    .kubelet_version(kubelet)
                    .container_runtime("containerd://2.0.1"),
            )
            .await
            .with_context(|| format!("create a node in `{cluster}`"))?;
    }

    demo.say("installing the ClusterVersionShadow and ProductManifest CRDs into `global`");
    let crds = acp_testkit::repo_root().join("deploy/crds");
    let global = demo.cluster("global");
    global
        .kubectl(["apply", "-f", kubeconfig_arg(&crds)?])
        .await
        .context("install the CRDs")?;
    global
        .kubectl([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/clusterversionshadows.config.alauda.io",
            "crd/productmanifests.config.alauda.io",
        ])
        .await
        .context("wait for the CRDs")?;
    global
        .kubectl(["create", "namespace", names::NAMESPACE])
        .await
        .context("create the platform namespace")?;

    demo.say(&format!(
        "starting the operator acp-cvo as a local process (installed at ACP {INSTALLED}, leader election on)"
    ));
    let global_kubeconfig = demo.global_kubeconfig.clone();
    let _operator = demo.env.spawn(
        ProcessSpec::new(operator)
            .name("acp-cvo")
            .arg(format!("--kubeconfig={}", global_kubeconfig.display()))
            .arg(format!("--install-version={INSTALLED}"))
            .arg("--metrics-addr=127.0.0.1:0")
            .arg("--identity=demo"),
    )?;

    demo.say("the operator creates the `global` ClusterVersionShadow and records the installed version");
    wait_for_shadow(
        &demo,
        "the operator to record the global cluster at ACP 4.2.3",
        |cvsh| Some(cvsh.status.as_ref()?.current.as_ref()?.version.as_deref() == Some(INSTALLED)),
    )
    .await?;

    demo.say("registering the workload clusters (kubeconfig Secret + ClusterVersionShadow each)");
    for name in ["edge-beijing", "edge-shanghai"] {
        let kubeconfig = demo.cluster(name).kubeconfig_path().to_path_buf();
        demo.ac(&[
            "adm",
            "cluster",
            "register",
            name,
            "--kubeconfig",
            kubeconfig_arg(&kubeconfig)?,
            "--version",
            INSTALLED,
        ])
        .await?;
    }

    demo.say("importing the release manifests the platform team published (4.2.5, 4.3.0, 4.3.1)");
    for version in RELEASES {
        demo.ac(&[
            "adm",
            "release",
            "import-manifest",
            &format!("--version={version}"),
            "--wait",
            "--timeout=2m",
        ])
        .await?;
    }

    demo.say("what can the global cluster move to, and could it start now?");
    wait_for_shadow(
        &demo,
        "the operator to publish the imported releases as available updates",
        |cvsh| Some(cvsh.status.as_ref()?.available_updates.len() == RELEASES.len()),
    )
    .await?;
    demo.ac(&["adm", "upgrade"]).await?;

    demo.say("requesting the newest release for the global cluster");
    demo.ac(&["adm", "upgrade", "--to-latest"]).await?;

    demo.say("watching it: preflight, then stages Prepare → Kubernetes → Core → Aligned → Verify");
    demo.watch_upgrade("global").await?;

    demo.say("the global tier runs 4.3.1 now: upgrading workload cluster `edge-beijing` to it");
    demo.ac(&["adm", "upgrade", "--cluster", "edge-beijing", "--to-latest"])
        .await?;
    demo.watch_upgrade("edge-beijing").await?;

    demo.say("the fleet afterwards");
    demo.ac(&["adm", "cluster", "list"]).await?;

    demo.say(&format!(
        "done in {:.0}s; stopping the operator and the clusters",
        demo.started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Polls the `global` cvsh until `accept` says yes.
async fn wait_for_shadow(
    demo: &Demo,
    what: &str,
    accept: impl Fn(&ClusterVersionShadow) -> Option<bool>,
) -> Result<()> {
    let shadows: Api<ClusterVersionShadow> =
        Api::namespaced(demo.cluster("global").client().await?, names::NAMESPACE);
    acp_testkit::wait_for(what, Duration::from_secs(90), || {
        let shadows = shadows.clone();
        let accept = &accept;
        async move {
            match shadows.get("global").await {
                Ok(cvsh) => accept(&cvsh).unwrap_or(false),
                Err(_) => false,
            }
        }
    })
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let outcome = tokio::select! {
        outcome = run() => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\ndemo failed: {err:#}");
            eprintln!("set ACP_E2E_KEEP=1 to keep the clusters' directories and logs for a look");
            std::process::ExitCode::FAILURE
        }
    }
}
