//! Preflight on real clusters, through the operator's real fact readers: one workload cluster carries a
//! fault for every cluster-facing check at once, and each check fails with its reason while the upgrade
//! waits; `force` carries the upgrade past a forceable failure and records it as an accepted risk, but
//! never past VersionUpgradePath; once the faults are repaired the checks pass. Separately, `ac adm
//! upgrade status --watch` keeps following a cluster whose API server goes away and comes back.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use acp_api::cvsh::{CheckState, HistoryState};
use acp_api::{ClusterVersionShadow, names};
use acp_e2e::cli;
use acp_e2e::operator::*;
use acp_testkit::{Cluster, ClusterSpec, NodeSpec, wait_for};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The workload cluster's nodes: one per node-level fault, besides the healthy `w-worker-1`.
const DOCKER_NODE: &str = "w-docker";
const OLD_KUBELET_NODE: &str = "w-old-kubelet";
const CONTROL_PLANE_NODE: &str = "w-control-plane";
const OLD_KUBELET: &str = "v1.29.15";
/// The static pod the control-plane node lacks; the other three components have their mirror pods.
const MISSING_STATIC_POD: &str = "etcd";
const PRESENT_STATIC_PODS: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];
const ADMIN_GATE: &str = "ingress-v2-migration";
const LICENSE_SECRET: &str = "acp-license";
/// The module of the workload's release whose rollout never finishes while the fault is in place.
const UNSTABLE_MODULE: &str = "cluster-logging";

/// Every check a fault of this suite trips, with the reason it must report.
const FAULTS: [(&str, &str); 10] = [
    ("DockerRuntimeUnsupported", "DockerRuntimeFound"),
    ("ControlPlaneStaticPodsPresent", "StaticPodsMissing"),
    ("CustomEtcdBackupCronJobsAbsent", "CustomEtcdBackupCronJobs"),
    ("CRIUpgradePodsAbsent", "CRIUpgradePodsFound"),
    ("ClusterModuleStable", "ModulesUpgrading"),
    ("ModuleInfoStable", "ModuleInfosUnstable"),
    ("ResourcePatchUpgradeable", "UnexemptResourcePatches"),
    ("PlatformLicense", "LicenseExpired"),
    ("AdminAckRequired", "AdminAckRequired"),
    ("KubeletVersionSkew", "KubeletTooOld"),
];

/// The fault left in place for `force` to carry the upgrade past.
const FORCED_PAST: &str = "DockerRuntimeUnsupported";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_fails_on_a_real_cluster_and_force_goes_past_all_but_the_upgrade_path() {
    let env = start([ClusterSpec::new("global", "1.34"), cluster("w", "1.33")]).await;
    let (global, w) = (env.cluster("global"), env.cluster("w"));
    // The global tier already runs 4.3.1, so GlobalTierReached lets the workload cluster follow.
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    record_version(w, "4.2.3").await;
    break_everything(global, w).await;
    register(global, w).await;
    desire(global, "w", "4.3.1", false).await;
    let _operator = run_operator(&env, "4.3.1", "replica-a");

    // Every fault fails its check, with the reason that names it; nothing starts.
    let held = settled_for(global, "4.3.1", &FAULTS.map(|(name, _)| name)).await;
    for (name, reason) in FAULTS {
        let check = check(&held, name).unwrap();
        assert_eq!(
            (check.state, check.reason.as_deref()),
            (CheckState::Failed, Some(reason)),
            "{name}: {:?}",
            check.message
        );
    }
    let message = |name: &str| check(&held, name).unwrap().message.clone().unwrap();
    for (name, subjects) in [
        ("DockerRuntimeUnsupported", vec![DOCKER_NODE, "docker://24.0.7"]),
        ("KubeletVersionSkew", vec![OLD_KUBELET_NODE, OLD_KUBELET]),
        (
            "CustomEtcdBackupCronJobsAbsent",
            vec!["kube-system/etcd-snapshot-offsite"],
        ),
        ("CRIUpgradePodsAbsent", vec!["kube-system/cri-upgrade-w-worker-1"]),
        ("ClusterModuleStable", vec![UNSTABLE_MODULE]),
        ("ModuleInfoStable", vec!["w-cluster-logging", "Upgrading"]),
        (
            "ResourcePatchUpgradeable",
            vec!["cpaas-system/ingress-tuning", "4.3.1"],
        ),
        ("PlatformLicense", vec![LICENSE_SECRET, "2024-01-31"]),
        ("AdminAckRequired", vec![ADMIN_GATE]),
    ] {
        let text = message(name);
        for subject in subjects {
            assert!(text.contains(subject), "{name} must name {subject}: {text}");
        }
    }
    // Only the one missing static pod is named: the three present ones were read.
    let static_pods = message("ControlPlaneStaticPodsPresent");
    assert!(
        static_pods.contains(&format!("kube-system/{MISSING_STATIC_POD}-{CONTROL_PLANE_NODE}")),
        "{static_pods}"
    );
    for present in PRESENT_STATIC_PODS {
        assert!(
            !static_pods.contains(present),
            "{present} is there: {static_pods}"
        );
    }
    assert_not_started(&held, "4.3.1");

    // A version without an upgrade path stays held, forced or not: no history entry, no stage.
    desire(global, "w", "4.2.1", true).await;
    let refused = settled_for(global, "4.2.1", &["VersionUpgradePath"]).await;
    let path = check(&refused, "VersionUpgradePath").unwrap();
    assert_eq!(
        (path.state, path.reason.as_deref()),
        (CheckState::Failed, Some("Downgrade")),
        "{:?}",
        path.message
    );
    assert_not_started(&refused, "4.2.1");

    // Repaired: every check whose fault is gone passes, which its reader can only tell from the cluster.
    desire(global, "w", "4.3.1", false).await;
    repair_all_but_docker(global, w).await;
    let repaired = wait_shadow(global, "w", "every repaired check passes", LONG, |s| {
        preflight_target(s) == Some("4.3.1")
            && FAULTS.iter().all(|(name, _)| {
                let want = if *name == FORCED_PAST {
                    CheckState::Failed
                } else {
                    CheckState::Passed
                };
                check(s, name).is_some_and(|c| c.state == want)
            })
    })
    .await;
    let failed: Vec<&str> = repaired
        .status
        .as_ref()
        .unwrap()
        .preflight
        .iter()
        .flat_map(|p| &p.checks)
        .filter(|c| c.state != CheckState::Passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, [FORCED_PAST], "only the Docker node is left");
    assert_not_started(&repaired, "4.3.1");

    // Forced: the upgrade starts, and its history entry names the risk accepted.
    desire(global, "w", "4.3.1", true).await;
    let started = wait_shadow(global, "w", "the forced upgrade started", LONG, |s| {
        s.status
            .as_ref()
            .and_then(|st| st.history.first())
            .is_some_and(|h| h.version.as_deref() == Some("4.3.1"))
    })
    .await;
    let entry = &started.status.as_ref().unwrap().history[0];
    assert_eq!(entry.state, HistoryState::Partial);
    let risks = entry.accepted_risks.as_deref().unwrap_or_default();
    assert!(
        risks.contains(FORCED_PAST) && risks.contains(DOCKER_NODE),
        "acceptedRisks: {risks:?}"
    );
    for (name, _) in FAULTS.iter().filter(|(name, _)| *name != FORCED_PAST) {
        assert!(!risks.contains(name), "{name} passed, it is no risk: {risks}");
    }
}

/// Puts every fault in place: three odd nodes, the control plane's mirror pods but one, a custom etcd
/// backup, a leftover runtime-upgrade pod, a module that cannot roll out, an upgrading ModuleInfo, an
/// unreviewed ResourcePatch (in `w`); an expired licence and an unacknowledged admin gate (in `global`).
async fn break_everything(global: &Cluster, w: &Cluster) {
    w.create_node(NodeSpec::new(DOCKER_NODE).container_runtime("docker://24.0.7"))
        .await
        .unwrap();
    w.create_node(NodeSpec::new(OLD_KUBELET_NODE).kubelet_version(OLD_KUBELET))
        .await
        .unwrap();
    w.create_node(NodeSpec::new(CONTROL_PLANE_NODE).control_plane())
        .await
        .unwrap();
    for component in PRESENT_STATIC_PODS {
        apply(w, &mirror_pod(component, CONTROL_PLANE_NODE)).await;
    }
    apply(w, &etcd_backup(false)).await;
    // Pods other than mirror pods need their namespace's ServiceAccount, which the controller-manager makes.
    let accounts: Api<ServiceAccount> = Api::namespaced(w.client().await.unwrap(), "kube-system");
    wait_for("ServiceAccount kube-system/default", SHORT, || async {
        accounts.get_opt("default").await.ok().flatten().is_some()
    })
    .await
    .unwrap();
    apply(
        w,
        &json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "cri-upgrade-w-worker-1", "namespace": "kube-system",
                "labels": {"cpaas.io/cri-upgrade": "containerd-2.0"},
            },
            "spec": {
                "nodeName": "w-worker-1",
                "containers": [{"name": "upgrade", "image": "registry.k8s.io/pause:3.10"}],
            },
        }),
    )
    .await;
    apply(w, &logging_module(false)).await;
    install_crd(w, "cluster.alauda.io", "ModuleInfo", "moduleinfoes", "Cluster").await;
    apply(w, &module_info("Upgrading")).await;
    install_crd(
        w,
        "operator.alauda.io",
        "ResourcePatch",
        "resourcepatches",
        "Namespaced",
    )
    .await;
    apply(w, &resource_patch(None)).await;

    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cvo-config", "namespace": names::NAMESPACE},
            "data": {"license": format!("secret: {LICENSE_SECRET}")},
        }),
    )
    .await;
    apply(global, &license("2024-01-31")).await;
    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": names::ADMIN_GATES_CONFIG_MAP, "namespace": names::NAMESPACE},
            "data": {ADMIN_GATE: "Ingress objects move to the v2 controller: check custom annotations"},
        }),
    )
    .await;
}

/// Repairs every fault but the Docker node, the way an administrator would.
async fn repair_all_but_docker(global: &Cluster, w: &Cluster) {
    w.set_node_versions(OLD_KUBELET_NODE, Some(&w.kube_version()), None)
        .await
        .unwrap();
    apply(w, &mirror_pod(MISSING_STATIC_POD, CONTROL_PLANE_NODE)).await;
    apply(w, &etcd_backup(true)).await;
    let pods: Api<Pod> = Api::namespaced(w.client().await.unwrap(), "kube-system");
    pods.delete("cri-upgrade-w-worker-1", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    apply(w, &logging_module(true)).await;
    apply(w, &module_info("Running")).await;
    apply(w, &resource_patch(Some("4.3.1"))).await;
    apply(global, &license("2099-12-31")).await;
    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": names::ADMIN_ACKS_CONFIG_MAP, "namespace": names::NAMESPACE},
            "data": {ADMIN_GATE: "true"},
        }),
    )
    .await;
}

/// The mirror pod the kubelet makes of a static pod: `<component>-<node>` in kube-system.
fn mirror_pod(component: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{component}-{node}"), "namespace": "kube-system",
            "annotations": {"kubernetes.io/config.mirror": "0f4c1e2d", "kubernetes.io/config.source": "file"},
            "labels": {"component": component, "tier": "control-plane"},
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": component, "image": "registry.k8s.io/pause:3.10"}],
        },
    })
}

/// A CronJob snapshotting etcd besides the platform's own backup; `suspended` as the check asks for.
fn etcd_backup(suspended: bool) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "etcd-snapshot-offsite", "namespace": "kube-system"},
        "spec": {
            "schedule": "0 3 1 1 *",
            "suspend": suspended,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{
                    "name": "snapshot", "image": "registry.k8s.io/etcd:3.5.21-0",
                    "command": ["etcdctl"], "args": ["snapshot", "save", "/backup/etcd.db"],
                }],
            }}}},
        },
    })
}

/// The workload release's `cluster-logging` Deployment; unless `schedulable`, its pod fits no node.
fn logging_module(schedulable: bool) -> Value {
    let release = "4.2.3".parse().unwrap();
    let mut deployment = acp_operator::releases::builtin::sample_modules(&release)
        .into_iter()
        .find(|m| m.name == UNSTABLE_MODULE)
        .unwrap()
        .manifests
        .into_iter()
        .find(|m| m["kind"] == "Deployment")
        .unwrap();
    if !schedulable {
        deployment["spec"]["template"]["spec"]["nodeSelector"] = json!({"e2e.acp.io/pool": "nowhere"});
    }
    deployment
}

fn module_info(phase: &str) -> Value {
    json!({
        "apiVersion": "cluster.alauda.io/v1alpha1", "kind": "ModuleInfo",
        "metadata": {"name": "w-cluster-logging"},
        "spec": {"module": UNSTABLE_MODULE},
        "status": {"phase": phase},
    })
}

fn resource_patch(exempt_for: Option<&str>) -> Value {
    let mut patch = json!({
        "apiVersion": "operator.alauda.io/v1alpha1", "kind": "ResourcePatch",
        "metadata": {"name": "ingress-tuning", "namespace": names::NAMESPACE},
        "spec": {"target": {"kind": "Deployment", "name": "platform-console"}},
    });
    if let Some(version) = exempt_for {
        patch["metadata"]["annotations"] = json!({names::annotations::EXEMPT_FOR_VERSION: version});
    }
    patch
}

fn license(expires_at: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": LICENSE_SECRET, "namespace": names::NAMESPACE},
        "stringData": {"expiresAt": expires_at},
    })
}

/// Installs a CRD whose objects may hold anything (status included) and waits until it is Established.
async fn install_crd(cluster: &Cluster, group: &str, kind: &str, plural: &str, scope: &str) {
    let name = format!("{plural}.{group}");
    apply(
        cluster,
        &json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group, "scope": scope,
                "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase()},
                "versions": [{
                    "name": "v1alpha1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                }],
            },
        }),
    )
    .await;
    acp_e2e::wait_crd_established(cluster, &name).await;
}

/// Sets `spec.desiredUpdate` the way `kubectl patch cvsh <name> --type merge` does.
async fn desire(global: &Cluster, name: &str, version: &str, force: bool) {
    let patch = json!({"spec": {"desiredUpdate": {"version": version, "force": force}}});
    shadows(global)
        .await
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

fn preflight_target(shadow: &ClusterVersionShadow) -> Option<&str> {
    shadow
        .status
        .as_ref()?
        .preflight
        .as_ref()?
        .target_version
        .as_deref()
}

/// The cvsh `w` once preflight for `target` has answered every check in `checks` (none left to retry).
async fn settled_for(global: &Cluster, target: &str, checks: &[&str]) -> ClusterVersionShadow {
    wait_shadow(
        global,
        "w",
        &format!("preflight for {target} answers {checks:?}"),
        LONG,
        |s| {
            preflight_target(s) == Some(target)
                && checks
                    .iter()
                    .all(|name| check(s, name).is_some_and(|c| c.state != CheckState::Retry))
        },
    )
    .await
}

/// No history entry for `target` and no stage: the upgrade did not start.
fn assert_not_started(shadow: &ClusterVersionShadow, target: &str) {
    let status = shadow.status.as_ref().unwrap();
    assert!(
        status
            .history
            .iter()
            .all(|h| h.version.as_deref() != Some(target)),
        "no upgrade to {target} may start: {:?}",
        history(shadow)
    );
    assert!(
        status.stages.is_empty(),
        "no stage may be planned: {:?}",
        status.stages
    );
}

/// `ac` run as a process, its output read line by line as it comes.
struct Running {
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    exit: Arc<Mutex<Option<std::process::ExitStatus>>>,
}

impl Running {
    fn start(global: &Cluster, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(cli::ac_path())
            .args(args)
            .env("KUBECONFIG", global.kubeconfig_path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = follow(child.stdout.take().unwrap());
        let stderr = follow(child.stderr.take().unwrap());
        let exit = Arc::new(Mutex::new(None));
        let status = exit.clone();
        tokio::spawn(async move {
            let code = child.wait().await.unwrap();
            *status.lock().unwrap() = Some(code);
        });
        Running { stdout, stderr, exit }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn exit(&self) -> Option<std::process::ExitStatus> {
        *self.exit.lock().unwrap()
    }

    /// Waits until the process has printed `text` on stdout or stderr; fails at once if it exits first.
    async fn printed(&self, text: &str) {
        let seen = || self.stdout().contains(text) || self.stderr().contains(text);
        let result = wait_for(&format!("ac to print {text:?}"), LONG, || async {
            seen() || self.exit().is_some()
        })
        .await;
        if result.is_err() || !seen() {
            panic!(
                "ac did not print {text:?} (exit: {:?})\nstdout:\n{}\nstderr:\n{}",
                self.exit(),
                self.stdout(),
                self.stderr()
            );
        }
    }

    /// Waits for the process to exit and returns its exit code.
    async fn exited(&self) -> Option<i32> {
        let exited = wait_for("ac to exit", LONG, || async { self.exit().is_some() }).await;
        if exited.is_err() {
            panic!(
                "ac still runs\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
        }
        self.exit().and_then(|e| e.code())
    }
}

/// Collects a stream's lines as they come.
fn follow(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

const WATCH: [&str; 5] = ["adm", "upgrade", "status", "--watch", "--interval"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_watch_follows_the_upgrade_through_an_api_server_restart() {
    let env = cli::platform([]).await;
    let global = env.cluster("global");
    acp_e2e::create_cvsh(global, "global", json!({"desiredUpdate": {"version": "4.3.1"}})).await;
    cli::write_status(global, "global", executing("Running")).await;

    let watch = Running::start(global, &[&WATCH[..], &["1s", "--timeout", "5m"]].concat());
    watch.printed("Upgrade:     4.2.5 → 4.3.1").await;

    // The API server goes away (etcd with it): the watch says so and keeps trying.
    global.stop().await.unwrap();
    watch
        .printed("retrying (the API server may be restarting as part of the upgrade)")
        .await;
    // A watch started now gives up when its --timeout runs out, and says what to do.
    let short = Running::start(global, &[&WATCH[..], &["1s", "--timeout", "3s"]].concat());
    assert_eq!(short.exited().await, Some(1), "{}", short.stdout());
    let stderr = short.stderr();
    assert!(
        stderr.contains("--timeout 3s ran out, so the watch gave up: check that the API server is up")
            && stderr.contains("`ac adm upgrade status --cluster global --watch`"),
        "{stderr}"
    );
    assert_eq!(watch.exit(), None, "the first watch gave up: {}", watch.stderr());

    // Back on the same port with the same data: the watch picks up where it was.
    global.start_again().await.unwrap();
    watch.printed("reached the API server again").await;
    cli::write_status(global, "global", completed()).await;
    assert_eq!(
        watch.exited().await,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        watch.stdout(),
        watch.stderr()
    );
    let out = watch.stdout();
    let last_page = out.rsplit("---").next().unwrap();
    assert!(last_page.contains("Assessment:  Idle"), "{out}");
    assert!(last_page.contains("Version:     4.3.1"), "{out}");
}

/// The global cluster upgrading 4.2.5 → 4.3.1, its Core operation in `phase`.
fn executing(phase: &str) -> Value {
    json!({
        "current": {"version": "4.2.5"},
        "desired": {"version": "4.3.1"},
        "conditions": [
            cli::condition("Ready", false, "Upgrading", "Working towards 4.3.1"),
            cli::condition("Reconciling", true, "Upgrading", "Stage Core"),
        ],
        "stages": [{"name": "Core", "priority": 30, "phase": "Running", "operations": [
            {"name": "platform-api", "action": "Upgrade", "currentVersion": "4.2.5", "targetVersion": "4.3.1",
             "phase": phase},
        ]}],
        "history": [
            {"version": "4.3.1", "image": "", "state": "Partial", "startedTime": "2026-03-01T10:00:00Z"},
            {"version": "4.2.5", "image": "", "state": "Completed",
             "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"},
        ],
    })
}

fn completed() -> Value {
    let mut status = executing("Succeeded");
    status["current"] = json!({"version": "4.3.1"});
    status["conditions"] = json!([cli::condition(
        "Ready",
        true,
        "AtDesiredVersion",
        "Cluster global runs 4.3.1"
    )]);
    status["stages"][0]["phase"] = json!("Finished");
    status["history"][0]["state"] = json!("Completed");
    status["history"][0]["completionTime"] = json!("2026-03-01T10:30:00Z");
    status
}
