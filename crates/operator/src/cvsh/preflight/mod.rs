//! Preflight: the safety checks an upgrade must pass before any stage starts.
//!
//! Each check lives in `checks/` as a pure decision over plain facts plus, where the facts need the
//! cluster, a gathering step through one of the narrow source traits in [`sources`]. What each check
//! is allowed (switched off, kept once, forced past, run without its cluster) is its entry in
//! [`acp_api::checks::REGISTRY`]; [`evaluate`] applies those entries the same way to every check and
//! returns the list written to `status.preflight.checks`.

pub mod checks;
pub mod platform_cache;
pub mod settings;
pub mod sources;

use acp_api::checks::CheckSpec;
use acp_api::cvsh::{
    CheckPolicy, CheckState, KubernetesDriver, Preflight, PreflightCheck, Provisioning, Tier,
};
use acp_policy::{AcpVersion, Catalogue, ProductRelease, Verdict};
use k8s_openapi::jiff::Timestamp;

use crate::clusters::ClusterError;
use crate::clusters::observe::Observation;
use crate::cvsh::fleet::Fleet;
use checks::Check;
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
    pub fleet: &'a Fleet,
    /// Other workload clusters running stages now (from the cache and this process's reservations).
    pub upgrading_elsewhere: Vec<String>,
    pub max_concurrent: usize,
    /// The MaintenanceWindow the cluster's label `cvo.alauda.io/maintenance-window` names, if any.
    pub maintenance_window: Option<&'a str>,
    /// `spec.desiredUpdate.ignoreMaintenanceWindow`: start even while that window is closed.
    pub ignore_maintenance_window: bool,
    pub now: Timestamp,
    /// The target's known risks, evaluated on this cluster (`None`: the release declares none).
    pub risks: Option<&'a crate::cvsh::risks::ReleaseRisks>,
    /// `spec.desiredUpdate.acceptRisks` when the request is for the target; empty otherwise.
    pub accept_risks: &'a [String],
    /// `spec.clusterAPI.clusterRef`: the cluster's Cluster API Cluster in the global cluster.
    pub cluster_api: Option<&'a acp_api::cvsh::ClusterApiClusterRef>,
}

impl Inputs<'_> {
    pub fn target_release(&self) -> Option<&ProductRelease> {
        self.catalogue.release(self.target)
    }

    pub fn current_release(&self) -> Option<&ProductRelease> {
        self.current.and_then(|c| self.catalogue.release(c))
    }
}

/// Every source a check may gather facts from.
pub trait Sources:
    CronJobSource + PodSource + CustomObjectSource + ModuleSource + MetricsSource + Sync
{
}
impl<T: CronJobSource + PodSource + CustomObjectSource + ModuleSource + MetricsSource + Sync> Sources for T {}

/// Where a check finds its facts: what is known without a call, the managed cluster, and the
/// operator's settings and ConfigMaps in the global cluster.
pub struct Context<'a, C, P> {
    pub inputs: &'a Inputs<'a>,
    pub cluster: &'a C,
    pub platform: &'a P,
    pub settings: &'a Settings,
}

/// Runs every check for `inputs.target`. `target` is the managed cluster; `platform` reads the
/// operator's settings in the global cluster. `previous` lets `Once` checks keep their Passed result.
pub async fn evaluate(
    inputs: &Inputs<'_>,
    target: &impl Sources,
    platform: &impl PlatformSource,
    settings: &Settings,
    previous: Option<&Preflight>,
) -> Vec<PreflightCheck> {
    let cx = Context {
        inputs,
        cluster: target,
        platform,
        settings,
    };
    let mut results = Vec::with_capacity(Check::ALL.len());
    for check in Check::ALL {
        let spec = check.spec();
        let answer = match settled(spec, inputs, settings, previous) {
            Some(settled) => settled,
            None => result(spec, check.run(&cx).await),
        };
        results.push(answer);
    }
    results
}

/// The result of a check that is not run on this pass, by its registry entry: switched off, kept from
/// an earlier pass, or waiting for its cluster. `None`: run it.
fn settled(
    spec: &CheckSpec,
    inputs: &Inputs<'_>,
    settings: &Settings,
    previous: Option<&Preflight>,
) -> Option<PreflightCheck> {
    if spec.switchable && settings.is_disabled(spec.name) {
        return Some(result(
            spec,
            Outcome::passed("Disabled", settings.disabled_message()),
        ));
    }
    if spec.policy == CheckPolicy::Once
        && let Some(kept) = kept_result(previous, inputs.target, spec.name)
    {
        return Some(kept);
    }
    if spec.needs_cluster && !inputs.observation.reachable {
        return Some(result(
            spec,
            Outcome::retry(
                "ClusterUnreachable",
                format!(
                    "cluster {} is unreachable ({}); the check runs again when it answers",
                    inputs.cluster,
                    inputs.observation.error.as_deref().unwrap_or("no answer")
                ),
            ),
        ));
    }
    None
}

fn result(spec: &CheckSpec, outcome: Outcome) -> PreflightCheck {
    PreflightCheck {
        name: spec.name.to_string(),
        policy: Some(spec.policy),
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
    use std::collections::BTreeMap;

    use acp_api::checks::{self as names, REGISTRY};
    use acp_policy::ProductRelease;

    use super::*;
    use crate::clusters::observe::Observation;
    use crate::cvsh::preflight::checks::fixtures::{Case, node};
    use crate::cvsh::preflight::sources::{CronJobFact, CustomObjectFact, ModuleObjectFact, PodFact};
    use acp_api::cvsh::PreflightSummary;

    /// A managed cluster in memory: every source answers from these lists.
    #[derive(Default)]
    struct FakeCluster {
        cron_jobs: Vec<CronJobFact>,
        pods: Vec<PodFact>,
    }

    impl CronJobSource for FakeCluster {
        async fn cron_jobs(&self) -> Result<Vec<CronJobFact>, ClusterError> {
            Ok(self.cron_jobs.clone())
        }
    }

    impl PodSource for FakeCluster {
        async fn pods(&self, _selector: &str) -> Result<Vec<PodFact>, ClusterError> {
            Ok(self.pods.clone())
        }
    }

    impl CustomObjectSource for FakeCluster {
        async fn custom_objects(&self, _kind: &str) -> Result<Option<Vec<CustomObjectFact>>, ClusterError> {
            Ok(None)
        }
    }

    impl ModuleSource for FakeCluster {
        async fn module_objects(
            &self,
            _release: &ProductRelease,
        ) -> Result<Vec<ModuleObjectFact>, ClusterError> {
            Ok(Vec::new())
        }
    }

    impl MetricsSource for FakeCluster {
        async fn apiserver_metrics(&self) -> Result<String, ClusterError> {
            Ok(String::new())
        }
    }

    /// The global cluster's platform namespace in memory: ConfigMaps by name, no Secrets.
    #[derive(Default)]
    struct FakePlatform(BTreeMap<String, BTreeMap<String, String>>);

    impl PlatformSource for FakePlatform {
        async fn config_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ClusterError> {
            Ok(self.0.get(name).cloned())
        }

        async fn secret(&self, _name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, ClusterError> {
            Ok(None)
        }

        async fn maintenance_window(
            &self,
            _name: &str,
        ) -> Result<Option<acp_api::maintenance_window::MaintenanceWindowSpec>, ClusterError> {
            Ok(None)
        }
    }

    /// A cluster with a custom etcd backup CronJob and an unfinished runtime-upgrade pod: two checks
    /// that read the cluster fail on it, when they are run.
    fn troubled_cluster() -> FakeCluster {
        FakeCluster {
            cron_jobs: vec![CronJobFact {
                namespace: "kube-system".into(),
                name: "nightly-etcd-backup".into(),
                commands: vec!["etcdctl snapshot save /b".into()],
                suspended: false,
            }],
            pods: vec![PodFact {
                namespace: "kube-system".into(),
                name: "cri-upgrade-n1".into(),
                phase: "Running".into(),
            }],
        }
    }

    async fn run(
        case: &Case,
        cluster: &FakeCluster,
        settings: &Settings,
        previous: Option<&Preflight>,
    ) -> Vec<PreflightCheck> {
        evaluate(
            &case.inputs(),
            cluster,
            &FakePlatform::default(),
            settings,
            previous,
        )
        .await
    }

    fn find<'a>(results: &'a [PreflightCheck], name: &str) -> &'a PreflightCheck {
        results
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no result for {name}"))
    }

    fn reason(check: &PreflightCheck) -> &str {
        check.reason.as_deref().unwrap_or_default()
    }

    #[tokio::test]
    async fn every_registry_check_answers_once_in_registry_order_with_its_policy() {
        let results = run(&Case::new(), &FakeCluster::default(), &Settings::default(), None).await;
        let got: Vec<(&str, Option<CheckPolicy>)> =
            results.iter().map(|c| (c.name.as_str(), c.policy)).collect();
        let want: Vec<(&str, Option<CheckPolicy>)> =
            REGISTRY.iter().map(|s| (s.name, Some(s.policy))).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_disabled_check_passes_as_disabled_and_a_safety_check_cannot_be_disabled() {
        let mut case = Case::new();
        let mut docker = node("old", "v1.33.7");
        docker.container_runtime = "docker://24.0.7".into();
        case.observation.nodes = vec![docker];
        case.current = None; // VersionUpgradePath fails: the current version is unknown
        // (disabled in cvo-config, check, state, reason)
        let table = [
            (
                &[][..],
                names::DOCKER_RUNTIME_UNSUPPORTED,
                CheckState::Failed,
                "DockerRuntimeFound",
            ),
            (
                &[names::DOCKER_RUNTIME_UNSUPPORTED],
                names::DOCKER_RUNTIME_UNSUPPORTED,
                CheckState::Passed,
                "Disabled",
            ),
            (
                &[names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT],
                names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT,
                CheckState::Passed,
                "Disabled",
            ),
            (
                &[],
                names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT,
                CheckState::Failed,
                "CustomEtcdBackupCronJobs",
            ),
            // Even if a Settings held it, a check the registry says is not switchable still runs.
            (
                &[names::VERSION_UPGRADE_PATH],
                names::VERSION_UPGRADE_PATH,
                CheckState::Failed,
                "UnknownCurrentVersion",
            ),
        ];
        for (disabled, name, state, want) in table {
            let settings = Settings {
                disabled: disabled.iter().map(|d| d.to_string()).collect(),
                ..Settings::default()
            };
            let results = run(&case, &troubled_cluster(), &settings, None).await;
            let check = find(&results, name);
            assert_eq!(
                (check.state, reason(check)),
                (state, want),
                "{disabled:?} {name}: {check:?}"
            );
            if want == "Disabled" {
                assert!(
                    check
                        .message
                        .as_deref()
                        .unwrap_or_default()
                        .contains("cvo-config"),
                    "{check:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_once_check_keeps_its_pass_for_the_same_target_only() {
        let case = Case::new(); // 4.2.3 -> 4.3.1
        let kept = |name: &str, state: CheckState| PreflightCheck {
            name: name.into(),
            policy: REGISTRY.iter().find(|s| s.name == name).map(|s| s.policy),
            state,
            reason: Some("DecidedEarlier".into()),
            message: Some("decided on an earlier pass".into()),
        };
        let previous = |target: &str, state: CheckState| Preflight {
            observed_at: None,
            target_version: Some(target.into()),
            checks: vec![
                kept(names::VERSION_UPGRADE_PATH, state),
                kept(names::CLUSTER_RUNNING, state),
            ],
        };
        // (previous results, check, reason now)
        let table = [
            (
                Some(previous("4.3.1", CheckState::Passed)),
                names::VERSION_UPGRADE_PATH,
                "DecidedEarlier",
            ),
            (
                Some(previous("v4.3.1", CheckState::Passed)),
                names::VERSION_UPGRADE_PATH,
                "DecidedEarlier",
            ),
            (
                Some(previous("4.3.0", CheckState::Passed)),
                names::VERSION_UPGRADE_PATH,
                "UpgradePathSupported",
            ),
            (
                Some(previous("4.3.1", CheckState::Failed)),
                names::VERSION_UPGRADE_PATH,
                "UpgradePathSupported",
            ),
            (None, names::VERSION_UPGRADE_PATH, "UpgradePathSupported"),
            // An Always check is decided again whatever it was.
            (
                Some(previous("4.3.1", CheckState::Passed)),
                names::CLUSTER_RUNNING,
                "ClusterHealthy",
            ),
        ];
        for (previous, name, want) in table {
            let results = run(
                &case,
                &FakeCluster::default(),
                &Settings::default(),
                previous.as_ref(),
            )
            .await;
            let check = find(&results, name);
            assert_eq!(reason(check), want, "{previous:?}: {check:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_cluster_holds_the_checks_that_read_it_and_the_others_still_decide() {
        let mut case = Case::new();
        case.tier = Tier::Global;
        case.observation = Observation::unreachable(&ClusterError::Unreachable {
            cluster: "east".into(),
            message: "connection refused".into(),
        });
        // The fake answers with facts that would fail two of them: they must not be asked.
        let results = run(&case, &troubled_cluster(), &Settings::default(), None).await;
        for spec in &REGISTRY {
            let check = find(&results, spec.name);
            if spec.needs_cluster {
                assert_eq!(
                    (check.state, reason(check)),
                    (CheckState::Retry, "ClusterUnreachable"),
                    "{check:?}"
                );
                let message = check.message.as_deref().unwrap_or_default();
                assert!(message.contains("cluster east is unreachable"), "{message}");
                assert!(message.contains("connection refused"), "{message}");
            } else {
                assert_ne!(reason(check), "ClusterUnreachable", "{check:?}");
            }
        }
        assert_eq!(
            find(&results, names::VERSION_UPGRADE_PATH).state,
            CheckState::Passed
        );
        assert_eq!(
            find(&results, names::CONCURRENT_UPGRADE_LIMIT).state,
            CheckState::Passed
        );

        // Reachable, the same cluster's facts decide.
        let results = run(&Case::new(), &troubled_cluster(), &Settings::default(), None).await;
        assert_eq!(
            find(&results, names::CRI_UPGRADE_PODS_ABSENT).state,
            CheckState::Failed
        );
        assert_eq!(
            find(&results, names::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT).state,
            CheckState::Failed
        );
    }

    fn result(name: &str, state: CheckState) -> PreflightCheck {
        PreflightCheck {
            name: name.into(),
            policy: names::spec(name).map(|s| s.policy),
            state,
            reason: Some("R".into()),
            message: Some("m".into()),
        }
    }

    #[test]
    fn force_goes_past_failed_forceable_checks_but_never_the_upgrade_path_nor_a_retry() {
        use CheckState::{Failed, Passed, Retry};
        // (results, may start unforced, may start forced)
        let table = [
            (vec![result(names::CLUSTER_RUNNING, Passed)], true, true),
            (
                vec![result(names::DOCKER_RUNTIME_UNSUPPORTED, Failed)],
                false,
                true,
            ),
            (
                vec![
                    result(names::PLATFORM_LICENSE, Failed),
                    result(names::ADMIN_ACK_REQUIRED, Failed),
                ],
                false,
                true,
            ),
            (vec![result(names::VERSION_UPGRADE_PATH, Failed)], false, false),
            (
                vec![
                    result(names::DOCKER_RUNTIME_UNSUPPORTED, Failed),
                    result(names::VERSION_UPGRADE_PATH, Failed),
                ],
                false,
                false,
            ),
            (vec![result(names::CLUSTER_RUNNING, Retry)], false, false),
            (
                vec![
                    result(names::DOCKER_RUNTIME_UNSUPPORTED, Failed),
                    result(names::CONCURRENT_UPGRADE_LIMIT, Retry),
                ],
                false,
                false,
            ),
            // A name this version does not know is never forced past.
            (vec![result("NoSuchCheck", Failed)], false, false),
        ];
        for (checks, unforced, forced) in table {
            let summary = PreflightSummary::of(&checks);
            let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(summary.may_start(false), unforced, "{names:?} unforced");
            assert_eq!(summary.may_start(true), forced, "{names:?} forced");
        }
    }
}
