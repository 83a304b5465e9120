use std::collections::BTreeMap;
use std::sync::Arc;

use acp_api::conditions::{self, Clock, types};
use acp_api::cvsh::{
    CheckPolicy, CheckState, KubernetesDriver, OperationPhase, PreflightCheck, StagePhase, Tier,
};
use acp_policy::Catalogue;

use super::*;
use crate::clusters::observe::Observation;
use crate::clusters::{AccessError, Cluster};
use crate::cvsh::fixtures::{self, clock, v};
use crate::cvsh::fleet::Fleet;
use crate::cvsh::phase::Evaluated;
use crate::cvsh::plan::{Bootstrap, Current, Request};
use crate::cvsh::stages::Blocked;

/// A cluster that is never called: the projection only asks whether one could be built.
fn cluster() -> Result<Cluster, AccessError> {
    let never = tower::service_fn(|_request: http::Request<kube::client::Body>| async {
        Err::<http::Response<kube::client::Body>, _>(Box::<dyn std::error::Error + Send + Sync>::from(
            "not called in projection tests",
        ))
    });
    Ok(Cluster::new(
        "edge",
        kube::Client::new(never, "default"),
        Duration::from_secs(1),
    ))
}

fn facts(current: Option<&str>) -> Facts {
    Facts {
        name: "edge".into(),
        tier: Tier::Workload,
        tier_refused: None,
        duplicate: None,
        kubeconfig: None,
        cluster: cluster(),
        observation: Observation {
            reachable: true,
            identity: Some("uid-1".into()),
            kubernetes_version: Some("v1.33.5".parse().unwrap()),
            ..Observation::default()
        },
        fleet: Arc::new(Fleet::default()),
        catalogue: Arc::new(Catalogue::builtin()),
        origins: Arc::new(BTreeMap::from([(v("4.3.1"), "sha256:feed".to_string())])),
        current: Current {
            version: current.map(v),
            bootstrap: None,
            problem: current
                .is_none()
                .then(|| "no ConfigMap cpaas-system/acp-version".to_string()),
        },
        available: Vec::new(),
        request: Request::None,
        risks: Vec::new(),
    }
}

fn project(
    previous: &ClusterVersionShadowStatus,
    facts: &Facts,
    phase: &Phase,
    preflight: Option<&Evaluated>,
    stepped: Option<&Stepped>,
    at: i64,
) -> ClusterVersionShadowStatus {
    // Every built-in release has a Ready ProductManifest.
    let ready: Vec<AcpVersion> = facts.catalogue.iter().map(|r| r.version.clone()).collect();
    let projection = Projection {
        facts,
        phase,
        preflight,
        stepped,
        ready: &ready,
        driver: KubernetesDriver::External,
        generation: Some(3),
        stall_after: Duration::from_secs(600),
    };
    status(previous, &projection, &clock(at))
}

fn checks(states: &[(&str, CheckState)]) -> Vec<PreflightCheck> {
    states
        .iter()
        .map(|(name, state)| PreflightCheck {
            name: name.to_string(),
            policy: Some(CheckPolicy::Always),
            state: *state,
            reason: Some("R".into()),
            message: Some("m".into()),
        })
        .collect()
}

fn evaluated(target: &str, states: &[(&str, CheckState)]) -> Evaluated {
    Evaluated::new(v(target), checks(states))
}

fn idle_status() -> ClusterVersionShadowStatus {
    ClusterVersionShadowStatus {
        history: vec![bootstrap_entry(&v("4.2.3"), clock(0).time())],
        current: Some(Release::version("4.2.3")),
        ..Default::default()
    }
}

/// `fixtures::executing_status` on a cluster that ran 4.2.3, pinned to uid-1.
fn executing_status(done: usize, total: usize) -> ClusterVersionShadowStatus {
    let mut status = fixtures::executing_status(done, total);
    status.current = Some(Release::version("4.2.3"));
    status.history[0].cluster_identity = Some("uid-1".into());
    status.history[0].release_digest = Some("sha256:feed".into());
    status.history.push(bootstrap_entry(&v("4.2.3"), clock(0).time()));
    status
}

fn condition<'a>(status: &'a ClusterVersionShadowStatus, type_: &str) -> (&'a str, &'a str, &'a str) {
    let c = conditions::find(&status.conditions, type_).unwrap_or_else(|| panic!("no {type_}"));
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

const PASS: [(&str, CheckState); 1] = [("ClusterRunning", CheckState::Passed)];
const FAIL: [(&str, CheckState); 1] = [("DockerRuntimeUnsupported", CheckState::Failed)];

#[tokio::test]
async fn every_phase_sets_the_five_conditions_it_owns() {
    let facts = facts(Some("4.2.3"));
    let failing = evaluated("4.3.1", &FAIL);
    let passing = evaluated("4.3.1", &PASS);
    let held = |reason: &'static str| Phase::Held {
        target: v("4.3.1"),
        reason,
        message: "m".into(),
    };
    // (phase, preflight, Ready, Reconciling, PreflightReady (None: left as it was), Degraded)
    type Row = (
        Phase,
        Option<Evaluated>,
        (&'static str, &'static str),
        (&'static str, &'static str),
        Option<(&'static str, &'static str)>,
        &'static str,
    );
    let table: Vec<Row> = vec![
        (
            Phase::Idle { offer: None },
            None,
            ("True", "AtVersion"),
            ("False", "Idle"),
            Some(("Unknown", "NoTarget")),
            "False",
        ),
        (
            Phase::Idle {
                offer: Some(passing.clone()),
            },
            Some(passing.clone()),
            ("True", "AtVersion"),
            ("False", "Idle"),
            Some(("True", "ChecksPassed")),
            "False",
        ),
        (
            Phase::Idle {
                offer: Some(failing.clone()),
            },
            Some(failing.clone()),
            ("True", "AtVersion"),
            ("False", "Idle"),
            Some(("False", "PreflightFailed")),
            "False",
        ),
        (
            Phase::Blocked {
                target: v("4.3.1"),
                summary: failing.summary.clone(),
            },
            Some(failing.clone()),
            ("False", "PreflightFailed"),
            ("False", "PreflightFailed"),
            Some(("False", "PreflightFailed")),
            "False",
        ),
        (
            Phase::Paused { target: v("4.3.1") },
            Some(passing.clone()),
            ("False", "Paused"),
            ("False", "Paused"),
            Some(("True", "ChecksPassed")),
            "False",
        ),
        (
            Phase::Paused { target: v("4.3.1") },
            Some(failing.clone()),
            ("False", "Paused"),
            ("False", "Paused"),
            Some(("False", "PreflightFailed")),
            "False",
        ),
        (
            held("DuplicateCluster"),
            Some(passing.clone()),
            ("False", "DuplicateCluster"),
            ("False", "DuplicateCluster"),
            Some(("True", "ChecksPassed")),
            "False",
        ),
        (
            Phase::Rejected {
                reason: "InvalidVersion",
                message: "m".into(),
            },
            None,
            ("False", "InvalidVersion"),
            ("False", "InvalidVersion"),
            Some(("False", "InvalidVersion")),
            "False",
        ),
        (
            Phase::Start {
                target: v("4.3.1"),
                image: None,
                risks: vec![],
            },
            Some(passing.clone()),
            ("False", "Upgrading"),
            ("True", "Upgrading"),
            Some(("True", "ChecksPassed")),
            "False",
        ),
        (
            Phase::Start {
                target: v("4.3.1"),
                image: None,
                risks: vec!["DockerRuntimeUnsupported: m".into()],
            },
            Some(failing.clone()),
            ("False", "Upgrading"),
            ("True", "Upgrading"),
            Some(("True", "RisksAccepted")),
            "False",
        ),
        (
            Phase::Stopped {
                target: v("4.3.1"),
                note: None,
                reason: "ClusterIdentityChanged",
                message: "m".into(),
            },
            None,
            ("False", "Upgrading"),
            ("True", "Upgrading"),
            None,
            "True",
        ),
    ];
    for (phase, preflight, ready, reconciling, preflight_ready, degraded) in table {
        let status = project(&idle_status(), &facts, &phase, preflight.as_ref(), None, 0);
        let get = |type_| {
            let (s, r, _) = condition(&status, type_);
            (s, r)
        };
        assert_eq!(get(types::READY), ready, "{phase:?}");
        assert_eq!(get(types::RECONCILING), reconciling, "{phase:?}");
        let pr = conditions::find(&status.conditions, types::PREFLIGHT_READY)
            .map(|c| (c.status.as_str(), c.reason.as_str()));
        assert_eq!(pr, preflight_ready, "{phase:?}");
        assert_eq!(get(types::DEGRADED).0, degraded, "{phase:?}");
        assert_eq!(get(types::STALLED), ("False", "Progressing"), "{phase:?}");
        assert!(
            status.conditions.iter().all(|c| c.observed_generation == Some(3)),
            "{phase:?}"
        );
    }
}

#[tokio::test]
async fn a_start_records_the_upgrade_before_anything_is_applied() {
    let mut facts = facts(Some("4.2.3"));
    facts.request = Request::Version {
        target: v("4.3.1"),
        force: true,
        image: Some("registry.example/acp/release:4.3.1".into()),
    };
    let phase = Phase::Start {
        target: v("4.3.1"),
        image: Some("registry.example/acp/release:4.3.1".into()),
        risks: vec!["DockerRuntimeUnsupported: a node runs Docker".into()],
    };
    let preflight = evaluated("4.3.1", &FAIL);
    let status = project(&idle_status(), &facts, &phase, Some(&preflight), None, 7);
    let entry = &status.history[0];
    assert_eq!(entry.state, HistoryState::Partial);
    assert_eq!(entry.version.as_deref(), Some("4.3.1"));
    assert_eq!(entry.image, "registry.example/acp/release:4.3.1");
    assert_eq!(
        entry.accepted_risks.as_deref(),
        Some("DockerRuntimeUnsupported: a node runs Docker")
    );
    assert_eq!(
        (entry.release_digest.as_deref(), entry.cluster_identity.as_deref()),
        (Some("sha256:feed"), Some("uid-1"))
    );
    assert_eq!(status.history.len(), 2, "the bootstrap entry stays below it");
    assert!(!status.stages.is_empty(), "the stages are planned");
    assert!(
        status
            .stages
            .iter()
            .flat_map(|s| &s.operations)
            .all(|o| o.phase == Some(OperationPhase::Pending)),
        "nothing is applied yet"
    );
    assert_eq!(status.desired_version(), Some("4.3.1"));
    assert_eq!(status.current_version(), Some("4.2.3"));
    assert_eq!(
        status.preflight.as_ref().unwrap().target_version.as_deref(),
        Some("4.3.1")
    );
}

#[tokio::test]
async fn a_finished_upgrade_completes_its_entry_and_moves_current_and_the_offers() {
    let facts = facts(Some("4.2.3"));
    let previous = executing_status(2, 2);
    let phase = Phase::Execute {
        target: v("4.3.1"),
        note: None,
    };
    let mut stages = previous.stages.clone();
    stages[0].phase = StagePhase::Finished;
    let stepped = Stepped {
        stages,
        advance: Advance {
            finished: true,
            ..Advance::default()
        },
    };
    let status = project(&previous, &facts, &phase, None, Some(&stepped), 125);
    assert_eq!(status.history[0].state, HistoryState::Completed);
    assert_eq!(status.history[0].completion_time, Some(clock(125).time()));
    assert_eq!(status.current_version(), Some("4.3.1"));
    assert_eq!(status.desired_version(), Some("4.3.1"));
    let offered = |status: &ClusterVersionShadowStatus| -> Vec<AcpVersion> {
        status
            .available_updates
            .iter()
            .map(|u| u.version.as_deref().unwrap().parse().unwrap())
            .collect()
    };
    let before = project(
        &idle_status(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    assert!(offered(&before).contains(&v("4.3.1")), "{:?}", offered(&before));
    assert!(
        offered(&status).iter().all(|u| *u > v("4.3.1")),
        "after the upgrade only newer releases are offered: {:?}",
        offered(&status)
    );
    assert_eq!(condition(&status, types::READY).1, "UpgradeCompleted");
    assert_eq!(condition(&status, types::RECONCILING).0, "False");
    assert_eq!(status.stages[0].phase, StagePhase::Finished);
}

#[tokio::test]
async fn a_running_upgrade_keeps_its_request_and_preflight_whatever_the_spec_says() {
    let mut facts = facts(Some("4.2.3"));
    facts.request = Request::None;
    let mut previous = executing_status(1, 3);
    previous.preflight = Some(acp_api::cvsh::Preflight {
        observed_at: None,
        target_version: Some("4.3.1".into()),
        checks: checks(&PASS),
    });
    let phase = Phase::Execute {
        target: v("4.3.1"),
        note: Some("spec.desiredUpdate was cleared".into()),
    };
    let stepped = Stepped {
        stages: previous.stages.clone(),
        advance: Advance {
            waiting: Some("deployment/platform-api".into()),
            ..Advance::default()
        },
    };
    let status = project(&previous, &facts, &phase, None, Some(&stepped), 5);
    assert_eq!(status.desired_version(), Some("4.3.1"));
    assert_eq!(status.preflight, previous.preflight);
    let (state, _, message) = condition(&status, types::RECONCILING);
    assert_eq!(state, "True");
    assert!(
        message.starts_with("Working towards 4.3.1: 1 of 3 operations done (33%); waiting on deployment/platform-api; spec.desiredUpdate was cleared"),
        "{message}"
    );
}

#[tokio::test]
async fn a_blocked_operation_degrades_and_stalls_after_the_deadline() {
    let facts = facts(Some("4.2.3"));
    let previous = executing_status(1, 3);
    let phase = Phase::Execute {
        target: v("4.3.1"),
        note: None,
    };
    let stepped = Stepped {
        stages: previous.stages.clone(),
        advance: Advance {
            blocked: Some(Blocked {
                reason: "OperationFailed",
                message: "platform-api rejected".into(),
            }),
            ..Advance::default()
        },
    };
    let first = project(&previous, &facts, &phase, None, Some(&stepped), 0);
    assert_eq!(condition(&first, types::DEGRADED).1, "OperationFailed");
    assert_eq!(condition(&first, types::STALLED).0, "False");
    let later = project(&first, &facts, &phase, None, Some(&stepped), 599);
    assert_eq!(condition(&later, types::STALLED).0, "False");
    let stalled = project(&later, &facts, &phase, None, Some(&stepped), 601);
    let (state, reason, message) = condition(&stalled, types::STALLED);
    assert_eq!((state, reason), ("True", "RetryDeadlineExceeded"));
    assert!(message.contains("platform-api rejected"), "{message}");
    // An idle cluster is never Stalled, however long it is Degraded.
    let mut unreachable = facts;
    unreachable.observation.reachable = false;
    let idle = project(
        &stalled,
        &unreachable,
        &Phase::Idle { offer: None },
        None,
        None,
        5000,
    );
    assert_eq!(condition(&idle, types::STALLED).0, "False");
}

#[tokio::test]
async fn an_unreachable_idle_cluster_is_degraded_with_the_reason() {
    let mut facts = facts(Some("4.2.3"));
    facts.cluster = Err(AccessError::SecretMissing {
        namespace: "cpaas-system".into(),
        name: "edge-kubeconfig".into(),
    });
    facts.observation = Observation {
        reachable: false,
        error: Some("kubeconfig Secret cpaas-system/edge-kubeconfig does not exist".into()),
        ..Observation::default()
    };
    let status = project(
        &idle_status(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    let (state, reason, message) = condition(&status, types::DEGRADED);
    assert_eq!((state, reason), ("True", "KubeconfigSecretMissing"));
    assert!(message.contains("edge-kubeconfig"), "{message}");
    assert_eq!(condition(&status, types::READY).0, "True");
    assert_eq!(status.observed.as_ref().unwrap().reachable, Some(false));
}

#[tokio::test]
async fn an_unknown_version_is_not_ready_and_says_how_to_record_it() {
    let facts = facts(None);
    let status = project(
        &ClusterVersionShadowStatus::default(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    let (state, reason, message) = condition(&status, types::READY);
    assert_eq!((state, reason), ("False", "VersionUnknown"));
    assert!(message.contains("acp-version"), "{message}");
    assert_eq!(status.current, None);
    assert!(status.history.is_empty());
}

#[tokio::test]
async fn a_learnt_version_becomes_the_first_history_entry() {
    let mut facts = facts(Some("4.2.3"));
    facts.current.bootstrap = Some(Bootstrap {
        version: v("4.2.3"),
        source: "ConfigMap cpaas-system/acp-version in the cluster",
    });
    let status = project(
        &ClusterVersionShadowStatus::default(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    assert_eq!(status.history.len(), 1);
    assert_eq!(status.history[0].state, HistoryState::Completed);
    assert_eq!(status.current_version(), Some("4.2.3"));
}

#[tokio::test]
async fn the_desired_release_follows_the_accepted_request_only() {
    let mut facts = facts(Some("4.2.3"));
    let with_desired = |status: &ClusterVersionShadowStatus| status.desired_version().map(String::from);
    facts.request = Request::Version {
        target: v("4.2.3"),
        force: false,
        image: None,
    };
    let idle = project(
        &idle_status(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    assert_eq!(with_desired(&idle).as_deref(), Some("4.2.3"));
    facts.request = Request::Invalid("not a version".into());
    let mut previous = idle_status();
    previous.desired = Some(Release::version("4.3.1"));
    let rejected = Phase::Rejected {
        reason: "InvalidVersion",
        message: "m".into(),
    };
    assert_eq!(
        with_desired(&project(&previous, &facts, &rejected, None, None, 0)),
        None
    );
    facts.request = Request::None;
    let cleared = project(&previous, &facts, &Phase::Idle { offer: None }, None, None, 0);
    assert_eq!(with_desired(&cleared), None);
    assert_eq!(cleared.preflight, None, "nothing to check");
}

#[tokio::test]
async fn history_is_pruned_to_the_documented_length_keeping_the_first_install() {
    let facts = facts(Some("4.2.3"));
    let mut previous = idle_status();
    previous.history = (0..130)
        .map(|i| bootstrap_entry(&AcpVersion::new(4, 0, 129 - i), clock(i as i64).time()))
        .collect();
    let status = project(&previous, &facts, &Phase::Idle { offer: None }, None, None, 0);
    assert!(status.history.len() <= acp_policy::history::MAX_HISTORY);
    assert_eq!(
        status.history.last().unwrap().version.as_deref(),
        Some("4.0.0"),
        "the oldest entry (the install) survives pruning"
    );
}

#[tokio::test]
async fn registration_conditions_are_present_only_while_something_is_wrong() {
    let mut facts = facts(Some("4.2.3"));
    facts.tier_refused = Some((
        "StandbyAlreadyClaimed",
        "`dr` is already the GlobalStandby".into(),
    ));
    facts.duplicate = Some("`twin-b` reaches the same cluster".into());
    let wrong = project(
        &idle_status(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        0,
    );
    assert_eq!(condition(&wrong, types::DUPLICATE_CLUSTER).1, "SameKubeSystemUID");
    assert_eq!(condition(&wrong, types::TIER_REFUSED).1, "StandbyAlreadyClaimed");
    facts.tier_refused = None;
    facts.duplicate = None;
    let fixed = project(&wrong, &facts, &Phase::Idle { offer: None }, None, None, 5);
    assert!(conditions::find(&fixed.conditions, types::DUPLICATE_CLUSTER).is_none());
    assert!(conditions::find(&fixed.conditions, types::TIER_REFUSED).is_none());
}

#[test]
fn the_last_known_identity_stays_until_a_new_one_is_read() {
    let seen = |reachable: bool, identity: Option<&str>| Observation {
        reachable,
        error: (!reachable).then(|| "cannot reach cluster edge".to_string()),
        identity: identity.map(String::from),
        ..Observation::default()
    };
    let before = |identity: Option<&str>| Observed {
        cluster_identity: identity.map(String::from),
        ..Observed::default()
    };
    // (previous identity, reachable, identity read, identity recorded)
    type Row<'a> = (Option<&'a str>, bool, Option<&'a str>, Option<&'a str>);
    let table: [Row<'_>; 6] = [
        (Some("uid-1"), false, None, Some("uid-1")),
        (Some("uid-1"), true, None, Some("uid-1")),
        (Some("uid-1"), true, Some("uid-2"), Some("uid-2")),
        (None, true, Some("uid-2"), Some("uid-2")),
        (None, false, None, None),
        (Some("uid-1"), true, Some("uid-1"), Some("uid-1")),
    ];
    for (previous, reachable, read, expected) in table {
        let previous = before(previous);
        let observed = observed(&seen(reachable, read), Some(&previous), clock(0).time());
        assert_eq!(
            observed.cluster_identity.as_deref(),
            expected,
            "{previous:?} {reachable} {read:?}"
        );
    }
}

#[test]
fn timestamps_alone_do_not_cause_a_write_until_the_observation_ages() {
    let old = ClusterVersionShadowStatus {
        observed: Some(Observed {
            observed_at: Some(clock(0).time()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut new = old.clone();
    new.observed.as_mut().unwrap().observed_at = Some(clock(10).time());
    let minute = Duration::from_secs(60);
    assert!(!changed(&old, &new));
    assert!(!observation_aged(&old, &new, minute));
    new.observed.as_mut().unwrap().observed_at = Some(clock(61).time());
    assert!(!changed(&old, &new));
    assert!(observation_aged(&old, &new, minute));
    let mut moved = old.clone();
    moved.current = Some(Release::version("4.3.1"));
    assert!(changed(&old, &moved));
}

#[tokio::test]
async fn conditional_updates_follow_the_available_updates_evaluated_from_the_current_version() {
    use crate::cvsh::risks::{Evaluated as Risk, ReleaseRisks};
    use acp_api::risks::RiskExposure;
    use acp_policy::Exposure;

    let catalogue = Catalogue::builtin();
    let evaluated = |version: &str, from: &str, exposures: &[Exposure]| ReleaseRisks {
        version: v(version),
        from: Some(v(from)),
        risks: catalogue
            .release(&v(version))
            .unwrap()
            .risks
            .iter()
            .zip(exposures)
            .map(|(risk, exposure)| Risk {
                risk: risk.clone(),
                exposure: exposure.clone(),
            })
            .collect(),
    };
    let applies = Exposure::Applies {
        evidence: "DaemonSet kube-system/kube-flannel-ds is present".into(),
    };
    let not = Exposure::DoesNotApply {
        evidence: "no node runs containerd 1.x".into(),
    };
    let mut facts = facts(Some("4.1.5"));
    facts.risks = vec![
        evaluated("4.3.1", "4.1.5", &[applies.clone(), not.clone()]),
        evaluated("4.2.5", "4.1.5", std::slice::from_ref(&not)),
        // Evaluated from another version (the cluster moved on): not shown.
        evaluated("4.3.0", "4.0.9", &[applies.clone(), not.clone()]),
    ];
    let status = project(
        &idle_status(),
        &facts,
        &Phase::Idle { offer: None },
        None,
        None,
        7,
    );
    type Row<'a> = (Option<&'a str>, bool, Vec<(&'a str, RiskExposure)>);
    let got: Vec<Row> = status
        .conditional_updates
        .iter()
        .map(|u| {
            (
                u.release.version.as_deref(),
                u.recommended,
                u.risks.iter().map(|r| (r.name.as_str(), r.exposure)).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("4.3.1"),
                false,
                vec![
                    ("FlannelRemoved", RiskExposure::Applies),
                    ("Containerd2Baseline", RiskExposure::DoesNotApply)
                ]
            ),
            (
                Some("4.2.5"),
                true,
                vec![("FlannelRemoved", RiskExposure::DoesNotApply)]
            ),
        ]
    );
    let flannel = &status.conditional_updates[0].risks[0];
    assert_eq!(
        flannel.evidence,
        "DaemonSet kube-system/kube-flannel-ds is present"
    );
    assert!(flannel.message.contains("Kube-OVN"));
    // availableUpdates keeps its shape: every update, exposed or not.
    assert!(
        status
            .available_updates
            .iter()
            .any(|r| r.version.as_deref() == Some("4.3.1"))
    );
}
