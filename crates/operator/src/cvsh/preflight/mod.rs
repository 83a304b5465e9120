//! Preflight: the safety checks an upgrade must pass before any stage starts.
//!
//! Each check lives in `checks/` as a pure decision over plain facts plus, where the facts need the
//! cluster, a gathering step through one of the narrow source traits in [`sources`]. [`evaluate`] runs
//! them all, applies `cvo-config` (disabled checks) and the re-entry policy, and returns the list
//! written to `status.preflight.checks`.

pub mod checks;
pub mod settings;
pub mod sources;

use acp_api::checks as names;
use acp_api::cvsh::{
    CheckPolicy, CheckState, KubernetesDriver, Preflight, PreflightCheck, Provisioning, Tier,
};
use acp_policy::{AcpVersion, Catalogue, ProductRelease, Verdict};
use k8s_openapi::jiff::Timestamp;

use crate::clusters::ClusterError;
use crate::clusters::observe::Observation;
use crate::cvsh::fleet::Fleet;
pub use settings::Settings;
use sources::{CronJobSource, CustomObjectSource, MetricsSource, ModuleSource, PlatformSource, PodSource};

/// What one check concluded, before `cvo-config` and `force` are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub state: CheckState,
    pub reason: String,
    pub message: String,
}

impl Outcome {
    pub fn passed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            state: CheckState::Passed,
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn retry(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            state: CheckState::Retry,
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            state: CheckState::Failed,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A policy verdict: refused is Failed, anything else Passed (warnings stay in the message).
    pub fn from_verdict(verdict: &Verdict) -> Self {
        let state = if verdict.passed() {
            CheckState::Passed
        } else {
            CheckState::Failed
        };
        Self {
            state,
            reason: verdict.reason().as_str().to_string(),
            message: verdict.message().to_string(),
        }
    }

    /// No answer from the cluster: try again later.
    pub fn unanswered(err: &ClusterError) -> Self {
        let reason = if err.is_unreachable() {
            "ClusterUnreachable"
        } else {
            "ClusterRefusedRequest"
        };
        Self::retry(
            reason,
            format!("{err}; the check runs again when the cluster answers"),
        )
    }
}

/// Everything the checks know without calling a cluster.
pub struct Inputs<'a> {
    /// Name of the cluster (and of its cvsh).
    pub cluster: &'a str,
    pub tier: Tier,
    pub provisioning: Provisioning,
    pub driver: KubernetesDriver,
    /// `None`: the cluster's platform version is unknown.
    pub current: Option<&'a AcpVersion>,
    pub target: &'a AcpVersion,
    pub catalogue: &'a Catalogue,
    pub observation: &'a Observation,
    pub status: &'a acp_api::ClusterVersionShadowStatus,
    pub fleet: &'a Fleet,
    /// Other workload clusters running stages now (from the cache and this process's reservations).
    pub upgrading_elsewhere: Vec<String>,
    pub max_concurrent: usize,
    pub now: Timestamp,
}

impl Inputs<'_> {
    pub fn target_release(&self) -> Option<&ProductRelease> {
        self.catalogue.release(self.target)
    }

    pub fn current_release(&self) -> Option<&ProductRelease> {
        self.current.and_then(|c| self.catalogue.release(c))
    }
}

/// The re-entry policy of each check: `Once` checks are decided once per target.
pub fn policy_of(check: &str) -> CheckPolicy {
    match check {
        names::VERSION_UPGRADE_PATH | names::ADMIN_ACK_REQUIRED => CheckPolicy::Once,
        _ => CheckPolicy::Always,
    }
}

/// Every source a check may gather facts from.
pub trait Sources:
    CronJobSource + PodSource + CustomObjectSource + ModuleSource + MetricsSource + Sync
{
}
impl<T: CronJobSource + PodSource + CustomObjectSource + ModuleSource + MetricsSource + Sync> Sources for T {}

/// Runs every check for `inputs.target`. `target` is the managed cluster; `platform` reads the
/// operator's settings in the global cluster. `previous` lets `Once` checks keep their Passed result.
pub async fn evaluate(
    inputs: &Inputs<'_>,
    target: &impl Sources,
    platform: &impl PlatformSource,
    settings: &Settings,
    previous: Option<&Preflight>,
) -> Vec<PreflightCheck> {
    let reachable = inputs.observation.reachable;
    let no_answer = || {
        Outcome::retry(
            "ClusterUnreachable",
            format!(
                "cluster {} is unreachable ({}); the check runs again when it answers",
                inputs.cluster,
                inputs.observation.error.as_deref().unwrap_or("no answer")
            ),
        )
    };

    let mut results = Vec::with_capacity(names::ALL.len());
    for name in CHECKS {
        let policy = policy_of(name);
        if settings.is_disabled(name) {
            results.push(check(
                name,
                policy,
                Outcome::passed("Disabled", settings.disabled_message()),
            ));
            continue;
        }
        if policy == CheckPolicy::Once
            && let Some(kept) = kept_result(previous, inputs.target, name)
        {
            results.push(kept);
            continue;
        }
        let outcome = match name {
            names::VERSION_UPGRADE_PATH => checks::version_upgrade_path::decide(inputs),
            names::KUBERNETES_VERSION_SUPPORTED => checks::kubernetes_version_supported::decide(inputs),
            names::CLUSTER_VERSION_UPGRADEABLE => checks::cluster_version_upgradeable::decide(inputs),
            names::CLUSTER_RUNNING if reachable => {
                checks::cluster_running::decide(inputs.observation, inputs.now)
            }
            names::DOCKER_RUNTIME_UNSUPPORTED if reachable => {
                checks::docker_runtime_unsupported::decide(&inputs.observation.nodes)
            }
            names::CONTROL_PLANE_STATIC_PODS_PRESENT if reachable => {
                checks::control_plane_static_pods_present::decide(inputs.provisioning, inputs.observation)
            }
            names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT if reachable => {
                checks::custom_etcd_backup_cron_jobs_absent::run(target).await
            }
            names::CRI_UPGRADE_PODS_ABSENT if reachable => checks::cri_upgrade_pods_absent::run(target).await,
            names::CLUSTER_MODULE_STABLE if reachable => {
                checks::cluster_module_stable::run(inputs, target).await
            }
            names::MODULE_INFO_STABLE if reachable => checks::module_info_stable::run(target).await,
            names::RESOURCE_PATCH_UPGRADEABLE if reachable => {
                checks::resource_patch_upgradeable::run(inputs.target, target).await
            }
            names::PLATFORM_LICENSE => checks::platform_license::run(inputs, settings, platform).await,
            names::ADMIN_ACK_REQUIRED => checks::admin_ack_required::run(inputs, platform).await,
            names::KUBELET_VERSION_SKEW if reachable => checks::kubelet_version_skew::decide(inputs),
            names::GLOBAL_TIER_REACHED => checks::global_tier_reached::decide(inputs),
            names::CONCURRENT_UPGRADE_LIMIT => checks::concurrent_upgrade_limit::decide(inputs),
            names::DEPRECATED_APIS_REMOVED if reachable => {
                checks::deprecated_apis_removed::run(inputs, target).await
            }
            _ => no_answer(),
        };
        results.push(check(name, policy, outcome));
    }
    results
}

/// The checks this operator runs, in the order they are listed.
pub const CHECKS: [&str; 17] = [
    names::VERSION_UPGRADE_PATH,
    names::KUBERNETES_VERSION_SUPPORTED,
    names::CLUSTER_VERSION_UPGRADEABLE,
    names::CLUSTER_RUNNING,
    names::DOCKER_RUNTIME_UNSUPPORTED,
    names::CONTROL_PLANE_STATIC_PODS_PRESENT,
    names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT,
    names::CRI_UPGRADE_PODS_ABSENT,
    names::CLUSTER_MODULE_STABLE,
    names::MODULE_INFO_STABLE,
    names::RESOURCE_PATCH_UPGRADEABLE,
    names::PLATFORM_LICENSE,
    names::ADMIN_ACK_REQUIRED,
    names::KUBELET_VERSION_SKEW,
    names::GLOBAL_TIER_REACHED,
    names::CONCURRENT_UPGRADE_LIMIT,
    names::DEPRECATED_APIS_REMOVED,
];

fn check(name: &str, policy: CheckPolicy, outcome: Outcome) -> PreflightCheck {
    PreflightCheck {
        name: name.to_string(),
        policy: Some(policy),
        state: outcome.state,
        reason: Some(outcome.reason),
        message: Some(outcome.message),
    }
}

/// A `Once` check keeps a Passed result reached for the same target.
fn kept_result(previous: Option<&Preflight>, target: &AcpVersion, name: &str) -> Option<PreflightCheck> {
    let previous = previous?;
    let same_target = previous
        .target_version
        .as_deref()
        .and_then(|v| v.parse::<AcpVersion>().ok())
        .as_ref()
        == Some(target);
    if !same_target {
        return None;
    }
    previous
        .checks
        .iter()
        .find(|c| c.name == name && c.state == CheckState::Passed)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, state: CheckState) -> PreflightCheck {
        PreflightCheck {
            name: name.into(),
            policy: Some(policy_of(name)),
            state,
            reason: Some("R".into()),
            message: Some("m".into()),
        }
    }

    #[test]
    fn once_checks_keep_a_pass_for_the_same_target_only() {
        let previous = Preflight {
            observed_at: None,
            target_version: Some("4.3.1".into()),
            checks: vec![result(names::VERSION_UPGRADE_PATH, CheckState::Passed)],
        };
        let same = AcpVersion::new(4, 3, 1);
        let other = AcpVersion::new(4, 3, 0);
        assert!(kept_result(Some(&previous), &same, names::VERSION_UPGRADE_PATH).is_some());
        assert!(kept_result(Some(&previous), &other, names::VERSION_UPGRADE_PATH).is_none());
        assert!(kept_result(Some(&previous), &same, names::ADMIN_ACK_REQUIRED).is_none());
    }

    #[test]
    fn every_check_of_the_contract_is_run() {
        for name in names::ALL {
            assert!(CHECKS.contains(&name), "{name} is not evaluated");
        }
    }
}
