//! MaintenanceWindowOpen: a cluster labelled `cvo.alauda.io/maintenance-window: NAME` starts an upgrade
//! only while MaintenanceWindow NAME is open. Like ConcurrentUpgradeLimit it waits (Retry), never fails:
//! the upgrade starts once the window opens. A window that is missing or cannot be read holds the start
//! too, never lets it through. Preflight only gates a start, so a running upgrade is never interrupted.

use acp_api::checks::REASON_MAINTENANCE_WINDOW_IGNORED;
use acp_api::maintenance_window::{MaintenanceWindowSpec, WindowState};
use acp_api::names::labels::MAINTENANCE_WINDOW;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};

pub const NAME: &str = acp_api::checks::MAINTENANCE_WINDOW_OPEN;

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
            "MaintenanceWindowClosed",
            format!(
                "{sentence}: the upgrade to {} starts then, or now with `ac adm upgrade --cluster {} --to {} \
                 --ignore-maintenance-window`",
                inputs.target, inputs.cluster, inputs.target
            ),
        ),
    }
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
                "maintenance window weekend-nights opens at 2026-12-04 22:00 CET (in 2h20m): the upgrade to 4.3.1 \
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
                "opens at 2026-12-04 22:00 UTC (in 10h); spec.desiredUpdate.ignoreMaintenanceWindow",
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
}
