//! What the per-cluster series on `/metrics` say about one cluster after a reconcile: a pure function of
//! the status just computed, so alerts and dashboards read exactly what `ac adm upgrade status` reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use acp_api::conditions;
use acp_api::cvsh::{CheckState, Tier};
use acp_api::{ClusterVersionShadowStatus, ProductManifest};
use acp_policy::{AcpVersion, Catalogue};

use super::fleet::Fleet;

/// The per-cluster series of one cluster. Cluster names are the registered ClusterVersionShadows, a
/// bounded set that changes only when clusters are registered or removed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterFacts {
    /// `Global`, `GlobalStandby` or `Workload`.
    pub tier: &'static str,
    /// `status.current.version`, or `unknown`.
    pub version: String,
    /// The label of `acp_cvo_clusters{state}`.
    pub state: &'static str,
    /// Whether the last observation reached the cluster.
    pub reachable: bool,
    /// When the cluster was last observed (Unix seconds), whatever the outcome.
    pub observed_at: i64,
    /// How many minor lines a workload cluster trails the global tier's oldest member by.
    pub minors_behind_global: Option<u64>,
    /// The upgrade under way, if any.
    pub upgrade: Option<UpgradeFacts>,
    /// Checks currently Failed, and whether they hold a requested upgrade (else they only concern the
    /// newest offered update).
    pub failing_checks: Vec<FailingCheck>,
    /// How many culprits the running upgrade's waiting operations name, by insight reason.
    pub wait_insights: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UpgradeFacts {
    /// Unix seconds of the running history entry's start.
    pub started_at: i64,
    /// How long the cluster's previous upgrade took: the basis of the ETA `ac adm upgrade status` shows.
    /// None for a cluster's first upgrade.
    pub expected_seconds: Option<u64>,
    /// Operations done out of all planned, 0 to 1.
    pub progress_ratio: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailingCheck {
    pub check: String,
    pub requested: bool,
}

/// The series of one cluster from its status.
pub fn cluster_facts(
    tier: Tier,
    state: &'static str,
    status: &ClusterVersionShadowStatus,
    fleet: &Fleet,
    catalogue: &Catalogue,
) -> ClusterFacts {
    let observed = status.observed.as_ref();
    let current = status
        .current_version()
        .and_then(|v| v.parse::<AcpVersion>().ok());
    let minors_behind_global = match (tier, &current, fleet.global_tier()) {
        (Tier::Workload, Some(current), Some(global)) => {
            Some(minors_between(current, global.reached(), catalogue))
        }
        _ => None,
    };
    let upgrade = status.running_upgrade().map(|entry| {
        let progress = status.progress();
        UpgradeFacts {
            started_at: entry.started_time.0.as_second(),
            expected_seconds: status
                .last_completed_duration()
                .map(|d| d.as_secs())
                .filter(|s| *s > 0),
            progress_ratio: if progress.total == 0 {
                0.0
            } else {
                progress.done.min(progress.total) as f64 / progress.total as f64
            },
        }
    });
    let requested = requested_preflight(status);
    let mut failing_checks: Vec<FailingCheck> = status
        .preflight
        .iter()
        .flat_map(|p| &p.checks)
        .filter(|c| c.state == CheckState::Failed)
        .map(|c| FailingCheck {
            check: c.name.clone(),
            requested,
        })
        .collect();
    failing_checks.sort();
    failing_checks.dedup();
    let mut wait_insights = BTreeMap::new();
    if status.running_upgrade().is_some() {
        for insight in status
            .stages
            .iter()
            .flat_map(|s| &s.operations)
            .flat_map(|o| &o.insights)
        {
            *wait_insights.entry(insight.reason.clone()).or_insert(0) += 1;
        }
    }
    ClusterFacts {
        tier: tier_label(tier),
        version: status.current_version().unwrap_or("unknown").to_string(),
        state,
        reachable: observed.and_then(|o| o.reachable).unwrap_or(false),
        observed_at: observed
            .and_then(|o| o.observed_at.as_ref())
            .map(|t| t.0.as_second())
            .unwrap_or_default(),
        minors_behind_global,
        upgrade,
        failing_checks,
        wait_insights,
    }
}

fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::Global => "Global",
        Tier::GlobalStandby => "GlobalStandby",
        Tier::Workload => "Workload",
    }
}

/// Minor lines from `from` up to `to`: within a major the difference; across majors the minor lines of
/// the catalogue in between (at least one per major step).
fn minors_between(from: &AcpVersion, to: &AcpVersion, catalogue: &Catalogue) -> u64 {
    let (a, b) = (from.minor_line(), to.minor_line());
    if b <= a {
        return 0;
    }
    if a.major == b.major {
        return b.minor - a.minor;
    }
    let known = catalogue
        .minors()
        .into_iter()
        .filter(|m| *m > a && *m <= b)
        .count();
    u64::try_from(known).unwrap_or(u64::MAX).max(b.major - a.major)
}

/// Versions of offered (Ready) releases whose ProductManifest says the bundle signature was not verified
/// because no verification key is configured (condition `SignatureVerified`, False, `VerificationDisabled`).
pub fn unsigned_releases(manifests: &[Arc<ProductManifest>]) -> Vec<String> {
    let mut versions: Vec<String> = manifests
        .iter()
        .filter(|pm| pm.is_ready())
        .filter(|pm| {
            conditions::find(pm.conditions(), "SignatureVerified")
                .is_some_and(|c| c.status == "False" && c.reason == "VerificationDisabled")
        })
        .filter_map(|pm| {
            pm.release()
                .map(|r| r.version.clone())
                .or_else(|| pm.version().map(String::from))
        })
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// True when the preflight results are those of a requested upgrade that has not started.
fn requested_preflight(status: &ClusterVersionShadowStatus) -> bool {
    let Some(preflight) = &status.preflight else {
        return false;
    };
    status.desired_version().is_some()
        && preflight.target_version.as_deref() == status.desired_version()
        && status.desired_version() != status.current_version()
        && status.running_upgrade().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fleet::GlobalView;
    use crate::cvsh::project::{Pins, bootstrap_entry, started_entry};
    use acp_api::cvsh::{
        HistoryState, Observed, Operation, OperationAction, OperationPhase, Preflight, PreflightCheck,
        Release, Stage, StagePhase,
    };
    use acp_api::k8s::{Time, Timestamp};

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn v(text: &str) -> AcpVersion {
        text.parse().unwrap()
    }

    fn fleet(global: &str) -> Fleet {
        Fleet {
            primary: Some(GlobalView {
                name: "global".into(),
                current: Some(v(global)),
                reachable: true,
            }),
            ..Fleet::default()
        }
    }

    fn check(name: &str, state: CheckState) -> PreflightCheck {
        PreflightCheck {
            name: name.into(),
            policy: None,
            state,
            reason: None,
            message: None,
        }
    }

    fn idle(version: &str) -> ClusterVersionShadowStatus {
        ClusterVersionShadowStatus {
            current: Some(Release::version(version)),
            desired: Some(Release::version(version)),
            history: vec![bootstrap_entry(&v(version), at(1_000))],
            observed: Some(Observed {
                reachable: Some(true),
                observed_at: Some(at(5_000)),
                ..Observed::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_idle_workload_cluster_reports_version_reachability_and_lag() {
        let catalogue = Catalogue::builtin();
        let facts = cluster_facts(
            Tier::Workload,
            "Idle",
            &idle("4.1.0"),
            &fleet("4.3.1"),
            &catalogue,
        );
        assert_eq!(facts.tier, "Workload");
        assert_eq!(facts.version, "4.1.0");
        assert!(facts.reachable);
        assert_eq!(facts.observed_at, 5_000);
        assert_eq!(facts.minors_behind_global, Some(2));
        assert_eq!(facts.upgrade, None);
        let level = cluster_facts(
            Tier::Workload,
            "Idle",
            &idle("4.3.0"),
            &fleet("4.3.1"),
            &catalogue,
        );
        assert_eq!(level.minors_behind_global, Some(0));
        // The global tier itself is never "behind".
        let global = cluster_facts(Tier::Global, "Idle", &idle("4.1.0"), &fleet("4.3.1"), &catalogue);
        assert_eq!(global.minors_behind_global, None);
        // Without a known global version there is nothing to compare with.
        let unknown = cluster_facts(
            Tier::Workload,
            "Idle",
            &idle("4.1.0"),
            &Fleet::default(),
            &catalogue,
        );
        assert_eq!(unknown.minors_behind_global, None);
    }

    #[test]
    fn the_lag_counts_from_the_oldest_global_tier_member_and_across_majors() {
        let catalogue = Catalogue::builtin();
        let mut both = fleet("4.3.1");
        both.standby = Some(GlobalView {
            name: "standby".into(),
            current: Some(v("4.2.0")),
            reachable: true,
        });
        let facts = cluster_facts(Tier::Workload, "Idle", &idle("4.1.0"), &both, &catalogue);
        assert_eq!(facts.minors_behind_global, Some(1));
        assert_eq!(minors_between(&v("3.18.0"), &v("4.1.0"), &catalogue), 2);
    }

    #[test]
    fn a_running_upgrade_has_a_start_an_eta_basis_and_progress() {
        let mut status = idle("4.2.3");
        // The previous upgrade took 20 minutes.
        status.history = vec![
            started_entry(&v("4.3.1"), None, &[], Pins::default(), at(10_000)),
            acp_api::cvsh::HistoryEntry {
                completion_time: Some(at(3_200)),
                ..started_entry(&v("4.2.3"), None, &[], Pins::default(), at(2_000))
            },
        ];
        status.history[1].state = HistoryState::Completed;
        let op = |phase: OperationPhase| Operation {
            phase: Some(phase.clone()),
            ..Operation::pending(format!("{phase:?}"), OperationAction::Upgrade)
        };
        status.stages = vec![Stage {
            name: "Core".into(),
            priority: 30,
            phase: StagePhase::Running,
            operations: vec![
                op(OperationPhase::Succeeded),
                op(OperationPhase::Pending),
                Operation {
                    insights: ["Unschedulable", "NodeNotReady", "Unschedulable"]
                        .into_iter()
                        .map(|reason| acp_api::cvsh::Insight {
                            scope: acp_api::cvsh::InsightScope::Workload,
                            object: "Pod cpaas-system/api-1".into(),
                            reason: reason.into(),
                            message: "waits".into(),
                            action: "look".into(),
                        })
                        .collect(),
                    ..op(OperationPhase::Running)
                },
                op(OperationPhase::Skipped),
            ],
        }];
        let facts = cluster_facts(
            Tier::Global,
            "Upgrading",
            &status,
            &Fleet::default(),
            &Catalogue::builtin(),
        );
        assert_eq!(
            facts.upgrade,
            Some(UpgradeFacts {
                started_at: 10_000,
                expected_seconds: Some(1_200),
                progress_ratio: 0.5,
            })
        );
        assert_eq!(
            facts.wait_insights,
            [("NodeNotReady".to_string(), 1), ("Unschedulable".to_string(), 2)].into(),
            "the waits' culprits are counted by reason"
        );
        // A first upgrade (only the install record before it) has no basis for an ETA.
        status.history.truncate(1);
        status.history.push(bootstrap_entry(&v("4.2.3"), at(1_000)));
        let first = cluster_facts(
            Tier::Global,
            "Upgrading",
            &status,
            &Fleet::default(),
            &Catalogue::builtin(),
        );
        assert_eq!(first.upgrade.unwrap().expected_seconds, None);
    }

    #[test]
    fn only_offered_releases_with_verification_switched_off_count_as_unsigned() {
        use acp_api::conditions::{ConditionUpdate, FixedClock};
        use acp_api::product_manifest::{ProductManifestSpec, ProductManifestStatus};
        let manifest = |version: &str, ready: bool, signature: Option<(bool, &str)>| {
            let clock = FixedClock(at(0).0);
            let mut status = ProductManifestStatus::default();
            acp_api::conditions::set(
                &mut status.conditions,
                ConditionUpdate::new("Ready", ready, "Resolved", "m"),
                &clock,
            );
            if let Some((verified, reason)) = signature {
                acp_api::conditions::set(
                    &mut status.conditions,
                    ConditionUpdate::new("SignatureVerified", verified, reason, "m"),
                    &clock,
                );
            }
            let mut pm = ProductManifest::new(
                &format!("v{version}"),
                ProductManifestSpec {
                    version: Some(version.into()),
                    ..Default::default()
                },
            );
            pm.status = Some(status);
            Arc::new(pm)
        };
        let manifests = [
            manifest("4.3.1", true, Some((false, "VerificationDisabled"))),
            manifest("4.3.2", true, Some((true, "Verified"))),
            manifest("4.3.3", false, Some((false, "VerificationDisabled"))),
            manifest("4.3.4", true, Some((false, "SignatureInvalid"))),
            manifest("4.2.3", true, None),
        ];
        assert_eq!(unsigned_releases(&manifests), ["4.3.1"]);
    }

    #[test]
    fn failed_checks_say_whether_they_hold_a_request() {
        let mut status = idle("4.2.3");
        status.preflight = Some(Preflight {
            observed_at: None,
            target_version: Some("4.3.1".into()),
            checks: vec![
                check("ClusterRunning", CheckState::Passed),
                check("KubernetesVersionSupported", CheckState::Failed),
            ],
        });
        let facts = |status: &ClusterVersionShadowStatus| {
            cluster_facts(
                Tier::Global,
                "Idle",
                status,
                &Fleet::default(),
                &Catalogue::builtin(),
            )
            .failing_checks
        };
        let offered = vec![FailingCheck {
            check: "KubernetesVersionSupported".into(),
            requested: false,
        }];
        assert_eq!(facts(&status), offered);
        status.desired = Some(Release::version("4.3.1"));
        assert_eq!(
            facts(&status),
            vec![FailingCheck {
                check: "KubernetesVersionSupported".into(),
                requested: true,
            }]
        );
    }
}
