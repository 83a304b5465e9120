//! The generated CRDs against a real Kubernetes 1.34 API server: they install cleanly, accept what ACP
//! documents, reject what the rules forbid with messages that name the rule, and let two field managers
//! share status by server-side apply.

use std::path::PathBuf;
use std::process::Stdio;

use acp_api::conditions::{self, ConditionUpdate, FixedClock, types};
use acp_api::cvsh::{Operation, OperationAction, OperationPhase, Release, Stage, StagePhase};
use acp_api::k8s::Timestamp;
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus, names, ssa};
use acp_e2e::wait_established;
use acp_testkit::{Cluster, ClusterSpec, TestEnv};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const MINIMAL_CVSH: &str = "\
apiVersion: config.alauda.io/v1
kind: ClusterVersionShadow
metadata:
  name: global
  namespace: cpaas-system
spec:
  desiredUpdate:
    version: 4.3.0
";

fn crds_dir() -> PathBuf {
    acp_testkit::repo_root().join("deploy/crds")
}

/// What `kubectl` printed, including stderr (where warnings go) even when it succeeds.
struct KubectlOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn kubectl(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(acp_testkit::kubectl_path())
        .arg(format!("--kubeconfig={}", cluster.kubeconfig_path().display()))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    KubectlOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl ... ` that must succeed; returns stdout.
async fn kubectl_ok(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(cluster, args, stdin).await;
    assert!(out.success, "kubectl {} failed: {}", args.join(" "), out.stderr);
    out.stdout
}

/// `kubectl ...` that must fail; returns stderr.
async fn kubectl_rejected(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(cluster, args, stdin).await;
    assert!(
        !out.success,
        "kubectl {} was accepted, expected a rejection:\n{}",
        args.join(" "),
        out.stdout
    );
    out.stderr
}

/// A cluster with the CRDs of deploy/crds installed by `kubectl apply`, and namespace cpaas-system.
async fn cluster_with_crds() -> TestEnv {
    let env = TestEnv::start([ClusterSpec::new("global", "1.34")])
        .await
        .unwrap();
    let cluster = env.cluster("global");
    let dir = crds_dir();
    let out = kubectl(cluster, &["apply", "-f", dir.to_str().unwrap()], None).await;
    assert!(out.success, "installing deploy/crds failed: {}", out.stderr);
    assert!(
        !out.stderr.to_lowercase().contains("warning"),
        "installing deploy/crds printed warnings:\n{}",
        out.stderr
    );
    wait_established(cluster).await;
    kubectl_ok(cluster, &["create", "namespace", names::NAMESPACE], None).await;
    env
}

#[tokio::test]
async fn crds_install_without_warnings_and_serve_the_documented_commands() {
    let env = cluster_with_crds().await;
    let cluster = env.cluster("global");

    // The warning check above can fail: the server warns about a format it does not recognise (it checks
    // string fields).
    let mut noisy = acp_api::crd::all().remove(1);
    noisy.metadata.name = Some("noisies.example.com".into());
    noisy.spec.group = "example.com".into();
    noisy.spec.names.plural = "noisies".into();
    noisy.spec.names.singular = Some("noisy".into());
    noisy.spec.names.kind = "Noisy".into();
    noisy.spec.names.short_names = None;
    let mut noisy = serde_json::to_value(&noisy).unwrap();
    noisy["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["resolvedImageDigest"]
        ["format"] = json!("uint32");
    let out = kubectl(cluster, &["apply", "-f", "-"], Some(&noisy.to_string())).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains(r#"Warning: unrecognized format "uint32""#),
        "expected a warning about format uint32, got: {:?}",
        out.stderr
    );

    // The minimal documented object, accepted as written and without warnings.
    let out = kubectl(cluster, &["apply", "-f", "-"], Some(MINIMAL_CVSH)).await;
    assert!(out.success, "{}", out.stderr);
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);
    let listing = kubectl_ok(cluster, &["get", "cvsh", "-n", names::NAMESPACE], None).await;
    let header: Vec<&str> = listing.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "CURRENT", "DESIRED", "READY", "STATUS", "AGE"],
        "{listing}"
    );

    // The documented upgrade request.
    kubectl_ok(
        cluster,
        &[
            "patch",
            "cvsh",
            "global",
            "-n",
            names::NAMESPACE,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"desiredUpdate":{"version":"4.3.1"}}}"#,
        ],
        None,
    )
    .await;
    let api: Api<ClusterVersionShadow> = Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE);
    let cvsh = api.get("global").await.unwrap();
    assert_eq!(cvsh.requested_version(), Some("4.3.1"));
    assert_eq!(cvsh.tier(), acp_api::cvsh::Tier::Global);
    assert_eq!(
        cvsh.spec.tier, None,
        "defaults derived in code are not written to the object"
    );

    // The columns show what the status says.
    let clock = FixedClock(Timestamp::now());
    let mut status = ClusterVersionShadowStatus {
        current: Some(Release::version("4.3.0")),
        desired: Some(Release::version("4.3.1")),
        ..Default::default()
    };
    let ready = ConditionUpdate::new(types::READY, false, "Upgrading", "Working towards 4.3.1");
    conditions::set(&mut status.conditions, ready, &clock);
    let body = ssa::status_body::<ClusterVersionShadow>(&status).unwrap();
    api.patch_status(
        "global",
        &PatchParams::apply(names::FIELD_MANAGER),
        &Patch::Apply(body),
    )
    .await
    .unwrap();
    let listing = kubectl_ok(cluster, &["get", "cvsh", "global", "-n", names::NAMESPACE], None).await;
    let row = listing.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..4], ["global", "4.3.0", "4.3.1", "False"], "{listing}");
    assert!(row.contains("Working towards 4.3.1"), "{listing}");

    // The category and the short name of ProductManifest resolve too.
    kubectl_ok(cluster, &["get", "clusterversion", "-A"], None).await;
    let pdman = kubectl_ok(cluster, &["get", "pdman"], None).await;
    assert!(pdman.is_empty() || pdman.starts_with("NAME"), "{pdman}");
}

#[tokio::test]
async fn invalid_objects_are_rejected_naming_the_rule() {
    let env = cluster_with_crds().await;
    let cluster = env.cluster("global");
    let cvsh_with = |desired_update: &str| {
        format!(
            "apiVersion: config.alauda.io/v1\nkind: ClusterVersionShadow\nmetadata: {{name: w1, namespace: cpaas-system}}\nspec:\n  desiredUpdate: {desired_update}\n"
        )
    };
    let one_of = "exactly one of desiredUpdate.version and desiredUpdate.image must be set";

    let both = cvsh_with("{version: 4.3.1, image: registry.example/acp:4.3.1}");
    let stderr = kubectl_rejected(cluster, &["apply", "-f", "-"], Some(&both)).await;
    assert!(stderr.contains(one_of), "{stderr}");

    let neither = cvsh_with("{force: true}");
    let stderr = kubectl_rejected(cluster, &["apply", "-f", "-"], Some(&neither)).await;
    assert!(stderr.contains(one_of), "{stderr}");

    let stderr = kubectl_rejected(
        cluster,
        &["apply", "-f", "-"],
        Some(&cvsh_with("{version: 4.3.1}").replace("spec:\n", "spec:\n  tier: Primary\n")),
    )
    .await;
    assert!(
        stderr.contains("spec.tier") && stderr.contains("Unsupported value"),
        "{stderr}"
    );

    // An unknown enum value in status, written through the status subresource.
    kubectl_ok(
        cluster,
        &["apply", "-f", "-"],
        Some(&cvsh_with("{version: 4.3.1}")),
    )
    .await;
    let bad_history = json!({"status": {"history": [{
        "version": "4.3.1", "image": "", "state": "Failed", "startedTime": "2026-03-01T10:00:00Z",
    }]}});
    let stderr = kubectl_rejected(
        cluster,
        &[
            "patch",
            "cvsh",
            "w1",
            "-n",
            "cpaas-system",
            "--subresource=status",
            "--type=merge",
            "-p",
            &bad_history.to_string(),
        ],
        None,
    )
    .await;
    assert!(stderr.contains("status.history[0].state"), "{stderr}");
    assert!(stderr.contains(r#"Unsupported value: "Failed""#), "{stderr}");
    let bad_check =
        json!({"status": {"preflight": {"checks": [{"name": "ClusterRunning", "state": "Unknown"}]}}});
    let stderr = kubectl_rejected(
        cluster,
        &[
            "patch",
            "cvsh",
            "w1",
            "-n",
            "cpaas-system",
            "--subresource=status",
            "--type=merge",
            "-p",
            &bad_check.to_string(),
        ],
        None,
    )
    .await;
    assert!(stderr.contains("status.preflight.checks[0].state"), "{stderr}");
    let sixteen_plus_one: Vec<_> = (0..17).map(|i| json!({"version": format!("4.3.{i}")})).collect();
    let too_many = json!({"status": {"availableUpdates": sixteen_plus_one}});
    let stderr = kubectl_rejected(
        cluster,
        &[
            "patch",
            "cvsh",
            "w1",
            "-n",
            "cpaas-system",
            "--subresource=status",
            "--type=merge",
            "-p",
            &too_many.to_string(),
        ],
        None,
    )
    .await;
    assert!(
        stderr.contains("status.availableUpdates") && stderr.contains("16"),
        "{stderr}"
    );

    // ProductManifest: exactly one of version/image, and neither changes after creation.
    let pdman = |spec: &str| {
        format!(
            "apiVersion: config.alauda.io/v1\nkind: ProductManifest\nmetadata: {{name: v4.3.1}}\nspec: {spec}\n"
        )
    };
    let stderr = kubectl_rejected(
        cluster,
        &["apply", "-f", "-"],
        Some(&pdman("{version: 4.3.1, image: r/acp:4.3.1}")),
    )
    .await;
    assert!(
        stderr.contains("exactly one of spec.version and spec.image must be set"),
        "{stderr}"
    );

    kubectl_ok(cluster, &["apply", "-f", "-"], Some(&pdman("{version: 4.3.1}"))).await;
    let stderr = kubectl_rejected(
        cluster,
        &[
            "patch",
            "pdman",
            "v4.3.1",
            "--type=merge",
            "-p",
            r#"{"spec":{"version":"4.3.2"}}"#,
        ],
        None,
    )
    .await;
    assert!(stderr.contains("spec.version is immutable once set"), "{stderr}");
    let stderr = kubectl_rejected(
        cluster,
        &[
            "patch",
            "pdman",
            "v4.3.1",
            "--type=merge",
            "-p",
            r#"{"spec":{"version":null,"image":"r/acp:4.3.2"}}"#,
        ],
        None,
    )
    .await;
    assert!(
        stderr.contains("neither can be added or removed after creation"),
        "{stderr}"
    );
    let unchanged = kubectl_ok(
        cluster,
        &["get", "pdman", "v4.3.1", "-o", "jsonpath={.spec.version}"],
        None,
    )
    .await;
    assert_eq!(unchanged, "4.3.1");
    // Applying the same spec again is fine (what `ac adm release import-manifest` relies on).
    kubectl_ok(cluster, &["apply", "-f", "-"], Some(&pdman("{version: 4.3.1}"))).await;
}

#[tokio::test]
async fn status_applied_by_two_field_managers_keeps_both() {
    let env = cluster_with_crds().await;
    let cluster = env.cluster("global");
    kubectl_ok(cluster, &["apply", "-f", "-"], Some(MINIMAL_CVSH)).await;
    let api: Api<ClusterVersionShadow> = Api::namespaced(cluster.client().await.unwrap(), names::NAMESPACE);
    let clock = FixedClock("2026-03-01T10:00:00Z".parse().unwrap());

    let operator_status = |ready_message: &str, phase: OperationPhase| {
        let mut status = ClusterVersionShadowStatus::default();
        conditions::set(
            &mut status.conditions,
            ConditionUpdate::new(types::READY, false, "Upgrading", ready_message),
            &clock,
        );
        conditions::set(
            &mut status.conditions,
            ConditionUpdate::new(types::RECONCILING, true, "Upgrading", "Working towards 4.3.0"),
            &clock,
        );
        status.stages = vec![Stage {
            name: "Core".into(),
            priority: 30,
            phase: StagePhase::Running,
            operations: vec![Operation {
                current_version: Some("4.2.5".into()),
                target_version: Some("4.3.0".into()),
                phase: Some(phase),
                ..Operation::pending("platform-api", OperationAction::Upgrade)
            }],
        }];
        ssa::status_body::<ClusterVersionShadow>(&status).unwrap()
    };
    let apply = |manager: &str| PatchParams::apply(manager);

    api.patch_status(
        "global",
        &apply(names::FIELD_MANAGER),
        &Patch::Apply(operator_status("starting", OperationPhase::Running)),
    )
    .await
    .unwrap();

    let mut other = ClusterVersionShadowStatus::default();
    conditions::set(
        &mut other.conditions,
        ConditionUpdate::new(
            "BackupVerified",
            true,
            "BackupFound",
            "etcd backup taken 5 minutes ago",
        ),
        &clock,
    );
    let other = ssa::status_body::<ClusterVersionShadow>(&other).unwrap();
    api.patch_status("global", &apply("backup-checker"), &Patch::Apply(other))
        .await
        .unwrap();

    // The operator applies again with its own fields only: the other manager's condition stays.
    api.patch_status(
        "global",
        &apply(names::FIELD_MANAGER),
        &Patch::Apply(operator_status("halfway", OperationPhase::Succeeded)),
    )
    .await
    .unwrap();

    let cvsh = api.get("global").await.unwrap();
    let status = cvsh.status.as_ref().unwrap();
    let mut types_seen: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    types_seen.sort_unstable();
    assert_eq!(types_seen, ["BackupVerified", "Ready", "Reconciling"]);
    assert_eq!(cvsh.condition(types::READY).unwrap().message, "halfway");
    assert!(cvsh.is_condition_true("BackupVerified"));
    assert_eq!(
        status.stages[0].operations[0].phase,
        Some(OperationPhase::Succeeded)
    );
    assert_eq!(status.progress().done, 1);

    let managers: Vec<String> = cvsh
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&names::FIELD_MANAGER.to_owned()),
        "{managers:?}"
    );
    assert!(managers.contains(&"backup-checker".to_owned()), "{managers:?}");

    // The other manager withdrawing its condition removes only that one.
    let empty = ssa::status_body::<ClusterVersionShadow>(&ClusterVersionShadowStatus::default()).unwrap();
    api.patch_status("global", &apply("backup-checker"), &Patch::Apply(empty))
        .await
        .unwrap();
    let cvsh = api.get("global").await.unwrap();
    assert!(cvsh.condition("BackupVerified").is_none());
    assert!(cvsh.condition(types::READY).is_some());
    assert_eq!(cvsh.status.unwrap().stages.len(), 1);
}
