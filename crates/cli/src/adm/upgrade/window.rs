//! The maintenance window line of `ac adm upgrade` and `ac adm upgrade status`: whether the cluster's
//! window (label `cvo.alauda.io/maintenance-window`) lets an upgrade start now, and until or from when.
//! The window is read as the operator reads it ([`acp_api::maintenance_window`]).

use acp_api::ClusterVersionShadow;
use acp_api::k8s::Timestamp;
use acp_api::maintenance_window::{
    MaintenanceWindow, MaintenanceWindowSpec, WindowState, from_now, wall_clock,
};
use acp_api::names::labels::MAINTENANCE_WINDOW;
use kube::{Api, ResourceExt};

use crate::connect::Connection;

/// The cluster's window as read: the spec, or why there is none to show.
#[derive(Clone, Debug, PartialEq)]
pub enum WindowFact {
    Found {
        name: String,
        spec: MaintenanceWindowSpec,
    },
    Missing {
        name: String,
    },
    Unreadable {
        name: String,
        error: String,
    },
}

/// The window `cvsh` names, read once; `None` when it names none. A failed read is shown, not fatal.
pub async fn read(conn: &Connection, cvsh: &ClusterVersionShadow) -> Option<WindowFact> {
    let name = cvsh.labels().get(MAINTENANCE_WINDOW)?.clone();
    let api: Api<MaintenanceWindow> = Api::namespaced(conn.client.clone(), &conn.namespace);
    Some(match api.get_opt(&name).await {
        Ok(Some(window)) => WindowFact::Found {
            name,
            spec: window.spec,
        },
        Ok(None) => WindowFact::Missing { name },
        Err(err) => WindowFact::Unreadable {
            name,
            error: err.to_string(),
        },
    })
}

/// `weekend-nights: closed, opens at 2026-12-05 22:00 CET (in 3h)`, `weekend-nights: open until …`.
pub fn line(fact: &WindowFact, now: Timestamp) -> String {
    let (name, spec) = match fact {
        WindowFact::Found { name, spec } => (name, spec),
        WindowFact::Missing { name } => {
            return format!(
                "{name}: MaintenanceWindow {name} does not exist; no upgrade starts until it is created or the \
                 label {MAINTENANCE_WINDOW} is removed"
            );
        }
        WindowFact::Unreadable { name, error } => {
            return format!("{name}: cannot read MaintenanceWindow {name}: {error}");
        }
    };
    let window = match spec.parse() {
        Ok(window) => window,
        Err(err) => return format!("{name}: cannot be read ({err}); no upgrade starts until it is fixed"),
    };
    let tz = window.time_zone();
    let state = match window.at(now) {
        WindowState::Open { closes_at: Some(at) } => {
            format!("open until {} ({})", wall_clock(at, tz), from_now(now, at))
        }
        WindowState::Open { closes_at: None } => "open, no closing in sight".to_owned(),
        WindowState::Closed { opens_at: Some(at) } => {
            format!("closed, opens at {} ({})", wall_clock(at, tz), from_now(now, at))
        }
        WindowState::Closed { opens_at: None } => "closed, does not open within 400 days".to_owned(),
    };
    let freeze = window
        .exclusion_at(now)
        .map(|e| match &e.reason {
            Some(reason) => format!("; excluded until {}: {reason}", wall_clock(e.end, tz)),
            None => format!("; excluded until {}", wall_clock(e.end, tz)),
        })
        .unwrap_or_default();
    format!("{name}: {state}{freeze}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::maintenance_window::ExclusionSpec;

    fn found(exclusions: Vec<ExclusionSpec>) -> WindowFact {
        WindowFact::Found {
            name: "weekend-nights".into(),
            spec: MaintenanceWindowSpec {
                schedule: "0 22 * * FRI,SAT".into(),
                duration: "6h".into(),
                time_zone: Some("Europe/Berlin".into()),
                exclusions,
            },
        }
    }

    #[test]
    fn the_line_says_open_or_closed_and_until_or_from_when_on_the_windows_clock() {
        let at = |t: &str| -> Timestamp { t.parse().unwrap() };
        let freeze = ExclusionSpec {
            start: "2026-12-04T00:00:00Z".into(),
            end: "2026-12-05T00:00:00Z".into(),
            reason: Some("year-end freeze".into()),
        };
        let broken = WindowFact::Found {
            name: "broken".into(),
            spec: MaintenanceWindowSpec {
                time_zone: Some("Mars/Olympus".into()),
                ..match found(vec![]) {
                    WindowFact::Found { spec, .. } => spec,
                    _ => unreachable!(),
                }
            },
        };
        let table = [
            (
                found(vec![]),
                "2026-12-04T18:00:00Z",
                "weekend-nights: closed, opens at 2026-12-04 22:00 CET (in 3h)",
            ),
            (
                found(vec![]),
                "2026-12-04T22:00:00Z",
                "weekend-nights: open until 2026-12-05 04:00 CET (in 5h)",
            ),
            (
                found(vec![freeze]),
                "2026-12-04T22:00:00Z",
                "weekend-nights: closed, opens at 2026-12-05 01:00 CET (in 2h); excluded until 2026-12-05 01:00 CET: \
                 year-end freeze",
            ),
            (
                WindowFact::Missing { name: "gone".into() },
                "2026-12-04T22:00:00Z",
                "gone: MaintenanceWindow gone does not exist; no upgrade starts until it is created or the label \
                 cvo.alauda.io/maintenance-window is removed",
            ),
            (
                broken,
                "2026-12-04T22:00:00Z",
                "broken: cannot be read (spec.timeZone: `Mars/Olympus` is not an IANA time zone",
            ),
        ];
        for (fact, now, want) in table {
            let line = line(&fact, at(now));
            assert!(line.starts_with(want), "{line}\nwanted: {want}");
        }
    }
}
