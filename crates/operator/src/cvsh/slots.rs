//! Reservations of the upgrades this process starts, before its cache shows them: a concurrent-upgrade
//! slot per workload cluster, and the cluster identity each upgrade is pinned to. Checking and reserving
//! happen under one lock, so two reconciles can neither take the last slot together nor both start an
//! upgrade of one cluster reached through two ClusterVersionShadows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use acp_api::cvsh::Tier;
use acp_policy::AcpVersion;

use super::fleet::Fleet;
use super::pinning::{self, Stop};
use crate::clusters::observe::IdentityUnknown;

/// What a start needs to know about the cluster it would upgrade.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    pub name: &'a str,
    pub tier: Tier,
    /// The UID of the cluster's `kube-system` namespace, as this reconcile saw it.
    pub identity: Option<&'a str>,
    pub identity_unknown: Option<&'a IdentityUnknown>,
    pub target: &'a AcpVersion,
}

/// Whether an upgrade whose preflight passed may start now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    /// Every concurrent-upgrade slot is taken.
    NoSlot,
    /// The cluster's identity is unknown, or another ClusterVersionShadow upgrades the same cluster.
    Held(Stop),
}

#[derive(Debug, Default)]
struct Reserved {
    /// Workload clusters holding a concurrent-upgrade slot.
    slots: BTreeSet<String>,
    /// Clusters upgrading, with the identity each is pinned to.
    identities: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Slots {
    max_concurrent: usize,
    reserved: Mutex<Reserved>,
}

impl Slots {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            max_concurrent,
            reserved: Mutex::new(Reserved::default()),
        }
    }

    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Other workload clusters executing now: seen executing in the cache, or reserved here.
    pub fn upgrading_elsewhere(&self, name: &str, fleet: &Fleet) -> Vec<String> {
        let reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        busy_elsewhere(name, fleet, &reserved.slots)
    }

    /// Reserves the cluster's identity and, for a workload cluster, a concurrent-upgrade slot.
    pub fn reserve(&self, claim: Claim<'_>, fleet: &Fleet) -> Reservation {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        let mut busy: Vec<&str> = claim
            .identity
            .map(|id| fleet.upgrading_on(id, claim.name))
            .unwrap_or_default();
        busy.extend(
            reserved
                .identities
                .iter()
                .filter(|(other, id)| other.as_str() != claim.name && Some(id.as_str()) == claim.identity)
                .map(|(other, _)| other.as_str()),
        );
        if let Err(stop) = pinning::may_start(
            claim.name,
            claim.identity,
            claim.identity_unknown,
            &busy,
            claim.target,
        ) {
            return Reservation::Held(stop);
        }
        if claim.tier == Tier::Workload {
            if busy_elsewhere(claim.name, fleet, &reserved.slots).len() >= self.max_concurrent {
                return Reservation::NoSlot;
            }
            reserved.slots.insert(claim.name.to_string());
        }
        if let Some(identity) = claim.identity {
            reserved
                .identities
                .insert(claim.name.to_string(), identity.to_string());
        }
        Reservation::Reserved
    }

    /// Gives back what `name` reserved: its upgrade completed, or its start was not recorded.
    pub fn release(&self, name: &str) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        reserved.slots.remove(name);
        reserved.identities.remove(name);
    }

    /// Drops the reservations of clusters whose ClusterVersionShadow no longer exists.
    pub fn retain(&self, exists: impl Fn(&str) -> bool) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        reserved.slots.retain(|name| exists(name));
        reserved.identities.retain(|name, _| exists(name));
    }
}

fn busy_elsewhere(name: &str, fleet: &Fleet, reserved: &BTreeSet<String>) -> Vec<String> {
    let mut busy: BTreeSet<String> = fleet
        .executing_workloads(name)
        .into_iter()
        .map(String::from)
        .collect();
    busy.extend(reserved.iter().filter(|s| *s != name).cloned());
    busy.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fleet::{IdentityView, WorkloadView};

    fn v() -> AcpVersion {
        AcpVersion::new(4, 3, 1)
    }

    fn claim<'a>(name: &'a str, tier: Tier, identity: Option<&'a str>, target: &'a AcpVersion) -> Claim<'a> {
        Claim {
            name,
            tier,
            identity,
            identity_unknown: None,
            target,
        }
    }

    fn executing(name: &str, identity: &str) -> (WorkloadView, IdentityView) {
        (
            WorkloadView {
                name: name.into(),
                provisioning: acp_policy::Provisioning::PlatformManaged,
                kube_version: None,
                reachable: true,
                executing: true,
            },
            IdentityView {
                name: name.into(),
                observed: Some(identity.into()),
                upgrading: Some(identity.into()),
            },
        )
    }

    #[test]
    fn workload_slots_are_bounded_and_given_back() {
        let slots = Slots::new(2);
        let fleet = Fleet::default();
        let target = v();
        assert_eq!(
            slots.reserve(claim("a", Tier::Workload, Some("uid-a"), &target), &fleet),
            Reservation::Reserved
        );
        assert_eq!(
            slots.reserve(claim("b", Tier::Workload, Some("uid-b"), &target), &fleet),
            Reservation::Reserved
        );
        assert_eq!(
            slots.reserve(claim("c", Tier::Workload, Some("uid-c"), &target), &fleet),
            Reservation::NoSlot
        );
        // A cluster reserving again keeps its own slot; the global tier never needs one.
        assert_eq!(
            slots.reserve(claim("a", Tier::Workload, Some("uid-a"), &target), &fleet),
            Reservation::Reserved
        );
        assert_eq!(
            slots.reserve(claim("global", Tier::Global, Some("uid-g"), &target), &fleet),
            Reservation::Reserved
        );
        assert_eq!(slots.upgrading_elsewhere("c", &fleet), ["a", "b"]);
        slots.release("a");
        assert_eq!(
            slots.reserve(claim("c", Tier::Workload, Some("uid-c"), &target), &fleet),
            Reservation::Reserved
        );
        slots.retain(|name| name != "b");
        assert_eq!(slots.upgrading_elsewhere("x", &fleet), ["c"]);
    }

    #[test]
    fn clusters_executing_in_the_cache_take_slots_too() {
        let slots = Slots::new(1);
        let (workload, identity) = executing("busy", "uid-busy");
        let fleet = Fleet {
            workloads: vec![workload],
            identities: vec![identity],
            ..Fleet::default()
        };
        let target = v();
        assert_eq!(
            slots.reserve(claim("a", Tier::Workload, Some("uid-a"), &target), &fleet),
            Reservation::NoSlot
        );
        assert_eq!(slots.upgrading_elsewhere("busy", &fleet), Vec::<String>::new());
    }

    #[test]
    fn one_cluster_reached_twice_is_upgraded_by_one_shadow_at_a_time() {
        let slots = Slots::new(10);
        let fleet = Fleet::default();
        let target = v();
        assert_eq!(
            slots.reserve(claim("twin-a", Tier::Workload, Some("uid-1"), &target), &fleet),
            Reservation::Reserved
        );
        let held = slots.reserve(claim("twin-b", Tier::Workload, Some("uid-1"), &target), &fleet);
        assert!(
            matches!(&held, Reservation::Held(stop) if stop.reason == "DuplicateCluster"),
            "{held:?}"
        );
        let unknown = slots.reserve(claim("nameless", Tier::Workload, None, &target), &fleet);
        assert!(
            matches!(&unknown, Reservation::Held(stop) if stop.reason == "ClusterIdentityUnknown"),
            "{unknown:?}"
        );
        // Neither held start took a slot.
        assert_eq!(slots.upgrading_elsewhere("x", &fleet), ["twin-a"]);
        slots.release("twin-a");
        assert_eq!(
            slots.reserve(claim("twin-b", Tier::Workload, Some("uid-1"), &target), &fleet),
            Reservation::Reserved
        );
    }

    #[test]
    fn an_upgrade_seen_in_the_cache_holds_a_twin() {
        let slots = Slots::new(10);
        let (workload, identity) = executing("twin-a", "uid-1");
        let fleet = Fleet {
            workloads: vec![workload],
            identities: vec![identity],
            ..Fleet::default()
        };
        let target = v();
        let held = slots.reserve(claim("twin-b", Tier::Global, Some("uid-1"), &target), &fleet);
        assert!(matches!(held, Reservation::Held(_)), "{held:?}");
    }
}
