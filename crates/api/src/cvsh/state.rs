//! Where a cluster stands, read from its ClusterVersionShadow alone (spec and status): the one answer to
//! "what state is this cluster in?" that the `acp_cvo_clusters` metric, `ac adm upgrade status`,
//! `ac adm cluster list` and `ac adm upgrade` all give.
//!
//! The operator reads the status it is about to write; the CLI reads the object it got. Both read the
//! same fields the same way, so a dashboard and a terminal never disagree about a cluster.

use acp_policy::AcpVersion;

use super::{ClusterVersionShadow, ClusterVersionShadowSpec, ClusterVersionShadowStatus, Progress};
use crate::conditions::types;

/// What a cluster is doing about its platform version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The cluster's platform version is not known: it is observed and shown, never upgraded.
    Unknown,
    /// At its version, no other version requested.
    Idle,
    /// An upgrade is requested and not started: preflight has no verdict yet, is waiting for an answer,
    /// or the upgrade waits its turn.
    Requested { target: String },
    /// An upgrade is requested and cannot start: preflight checks failed, or the request is not a
    /// version acp-cvo can act on.
    Blocked { target: String },
    /// An upgrade is requested and `spec.paused` holds it back.
    Paused { target: String },
    /// An upgrade is running.
    Executing { target: String, progress: Progress },
    /// A running upgrade has made no progress past the retry deadline: a person has to act.
    Stalled { target: String, progress: Progress },
}

impl State {
    /// One word for the state, as the CLI prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Unknown => "Unknown",
            State::Idle => "Idle",
            State::Requested { .. } => "Requested",
            State::Blocked { .. } => "Blocked",
            State::Paused { .. } => "Paused",
            State::Executing { .. } => "Upgrading",
            State::Stalled { .. } => "Stalled",
        }
    }

    /// The version (or image) the running or requested upgrade is working towards.
    pub fn target(&self) -> Option<&str> {
        match self {
            State::Unknown | State::Idle => None,
            State::Requested { target }
            | State::Blocked { target }
            | State::Paused { target }
            | State::Executing { target, .. }
            | State::Stalled { target, .. } => Some(target),
        }
    }

    /// How far the running upgrade has got.
    pub fn progress(&self) -> Option<Progress> {
        match self {
            State::Executing { progress, .. } | State::Stalled { progress, .. } => Some(*progress),
            _ => None,
        }
    }

    /// True while an upgrade runs (stalled or not): it cannot be withdrawn.
    pub fn is_executing(&self) -> bool {
        matches!(self, State::Executing { .. } | State::Stalled { .. })
    }
}

/// Whether the operator's last attempt to reach the cluster succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reachability {
    /// Not observed yet.
    NotObserved,
    Reachable,
    Unreachable,
}

/// A cluster's state, read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    pub state: State,
    pub reachability: Reachability,
    /// The Degraded condition is True: something holds progress up and the operator keeps retrying.
    pub degraded: bool,
    /// Why: the Stalled condition's reason when stalled, else the Ready condition's reason while Ready is
    /// not True.
    pub reason: Option<String>,
}

impl Reading {
    /// Reads a cluster from its spec and status (`None`: not written yet).
    pub fn of(spec: &ClusterVersionShadowSpec, status: Option<&ClusterVersionShadowStatus>) -> Self {
        let empty = ClusterVersionShadowStatus::default();
        let status = status.unwrap_or(&empty);
        let reachability = match status.observed.as_ref().and_then(|o| o.reachable) {
            None => Reachability::NotObserved,
            Some(true) => Reachability::Reachable,
            Some(false) => Reachability::Unreachable,
        };
        let stalled = status.is_condition_true(types::STALLED);
        let state = state(spec, status, stalled);
        let reason = if stalled {
            status.condition(types::STALLED).map(|c| c.reason.clone())
        } else {
            status
                .condition(types::READY)
                .filter(|c| c.status != "True")
                .map(|c| c.reason.clone())
        };
        Reading {
            state,
            reachability,
            degraded: status.is_condition_true(types::DEGRADED),
            reason: reason.filter(|r| !r.is_empty()),
        }
    }

    /// The label of `acp_cvo_clusters{state}` and `acp_cvo_cluster_state{state}`: Idle, Upgrading,
    /// Degraded, Blocked, Stalled or Unknown (documented; alerts and dashboards select on them). Every
    /// request that has not started reads Blocked; an upgrade held up reads Degraded.
    pub fn metric_label(&self) -> &'static str {
        match self.state {
            State::Unknown => "Unknown",
            State::Idle => "Idle",
            State::Requested { .. } | State::Blocked { .. } | State::Paused { .. } => "Blocked",
            State::Executing { .. } if self.degraded => "Degraded",
            State::Executing { .. } => "Upgrading",
            State::Stalled { .. } => "Stalled",
        }
    }
}

fn state(spec: &ClusterVersionShadowSpec, status: &ClusterVersionShadowStatus, stalled: bool) -> State {
    let requested = spec.desired_update.as_ref();
    let requested_text = requested.map(|r| {
        r.version
            .as_deref()
            .or(r.image.as_deref())
            .unwrap_or("an unnamed release")
            .to_owned()
    });
    if status.is_executing() || stalled {
        // Once started, the upgrade goes to `status.desired`, whatever the spec asks for since.
        let target = status
            .desired
            .as_ref()
            .and_then(|d| d.version.as_deref().or(d.image.as_deref()))
            .map(str::to_owned)
            .or(requested_text)
            .unwrap_or_else(|| "an unknown version".to_owned());
        let progress = status.progress();
        return if stalled {
            State::Stalled { target, progress }
        } else {
            State::Executing { target, progress }
        };
    }
    let (Some(requested), Some(target)) = (requested, requested_text) else {
        return idle(status);
    };
    let current = status.current_acp_version();
    let requested_version = requested.version.as_deref().map(|v| v.parse::<AcpVersion>());
    let differs = match (&requested_version, &current) {
        (Some(Ok(requested)), Ok(Some(current))) => requested != current,
        (Some(_), _) => true,
        // Requested by image only: done once the cluster runs that image, or runs the version the
        // operator resolved the image to (then `status.desired` holds both).
        (None, _) => {
            let image = requested.image.as_deref();
            let runs_image =
                image.is_some() && status.current.as_ref().and_then(|c| c.image.as_deref()) == image;
            let resolved_to_current = status.desired.as_ref().is_some_and(|d| {
                d.image.as_deref() == image
                    && d.version.is_some()
                    && d.version.as_deref() == status.current_version()
            });
            image.is_some() && !runs_image && !resolved_to_current
        }
    };
    if !differs {
        return idle(status);
    }
    if spec.paused.unwrap_or(false) {
        return State::Paused { target };
    }
    let failed = match &requested_version {
        Some(Ok(version)) => status
            .preflight_for(version)
            .is_some_and(|s| !s.failed.is_empty()),
        Some(Err(_)) => true,
        None => false,
    };
    if failed {
        State::Blocked { target }
    } else {
        State::Requested { target }
    }
}

fn idle(status: &ClusterVersionShadowStatus) -> State {
    if status.current_version().is_none() {
        State::Unknown
    } else {
        State::Idle
    }
}

impl ClusterVersionShadow {
    /// This cluster's state, from its spec and status.
    pub fn reading(&self) -> Reading {
        Reading::of(&self.spec, self.status.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;
    use crate::cvsh::{
        CheckState, DesiredUpdate, HistoryEntry, HistoryState, Observed, Operation, OperationAction,
        OperationPhase, Preflight, PreflightCheck, Release, Stage, StagePhase,
    };

    fn condition(type_: &str, status: bool, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: if status { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Time("2026-03-01T12:00:00Z".parse().unwrap()),
            observed_generation: None,
        }
    }

    /// A cluster at 4.3.0, reachable, Ready.
    fn at_430() -> ClusterVersionShadowStatus {
        ClusterVersionShadowStatus {
            current: Some(Release::version("4.3.0")),
            observed: Some(Observed {
                reachable: Some(true),
                ..Default::default()
            }),
            conditions: vec![condition(types::READY, true, "AtVersion")],
            ..Default::default()
        }
    }

    fn requested(version: &str) -> ClusterVersionShadowSpec {
        ClusterVersionShadowSpec {
            desired_update: Some(DesiredUpdate::version(version)),
            ..Default::default()
        }
    }

    fn preflight(status: &mut ClusterVersionShadowStatus, target: &str, state: CheckState) {
        status.preflight = Some(Preflight {
            observed_at: None,
            target_version: Some(target.into()),
            checks: vec![PreflightCheck {
                name: "KubernetesVersionSupported".into(),
                policy: None,
                state,
                reason: None,
                message: None,
            }],
        });
    }

    /// Upgrading to 4.3.1: one of two operations done.
    fn executing(status: &mut ClusterVersionShadowStatus) {
        status.desired = Some(Release::version("4.3.1"));
        status.history.insert(
            0,
            HistoryEntry {
                version: Some("4.3.1".into()),
                image: String::new(),
                state: HistoryState::Partial,
                started_time: Time("2026-03-01T11:00:00Z".parse().unwrap()),
                completion_time: None,
                accepted_risks: None,
                release_digest: None,
                cluster_identity: None,
            },
        );
        let operation = |name: &str, phase| Operation {
            phase: Some(phase),
            ..Operation::pending(name, OperationAction::Upgrade)
        };
        status.stages = vec![Stage {
            name: "Core".into(),
            priority: 1,
            phase: StagePhase::Running,
            operations: vec![
                operation("a", OperationPhase::Succeeded),
                operation("b", OperationPhase::Running),
            ],
        }];
        status.conditions = vec![condition(types::READY, false, "Upgrading")];
    }

    fn half() -> Progress {
        Progress { done: 1, total: 2 }
    }

    fn target(version: &str) -> String {
        version.to_owned()
    }

    #[test]
    fn each_cluster_reads_one_state_with_one_metric_label() {
        type Case = (
            &'static str,
            ClusterVersionShadowSpec,
            Option<ClusterVersionShadowStatus>,
            State,
            &'static str,
        );
        let no_request = ClusterVersionShadowSpec::default;
        let unreachable = {
            let mut s = at_430();
            s.observed.as_mut().unwrap().reachable = Some(false);
            s.conditions
                .push(condition(types::DEGRADED, true, "ClusterUnreachable"));
            s
        };
        let unknown_version = ClusterVersionShadowStatus {
            current: None,
            conditions: vec![condition(types::READY, false, "VersionUnknown")],
            ..at_430()
        };
        let failed = {
            let mut s = at_430();
            preflight(&mut s, "4.3.1", CheckState::Failed);
            s
        };
        let failed_for_another = {
            let mut s = at_430();
            preflight(&mut s, "4.3.2", CheckState::Failed);
            s
        };
        let waiting = {
            let mut s = at_430();
            preflight(&mut s, "4.3.1", CheckState::Retry);
            s
        };
        let upgrading = {
            let mut s = at_430();
            executing(&mut s);
            s
        };
        let held_up = {
            let mut s = upgrading.clone();
            s.conditions
                .push(condition(types::DEGRADED, true, "OperationFailed"));
            s
        };
        let stalled = {
            let mut s = held_up.clone();
            s.conditions
                .push(condition(types::STALLED, true, "RetryDeadlineExceeded"));
            s
        };
        let paused = ClusterVersionShadowSpec {
            paused: Some(true),
            ..requested("4.3.1")
        };
        let by_image = |image: &str| ClusterVersionShadowSpec {
            desired_update: Some(DesiredUpdate {
                version: None,
                image: Some(image.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let running_image = ClusterVersionShadowStatus {
            current: Some(Release {
                version: Some("4.3.0".into()),
                image: Some("registry.example/acp:4.3.0".into()),
            }),
            ..at_430()
        };
        let cases: Vec<Case> = vec![
            ("never observed", no_request(), None, State::Unknown, "Unknown"),
            (
                "version unknown",
                no_request(),
                Some(unknown_version),
                State::Unknown,
                "Unknown",
            ),
            (
                "at its version",
                no_request(),
                Some(at_430()),
                State::Idle,
                "Idle",
            ),
            (
                "unreachable at its version",
                no_request(),
                Some(unreachable),
                State::Idle,
                "Idle",
            ),
            (
                "asked for the version it runs",
                requested("v4.3.0"),
                Some(at_430()),
                State::Idle,
                "Idle",
            ),
            (
                "requested, no preflight yet",
                requested("4.3.1"),
                Some(at_430()),
                State::Requested {
                    target: target("4.3.1"),
                },
                "Blocked",
            ),
            (
                "requested, preflight waiting",
                requested("4.3.1"),
                Some(waiting),
                State::Requested {
                    target: target("4.3.1"),
                },
                "Blocked",
            ),
            (
                "requested, failures for another target do not count",
                requested("4.3.1"),
                Some(failed_for_another),
                State::Requested {
                    target: target("4.3.1"),
                },
                "Blocked",
            ),
            (
                "requested, preflight failed",
                requested("4.3.1"),
                Some(failed.clone()),
                State::Blocked {
                    target: target("4.3.1"),
                },
                "Blocked",
            ),
            (
                "requested something that is no version",
                requested("latest"),
                Some(at_430()),
                State::Blocked {
                    target: target("latest"),
                },
                "Blocked",
            ),
            (
                "paused wins over failed checks",
                paused,
                Some(failed),
                State::Paused {
                    target: target("4.3.1"),
                },
                "Blocked",
            ),
            (
                "executing",
                requested("4.3.1"),
                Some(upgrading.clone()),
                State::Executing {
                    target: target("4.3.1"),
                    progress: half(),
                },
                "Upgrading",
            ),
            (
                "executing after the request was cleared",
                no_request(),
                Some(upgrading.clone()),
                State::Executing {
                    target: target("4.3.1"),
                    progress: half(),
                },
                "Upgrading",
            ),
            (
                "executing towards desired, not a newer request",
                requested("4.3.2"),
                Some(upgrading),
                State::Executing {
                    target: target("4.3.1"),
                    progress: half(),
                },
                "Upgrading",
            ),
            (
                "executing and held up",
                requested("4.3.1"),
                Some(held_up),
                State::Executing {
                    target: target("4.3.1"),
                    progress: half(),
                },
                "Degraded",
            ),
            (
                "stalled",
                requested("4.3.1"),
                Some(stalled),
                State::Stalled {
                    target: target("4.3.1"),
                    progress: half(),
                },
                "Stalled",
            ),
            (
                "requested by an image it does not run",
                by_image("registry.example/acp:4.3.1"),
                Some(running_image.clone()),
                State::Requested {
                    target: target("registry.example/acp:4.3.1"),
                },
                "Blocked",
            ),
            (
                "requested by the image it runs",
                by_image("registry.example/acp:4.3.0"),
                Some(running_image),
                State::Idle,
                "Idle",
            ),
            (
                "requested by an image of the version it runs, reached by version",
                by_image("registry.example/acp:4.3.0"),
                Some(ClusterVersionShadowStatus {
                    desired: Some(Release {
                        version: Some("4.3.0".into()),
                        image: Some("registry.example/acp:4.3.0".into()),
                    }),
                    ..at_430()
                }),
                State::Idle,
                "Idle",
            ),
        ];
        for (name, spec, status, state, label) in cases {
            let reading = Reading::of(&spec, status.as_ref());
            assert_eq!(reading.state, state, "{name}");
            assert_eq!(reading.metric_label(), label, "{name}");
        }
    }

    #[test]
    fn reachability_and_the_reason_are_read_beside_the_state() {
        let mut status = at_430();
        assert_eq!(
            Reading::of(&Default::default(), None).reachability,
            Reachability::NotObserved
        );
        let reading = Reading::of(&Default::default(), Some(&status));
        assert_eq!(reading.reachability, Reachability::Reachable);
        assert_eq!(reading.reason, None, "Ready is True: nothing to explain");
        status.observed.as_mut().unwrap().reachable = Some(false);
        status.conditions = vec![condition(types::READY, false, "ClusterUnreachable")];
        let reading = Reading::of(&Default::default(), Some(&status));
        assert_eq!(
            (reading.state, reading.reachability),
            (State::Idle, Reachability::Unreachable)
        );
        assert_eq!(reading.reason.as_deref(), Some("ClusterUnreachable"));
        executing(&mut status);
        status
            .conditions
            .push(condition(types::STALLED, true, "RetryDeadlineExceeded"));
        let reading = Reading::of(&Default::default(), Some(&status));
        assert_eq!(reading.reason.as_deref(), Some("RetryDeadlineExceeded"));
        assert_eq!(reading.state.target(), Some("4.3.1"));
        assert!(reading.state.is_executing());
    }
}
