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
}
