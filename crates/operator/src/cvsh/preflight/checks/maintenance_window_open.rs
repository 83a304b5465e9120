//! MaintenanceWindowOpen: a cluster labelled `cvo.alauda.io/maintenance-window: NAME` starts an upgrade
//! only while MaintenanceWindow NAME is open. Like ConcurrentUpgradeLimit it waits (Retry), never fails:
//! the upgrade starts once the window opens. A window that is missing or cannot be read holds the start
//! too, never lets it through. Preflight only gates a start, so a running upgrade is never interrupted.
//!
//! A start held by nothing but a closed window is decided again when the window opens ([`nap`]), not
//! every few seconds: a cluster may wait days for its window, and each decision calls it.

use std::time::Duration;

use acp_api::ClusterVersionShadow;
use acp_api::checks::REASON_MAINTENANCE_WINDOW_IGNORED;
use acp_api::cvsh::PreflightSummary;
use acp_api::maintenance_window::{MaintenanceWindowSpec, WindowState};
use acp_api::names::labels::MAINTENANCE_WINDOW;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};

pub const NAME: &str = acp_api::checks::MAINTENANCE_WINDOW_OPEN;

/// The longest a start held only by a closed window goes undecided, so that an edited window is seen.
pub const MAX_NAP: Duration = Duration::from_secs(300);

/// Reason of this check while the window is closed.
const CLOSED: &str = "MaintenanceWindowClosed";

/// The window a cluster names, as read from the global cluster.
pub type Lookup = Result<Option<MaintenanceWindowSpec>, String>;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let Some(name) = cx.inputs.maintenance_window else {
        return decide(cx.inputs, &Ok(None));
    };
    let lookup = cx
        .platform
        .maintenance_window(name)
        .await
        .map_err(|err| err.to_string());
    decide(cx.inputs, &lookup)
}

pub fn decide(inputs: &Inputs<'_>, lookup: &Lookup) -> Outcome {
    let Some(name) = inputs.maintenance_window else {
        return Outcome::passed(
            "NoMaintenanceWindow",
            format!("the cluster names no maintenance window (label {MAINTENANCE_WINDOW}): an upgrade may start at any time"),
        );
    };
    let ignored = |why: String| {
        Outcome::passed(
            REASON_MAINTENANCE_WINDOW_IGNORED,
            format!("{why}; spec.desiredUpdate.ignoreMaintenanceWindow starts the upgrade outside it"),
        )
    };
    let held = |reason: &str, why: String| {
        if inputs.ignore_maintenance_window {
            ignored(why)
        } else {
            Outcome::retry(reason, format!("{why}; the upgrade to {} does not start until then", inputs.target))
        }
    };
    let spec = match lookup {
        Err(err) => {
            return held(
                "MaintenanceWindowUnreadable",
                format!("cannot read MaintenanceWindow {name} ({err}); the check runs again"),
            );
        }
        Ok(None) => {
            return held(
                "MaintenanceWindowNotFound",
                format!(
                    "the cluster's label {MAINTENANCE_WINDOW} names MaintenanceWindow {name}, which does not exist in \
                     the cluster's namespace: create it or remove the label"
                ),
            );
        }
        Ok(Some(spec)) => spec,
    };
    let window = match spec.parse() {
        Ok(window) => window,
        Err(err) => {
            return held(
                "InvalidMaintenanceWindow",
                format!("MaintenanceWindow {name} cannot be read: {err}; fix it"),
            );
        }
    };
    let sentence = window.describe(name, inputs.now);
    match window.at(inputs.now) {
        WindowState::Open { .. } => Outcome::passed("MaintenanceWindowOpen", sentence),
        WindowState::Closed { .. } if inputs.ignore_maintenance_window => ignored(sentence),
        WindowState::Closed { .. } => Outcome::retry(
            CLOSED,
            format!(
                "{sentence}: the upgrade to {} starts then, or now with `ac adm upgrade --cluster {} --to {} \
                 --ignore-maintenance-window`",
                inputs.target, inputs.cluster, inputs.target
            ),
        ),
    }
}

/// How long the blocked start `summary` describes may wait before it is decided again, when nothing but
/// `shadow`'s closed maintenance window holds it: until just after the window opens, at most [`MAX_NAP`].
/// `None`: decide again at the usual pace.
pub async fn nap(
    platform: &impl PlatformSource,
    shadow: &ClusterVersionShadow,
    summary: &PreflightSummary,
    now: Timestamp,
) -> Option<Duration> {
    if !held_only_by_the_window(summary) {
        return None;
    }
    let name = shadow.labels().get(MAINTENANCE_WINDOW)?;
    let window = platform.maintenance_window(name).await.ok()??.parse().ok()?;
    nap_until(window.at(now), now)
}

fn held_only_by_the_window(summary: &PreflightSummary) -> bool {
    summary.failed.is_empty()
        && matches!(summary.waiting.as_slice(), [check] if check.name == NAME && check.reason.as_deref() == Some(CLOSED))
}

/// A second past the opening (a reconcile a moment early finds the window still closed), at least a
/// second, at most [`MAX_NAP`].
fn nap_until(state: WindowState, now: Timestamp) -> Option<Duration> {
    let WindowState::Closed { opens_at } = state else {
        return None;
    };
    let until = opens_at.map_or(MAX_NAP, |at| {
        Duration::try_from(at.duration_since(now))
            .unwrap_or_default()
            .saturating_add(Duration::from_secs(1))
    });
    Some(until.clamp(Duration::from_secs(1), MAX_NAP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::CheckState;
    use acp_api::maintenance_window::ExclusionSpec;

    fn window(tz: &str) -> MaintenanceWindowSpec {
        MaintenanceWindowSpec {
            schedule: "0 22 * * FRI,SAT".into(),
            duration: "6h".into(),
            time_zone: Some(tz.into()),
            exclusions: vec![ExclusionSpec {
                start: "2026-12-11T00:00:00Z".into(),
                end: "2026-12-13T00:00:00Z".into(),
                reason: Some("release freeze".into()),
            }],
        }
    }

    #[test]
    fn a_labelled_cluster_starts_only_inside_its_window_unless_a_person_ignores_it() {
        let broken = MaintenanceWindowSpec {
            duration: "6 hours".into(),
            ..window("UTC")
        };
        // (label, ignore, lookup, now, state, reason, words in the message)
        type Row = (Option<&'static str>, bool, Lookup, &'static str, CheckState, &'static str, &'static str);
        let table: Vec<Row> = vec![
            (None, false, Ok(None), "2026-12-04T12:00:00Z", CheckState::Passed, "NoMaintenanceWindow", "any time"),
            (
                Some("weekend-nights"),
                false,
                Ok(Some(window("Europe/Berlin"))),
                "2026-12-04T18:40:00Z",
                CheckState::Retry,
                "MaintenanceWindowClosed",
                "maintenance window weekend-nights opens at 2026-12-04 22:00 CET: the upgrade to 4.3.1 \
                 starts then, or now with `ac adm upgrade --cluster east --to 4.3.1 --ignore-maintenance-window`",
            ),
            (
                Some("weekend-nights"),
                false,
                Ok(Some(window("Europe/Berlin"))),
                "2026-12-04T21:30:00Z",
                CheckState::Passed,
                "MaintenanceWindowOpen",
                "is open until 2026-12-05 04:00 CET",
            ),
            (
                Some("weekend-nights"),
                false,
                Ok(Some(window("UTC"))),
                "2026-12-11T23:00:00Z",
                CheckState::Retry,
                "MaintenanceWindowClosed",
                "an exclusion (release freeze) holds it closed until 2026-12-13 00:00 UTC",
            ),
            (
                Some("weekend-nights"),
                true,
                Ok(Some(window("UTC"))),
                "2026-12-04T12:00:00Z",
                CheckState::Passed,
                REASON_MAINTENANCE_WINDOW_IGNORED,
                "opens at 2026-12-04 22:00 UTC; spec.desiredUpdate.ignoreMaintenanceWindow",
            ),
            (
                Some("gone"),
                false,
                Ok(None),
                "2026-12-04T21:30:00Z",
                CheckState::Retry,
                "MaintenanceWindowNotFound",
                "names MaintenanceWindow gone, which does not exist",
            ),
            (
                Some("broken"),
                false,
                Ok(Some(broken.clone())),
                "2026-12-04T22:30:00Z",
                CheckState::Retry,
                "InvalidMaintenanceWindow",
                "MaintenanceWindow broken cannot be read: spec.duration: `6 hours` is not a duration",
            ),
            (
                Some("broken"),
                true,
                Ok(Some(broken)),
                "2026-12-04T22:30:00Z",
                CheckState::Passed,
                REASON_MAINTENANCE_WINDOW_IGNORED,
                "spec.duration",
            ),
            (
                Some("weekend-nights"),
                false,
                Err("get MaintenanceWindow cpaas-system/weekend-nights: connection refused".into()),
                "2026-12-04T22:30:00Z",
                CheckState::Retry,
                "MaintenanceWindowUnreadable",
                "connection refused); the check runs again",
            ),
            (
                Some("weekend-nights"),
                true,
                Err("get MaintenanceWindow cpaas-system/weekend-nights: connection refused".into()),
                "2026-12-04T22:30:00Z",
                CheckState::Passed,
                REASON_MAINTENANCE_WINDOW_IGNORED,
                "connection refused",
            ),
        ];
        for (label, ignore, lookup, now, state, reason, words) in table {
            let mut case = Case::new();
            case.maintenance_window = label.map(Into::into);
            case.ignore_maintenance_window = ignore;
            case.now = now.parse().unwrap();
            let outcome = decide(&case.inputs(), &lookup);
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{label:?} {ignore} {now}: {}",
                outcome.message
            );
            assert!(outcome.message.contains(words), "{}", outcome.message);
        }
    }

    #[test]
    fn a_start_held_only_by_a_closed_window_is_decided_again_when_it_opens() {
        use acp_api::cvsh::{CheckPolicy, PreflightCheck};
        let now: Timestamp = "2026-12-04T12:00:00Z".parse().unwrap();
        let at = |secs: i64| WindowState::Closed {
            opens_at: Some(Timestamp::from_second(now.as_second() + secs).unwrap()),
        };
        let secs = Duration::from_secs;
        assert_eq!(nap_until(at(20), now), Some(secs(21)));
        assert_eq!(nap_until(at(3 * 3600), now), Some(MAX_NAP));
        assert_eq!(nap_until(at(-5), now), Some(secs(1)));
        assert_eq!(nap_until(WindowState::Closed { opens_at: None }, now), Some(MAX_NAP));
        assert_eq!(nap_until(WindowState::Open { closes_at: None }, now), None);

        let check = |name: &str, state: CheckState, reason: &str| PreflightCheck {
            name: name.into(),
            policy: Some(CheckPolicy::Always),
            state,
            reason: Some(reason.into()),
            message: None,
        };
        let window = check(NAME, CheckState::Retry, CLOSED);
        let summary = |checks: Vec<PreflightCheck>| PreflightSummary::of(&checks);
        assert!(held_only_by_the_window(&summary(vec![window.clone()])));
        // Anything else waiting or failed keeps the usual pace; so does a missing window.
        let unreachable = check("ClusterRunning", CheckState::Retry, "ClusterUnreachable");
        assert!(!held_only_by_the_window(&summary(vec![window.clone(), unreachable])));
        let failed = check("DockerRuntimeUnsupported", CheckState::Failed, "DockerRuntimeFound");
        assert!(!held_only_by_the_window(&summary(vec![window, failed])));
        let missing = check(NAME, CheckState::Retry, "MaintenanceWindowNotFound");
        assert!(!held_only_by_the_window(&summary(vec![missing])));
    }
}
