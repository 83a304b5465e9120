//! Read-side helpers: how the operator and the CLI read a cvsh the same way (defaults of the optional
//! fields, current/desired versions, progress, history).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;

use super::{
    ClusterVersionShadow, ClusterVersionShadowStatus, HistoryEntry, HistoryState, KubeconfigSecretRef,
    KubernetesDriver, PreflightCheck, Provisioning, Stage, StagePhase, Tier,
};
use crate::{conditions, names};

impl ClusterVersionShadow {
    /// `spec.tier`, or Global for the object named `global` and Workload for any other. Global belongs
    /// to the object named `global` alone (the CRD refuses it elsewhere; an object written before that
    /// rule existed reads as Workload). Whether a GlobalStandby claim holds depends on the other objects:
    /// the operator decides that.
    pub fn tier(&self) -> Tier {
        let named_global = self.name_any() == names::GLOBAL_CLUSTER;
        match self.spec.tier {
            None if named_global => Tier::Global,
            None => Tier::Workload,
            Some(Tier::Global) if !named_global => Tier::Workload,
            Some(tier) => tier,
        }
    }

    /// `spec.provisioning`, PlatformManaged when unset.
    pub fn provisioning(&self) -> Provisioning {
        self.spec.provisioning.unwrap_or(Provisioning::PlatformManaged)
    }

    /// `spec.kubernetesDriver`; when unset External for platform-managed clusters and None for
    /// third-party ones (the platform never changes an imported cluster's Kubernetes).
    pub fn kubernetes_driver(&self) -> KubernetesDriver {
        self.spec.kubernetes_driver.unwrap_or(match self.provisioning() {
            Provisioning::PlatformManaged => KubernetesDriver::External,
            Provisioning::ThirdParty => KubernetesDriver::None,
        })
    }

    /// The Cluster API Cluster of this cluster (`spec.clusterAPI.clusterRef`), if one is named.
    pub fn cluster_api_ref(&self) -> Option<&super::ClusterApiClusterRef> {
        self.spec.cluster_api.as_ref().map(|c| &c.cluster_ref)
    }

    /// True when `spec.paused` is set.
    pub fn is_paused(&self) -> bool {
        self.spec.paused.unwrap_or(false)
    }

    /// The kubeconfig Secret of the cluster; None means the cluster the operator runs in.
    pub fn kubeconfig_secret_ref(&self) -> Option<&KubeconfigSecretRef> {
        self.spec.kubeconfig_secret_ref.as_ref()
    }

    /// The version in `spec.desiredUpdate`, if one is requested by version.
    pub fn requested_version(&self) -> Option<&str> {
        self.spec.desired_update.as_ref()?.version.as_deref()
    }

    /// True when `spec.desiredUpdate.force` is set.
    pub fn is_forced(&self) -> bool {
        self.spec.desired_update.as_ref().is_some_and(|d| d.force)
    }

    /// The status, or an empty one for an object the operator has not written yet.
    pub fn status_or_default(&self) -> std::borrow::Cow<'_, ClusterVersionShadowStatus> {
        match &self.status {
            Some(status) => std::borrow::Cow::Borrowed(status),
            None => std::borrow::Cow::Owned(ClusterVersionShadowStatus::default()),
        }
    }

    /// `status.current.version`.
    pub fn current_version(&self) -> Option<&str> {
        self.status.as_ref()?.current_version()
    }

    /// `status.desired.version`.
    pub fn desired_version(&self) -> Option<&str> {
        self.status.as_ref()?.desired_version()
    }

    /// The status conditions (empty before the first status write).
    pub fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    /// The condition of the given type.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        conditions::find(self.conditions(), type_)
    }

    /// True when the condition of the given type is True.
    pub fn is_condition_true(&self, type_: &str) -> bool {
        conditions::is_true(self.conditions(), type_)
    }

    /// True while an upgrade is executing: a stage is Running or the newest history entry is Partial.
    pub fn is_executing(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(ClusterVersionShadowStatus::is_executing)
    }
}

/// How far the operations of an upgrade have got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Operations Succeeded or Skipped.
    pub done: usize,
    /// All operations planned.
    pub total: usize,
}

impl Progress {
    /// Whole percent done, rounded down (100 only when everything is done; 0 with nothing planned).
    pub fn percent(self) -> u8 {
        if self.total == 0 {
            return 0;
        }
        let percent = self.done.min(self.total) * 100 / self.total;
        u8::try_from(percent).unwrap_or(100)
    }

    /// True when every planned operation is done.
    pub fn is_complete(self) -> bool {
        self.total > 0 && self.done >= self.total
    }
}

impl ClusterVersionShadowStatus {
    /// `current.version`.
    pub fn current_version(&self) -> Option<&str> {
        self.current.as_ref()?.version.as_deref()
    }

    /// `desired.version`.
    pub fn desired_version(&self) -> Option<&str> {
        self.desired.as_ref()?.version.as_deref()
    }

    /// The condition of the given type.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        conditions::find(&self.conditions, type_)
    }

    /// True when the condition of the given type is True.
    pub fn is_condition_true(&self, type_: &str) -> bool {
        conditions::is_true(&self.conditions, type_)
    }

    /// True while an upgrade is executing: a stage is Running or the newest history entry is Partial.
    pub fn is_executing(&self) -> bool {
        self.stages.iter().any(|s| s.phase == StagePhase::Running) || self.running_upgrade().is_some()
    }

    /// The newest history entry when it is Partial: the upgrade under way (or left unfinished).
    pub fn running_upgrade(&self) -> Option<&HistoryEntry> {
        self.history.first().filter(|h| h.state == HistoryState::Partial)
    }

    /// The newest Completed history entry.
    pub fn last_completed(&self) -> Option<&HistoryEntry> {
        self.history.iter().find(|h| h.state == HistoryState::Completed)
    }

    /// How long the newest Completed upgrade took (the base of an ETA).
    pub fn last_completed_duration(&self) -> Option<Duration> {
        self.last_completed()?.duration()
    }

    /// Stages by ascending priority (ties by name).
    pub fn stages_in_order(&self) -> Vec<&Stage> {
        let mut stages: Vec<&Stage> = self.stages.iter().collect();
        stages.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.name.cmp(&b.name)));
        stages
    }

    /// The stage that is Running, if any.
    pub fn running_stage(&self) -> Option<&Stage> {
        self.stages_in_order()
            .into_iter()
            .find(|s| s.phase == StagePhase::Running)
    }

    /// Operations done out of all planned, over every stage.
    pub fn progress(&self) -> Progress {
        let operations = self.stages.iter().flat_map(|s| &s.operations);
        let (done, total) = operations.fold((0, 0), |(done, total), op| {
            let is_done = op.phase.as_ref().is_some_and(|p| p.is_done());
            (done + usize::from(is_done), total + 1)
        });
        Progress { done, total }
    }

    /// "Working towards 4.3.1: 7 of 12 operations done (58%)"; None when nothing is desired.
    pub fn progress_message(&self) -> Option<String> {
        let target = self.desired_version()?;
        let progress = self.progress();
        Some(format!(
            "Working towards {target}: {} of {} operations done ({}%)",
            progress.done,
            progress.total,
            progress.percent()
        ))
    }

    /// The preflight result of a check, if any.
    pub fn preflight_check(&self, name: &str) -> Option<&PreflightCheck> {
        self.preflight.as_ref()?.checks.iter().find(|c| c.name == name)
    }

    /// Versions of `availableUpdates`, newest first as written.
    pub fn available_versions(&self) -> impl Iterator<Item = &str> {
        self.available_updates.iter().filter_map(|u| u.version.as_deref())
    }
}

impl HistoryEntry {
    /// Completion minus start; None while unfinished (or if the clock went backwards).
    pub fn duration(&self) -> Option<Duration> {
        let completed = self.completion_time.as_ref()?;
        let elapsed = completed.0.duration_since(self.started_time.0);
        Duration::try_from(elapsed).ok()
    }
}
