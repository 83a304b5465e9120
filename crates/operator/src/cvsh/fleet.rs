//! The other clusters, as the cross-cluster checks see them: read from the ClusterVersionShadow cache,
//! never by calling each cluster again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::Tier;
use acp_policy::{AcpVersion, GlobalTier, KubeVersion, Provisioning};
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use super::pinning::Peer;
use super::roles::{self, Claim, Role};

/// A workload cluster's last observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadView {
    pub name: String,
    pub provisioning: Provisioning,
    /// `None` until observed, or when the observed version does not parse.
    pub kube_version: Option<KubeVersion>,
    pub reachable: bool,
    pub executing: bool,
}

/// A global-tier cluster's current version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalView {
    pub name: String,
    pub current: Option<AcpVersion>,
    pub reachable: bool,
}

/// Which cluster a ClusterVersionShadow reaches, as its status says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityView {
    pub name: String,
    /// `status.observed.clusterIdentity`.
    pub observed: Option<String>,
    /// While an upgrade runs: the identity it is pinned to (the observed one for an upgrade started
    /// before pinning existed).
    pub upgrading: Option<String>,
}

/// Every registered cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    pub workloads: Vec<WorkloadView>,
    pub primary: Option<GlobalView>,
    pub standby: Option<GlobalView>,
    /// The tier granted to each cluster, by name (see [`roles`]).
    pub roles: BTreeMap<String, Role>,
    pub identities: Vec<IdentityView>,
}

/// The fleet as the ClusterVersionShadow cache shows it, built once per change of the cache rather than
/// once per reconcile: at thousands of clusters, each reconcile building its own copy cost more than the
/// reconcile itself.
#[derive(Debug)]
pub struct FleetView {
    stale: AtomicBool,
    fleet: Mutex<Arc<Fleet>>,
    /// Tells other readers of the cache (the rollout controller) that it changed.
    changes: tokio::sync::watch::Sender<()>,
}

impl Default for FleetView {
    fn default() -> Self {
        Self {
            stale: AtomicBool::new(true),
            fleet: Mutex::default(),
            changes: tokio::sync::watch::Sender::new(()),
        }
    }
}

impl FleetView {
    /// The cache changed: the next reader builds the fleet again.
    pub fn changed(&self) {
        self.stale.store(true, Ordering::SeqCst);
        self.changes.send_replace(());
    }

    /// A receiver that sees every change of the cache (coalesced: a slow reader sees the latest).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<()> {
        self.changes.subscribe()
    }

    pub fn get(&self, shadows: &Store<ClusterVersionShadow>) -> Arc<Fleet> {
        // Built under the lock, so an older build never replaces a newer one.
        let mut fleet = self.fleet.lock().unwrap_or_else(|p| p.into_inner());
        if self.stale.swap(false, Ordering::SeqCst) {
            *fleet = Arc::new(Fleet::from_shadows(&shadows.state()));
        }
        fleet.clone()
    }
}

impl Fleet {
    pub fn from_shadows(shadows: &[Arc<ClusterVersionShadow>]) -> Self {
        let claims: Vec<Claim> = shadows.iter().map(|s| claim(s)).collect();
        let mut fleet = Fleet {
            roles: roles::decide(&claims),
            ..Fleet::default()
        };
        for shadow in shadows {
            let observed = shadow.status.as_ref().and_then(|s| s.observed.as_ref());
            let reachable = observed.and_then(|o| o.reachable).unwrap_or(false);
            let observed_identity = observed.and_then(|o| o.cluster_identity.clone());
            let upgrading = shadow
                .status
                .as_ref()
                .filter(|s| s.is_executing())
                .map(|s| {
                    s.running_upgrade()
                        .and_then(|e| e.cluster_identity.clone())
                        .or_else(|| observed_identity.clone())
                })
                .unwrap_or_default();
            fleet.identities.push(IdentityView {
                name: shadow.name_any(),
                observed: observed_identity,
                upgrading,
            });
            match fleet.role(shadow).tier {
                Tier::Workload => fleet.workloads.push(WorkloadView {
                    name: shadow.name_any(),
                    provisioning: shadow.provisioning().into(),
                    kube_version: observed.and_then(|o| o.kube_version().ok().flatten()),
                    reachable,
                    executing: shadow.is_executing(),
                }),
                tier => {
                    let view = GlobalView {
                        name: shadow.name_any(),
                        current: shadow.current_acp_version().ok().flatten(),
                        reachable,
                    };
                    let slot = if tier == Tier::Global {
                        &mut fleet.primary
                    } else {
                        &mut fleet.standby
                    };
                    // Two objects claiming the same role: keep the first by name, deterministically.
                    if slot.as_ref().is_none_or(|existing| existing.name > view.name) {
                        *slot = Some(view);
                    }
                }
            }
        }
        fleet.workloads.sort_by(|a, b| a.name.cmp(&b.name));
        fleet
    }

    /// The tier granted to `shadow`: its entry in [`Fleet::roles`], or, for an object the cache does not
    /// hold yet, its claim judged alone.
    pub fn role(&self, shadow: &ClusterVersionShadow) -> Role {
        match self.roles.get(&shadow.name_any()) {
            Some(role) => role.clone(),
            None => roles::decide(&[claim(shadow)])
                .into_values()
                .next()
                .unwrap_or(Role {
                    tier: Tier::Workload,
                    refused: None,
                }),
        }
    }

    /// The global tier's versions (see [`acp_api::versions::global_tier`]): None until the primary and any
    /// standby have a known version.
    pub fn global_tier(&self) -> Option<GlobalTier> {
        let member = |tier, view: &Option<GlobalView>| view.as_ref().map(|g| (tier, g.current.clone()));
        acp_api::versions::global_tier(
            [
                member(Tier::Global, &self.primary),
                member(Tier::GlobalStandby, &self.standby),
            ]
            .into_iter()
            .flatten(),
        )
    }

    /// Every cluster's identity, for duplicate detection.
    pub fn peers(&self) -> Vec<Peer<'_>> {
        self.identities
            .iter()
            .map(|v| Peer {
                name: &v.name,
                observed: v.observed.as_deref(),
                upgrading: v.upgrading.as_deref(),
            })
            .collect()
    }

    /// Clusters other than `except` whose running upgrade is pinned to `identity`.
    pub fn upgrading_on(&self, identity: &str, except: &str) -> Vec<&str> {
        self.identities
            .iter()
            .filter(|v| v.name != except && v.upgrading.as_deref() == Some(identity))
            .map(|v| v.name.as_str())
            .collect()
    }

    /// Workload clusters running stages now, other than `except`.
    pub fn executing_workloads(&self, except: &str) -> Vec<&str> {
        self.workloads
            .iter()
            .filter(|w| w.executing && w.name != except)
            .map(|w| w.name.as_str())
            .collect()
    }
}

fn claim(shadow: &ClusterVersionShadow) -> Claim {
    Claim {
        name: shadow.name_any(),
        claimed: shadow.spec.tier,
        created: shadow.metadata.creation_timestamp.as_ref().map(|t| t.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::{
        ClusterVersionShadowSpec, ClusterVersionShadowStatus, HistoryEntry, HistoryState, Observed,
    };
    use acp_api::k8s::{Time, Timestamp};

    fn shadow(
        name: &str,
        tier: Option<Tier>,
        created: i64,
        identity: &str,
        upgrading: bool,
    ) -> Arc<ClusterVersionShadow> {
        let mut cvsh = ClusterVersionShadow::new(
            name,
            ClusterVersionShadowSpec {
                tier,
                ..Default::default()
            },
        );
        cvsh.metadata.creation_timestamp =
            Some(Time(Timestamp::from_second(1_800_000_000 + created).unwrap()));
        let history = upgrading.then(|| HistoryEntry {
            version: Some("4.3.1".into()),
            image: String::new(),
            state: HistoryState::Partial,
            started_time: Time(Timestamp::UNIX_EPOCH),
            completion_time: None,
            accepted_risks: None,
            release_digest: None,
            cluster_identity: Some(identity.into()),
        });
        cvsh.status = Some(ClusterVersionShadowStatus {
            observed: Some(Observed {
                reachable: Some(true),
                cluster_identity: Some(identity.into()),
                ..Observed::default()
            }),
            history: history.into_iter().collect(),
            ..Default::default()
        });
        Arc::new(cvsh)
    }

    #[test]
    fn a_refused_standby_counts_as_a_workload_cluster() {
        let fleet = Fleet::from_shadows(&[
            shadow("global", None, 0, "uid-g", false),
            shadow("dr", Some(Tier::GlobalStandby), 1, "uid-dr", false),
            shadow("forged", Some(Tier::GlobalStandby), 2, "uid-f", true),
            shadow("claims-global", Some(Tier::Global), 3, "uid-c", false),
        ]);
        assert_eq!(fleet.primary.as_ref().map(|g| g.name.as_str()), Some("global"));
        assert_eq!(fleet.standby.as_ref().map(|g| g.name.as_str()), Some("dr"));
        let workloads: Vec<&str> = fleet.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(workloads, ["claims-global", "forged"]);
        // Executing, it takes a workload slot.
        assert_eq!(fleet.executing_workloads("other"), ["forged"]);
        assert!(fleet.roles["forged"].refused.is_some());
    }

    #[test]
    fn upgrades_are_known_by_the_identity_they_are_pinned_to() {
        let fleet = Fleet::from_shadows(&[
            shadow("twin-a", None, 0, "uid-1", true),
            shadow("twin-b", None, 1, "uid-1", false),
            shadow("other", None, 2, "uid-2", true),
        ]);
        assert_eq!(fleet.upgrading_on("uid-1", "twin-b"), ["twin-a"]);
        assert!(fleet.upgrading_on("uid-1", "twin-a").is_empty());
        assert_eq!(fleet.upgrading_on("uid-2", "twin-a"), ["other"]);
    }
}
