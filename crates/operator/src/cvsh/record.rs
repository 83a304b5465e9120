//! Record: what the status says about the outcome — observation, history entries, the five conditions,
//! and the Events that mark each transition.

use std::time::Duration;

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::{self, Clock, ConditionStatus, ConditionUpdate, types};
use acp_api::cvsh::{HistoryEntry, HistoryState, NodeSummary, Observed, OperationPhase, StagePhase};
use acp_api::k8s::Time;
use acp_policy::AcpVersion;
use kube::runtime::events::EventType;

use crate::clusters::observe::Observation;
use crate::cvsh::stages::Advance;
use acp_api::cvsh::PreflightSummary as Summary;

/// `status.observed` from an observation. The cluster's identity is kept from `previous` until a new
/// one is read: a cluster that does not answer for a while is still the same cluster, and other
/// ClusterVersionShadows reaching it must keep seeing it as a duplicate.
pub fn observed(observation: &Observation, previous: Option<&Observed>, now: Time) -> Observed {
    let nodes = observation.reachable.then(|| {
        let mut kubelets: Vec<String> = observation
            .nodes
            .iter()
            .map(|n| n.kubelet_version.clone())
            .collect();
        kubelets.sort();
        kubelets.dedup();
        let mut runtimes: Vec<String> = observation
            .nodes
            .iter()
            .map(|n| n.container_runtime.clone())
            .collect();
        runtimes.sort();
        runtimes.dedup();
        NodeSummary {
            total: i32::try_from(observation.nodes.len()).unwrap_or(i32::MAX),
            ready: i32::try_from(observation.nodes.iter().filter(|n| n.ready).count()).unwrap_or(i32::MAX),
            kubelet_versions: kubelets,
            runtimes,
        }
    });
    Observed {
        kubernetes_version: observation.kubernetes_version.clone(),
        nodes,
        reachable: Some(observation.reachable),
        observed_at: Some(now),
        message: observation.error.clone(),
        cluster_identity: observation
            .identity
            .clone()
            .or_else(|| previous.and_then(|p| p.cluster_identity.clone())),
    }
}

/// The first history entry of a cluster whose version was learnt rather than upgraded to.
pub fn bootstrap_entry(version: &AcpVersion, now: Time) -> HistoryEntry {
    HistoryEntry {
        version: Some(version.to_string()),
        image: String::new(),
        state: HistoryState::Completed,
        started_time: now.clone(),
        completion_time: Some(now),
        accepted_risks: None,
        release_digest: None,
        cluster_identity: None,
    }
}

/// What a started upgrade is pinned to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// Digest of the release bundle applied (`builtin` for the built-in catalogue).
    pub release_digest: Option<String>,
    /// UID of the cluster's `kube-system` namespace.
    pub cluster_identity: Option<String>,
}

/// The Partial entry written when execution starts.
pub fn started_entry(
    target: &AcpVersion,
    image: Option<&str>,
    accepted_risks: &[String],
    pins: Pins,
    now: Time,
) -> HistoryEntry {
    HistoryEntry {
        version: Some(target.to_string()),
        image: image.unwrap_or_default().to_string(),
        state: HistoryState::Partial,
        started_time: now,
        completion_time: None,
        accepted_risks: (!accepted_risks.is_empty()).then(|| accepted_risks.join("; ")),
        release_digest: pins.release_digest,
        cluster_identity: pins.cluster_identity,
    }
}

/// Sets the conditions present only while something about the cluster's registration is wrong
/// (`TierRefused`, `DuplicateCluster`), and removes them once it is not.
pub fn set_registration_conditions(
    status: &mut ClusterVersionShadowStatus,
    tier_refused: Option<(&str, String)>,
    duplicate: Option<String>,
    generation: Option<i64>,
    clock: &dyn Clock,
) {
    for (type_, reason_and_message) in [
        (types::TIER_REFUSED, tier_refused),
        (
            types::DUPLICATE_CLUSTER,
            duplicate.map(|message| ("SameKubeSystemUID", message)),
        ),
    ] {
        match reason_and_message {
            Some((reason, message)) => {
                let update =
                    ConditionUpdate::new(type_, true, reason, message).observed_generation(generation);
                conditions::set(&mut status.conditions, update, clock);
            }
            None => {
                conditions::remove(&mut status.conditions, type_);
            }
        }
    }
}

/// Where the cluster stands after this reconcile; the conditions follow from it.
#[derive(Clone, Debug)]
pub enum Situation {
    /// No upgrade wanted. `newest` is the update continuous preflight looked at, if any.
    Idle {
        current: Option<AcpVersion>,
        problem: Option<String>,
        newest: Option<(AcpVersion, Summary)>,
    },
    /// A requested upgrade that preflight does not (yet) allow.
    Blocked { target: AcpVersion, summary: Summary },
    /// A requested upgrade that `spec.paused` holds back.
    Paused { target: AcpVersion },
    /// A requested upgrade that passed preflight but may not start yet (another ClusterVersionShadow is
    /// upgrading the same cluster, or the cluster's identity is unknown).
    Held {
        target: AcpVersion,
        reason: &'static str,
        message: String,
    },
    /// A request that cannot be acted on.
    Rejected { reason: &'static str, message: String },
    /// An upgrade under way; `note` explains a changed or cleared request.
    Executing {
        target: AcpVersion,
        advance: Advance,
        note: Option<String>,
    },
    /// The upgrade finished in this reconcile.
    Completed { target: AcpVersion },
}

impl Situation {
    /// Label of the `acp_cvo_clusters` gauge.
    pub fn state_label(&self, degraded: bool, stalled: bool) -> &'static str {
        match self {
            _ if stalled => "Stalled",
            Situation::Executing { .. } if degraded => "Degraded",
            Situation::Executing { .. } => "Upgrading",
            Situation::Blocked { .. }
            | Situation::Paused { .. }
            | Situation::Held { .. }
            | Situation::Rejected { .. } => "Blocked",
            Situation::Idle { current: None, .. } => "Unknown",
            Situation::Idle { .. } | Situation::Completed { .. } => "Idle",
        }
    }
}

/// Why the cluster could not be reached, if it could not (a Degraded reason and message).
pub type AccessProblem = Option<(&'static str, String)>;

/// Sets Ready, Reconciling, Degraded, Stalled and PreflightReady for `situation`.
pub fn set_conditions(
    status: &mut ClusterVersionShadowStatus,
    cluster: &str,
    situation: &Situation,
    access: &AccessProblem,
    generation: Option<i64>,
    stall_after: Duration,
    clock: &dyn Clock,
) {
    let progress = status.progress_message();
    let set = |conditions: &mut Vec<acp_api::k8s::Condition>,
               type_: &str,
               state: ConditionStatus,
               reason: &str,
               message: String| {
        let update = ConditionUpdate::new(type_, state, reason, message).observed_generation(generation);
        conditions::set(conditions, update, clock);
    };
    use ConditionStatus::{False, True, Unknown};

    match situation {
        Situation::Idle {
            current,
            problem,
            newest,
        } => {
            match current {
                Some(current) => set(
                    &mut status.conditions,
                    types::READY,
                    True,
                    "AtVersion",
                    format!("cluster {cluster} runs ACP {current}"),
                ),
                None => set(
                    &mut status.conditions,
                    types::READY,
                    False,
                    "VersionUnknown",
                    problem
                        .clone()
                        .unwrap_or_else(|| "the platform version is unknown".into()),
                ),
            }
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                "Idle",
                "no upgrade in progress".into(),
            );
            match newest {
                Some((version, summary)) if summary.all_passed() => set(
                    &mut status.conditions,
                    types::PREFLIGHT_READY,
                    True,
                    "ChecksPassed",
                    format!("an upgrade to {version}, the newest available, could start now"),
                ),
                Some((version, summary)) => set(
                    &mut status.conditions,
                    types::PREFLIGHT_READY,
                    False,
                    blocked_reason(summary),
                    format!(
                        "an upgrade to {version}, the newest available, would be held: {}",
                        summary.text()
                    ),
                ),
                None => set(
                    &mut status.conditions,
                    types::PREFLIGHT_READY,
                    Unknown,
                    "NoTarget",
                    "no update is available to check".into(),
                ),
            }
        }
        Situation::Blocked { target, summary } => {
            let text = summary.text();
            let reason = blocked_reason(summary);
            set(
                &mut status.conditions,
                types::READY,
                False,
                reason,
                format!("the upgrade to {target} is held by preflight: {text}"),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                reason,
                format!("no stage started; preflight for {target}: {text}"),
            );
            set(
                &mut status.conditions,
                types::PREFLIGHT_READY,
                False,
                reason,
                text,
            );
        }
        Situation::Paused { target } => {
            let message = format!(
                "the upgrade to {target} is requested but spec.paused is set: set it to false to start"
            );
            set(
                &mut status.conditions,
                types::READY,
                False,
                "Paused",
                message.clone(),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                "Paused",
                message,
            );
        }
        Situation::Held {
            target: _,
            reason,
            message,
        } => {
            set(
                &mut status.conditions,
                types::READY,
                False,
                reason,
                message.clone(),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                reason,
                message.clone(),
            );
        }
        Situation::Rejected { reason, message } => {
            set(
                &mut status.conditions,
                types::READY,
                False,
                reason,
                message.clone(),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                reason,
                message.clone(),
            );
            set(
                &mut status.conditions,
                types::PREFLIGHT_READY,
                False,
                reason,
                message.clone(),
            );
        }
        Situation::Executing {
            target,
            advance,
            note,
        } => {
            let mut message = progress.unwrap_or_else(|| format!("Working towards {target}"));
            if let Some(waiting) = &advance.waiting {
                message.push_str(&format!("; waiting on {waiting}"));
            }
            if let Some(note) = note {
                message.push_str(&format!("; {note}"));
            }
            set(
                &mut status.conditions,
                types::READY,
                False,
                "Upgrading",
                message.clone(),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                True,
                "Upgrading",
                message,
            );
        }
        Situation::Completed { target } => {
            set(
                &mut status.conditions,
                types::READY,
                True,
                "UpgradeCompleted",
                format!("cluster {cluster} runs ACP {target}"),
            );
            set(
                &mut status.conditions,
                types::RECONCILING,
                False,
                "UpgradeCompleted",
                format!("the upgrade to {target} completed"),
            );
        }
    }

    let blocked = match situation {
        Situation::Executing { advance, .. } => {
            advance.blocked.as_ref().map(|b| (b.reason, b.message.clone()))
        }
        _ => None,
    };
    match blocked.or_else(|| access.clone()) {
        Some((reason, message)) => set(&mut status.conditions, types::DEGRADED, True, reason, message),
        None => set(
            &mut status.conditions,
            types::DEGRADED,
            False,
            "AsExpected",
            "no error blocks progress".into(),
        ),
    }

    // Stalled: an executing upgrade that has been Degraded past the deadline needs a human.
    let degraded_for = conditions::find(&status.conditions, types::DEGRADED)
        .filter(|c| c.status == "True")
        .map(|c| clock.now().duration_since(c.last_transition_time.0));
    let executing = matches!(situation, Situation::Executing { .. });
    let stall = degraded_for
        .filter(|d| executing && d.as_secs() >= i64::try_from(stall_after.as_secs()).unwrap_or(i64::MAX));
    match stall {
        Some(for_how_long) => {
            let degraded = conditions::find(&status.conditions, types::DEGRADED)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            let minutes = for_how_long.as_secs() / 60;
            set(
                &mut status.conditions,
                types::STALLED,
                True,
                "RetryDeadlineExceeded",
                format!(
                    "no progress for {minutes} minutes: {degraded}; fix the cause, the operator keeps retrying"
                ),
            );
        }
        None => set(
            &mut status.conditions,
            types::STALLED,
            False,
            "Progressing",
            "not stalled".into(),
        ),
    }
}

fn blocked_reason(summary: &Summary) -> &'static str {
    if summary.failed.is_empty() {
        "PreflightPending"
    } else {
        "PreflightFailed"
    }
}

/// An Event worth publishing for a change between two statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub type_: EventType,
    pub reason: &'static str,
    pub note: String,
    /// The stage (`Core`) or operation (`Core/platform-api`) it is about, if any.
    pub about: Option<String>,
}

/// The transitions from `old` to `new`, in the order they happened.
pub fn transitions(old: &ClusterVersionShadowStatus, new: &ClusterVersionShadowStatus) -> Vec<Transition> {
    let out = std::cell::RefCell::new(Vec::new());
    let add_about = |type_, reason, note: String, about: Option<String>| {
        out.borrow_mut().push(Transition {
            type_,
            reason,
            note,
            about,
        });
    };
    let add = |type_, reason, note: String| add_about(type_, reason, note, None);

    if old.history.is_empty()
        && let Some(first) = new.history.last().filter(|e| e.state == HistoryState::Completed)
    {
        add(
            EventType::Normal,
            "VersionRecorded",
            format!("current version recorded as {}", version(first)),
        );
    }
    let old_running = old.running_upgrade().map(version);
    let new_running = new.running_upgrade().map(version);
    // A new request for a version the cluster does not run yet (the status's desired follows the spec's
    // request once the operator accepted it).
    if let Some(target) = new.desired_version()
        && old.desired_version() != Some(target)
        && new.current_version() != Some(target)
        && old_running.as_deref() != Some(target)
    {
        add(
            EventType::Normal,
            "UpgradeRequested",
            format!("upgrade to {target} requested"),
        );
    }
    if let Some(target) = &new_running
        && old_running.as_ref() != Some(target)
    {
        let risks = new.running_upgrade().and_then(|e| e.accepted_risks.clone());
        let note = match risks {
            Some(risks) => format!("upgrade to {target} started; accepted risks: {risks}"),
            None => format!("upgrade to {target} started"),
        };
        add(EventType::Normal, "UpgradeStarted", note);
    }
    for stage in &new.stages {
        let before = old.stages.iter().find(|s| s.name == stage.name);
        let was = before.map(|s| s.phase);
        if was != Some(stage.phase) {
            match stage.phase {
                StagePhase::Running => add(
                    EventType::Normal,
                    "StageStarted",
                    format!("stage {} started", stage.name),
                ),
                StagePhase::Finished if before.is_some() => {
                    add_about(
                        EventType::Normal,
                        "StageFinished",
                        format!("stage {} finished", stage.name),
                        Some(stage.name.clone()),
                    );
                }
                _ => {}
            }
        }
        for op in &stage.operations {
            let was = before
                .and_then(|s| s.operations.iter().find(|o| o.name == op.name))
                .and_then(|o| o.phase.clone());
            if op.phase == Some(OperationPhase::Failed) && was != Some(OperationPhase::Failed) {
                add_about(
                    EventType::Warning,
                    "OperationFailed",
                    format!(
                        "{}/{} failed: {}",
                        stage.name,
                        op.name,
                        op.message.as_deref().unwrap_or("no detail")
                    ),
                    Some(format!("{}/{}", stage.name, op.name)),
                );
            }
        }
    }
    if let (Some(target), None) = (&old_running, &new_running)
        && new
            .history
            .first()
            .is_some_and(|e| e.state == HistoryState::Completed && version(e) == *target)
    {
        let took = new.history.first().and_then(HistoryEntry::duration);
        let note = match took {
            Some(d) => format!(
                "upgrade to {target} completed in {}m{}s",
                d.as_secs() / 60,
                d.as_secs() % 60
            ),
            None => format!("upgrade to {target} completed"),
        };
        add(EventType::Normal, "UpgradeCompleted", note);
    }
    for (type_, reason) in [(types::DEGRADED, "Degraded"), (types::STALLED, "Stalled")] {
        let became = |status: &ClusterVersionShadowStatus| {
            conditions::find(&status.conditions, type_)
                .filter(|c| c.status == "True")
                .map(|c| c.message.clone())
        };
        if let (None, Some(message)) = (became(old), became(new)) {
            add(EventType::Warning, reason, message);
        }
    }
    // Failed checks of a requested upgrade, each time the set changes (not for merely available ones).
    let failing = requested_failures(new);
    if !failing.is_empty() && failing != requested_failures(old) {
        let target = new.desired_version().unwrap_or_default();
        add(
            EventType::Warning,
            "PreflightFailed",
            format!("upgrade to {target} held: {}", failing.join("; ")),
        );
    }
    if old.desired.is_some() && new.desired.is_none() && new_running.is_none() && old_running.is_none() {
        let target = old
            .desired
            .as_ref()
            .and_then(|d| d.version.clone())
            .unwrap_or_default();
        add(
            EventType::Normal,
            "RequestCancelled",
            format!("the request for {target} was withdrawn before any stage started"),
        );
    }
    out.into_inner()
}

/// `Name: message` of each Failed check evaluated for the requested version.
fn requested_failures(status: &ClusterVersionShadowStatus) -> Vec<String> {
    let Some(preflight) = &status.preflight else {
        return Vec::new();
    };
    if status.desired.is_none()
        || preflight.target_version.as_deref() != status.desired_version()
        || status.running_upgrade().is_some()
    {
        return Vec::new();
    }
    preflight
        .checks
        .iter()
        .filter(|c| c.state == acp_api::cvsh::CheckState::Failed)
        .map(|c| format!("{}: {}", c.name, c.message.as_deref().unwrap_or_default()))
        .collect()
}

fn version(entry: &HistoryEntry) -> String {
    entry.version.clone().unwrap_or_else(|| entry.image.clone())
}

/// Whether `new` differs from `old` in anything but timestamps, or the observation is getting old.
pub fn needs_write(
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
    refresh: Duration,
) -> bool {
    let strip = |s: &ClusterVersionShadowStatus| {
        let mut s = s.clone();
        if let Some(o) = s.observed.as_mut() {
            o.observed_at = None;
        }
        if let Some(p) = s.preflight.as_mut() {
            p.observed_at = None;
        }
        s
    };
    if strip(old) != strip(new) {
        return true;
    }
    let at = |s: &ClusterVersionShadowStatus| s.observed.as_ref().and_then(|o| o.observed_at.clone());
    match (at(old), at(new)) {
        (Some(before), Some(now)) => {
            now.0.duration_since(before.0).as_secs() >= i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::stages::Blocked;
    use acp_api::conditions::FixedClock;
    use acp_api::cvsh::{Operation, OperationAction, Release, Stage};
    use acp_api::k8s::Timestamp;

    fn clock(seconds: i64) -> FixedClock {
        FixedClock(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn v(text: &str) -> AcpVersion {
        text.parse().unwrap()
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
            let observed = observed(&seen(reachable, read), Some(&previous), Time(clock(0).0));
            assert_eq!(
                observed.cluster_identity.as_deref(),
                expected,
                "{previous:?} {reachable} {read:?}"
            );
        }
        let first = observed(&seen(false, None), None, Time(clock(0).0));
        assert_eq!(first.cluster_identity, None);
    }

    fn executing_status(done: usize, total: usize) -> ClusterVersionShadowStatus {
        let operations = (0..total)
            .map(|i| Operation {
                name: format!("op{i}"),
                action: OperationAction::Upgrade,
                current_version: None,
                target_version: None,
                depends_on: vec![],
                module_info: None,
                phase: Some(if i < done {
                    OperationPhase::Succeeded
                } else {
                    OperationPhase::Pending
                }),
                message: None,
                last_transition_time: None,
            })
            .collect();
        ClusterVersionShadowStatus {
            desired: Some(Release::version("4.3.1")),
            history: vec![started_entry(
                &v("4.3.1"),
                None,
                &[],
                Pins::default(),
                clock(0).time(),
            )],
            stages: vec![Stage {
                name: "Core".into(),
                priority: 30,
                phase: StagePhase::Running,
                operations,
            }],
            ..Default::default()
        }
    }

    fn condition<'a>(status: &'a ClusterVersionShadowStatus, type_: &str) -> &'a acp_api::k8s::Condition {
        conditions::find(&status.conditions, type_).unwrap()
    }

    #[test]
    fn executing_reports_progress_in_the_documented_words() {
        let mut status = executing_status(7, 12);
        let situation = Situation::Executing {
            target: v("4.3.1"),
            advance: Advance::default(),
            note: None,
        };
        set_conditions(
            &mut status,
            "global",
            &situation,
            &None,
            Some(2),
            Duration::from_secs(600),
            &clock(0),
        );
        let reconciling = condition(&status, types::RECONCILING);
        assert_eq!(reconciling.status, "True");
        assert!(
            reconciling
                .message
                .starts_with("Working towards 4.3.1: 7 of 12 operations done (58%)"),
            "{}",
            reconciling.message
        );
        assert_eq!(reconciling.observed_generation, Some(2));
        assert_eq!(condition(&status, types::READY).status, "False");
        assert_eq!(condition(&status, types::DEGRADED).status, "False");
    }

    #[test]
    fn a_blocked_operation_degrades_and_stalls_after_the_deadline() {
        let mut status = executing_status(1, 3);
        let advance = Advance {
            blocked: Some(Blocked {
                reason: "OperationFailed",
                message: "platform-api rejected".into(),
            }),
            ..Advance::default()
        };
        let situation = Situation::Executing {
            target: v("4.3.1"),
            advance,
            note: None,
        };
        let deadline = Duration::from_secs(600);
        set_conditions(&mut status, "east", &situation, &None, None, deadline, &clock(0));
        assert_eq!(condition(&status, types::DEGRADED).status, "True");
        assert_eq!(condition(&status, types::STALLED).status, "False");
        set_conditions(
            &mut status,
            "east",
            &situation,
            &None,
            None,
            deadline,
            &clock(601),
        );
        let stalled = condition(&status, types::STALLED);
        assert_eq!(stalled.status, "True");
        assert!(
            stalled.message.contains("platform-api rejected"),
            "{}",
            stalled.message
        );
    }

    #[test]
    fn an_unreachable_idle_cluster_is_degraded_with_the_reason() {
        let mut status = ClusterVersionShadowStatus::default();
        let situation = Situation::Idle {
            current: Some(v("4.2.3")),
            problem: None,
            newest: None,
        };
        let access = Some((
            "KubeconfigSecretMissing",
            "kubeconfig Secret cpaas-system/x does not exist".to_string(),
        ));
        set_conditions(
            &mut status,
            "east",
            &situation,
            &access,
            None,
            Duration::from_secs(600),
            &clock(0),
        );
        let degraded = condition(&status, types::DEGRADED);
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "KubeconfigSecretMissing")
        );
        assert_eq!(condition(&status, types::READY).status, "True");
        assert_eq!(condition(&status, types::STALLED).status, "False");
    }

    #[test]
    fn starting_progressing_and_completing_are_events() {
        let idle = ClusterVersionShadowStatus {
            history: vec![bootstrap_entry(&v("4.2.3"), clock(0).time())],
            ..Default::default()
        };
        let mut started = executing_status(0, 2);
        started
            .history
            .push(bootstrap_entry(&v("4.2.3"), clock(0).time()));
        let reasons = |t: Vec<Transition>| t.into_iter().map(|t| t.reason).collect::<Vec<_>>();
        assert_eq!(
            reasons(transitions(&idle, &started)),
            ["UpgradeRequested", "UpgradeStarted", "StageStarted"]
        );

        let mut failed = started.clone();
        failed.stages[0].operations[0].phase = Some(OperationPhase::Failed);
        assert_eq!(reasons(transitions(&started, &failed)), ["OperationFailed"]);

        let mut done = started.clone();
        done.history[0].state = HistoryState::Completed;
        done.history[0].completion_time = Some(clock(125).time());
        done.stages[0].phase = StagePhase::Finished;
        let events = transitions(&started, &done);
        assert_eq!(reasons(events.clone()), ["StageFinished", "UpgradeCompleted"]);
        assert!(events[1].note.contains("2m5s"), "{}", events[1].note);

        assert_eq!(
            reasons(transitions(&ClusterVersionShadowStatus::default(), &idle)),
            ["VersionRecorded"]
        );
    }

    #[test]
    fn a_held_request_is_an_event_each_time_its_failures_change_but_an_offer_is_not() {
        use acp_api::cvsh::{CheckState, Preflight, PreflightCheck};
        let with = |desired: Option<&str>, failed: &[&str]| ClusterVersionShadowStatus {
            desired: desired.map(Release::version),
            preflight: Some(Preflight {
                observed_at: None,
                target_version: Some("4.3.1".into()),
                checks: failed
                    .iter()
                    .map(|name| PreflightCheck {
                        name: name.to_string(),
                        policy: None,
                        state: CheckState::Failed,
                        reason: None,
                        message: Some("m".into()),
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        let reasons = |t: Vec<Transition>| t.into_iter().map(|t| t.reason).collect::<Vec<_>>();
        let offered = with(None, &["KubernetesVersionSupported"]);
        let requested = with(Some("4.3.1"), &["KubernetesVersionSupported"]);
        assert!(reasons(transitions(&ClusterVersionShadowStatus::default(), &offered)).is_empty());
        assert_eq!(
            reasons(transitions(&offered, &requested)),
            ["UpgradeRequested", "PreflightFailed"]
        );
        assert!(reasons(transitions(&requested, &requested)).is_empty());
        let more = with(Some("4.3.1"), &["KubernetesVersionSupported", "ClusterRunning"]);
        assert_eq!(reasons(transitions(&requested, &more)), ["PreflightFailed"]);
    }

    #[test]
    fn registration_conditions_are_present_only_while_something_is_wrong() {
        let mut status = ClusterVersionShadowStatus::default();
        set_registration_conditions(
            &mut status,
            Some((
                "StandbyAlreadyClaimed",
                "`dr` is already the GlobalStandby".into(),
            )),
            Some("`twin-b` reaches the same cluster".into()),
            Some(3),
            &clock(0),
        );
        let duplicate = condition(&status, types::DUPLICATE_CLUSTER);
        assert_eq!(
            (duplicate.status.as_str(), duplicate.reason.as_str()),
            ("True", "SameKubeSystemUID")
        );
        assert_eq!(
            condition(&status, types::TIER_REFUSED).reason,
            "StandbyAlreadyClaimed"
        );
        set_registration_conditions(&mut status, None, None, Some(3), &clock(5));
        assert!(status.conditions.is_empty(), "{:?}", status.conditions);
    }

    #[test]
    fn a_held_start_is_not_ready_and_says_why() {
        let mut status = ClusterVersionShadowStatus::default();
        let situation = Situation::Held {
            target: v("4.3.1"),
            reason: "DuplicateCluster",
            message: "`twin-a` is upgrading the same cluster".into(),
        };
        set_conditions(
            &mut status,
            "twin-b",
            &situation,
            &None,
            None,
            Duration::from_secs(600),
            &clock(0),
        );
        let ready = condition(&status, types::READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "DuplicateCluster")
        );
        assert_eq!(condition(&status, types::RECONCILING).status, "False");
        assert_eq!(condition(&status, types::DEGRADED).status, "False");
        assert_eq!(situation.state_label(false, false), "Blocked");
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
        assert!(!needs_write(&old, &new, Duration::from_secs(60)));
        new.observed.as_mut().unwrap().observed_at = Some(clock(61).time());
        assert!(needs_write(&old, &new, Duration::from_secs(60)));
        let mut changed = old.clone();
        changed.current = Some(Release::version("4.3.1"));
        assert!(needs_write(&old, &changed, Duration::from_secs(60)));
    }
}
