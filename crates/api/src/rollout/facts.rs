//! What a run reads of each cluster, from its ClusterVersionShadow through the shared reading
//! (`cvsh::Reading`), so a run, `ac` and the metrics agree on what a cluster is doing.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::ClusterVersionShadow;
use crate::cvsh::State;
use crate::names::labels;

/// A cluster's maintenance window at the moment of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowFact {
    /// No window, or the window is open: an upgrade may start.
    Open,
    /// Closed; opens at this time (None: not within the window's horizon).
    Closed {
        opens_at: Option<Timestamp>,
        message: String,
    },
    /// The label names a window that is missing or does not parse: nothing starts until it is fixed.
    Invalid { message: String },
}

/// What a run needs to know of one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFact {
    /// `status.current.version`.
    pub current_version: Option<String>,
    /// The shared reading of the cvsh.
    pub state: State,
    /// Why the state is what it is (Stalled or Ready reason).
    pub reason: Option<String>,
    /// `spec.desiredUpdate` as text (version or image).
    pub requested: Option<String>,
    /// The UpgradeRun named by the cvsh's `cvo.alauda.io/upgrade-run` label.
    pub requested_by_run: Option<String>,
    /// The first failed preflight check for the requested version: name and message.
    pub failing_check: Option<(String, String)>,
    /// How long its last completed upgrade took.
    pub last_duration: Option<Duration>,
    /// Its maintenance window now.
    pub window: WindowFact,
}

impl ClusterFact {
    /// Reads a cvsh; the window is looked up by the caller (it needs the MaintenanceWindow objects).
    pub fn read(shadow: &ClusterVersionShadow, window: WindowFact) -> Self {
        let reading = shadow.reading();
        let status = shadow.status_or_default();
        let requested = shadow
            .spec
            .desired_update
            .as_ref()
            .and_then(|d| d.version.clone().or_else(|| d.image.clone()));
        let failing_check = shadow.requested_version().and_then(|version| {
            let preflight = status.preflight.as_ref()?;
            if preflight.target_version.as_deref() != Some(version) {
                return None;
            }
            preflight
                .checks
                .iter()
                .find(|c| c.state == crate::cvsh::CheckState::Failed)
                .map(|c| (c.name.clone(), c.message.clone().unwrap_or_default()))
        });
        let last_duration = status.last_completed_duration();
        ClusterFact {
            current_version: shadow.current_version().map(str::to_owned),
            state: reading.state,
            reason: reading.reason,
            requested,
            requested_by_run: shadow.labels().get(labels::UPGRADE_RUN).cloned(),
            failing_check,
            last_duration,
            window,
        }
    }
}

/// The maintenance window of a cluster now: `Open` for a cluster without the
/// `cvo.alauda.io/maintenance-window` label; `lookup` finds the spec of a MaintenanceWindow by name in the
/// cluster's namespace (`Err`: the windows could not be read). A missing or unreadable window holds the
/// cluster, never lets it through, as the MaintenanceWindowOpen check does.
pub fn window_fact(
    shadow: &ClusterVersionShadow,
    lookup: &Result<
        std::collections::BTreeMap<String, crate::maintenance_window::MaintenanceWindowSpec>,
        String,
    >,
    now: Timestamp,
) -> WindowFact {
    use crate::maintenance_window::WindowState;
    let Some(name) = shadow.labels().get(labels::MAINTENANCE_WINDOW) else {
        return WindowFact::Open;
    };
    let windows = match lookup {
        Ok(windows) => windows,
        Err(err) => {
            return WindowFact::Invalid {
                message: format!(
                    "cannot read MaintenanceWindow {name} ({err}); the cluster waits until it can be read"
                ),
            };
        }
    };
    let Some(spec) = windows.get(name) else {
        return WindowFact::Invalid {
            message: format!(
                "label {} names MaintenanceWindow {name}, which does not exist: create it or remove the label",
                labels::MAINTENANCE_WINDOW
            ),
        };
    };
    let window = match spec.parse() {
        Ok(window) => window,
        Err(err) => {
            return WindowFact::Invalid {
                message: format!("MaintenanceWindow {name} cannot be read: {err}; fix it"),
            };
        }
    };
    match window.at(now) {
        WindowState::Open { .. } => WindowFact::Open,
        WindowState::Closed { opens_at } => WindowFact::Closed {
            opens_at,
            message: window.describe(name, now),
        },
    }
}

/// Whether the global tier (the `global` cvsh and, with disaster recovery, its GlobalStandby) runs
/// `target` or newer: no workload cluster of a run starts before it does. Shared by the rollout
/// controller and `ac adm upgrade rollout plan`, so both wait for the same thing.
pub fn global_tier<'a>(
    objects: impl IntoIterator<Item = &'a ClusterVersionShadow>,
    target: &acp_policy::AcpVersion,
) -> super::decide::GlobalTier {
    use super::decide::GlobalTier;
    match crate::versions::global_tier_of(objects) {
        Err(e) => GlobalTier::Behind(format!("the global tier's version cannot be read: {e}")),
        Ok(None) => GlobalTier::Behind(
            "the global tier's version is not known yet (no status.current.version on ClusterVersionShadow global or its standby)"
                .to_owned(),
        ),
        Ok(Some(tier)) if tier.reached() >= target => GlobalTier::Reached,
        Ok(Some(tier)) => GlobalTier::Behind(match &tier.standby {
            Some(standby) => format!("global runs {} and its standby {standby}", tier.primary),
            None => format!("global runs {}", tier.primary),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::{ClusterVersionShadowSpec, ClusterVersionShadowStatus, Release, Tier};
    use crate::rollout::decide::GlobalTier;

    fn member(name: &str, tier: Option<Tier>, version: &str) -> ClusterVersionShadow {
        let mut cvsh = ClusterVersionShadow::new(
            name,
            ClusterVersionShadowSpec {
                tier,
                ..ClusterVersionShadowSpec::default()
            },
        );
        cvsh.status = Some(ClusterVersionShadowStatus {
            current: Some(Release::version(version)),
            ..ClusterVersionShadowStatus::default()
        });
        cvsh
    }

    #[test]
    fn the_global_tier_is_reached_when_primary_and_standby_run_the_target_or_newer() {
        let target = "4.3.1".parse().unwrap();
        let at = |g: &str, s: &str| {
            global_tier(
                &[
                    member("global", None, g),
                    member("global-dr", Some(Tier::GlobalStandby), s),
                    member("edge", None, "4.2.0"),
                ],
                &target,
            )
        };
        assert_eq!(at("4.3.1", "4.3.1"), GlobalTier::Reached);
        assert_eq!(at("4.4.0", "4.3.2"), GlobalTier::Reached);
        assert_eq!(
            at("4.3.1", "4.2.5"),
            GlobalTier::Behind("global runs 4.3.1 and its standby 4.2.5".into())
        );
        assert!(
            matches!(global_tier(&[member("edge", None, "4.3.1")], &target), GlobalTier::Behind(m) if m.contains("not known"))
        );
    }

    #[test]
    fn a_cluster_waits_for_its_window_and_a_missing_or_broken_window_holds_it() {
        use std::collections::BTreeMap;

        use crate::maintenance_window::{ExclusionSpec, MaintenanceWindowSpec};

        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let labelled = |window: &str| {
            let mut cvsh = member("w1", None, "4.2.3");
            cvsh.metadata.labels = Some([(labels::MAINTENANCE_WINDOW.to_owned(), window.to_owned())].into());
            cvsh
        };
        let nightly = MaintenanceWindowSpec {
            schedule: "0 22 * * *".into(),
            duration: "2h".into(),
            time_zone: None,
            exclusions: vec![],
        };
        let always_but_frozen = MaintenanceWindowSpec {
            schedule: "* * * * *".into(),
            duration: "1h".into(),
            time_zone: None,
            exclusions: vec![ExclusionSpec {
                start: "2026-12-01T00:00:00Z".into(),
                end: "2026-12-01T12:00:30Z".into(),
                reason: Some("change freeze".into()),
            }],
        };
        let broken = MaintenanceWindowSpec {
            schedule: "every night".into(),
            ..nightly.clone()
        };
        let windows: Result<BTreeMap<String, MaintenanceWindowSpec>, String> = Ok([
            ("nightly".to_owned(), nightly),
            ("frozen".to_owned(), always_but_frozen),
            ("broken".to_owned(), broken),
        ]
        .into());
        assert_eq!(
            window_fact(&member("w1", None, "4.2.3"), &windows, now),
            WindowFact::Open
        );
        match window_fact(&labelled("nightly"), &windows, now) {
            WindowFact::Closed { opens_at, message } => {
                assert_eq!(opens_at, Some("2026-12-01T22:00:00Z".parse().unwrap()));
                assert!(message.contains("nightly"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match window_fact(&labelled("frozen"), &windows, now) {
            WindowFact::Closed { opens_at, .. } => {
                assert_eq!(opens_at, Some("2026-12-01T12:00:30Z".parse().unwrap()))
            }
            other => panic!("{other:?}"),
        }
        for (window, says) in [("missing", "does not exist"), ("broken", "spec.schedule")] {
            match window_fact(&labelled(window), &windows, now) {
                WindowFact::Invalid { message } => assert!(message.contains(says), "{message}"),
                other => panic!("{window}: {other:?}"),
            }
        }
        let unreadable: Result<BTreeMap<String, MaintenanceWindowSpec>, String> = Err("forbidden".into());
        assert!(matches!(
            window_fact(&labelled("nightly"), &unreadable, now),
            WindowFact::Invalid { .. }
        ));
    }
}
