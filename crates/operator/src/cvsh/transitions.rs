//! Transitions: the Events (and upgrade notifications) that mark each change between the status a
//! reconcile started from and the status it wrote.

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::{self, types};
use acp_api::cvsh::{HistoryEntry, HistoryState, OperationPhase, StagePhase};
use kube::runtime::events::EventType;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fixtures::{clock, executing_status, v};
    use crate::cvsh::project::bootstrap_entry;
    use acp_api::conditions::Clock;
    use acp_api::cvsh::Release;

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
}
