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
