use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::conditions::types;

const MINIMAL_ACP_OBJECT: &str = r#"
apiVersion: config.alauda.io/v1
kind: ClusterVersionShadow
metadata:
  name: global
  namespace: cpaas-system
spec:
  desiredUpdate:
    version: 4.3.0
"#;

fn time(rfc3339: &str) -> Time {
    Time(rfc3339.parse::<Timestamp>().unwrap())
}

fn named(name: &str, spec: ClusterVersionShadowSpec) -> ClusterVersionShadow {
    let mut cvsh = ClusterVersionShadow::new(name, spec);
    cvsh.metadata.namespace = Some("cpaas-system".into());
    cvsh
}

#[test]
fn the_minimal_documented_object_reads_with_defaults() {
    let cvsh: ClusterVersionShadow = serde_saphyr::from_str(MINIMAL_ACP_OBJECT).unwrap();
    assert_eq!(cvsh.requested_version(), Some("4.3.0"));
    assert_eq!(cvsh.spec.desired_update.as_ref().unwrap().image, None);
    assert!(!cvsh.is_forced());
    assert_eq!(cvsh.tier(), Tier::Global);
    assert_eq!(cvsh.provisioning(), Provisioning::PlatformManaged);
    assert_eq!(cvsh.kubernetes_driver(), KubernetesDriver::External);
    assert!(!cvsh.is_paused());
    assert!(cvsh.kubeconfig_secret_ref().is_none());
    assert_eq!(cvsh.current_version(), None);
    assert!(cvsh.conditions().is_empty());
    assert!(!cvsh.is_executing());
}

#[test]
fn writing_the_minimal_object_back_adds_nothing() {
    let cvsh: ClusterVersionShadow = serde_saphyr::from_str(MINIMAL_ACP_OBJECT).unwrap();
    let value = serde_json::to_value(&cvsh).unwrap();
    assert_eq!(value["spec"], json!({"desiredUpdate": {"version": "4.3.0"}}));
    assert!(value.get("status").is_none_or(serde_json::Value::is_null));
}

#[test]
fn tier_defaults_from_the_name_unless_set() {
    assert_eq!(named("global", Default::default()).tier(), Tier::Global);
    assert_eq!(named("business-1", Default::default()).tier(), Tier::Workload);
    let standby = ClusterVersionShadowSpec {
        tier: Some(Tier::GlobalStandby),
        ..Default::default()
    };
    assert_eq!(named("global-dr", standby).tier(), Tier::GlobalStandby);
    assert!(Tier::GlobalStandby.is_global());
    // Only the object named `global` is the global cluster, whatever another one claims.
    let claims_global = ClusterVersionShadowSpec {
        tier: Some(Tier::Global),
        ..Default::default()
    };
    assert_eq!(named("business-1", claims_global.clone()).tier(), Tier::Workload);
    assert_eq!(named("global", claims_global).tier(), Tier::Global);
    assert!(!Tier::Workload.is_global());
}

#[test]
fn third_party_clusters_default_to_no_kubernetes_driver() {
    let imported = ClusterVersionShadowSpec {
        provisioning: Some(Provisioning::ThirdParty),
        ..Default::default()
    };
    assert_eq!(
        named("eks-1", imported.clone()).kubernetes_driver(),
        KubernetesDriver::None
    );
    let capi = ClusterVersionShadowSpec {
        kubernetes_driver: Some(KubernetesDriver::ClusterAPI),
        ..imported
    };
    assert_eq!(
        named("eks-1", capi).kubernetes_driver(),
        KubernetesDriver::ClusterAPI
    );
}

#[test]
fn kubeconfig_secret_key_defaults_to_value() {
    let spec: ClusterVersionShadowSpec =
        serde_json::from_value(json!({"kubeconfigSecretRef": {"name": "business-1-kubeconfig"}})).unwrap();
    assert_eq!(
        spec.kubeconfig_secret_ref,
        Some(KubeconfigSecretRef::new("business-1-kubeconfig"))
    );
    assert_eq!(spec.kubeconfig_secret_ref.unwrap().key, "value");
}

fn upgrading_status() -> ClusterVersionShadowStatus {
    ClusterVersionShadowStatus {
        current: Some(Release::version("4.2.5")),
        desired: Some(Release {
            version: Some("4.3.1".into()),
            image: Some("registry/acp:4.3.1".into()),
        }),
        observed_generation: Some(4),
        available_updates: vec![Release::version("4.3.1"), Release::version("4.3.0")],
        conditions: vec![Condition {
            type_: types::RECONCILING.into(),
            status: "True".into(),
            reason: "Upgrading".into(),
            message: "Working towards 4.3.1".into(),
            observed_generation: Some(4),
            last_transition_time: time("2026-03-01T10:00:00Z"),
        }],
        history: vec![
            HistoryEntry {
                version: Some("4.3.1".into()),
                image: "registry/acp:4.3.1".into(),
                state: HistoryState::Partial,
                started_time: time("2026-03-01T10:00:00Z"),
                completion_time: None,
                accepted_risks: Some("PlatformLicense: licence expires before 4.3 support ends".into()),
                release_digest: None,
                cluster_identity: None,
            },
            HistoryEntry {
                version: Some("4.2.5".into()),
                image: String::new(),
                state: HistoryState::Completed,
                started_time: time("2026-01-10T08:00:00Z"),
                completion_time: Some(time("2026-01-10T08:42:30Z")),
                accepted_risks: None,
                release_digest: None,
                cluster_identity: None,
            },
        ],
        preflight: Some(Preflight {
            observed_at: Some(time("2026-03-01T09:59:00Z")),
            target_version: Some("4.3.1".into()),
            checks: vec![PreflightCheck {
                name: "VersionUpgradePath".into(),
                policy: Some(CheckPolicy::Once),
                state: CheckState::Passed,
                reason: Some("SupportedEdge".into()),
                message: Some("4.2.5 upgrades to 4.3.1 directly".into()),
            }],
        }),
        stages: vec![
            Stage {
                name: "Core".into(),
                priority: 30,
                phase: StagePhase::Running,
                operations: vec![
                    Operation {
                        name: "platform-api".into(),
                        action: OperationAction::Upgrade,
                        current_version: Some("4.2.5".into()),
                        target_version: Some("4.3.1".into()),
                        depends_on: vec!["cert-manager".into()],
                        module_info: Some("platform-api".into()),
                        phase: Some(OperationPhase::Running),
                        message: Some("waiting for Deployment cpaas-system/platform-api".into()),
                        last_transition_time: Some(time("2026-03-01T10:05:00Z")),
                        manifest_digest: None,
                        insights: Vec::new(),
                        insights_time: None,
                    },
                    Operation {
                        name: "cert-manager".into(),
                        action: OperationAction::Install,
                        current_version: None,
                        target_version: Some("4.3.1".into()),
                        depends_on: vec![],
                        module_info: None,
                        phase: Some(OperationPhase::Succeeded),
                        message: None,
                        last_transition_time: None,
                        manifest_digest: None,
                        insights: Vec::new(),
                        insights_time: None,
                    },
                ],
            },
            Stage {
                name: "Prepare".into(),
                priority: 10,
                phase: StagePhase::Finished,
                operations: vec![Operation {
                    name: "crds".into(),
                    action: OperationAction::Upgrade,
                    current_version: None,
                    target_version: Some("4.3.1".into()),
                    depends_on: vec![],
                    module_info: None,
                    phase: Some(OperationPhase::Other("UpgradePending".into())),
                    message: None,
                    last_transition_time: None,
                    manifest_digest: None,
                    insights: Vec::new(),
                    insights_time: None,
                }],
            },
        ],
        observed: Some(Observed {
            kubernetes_version: Some("v1.33.7".into()),
            nodes: Some(NodeSummary {
                total: 3,
                ready: 3,
                kubelet_versions: vec!["v1.33.7".into()],
                runtimes: vec!["containerd://1.7.27".into()],
            }),
            reachable: Some(true),
            observed_at: Some(time("2026-03-01T10:06:00Z")),
            message: None,
            cluster_identity: None,
        }),
        conditional_updates: vec![],
    }
}

#[test]
fn a_full_status_serialises_to_the_documented_field_names_and_back() {
    let status = upgrading_status();
    let value = serde_json::to_value(&status).unwrap();
    let expected = json!({
        "current": {"version": "4.2.5"},
        "desired": {"version": "4.3.1", "image": "registry/acp:4.3.1"},
        "observedGeneration": 4,
        "availableUpdates": [{"version": "4.3.1"}, {"version": "4.3.0"}],
        "conditions": [{
            "type": "Reconciling", "status": "True", "reason": "Upgrading",
            "message": "Working towards 4.3.1", "observedGeneration": 4,
            "lastTransitionTime": "2026-03-01T10:00:00Z",
        }],
        "history": [
            {
                "version": "4.3.1", "image": "registry/acp:4.3.1", "state": "Partial",
                "startedTime": "2026-03-01T10:00:00Z",
                "acceptedRisks": "PlatformLicense: licence expires before 4.3 support ends",
            },
            {
                "version": "4.2.5", "image": "", "state": "Completed",
                "startedTime": "2026-01-10T08:00:00Z", "completionTime": "2026-01-10T08:42:30Z",
            },
        ],
        "preflight": {
            "observedAt": "2026-03-01T09:59:00Z",
            "targetVersion": "4.3.1",
            "checks": [{
                "name": "VersionUpgradePath", "policy": "Once", "state": "Passed",
                "reason": "SupportedEdge", "message": "4.2.5 upgrades to 4.3.1 directly",
            }],
        },
        "stages": [
            {
                "name": "Core", "priority": 30, "phase": "Running",
                "operations": [
                    {
                        "name": "platform-api", "action": "Upgrade", "currentVersion": "4.2.5",
                        "targetVersion": "4.3.1", "dependsOn": ["cert-manager"],
                        "moduleInfo": "platform-api", "phase": "Running",
                        "message": "waiting for Deployment cpaas-system/platform-api",
                        "lastTransitionTime": "2026-03-01T10:05:00Z",
                    },
                    {"name": "cert-manager", "action": "Install", "targetVersion": "4.3.1", "phase": "Succeeded"},
                ],
            },
            {
                "name": "Prepare", "priority": 10, "phase": "Finished",
                "operations": [{"name": "crds", "action": "Upgrade", "targetVersion": "4.3.1", "phase": "UpgradePending"}],
            },
        ],
        "observed": {
            "kubernetesVersion": "v1.33.7",
            "nodes": {"total": 3, "ready": 3, "kubeletVersions": ["v1.33.7"], "runtimes": ["containerd://1.7.27"]},
            "reachable": true,
            "observedAt": "2026-03-01T10:06:00Z",
        },
    });
    assert_eq!(value, expected);
    let back: ClusterVersionShadowStatus = serde_json::from_value(value).unwrap();
    assert_eq!(back, status);
}

#[test]
fn a_status_reads_back_from_yaml_as_kubectl_prints_it() {
    let status = upgrading_status();
    let yaml = serde_saphyr::to_string(&status).unwrap();
    let back: ClusterVersionShadowStatus = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(back, status);
}

#[test]
fn progress_counts_succeeded_and_skipped_operations() {
    let mut status = upgrading_status();
    assert_eq!(status.progress(), Progress { done: 1, total: 3 });
    assert_eq!(status.progress().percent(), 33);
    assert_eq!(
        status.progress_message().as_deref(),
        Some("Working towards 4.3.1: 1 of 3 operations done (33%)")
    );
    status.stages[1].operations[0].phase = Some(OperationPhase::Skipped);
    status.stages[0].operations[0].phase = Some(OperationPhase::Succeeded);
    assert!(status.progress().is_complete());
    assert_eq!(status.progress().percent(), 100);
    assert_eq!(Progress { done: 7, total: 12 }.percent(), 58);
    assert_eq!(Progress { done: 0, total: 0 }.percent(), 0);
    assert!(!Progress { done: 0, total: 0 }.is_complete());
}

#[test]
fn executing_means_a_running_stage_or_a_partial_newest_entry() {
    let mut status = upgrading_status();
    assert!(status.is_executing());
    assert_eq!(
        status.running_upgrade().unwrap().version.as_deref(),
        Some("4.3.1")
    );
    assert_eq!(status.running_stage().unwrap().name, "Core");

    status.stages[0].phase = StagePhase::Finished;
    assert!(
        status.is_executing(),
        "the Partial history entry still marks the upgrade under way"
    );

    status.history[0].state = HistoryState::Completed;
    status.history[0].completion_time = Some(time("2026-03-01T11:00:00Z"));
    assert!(!status.is_executing());
    assert!(status.running_upgrade().is_none());
    assert!(ClusterVersionShadowStatus::default().progress_message().is_none());
}

#[test]
fn last_completed_duration_comes_from_the_newest_completed_entry() {
    let mut status = upgrading_status();
    assert_eq!(status.last_completed().unwrap().version.as_deref(), Some("4.2.5"));
    assert_eq!(
        status.last_completed_duration(),
        Some(std::time::Duration::from_secs(42 * 60 + 30))
    );
    status.history[0].state = HistoryState::Completed;
    status.history[0].completion_time = Some(time("2026-03-01T10:10:00Z"));
    assert_eq!(
        status.last_completed_duration(),
        Some(std::time::Duration::from_secs(600))
    );
    status.history.clear();
    assert_eq!(status.last_completed_duration(), None);
}

#[test]
fn stages_are_listed_by_priority() {
    let status = upgrading_status();
    let names: Vec<&str> = status.stages_in_order().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Prepare", "Core"]);
}

#[test]
fn preflight_counts_only_for_its_own_target_with_results() {
    let mut status = upgrading_status();
    let target = acp_policy::AcpVersion::new(4, 3, 1);
    assert!(status.preflight_for(&target).unwrap().all_passed());
    assert_eq!(
        status.preflight_for(&acp_policy::AcpVersion::new(4, 3, 0)),
        None,
        "results for another target do not count"
    );
    let preflight = status.preflight.as_mut().unwrap();
    preflight.checks.push(PreflightCheck {
        name: "ClusterRunning".into(),
        policy: Some(CheckPolicy::Always),
        state: CheckState::Retry,
        reason: Some("Unreachable".into()),
        message: Some("cluster business-1 did not answer".into()),
    });
    assert_eq!(status.preflight_for(&target).unwrap().waiting.len(), 1);
    status.preflight.as_mut().unwrap().checks.clear();
    assert_eq!(status.preflight_for(&target), None, "no results is never a pass");
}

#[test]
fn an_object_with_status_exposes_it_through_the_object() {
    let mut cvsh = named(
        "global",
        ClusterVersionShadowSpec {
            desired_update: Some(DesiredUpdate::version("4.3.1")),
            ..Default::default()
        },
    );
    cvsh.status = Some(upgrading_status());
    assert_eq!(cvsh.current_version(), Some("4.2.5"));
    assert_eq!(cvsh.desired_version(), Some("4.3.1"));
    assert!(cvsh.is_condition_true(types::RECONCILING));
    assert!(!cvsh.is_condition_true(types::READY));
    assert!(cvsh.is_executing());
    let status = cvsh.status_or_default();
    let versions: Vec<&str> = status.available_versions().collect();
    assert_eq!(versions, ["4.3.1", "4.3.0"]);
}

#[test]
fn force_is_written_only_when_set() {
    let request = DesiredUpdate::version("4.3.1");
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"version": "4.3.1"})
    );
    let forced = DesiredUpdate {
        force: true,
        ..request
    };
    assert_eq!(
        serde_json::to_value(&forced).unwrap(),
        json!({"version": "4.3.1", "force": true})
    );
}
