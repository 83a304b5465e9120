//! Upgrade lifecycle notifications as CloudEvents (structured mode, specversion 1.0), mapped from the
//! same status transitions the Kubernetes Events come from ([`transitions::transitions`]).
//!
//! [`transitions::transitions`]: crate::cvsh::transitions::transitions

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::types;
use acp_api::k8s::Time;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cvsh::transitions::Transition;

/// Prefix of every event type.
pub const TYPE_PREFIX: &str = "io.alauda.acp.cvo.upgrade.";

/// The upgrade lifecycle steps a receiver is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Requested,
    Started,
    StageFinished,
    /// Held: by failed preflight checks before it started, or by an error (Degraded) while running.
    Blocked,
    Stalled,
    /// One operation failed; the operator keeps retrying it (Stalled follows if it never recovers).
    OperationFailed,
    Completed,
    Cancelled,
}

impl Kind {
    /// The event type's suffix after [`TYPE_PREFIX`].
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Requested => "requested",
            Kind::Started => "started",
            Kind::StageFinished => "stage.finished",
            Kind::Blocked => "blocked",
            Kind::Stalled => "stalled",
            Kind::OperationFailed => "operation.failed",
            Kind::Completed => "completed",
            Kind::Cancelled => "cancelled",
        }
    }
}

/// The kind of notification for a transition, if it is part of an upgrade's lifecycle. `running` tells
/// whether an upgrade executes in the new status (a Degraded cluster without one is not an upgrade event).
pub fn kind_of(reason: &str, running: bool) -> Option<Kind> {
    Some(match reason {
        "UpgradeRequested" => Kind::Requested,
        "UpgradeStarted" => Kind::Started,
        "StageFinished" => Kind::StageFinished,
        "PreflightFailed" => Kind::Blocked,
        "Degraded" if running => Kind::Blocked,
        "Stalled" => Kind::Stalled,
        "OperationFailed" => Kind::OperationFailed,
        "UpgradeCompleted" => Kind::Completed,
        "RequestCancelled" => Kind::Cancelled,
        _ => return None,
    })
}

/// The cluster a notification is about.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    pub generation: Option<i64>,
    pub tier: &'a str,
}

/// One notification, serialised as a structured-mode CloudEvent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloudEvent {
    pub specversion: &'static str,
    /// Unique per transition and the same whenever that transition is derived again, so a receiver can
    /// drop duplicates by `source` + `id`.
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// The cluster's name.
    pub subject: String,
    pub time: String,
    pub datacontenttype: &'static str,
    pub data: EventData,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub cluster: String,
    pub tier: String,
    /// The Kubernetes Event reason (`UpgradeStarted`), or for `blocked` while running, the Degraded
    /// condition's reason (`ClusterUnreachable`).
    pub reason: String,
    /// The same text as the Kubernetes Event's note.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// The stage or `stage/operation` concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Operations done and planned when the event happened, while an upgrade runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressData>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProgressData {
    pub done: usize,
    pub total: usize,
}

/// The notifications for `transitions` (from `old` to `new`), in order.
pub fn cloud_events(
    subject: &Subject<'_>,
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
    transitions: &[Transition],
    now: &Time,
) -> Vec<CloudEvent> {
    let running = new.running_upgrade().is_some();
    transitions
        .iter()
        .filter_map(|t| Some((kind_of(t.reason, running)?, t)))
        .map(|(kind, transition)| event(subject, old, new, kind, transition, now))
        .collect()
}

fn event(
    subject: &Subject<'_>,
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
    kind: Kind,
    transition: &Transition,
    now: &Time,
) -> CloudEvent {
    // The upgrade this is about: the running one, the one that just completed, or the request.
    let upgrade = new.running_upgrade().or_else(|| {
        let ran = old.running_upgrade()?;
        new.history.first().filter(|e| e.started_time == ran.started_time)
    });
    let target = match kind {
        Kind::Cancelled => old.desired_version(),
        _ => upgrade
            .and_then(|e| e.version.as_deref())
            .or(new.desired_version()),
    }
    .map(String::from);
    let condition_since = |type_: &str| {
        new.condition(type_)
            .map(|c| c.last_transition_time.0.to_string())
            .unwrap_or_default()
    };
    // What tells this occurrence apart from an equal-looking one at another time.
    let anchor = match kind {
        Kind::Requested | Kind::Cancelled => format!("generation {:?}", subject.generation),
        Kind::Blocked if transition.reason == "PreflightFailed" => {
            format!("generation {:?}", subject.generation)
        }
        Kind::Blocked => condition_since(types::DEGRADED),
        Kind::Stalled => condition_since(types::STALLED),
        _ => upgrade.map(|e| e.started_time.0.to_string()).unwrap_or_default(),
    };
    let reason = match kind {
        Kind::Blocked if transition.reason == "Degraded" => new
            .condition(types::DEGRADED)
            .map(|c| c.reason.clone())
            .unwrap_or_else(|| transition.reason.to_string()),
        _ => transition.reason.to_string(),
    };
    let progress = (upgrade.is_some() && !new.stages.is_empty()).then(|| {
        let p = new.progress();
        ProgressData {
            done: p.done,
            total: p.total,
        }
    });
    let type_ = format!("{TYPE_PREFIX}{}", kind.suffix());
    let id = stable_id(&[
        subject.namespace,
        subject.name,
        subject.uid,
        &type_,
        transition.about.as_deref().unwrap_or_default(),
        target.as_deref().unwrap_or_default(),
        &anchor,
        &transition.note,
    ]);
    CloudEvent {
        specversion: "1.0",
        id,
        source: format!(
            "/apis/{}/namespaces/{}/clusterversionshadows",
            acp_api::names::API_VERSION,
            subject.namespace
        ),
        type_,
        subject: subject.name.to_string(),
        time: now.0.to_string(),
        datacontenttype: "application/json",
        data: EventData {
            cluster: subject.name.to_string(),
            tier: subject.tier.to_string(),
            reason,
            message: transition.note.clone(),
            current_version: new.current_version().map(String::from),
            target_version: target,
            stage: transition.about.clone(),
            progress,
        },
    }
}

/// 32 hex digits of SHA-256 over the parts, each length-prefixed so that no two lists collide.
fn stable_id(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::{
        project::{Pins, bootstrap_entry, started_entry},
        transitions::transitions,
    };
    use acp_api::conditions::{ConditionUpdate, FixedClock};
    use acp_api::cvsh::{
        CheckState, HistoryState, Operation, OperationAction, OperationPhase, Preflight, PreflightCheck,
        Release, Stage, StagePhase,
    };
    use acp_api::k8s::Timestamp;
    use acp_policy::AcpVersion;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn v(text: &str) -> AcpVersion {
        text.parse().unwrap()
    }

    const SUBJECT: Subject<'static> = Subject {
        namespace: "cpaas-system",
        name: "global",
        uid: "6f1c",
        generation: Some(2),
        tier: "Global",
    };

    fn idle() -> ClusterVersionShadowStatus {
        ClusterVersionShadowStatus {
            current: Some(Release::version("4.2.3")),
            history: vec![bootstrap_entry(&v("4.2.3"), at(0))],
            ..Default::default()
        }
    }

    fn stage(name: &str, phase: StagePhase, op_phase: OperationPhase) -> Stage {
        Stage {
            name: name.into(),
            priority: 30,
            phase,
            operations: vec![Operation {
                phase: Some(op_phase),
                message: Some("rejected by the API server".into()),
                ..Operation::pending("platform-api", OperationAction::Upgrade)
            }],
        }
    }

    fn running() -> ClusterVersionShadowStatus {
        let mut status = idle();
        status.desired = Some(Release::version("4.3.1"));
        status
            .history
            .insert(0, started_entry(&v("4.3.1"), None, &[], Pins::default(), at(10)));
        status.stages = vec![stage("Core", StagePhase::Running, OperationPhase::Running)];
        status
    }

    fn set(status: &mut ClusterVersionShadowStatus, type_: &str, state: bool, reason: &str, seconds: i64) {
        acp_api::conditions::set(
            &mut status.conditions,
            ConditionUpdate::new(type_, state, reason, format!("{reason} message")),
            &FixedClock(at(seconds).0),
        );
    }

    /// (type suffix, data.reason) of the notifications from `old` to `new`.
    fn notified(old: &ClusterVersionShadowStatus, new: &ClusterVersionShadowStatus) -> Vec<(String, String)> {
        let events = cloud_events(&SUBJECT, old, new, &transitions(old, new), &at(100));
        events
            .into_iter()
            .map(|e| (e.type_.trim_start_matches(TYPE_PREFIX).to_string(), e.data.reason))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// (what happens, old status, new status, expected (type suffix, data.reason)).
    type Case = (
        &'static str,
        ClusterVersionShadowStatus,
        ClusterVersionShadowStatus,
        Vec<(&'static str, &'static str)>,
    );

    #[test]
    fn each_lifecycle_step_maps_to_one_event_type() {
        let table: Vec<Case> = vec![
            (
                "a request that starts at once",
                idle(),
                running(),
                vec![("requested", "UpgradeRequested"), ("started", "UpgradeStarted")],
            ),
            (
                "a request held by preflight",
                idle(),
                {
                    let mut s = idle();
                    s.desired = Some(Release::version("4.3.1"));
                    s.preflight = Some(Preflight {
                        observed_at: None,
                        target_version: Some("4.3.1".into()),
                        checks: vec![PreflightCheck {
                            name: "KubernetesVersionSupported".into(),
                            policy: None,
                            state: CheckState::Failed,
                            reason: None,
                            message: Some("`legacy` runs 1.30".into()),
                        }],
                    });
                    s
                },
                vec![("requested", "UpgradeRequested"), ("blocked", "PreflightFailed")],
            ),
            (
                "a stage finishes",
                running(),
                {
                    let mut s = running();
                    s.stages = vec![
                        stage("Core", StagePhase::Finished, OperationPhase::Succeeded),
                        stage("Verify", StagePhase::Running, OperationPhase::Running),
                    ];
                    s
                },
                vec![("stage.finished", "StageFinished")],
            ),
            (
                "an operation fails, then the upgrade is blocked with the reason",
                running(),
                {
                    let mut s = running();
                    s.stages = vec![stage("Core", StagePhase::Running, OperationPhase::Failed)];
                    set(&mut s, types::DEGRADED, true, "OperationFailed", 50);
                    s
                },
                vec![
                    ("operation.failed", "OperationFailed"),
                    ("blocked", "OperationFailed"),
                ],
            ),
            (
                "stalled",
                {
                    let mut s = running();
                    set(&mut s, types::DEGRADED, true, "ClusterUnreachable", 50);
                    s
                },
                {
                    let mut s = running();
                    set(&mut s, types::DEGRADED, true, "ClusterUnreachable", 50);
                    set(&mut s, types::STALLED, true, "RetryDeadlineExceeded", 700);
                    s
                },
                vec![("stalled", "Stalled")],
            ),
            (
                "completed",
                running(),
                {
                    let mut s = running();
                    s.history[0].state = HistoryState::Completed;
                    s.history[0].completion_time = Some(at(200));
                    s.current = Some(Release::version("4.3.1"));
                    s.stages = vec![stage("Core", StagePhase::Finished, OperationPhase::Succeeded)];
                    s
                },
                vec![
                    ("stage.finished", "StageFinished"),
                    ("completed", "UpgradeCompleted"),
                ],
            ),
            (
                "a request withdrawn before it started",
                {
                    let mut s = idle();
                    s.desired = Some(Release::version("4.3.1"));
                    s
                },
                idle(),
                vec![("cancelled", "RequestCancelled")],
            ),
            (
                "an idle cluster that becomes unreachable is no upgrade event",
                idle(),
                {
                    let mut s = idle();
                    set(&mut s, types::DEGRADED, true, "ClusterUnreachable", 50);
                    s
                },
                vec![],
            ),
            (
                "the first version recorded is no upgrade event",
                Default::default(),
                idle(),
                vec![],
            ),
        ];
        for (case, old, new, expected) in table {
            assert_eq!(notified(&old, &new), pairs(&expected), "{case}");
        }
    }

    #[test]
    fn an_event_is_a_structured_cloud_event_about_the_cluster() {
        let old = running();
        let mut new = running();
        new.stages = vec![stage("Core", StagePhase::Finished, OperationPhase::Succeeded)];
        let events = cloud_events(&SUBJECT, &old, &new, &transitions(&old, &new), &at(100));
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "io.alauda.acp.cvo.upgrade.stage.finished");
        assert_eq!(json["subject"], "global");
        assert_eq!(
            json["source"],
            "/apis/config.alauda.io/v1/namespaces/cpaas-system/clusterversionshadows"
        );
        assert_eq!(json["time"], "2027-01-15T08:01:40Z");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"]["stage"], "Core");
        assert_eq!(json["data"]["targetVersion"], "4.3.1");
        assert_eq!(json["data"]["currentVersion"], "4.2.3");
        assert_eq!(
            json["data"]["progress"],
            serde_json::json!({"done": 1, "total": 1})
        );
        assert_eq!(json["id"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn ids_are_stable_for_one_transition_and_differ_between_transitions() {
        let id = |old: &ClusterVersionShadowStatus, new: &ClusterVersionShadowStatus, at_: i64| {
            cloud_events(&SUBJECT, old, new, &transitions(old, new), &at(at_))
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        };
        let (old, new) = (idle(), running());
        // Derived again later (a retried reconcile), the same transition has the same ids.
        assert_eq!(id(&old, &new, 100), id(&old, &new, 500));
        let ids = id(&old, &new, 100);
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        // The same version requested again after a cancellation is a new request (a new generation).
        let again = Subject {
            generation: Some(4),
            ..SUBJECT
        };
        let first = cloud_events(&SUBJECT, &old, &new, &transitions(&old, &new), &at(100));
        let second = cloud_events(&again, &old, &new, &transitions(&old, &new), &at(100));
        assert_ne!(first[0].id, second[0].id);
        // Another upgrade to the same version (started at another time) has other ids.
        let mut later = running();
        later.history[0].started_time = at(9_000);
        assert_ne!(id(&old, &new, 100)[1], id(&old, &later, 100)[1]);
    }
}
