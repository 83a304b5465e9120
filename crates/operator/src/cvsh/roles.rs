//! Roles: which tier the operator grants each cluster. `spec.tier` is a claim, not a fact: a cluster
//! that is granted the global tier goes first, is not counted against the workload concurrency limit and
//! lets workload clusters follow. So Global is granted only to the object named `global`, and
//! GlobalStandby to one object only — the oldest claimant, so a newer object cannot displace it by its
//! name. Every other claim is refused and the cluster treated as a workload cluster.

use std::collections::BTreeMap;

use acp_api::cvsh::Tier;
use acp_api::names::GLOBAL_CLUSTER;
use k8s_openapi::jiff::Timestamp;

/// What one ClusterVersionShadow claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub name: String,
    /// `spec.tier` as written.
    pub claimed: Option<Tier>,
    /// `metadata.creationTimestamp`; `None` sorts last (an object not yet stored).
    pub created: Option<Timestamp>,
}

/// The tier granted, and why a claim was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub tier: Tier,
    pub refused: Option<Refusal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

impl Role {
    fn granted(tier: Tier) -> Self {
        Self { tier, refused: None }
    }

    fn refused(reason: &'static str, message: String) -> Self {
        Self {
            tier: Tier::Workload,
            refused: Some(Refusal { reason, message }),
        }
    }
}

/// The role of every claimant, by name.
pub fn decide(claims: &[Claim]) -> BTreeMap<String, Role> {
    let standby = claims
        .iter()
        .filter(|c| c.claimed == Some(Tier::GlobalStandby) && c.name != GLOBAL_CLUSTER)
        .min_by(|a, b| {
            let age = |c: &Claim| (c.created.is_none(), c.created);
            age(a).cmp(&age(b)).then_with(|| a.name.cmp(&b.name))
        })
        .map(|c| c.name.clone());
    claims
        .iter()
        .map(|claim| (claim.name.clone(), role(claim, standby.as_deref())))
        .collect()
}

fn role(claim: &Claim, standby: Option<&str>) -> Role {
    let named_global = claim.name == GLOBAL_CLUSTER;
    match claim.claimed {
        None if named_global => Role::granted(Tier::Global),
        None | Some(Tier::Workload) => Role::granted(Tier::Workload),
        Some(Tier::Global) if named_global => Role::granted(Tier::Global),
        Some(Tier::Global) => Role::refused(
            "GlobalReservedForGlobal",
            format!(
                "spec.tier Global is reserved for the ClusterVersionShadow named `{GLOBAL_CLUSTER}`: `{}` is treated as \
                 a Workload cluster; delete it and register it again without spec.tier",
                claim.name
            ),
        ),
        // The object named `global` is the primary whatever it says.
        Some(Tier::GlobalStandby) if named_global => Role::granted(Tier::Global),
        Some(Tier::GlobalStandby) if standby == Some(claim.name.as_str()) => {
            Role::granted(Tier::GlobalStandby)
        }
        Some(Tier::GlobalStandby) => Role::refused(
            "StandbyAlreadyClaimed",
            format!(
                "ClusterVersionShadow `{}` is already the GlobalStandby and there is at most one: `{}` is treated as a \
                 Workload cluster (it waits for the global tier and counts against the concurrent upgrade limit); \
                 spec.tier cannot change, so delete this ClusterVersionShadow and register the cluster again as a \
                 workload cluster, or delete the other one if this is the real standby",
                standby.unwrap_or_default(),
                claim.name
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(name: &str, claimed: Option<Tier>, created: i64) -> Claim {
        Claim {
            name: name.into(),
            claimed,
            created: Some(Timestamp::from_second(1_800_000_000 + created).unwrap()),
        }
    }

    #[test]
    fn claims_are_granted_or_refused_by_name_and_age() {
        use Tier::{Global, GlobalStandby, Workload};
        // (claims, name, granted tier, refusal reason)
        let table: Vec<(Vec<Claim>, &str, Tier, Option<&str>)> = vec![
            (vec![claim("global", None, 0)], "global", Global, None),
            (vec![claim("global", Some(Global), 0)], "global", Global, None),
            (
                vec![claim("global", Some(GlobalStandby), 0)],
                "global",
                Global,
                None,
            ),
            (vec![claim("edge", None, 0)], "edge", Workload, None),
            (vec![claim("edge", Some(Workload), 0)], "edge", Workload, None),
            (
                vec![claim("edge", Some(Global), 0)],
                "edge",
                Workload,
                Some("GlobalReservedForGlobal"),
            ),
            (
                vec![claim("dr", Some(GlobalStandby), 5)],
                "dr",
                GlobalStandby,
                None,
            ),
            // The older claimant keeps the standby role, whatever the names.
            (
                vec![
                    claim("dr", Some(GlobalStandby), 5),
                    claim("a-forged", Some(GlobalStandby), 9),
                ],
                "a-forged",
                Workload,
                Some("StandbyAlreadyClaimed"),
            ),
            (
                vec![
                    claim("dr", Some(GlobalStandby), 5),
                    claim("a-forged", Some(GlobalStandby), 9),
                ],
                "dr",
                GlobalStandby,
                None,
            ),
            // Same age: by name, deterministically.
            (
                vec![
                    claim("dr-b", Some(GlobalStandby), 5),
                    claim("dr-a", Some(GlobalStandby), 5),
                ],
                "dr-b",
                Workload,
                Some("StandbyAlreadyClaimed"),
            ),
        ];
        for (claims, name, tier, reason) in table {
            let roles = decide(&claims);
            let role = &roles[name];
            assert_eq!(role.tier, tier, "{name} in {claims:?}");
            assert_eq!(role.refused.as_ref().map(|r| r.reason), reason, "{name}");
        }
    }

    #[test]
    fn a_refused_standby_is_told_which_cluster_holds_the_role_and_what_to_do() {
        let roles = decide(&[
            claim("dr", Some(Tier::GlobalStandby), 5),
            claim("edge", Some(Tier::GlobalStandby), 9),
        ]);
        let message = &roles["edge"].refused.as_ref().unwrap().message;
        assert!(message.contains("`dr` is already the GlobalStandby"), "{message}");
        assert!(
            message.contains("`edge` is treated as a Workload cluster"),
            "{message}"
        );
        assert!(message.contains("register the cluster again"), "{message}");
    }
}
