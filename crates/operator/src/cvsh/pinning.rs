//! Pinning: an upgrade belongs to the cluster and the release it started with. The `Partial` history
//! entry records both (the `kube-system` namespace's UID, the release bundle's digest); a step is taken
//! only while the cluster answers with that identity and the operator holds that release. One cluster
//! reached through two ClusterVersionShadows is upgraded by one of them at a time.

use acp_api::cvsh::HistoryEntry;
use acp_policy::{AcpVersion, name_list};

use crate::clusters::observe::IdentityUnknown;

/// `release_digest` of a release from the built-in catalogue.
pub const BUILTIN_DIGEST: &str = "builtin";

/// Why a running upgrade takes no step now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub reason: &'static str,
    pub message: String,
}

/// What the running upgrade sees now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Now<'a> {
    /// The ClusterVersionShadow, for messages.
    pub cluster: &'a str,
    /// Where its kubeconfig comes from (`Secret ns/name key k`), or `None` for the operator's own cluster.
    pub kubeconfig: Option<&'a str>,
    pub reachable: bool,
    /// Why the cluster could not be read, when it could not.
    pub error: Option<&'a str>,
    /// The UID of `kube-system` this reconcile saw.
    pub identity: Option<&'a str>,
    /// Why `identity` is unknown although the cluster answers.
    pub identity_unknown: Option<&'a IdentityUnknown>,
    /// The digest of the release the operator holds for the target, if any.
    pub release_digest: Option<&'a str>,
}

/// Whether the running upgrade recorded in `pinned` may take a step against what is seen `now`.
/// An entry written before pinning existed pins nothing.
pub fn check(pinned: &HistoryEntry, target: &AcpVersion, now: &Now<'_>) -> Result<(), Stop> {
    let cluster = now.cluster;
    let reached = match now.kubeconfig {
        Some(source) => format!("the kubeconfig in {source}"),
        None => "the operator's own client".to_string(),
    };
    if let Some(recorded) = pinned.cluster_identity.as_deref() {
        match now.identity {
            Some(seen) if seen != recorded => {
                return Err(Stop {
                    reason: "ClusterIdentityChanged",
                    message: format!(
                        "ClusterVersionShadow `{cluster}` started its upgrade to {target} on the cluster whose \
                         kube-system namespace has UID {recorded}, but {reached} now reaches a cluster with UID \
                         {seen}: nothing is applied there. Point the kubeconfig back at the original cluster to \
                         resume; if that cluster was rebuilt, delete this ClusterVersionShadow and register the \
                         cluster again"
                    ),
                });
            }
            Some(_) => {}
            None if !now.reachable => {
                let why = now.error.unwrap_or("it does not answer");
                return Err(Stop {
                    reason: "ClusterUnreachable",
                    message: format!(
                        "cluster `{cluster}` cannot be read ({why}), so it cannot be confirmed to be the cluster the \
                         upgrade to {target} started on (kube-system UID {recorded}); nothing is applied until it \
                         answers"
                    ),
                });
            }
            None => {
                let why = now.identity_unknown.unwrap_or(&IdentityUnknown::Forbidden);
                return Err(Stop {
                    reason: "ClusterIdentityUnknown",
                    message: format!(
                        "cluster `{cluster}` cannot be confirmed to be the cluster the upgrade to {target} started on \
                         (kube-system UID {recorded}), so nothing is applied until it can: {}",
                        why.explain(cluster)
                    ),
                });
            }
        }
    }
    if let Some(recorded) = pinned.release_digest.as_deref()
        && now.release_digest != Some(recorded)
    {
        let holds = match now.release_digest {
            Some(other) => format!("the operator now holds release {target} with digest {other}"),
            None => format!("the operator holds no release {target} now"),
        };
        return Err(Stop {
            reason: "PinnedReleaseUnavailable",
            message: format!(
                "the upgrade of `{cluster}` to {target} started with the release whose digest is {recorded}, but \
                 {holds}: nothing else is applied in its place. Restore the ProductManifest that resolved to \
                 {recorded} (a restarted operator shows this until it has resolved its ProductManifests again)"
            ),
        });
    }
    Ok(())
}

/// Another ClusterVersionShadow as the cache shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer<'a> {
    pub name: &'a str,
    /// The identity it last observed.
    pub observed: Option<&'a str>,
    /// The identity its running upgrade is pinned to, while one runs.
    pub upgrading: Option<&'a str>,
}

/// The other ClusterVersionShadows reaching the cluster with `identity`, sorted.
pub fn duplicates<'a>(name: &str, identity: Option<&str>, peers: &[Peer<'a>]) -> Vec<&'a str> {
    let Some(identity) = identity else {
        return Vec::new();
    };
    let mut names: Vec<&str> = peers
        .iter()
        .filter(|p| p.name != name && (p.observed == Some(identity) || p.upgrading == Some(identity)))
        .map(|p| p.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The `DuplicateCluster` message for `name`, naming the others.
pub fn duplicate_message(name: &str, identity: &str, others: &[&str]) -> String {
    let quoted: Vec<String> = others.iter().map(|n| format!("`{n}`")).collect();
    let (verb, them) = if others.len() == 1 {
        ("reaches", "it")
    } else {
        ("reach", "them")
    };
    format!(
        "ClusterVersionShadow {} {verb} the same cluster as `{name}` (kube-system UID {identity}): only one upgrade \
         runs on a cluster at a time. Delete the duplicate, or point its spec.kubeconfigSecretRef at the cluster \
         meant; until then {them} and `{name}` take turns",
        name_list(&quoted, quoted.len())
    )
}

/// Why an upgrade of `name` may not start: the cluster's identity is unknown (`unknown` says why, when
/// the cluster answered), or another ClusterVersionShadow is upgrading the same cluster (`busy`: those
/// pinned to `identity` in the cache or reserved in this process).
pub fn may_start(
    name: &str,
    identity: Option<&str>,
    unknown: Option<&IdentityUnknown>,
    busy: &[&str],
    target: &AcpVersion,
) -> Result<(), Stop> {
    let Some(identity) = identity else {
        let why = match unknown {
            Some(why) => why.explain(name),
            None => "it is not known yet".to_string(),
        };
        return Err(Stop {
            reason: "ClusterIdentityUnknown",
            message: format!(
                "the upgrade of `{name}` to {target} waits: an upgrade is pinned to the identity of the cluster (the \
                 UID of its kube-system namespace) when it starts, and {why}"
            ),
        });
    };
    let others: Vec<String> = busy
        .iter()
        .filter(|n| **n != name)
        .map(|n| format!("`{n}`"))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(Stop {
        reason: "DuplicateCluster",
        message: format!(
            "the upgrade of `{name}` to {target} waits: ClusterVersionShadow {} is upgrading the same cluster \
             (kube-system UID {identity}); it starts when that upgrade ends",
            name_list(&others, others.len())
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::HistoryState;
    use acp_api::k8s::{Time, Timestamp};

    fn pinned(identity: Option<&str>, digest: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            version: Some("4.3.1".into()),
            image: String::new(),
            state: HistoryState::Partial,
            started_time: Time(Timestamp::UNIX_EPOCH),
            completion_time: None,
            accepted_risks: None,
            release_digest: digest.map(String::from),
            cluster_identity: identity.map(String::from),
        }
    }

    fn now<'a>(reachable: bool, identity: Option<&'a str>, digest: Option<&'a str>) -> Now<'a> {
        Now {
            cluster: "edge",
            kubeconfig: Some("Secret cpaas-system/edge-kubeconfig key value"),
            reachable,
            error: (!reachable)
                .then_some("cluster edge reports Kubernetes version \"v1.x\", which is not a version"),
            identity,
            identity_unknown: None,
            release_digest: digest,
        }
    }

    #[test]
    fn a_running_upgrade_steps_only_on_its_cluster_with_its_release() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let d = Some("sha256:aaa");
        // (pinned identity, pinned digest, reachable, seen identity, held digest, expected stop reason)
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            bool,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let table: [Row<'_>; 10] = [
            (Some("uid-1"), d, true, Some("uid-1"), d, None),
            (
                Some("uid-1"),
                d,
                true,
                Some("uid-2"),
                d,
                Some("ClusterIdentityChanged"),
            ),
            // A changed identity is reported even when the release changed too.
            (
                Some("uid-1"),
                d,
                true,
                Some("uid-2"),
                None,
                Some("ClusterIdentityChanged"),
            ),
            (Some("uid-1"), d, false, None, d, Some("ClusterUnreachable")),
            (Some("uid-1"), d, true, None, d, Some("ClusterIdentityUnknown")),
            (
                Some("uid-1"),
                d,
                true,
                Some("uid-1"),
                Some("sha256:bbb"),
                Some("PinnedReleaseUnavailable"),
            ),
            (
                Some("uid-1"),
                d,
                true,
                Some("uid-1"),
                None,
                Some("PinnedReleaseUnavailable"),
            ),
            (
                Some("uid-1"),
                Some(BUILTIN_DIGEST),
                true,
                Some("uid-1"),
                d,
                Some("PinnedReleaseUnavailable"),
            ),
            (
                Some("uid-1"),
                Some(BUILTIN_DIGEST),
                true,
                Some("uid-1"),
                Some(BUILTIN_DIGEST),
                None,
            ),
            // Started before pinning existed: nothing to hold it to.
            (None, None, true, Some("uid-9"), Some("sha256:bbb"), None),
        ];
        for (identity, digest, reachable, seen, held, expected) in table {
            let result = check(&pinned(identity, digest), &target, &now(reachable, seen, held));
            assert_eq!(
                result.as_ref().err().map(|s| s.reason),
                expected,
                "pinned {identity:?}/{digest:?}, seen {seen:?}/{held:?}: {result:?}"
            );
            if let Err(stop) = &result
                && stop.reason == "ClusterUnreachable"
            {
                assert!(
                    stop.message.contains("\"v1.x\", which is not a version"),
                    "says why: {}",
                    stop.message
                );
            }
        }
    }

    #[test]
    fn a_changed_identity_names_the_cluster_both_identities_and_what_to_do() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let stop = check(
            &pinned(Some("uid-1"), None),
            &target,
            &now(true, Some("uid-2"), None),
        )
        .unwrap_err();
        for part in [
            "`edge`",
            "UID uid-1",
            "UID uid-2",
            "Secret cpaas-system/edge-kubeconfig",
            "nothing is applied",
            "Point the kubeconfig back",
        ] {
            assert!(stop.message.contains(part), "{part}: {}", stop.message);
        }
    }

    #[test]
    fn duplicates_are_the_others_reaching_the_same_identity() {
        let peers = [
            Peer {
                name: "a",
                observed: Some("uid-1"),
                upgrading: None,
            },
            Peer {
                name: "b",
                observed: Some("uid-2"),
                upgrading: Some("uid-1"),
            },
            Peer {
                name: "c",
                observed: Some("uid-2"),
                upgrading: None,
            },
            Peer {
                name: "d",
                observed: None,
                upgrading: None,
            },
            Peer {
                name: "me",
                observed: Some("uid-1"),
                upgrading: None,
            },
        ];
        let table: [(Option<&str>, Vec<&str>); 3] = [
            (Some("uid-1"), vec!["a", "b"]),
            (Some("uid-2"), vec!["b", "c"]),
            (None, vec![]),
        ];
        for (identity, expected) in table {
            assert_eq!(duplicates("me", identity, &peers), expected, "{identity:?}");
        }
        let message = duplicate_message("me", "uid-1", &["a", "b"]);
        assert!(
            message.contains("`a` and `b` reach the same cluster as `me`"),
            "{message}"
        );
        let many: Vec<String> = (0..40).map(|i| format!("c-{i:02}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let message = duplicate_message("me", "uid-1", &many);
        assert!(message.len() < 500, "{message}");
        assert!(message.contains("more"), "{message}");
    }

    #[test]
    fn an_upgrade_starts_only_when_no_other_one_runs_on_the_cluster() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let table: [(Option<&str>, &[&str], Option<&str>); 4] = [
            (Some("uid-1"), &[], None),
            (Some("uid-1"), &["me"], None),
            (Some("uid-1"), &["other"], Some("DuplicateCluster")),
            (None, &[], Some("ClusterIdentityUnknown")),
        ];
        for (identity, busy, expected) in table {
            let result = may_start("me", identity, None, busy, &target);
            assert_eq!(
                result.as_ref().err().map(|s| s.reason),
                expected,
                "{identity:?} {busy:?}"
            );
        }
        let held = may_start("me", Some("uid-1"), None, &["other"], &target).unwrap_err();
        assert!(
            held.message.contains("`other` is upgrading the same cluster"),
            "{}",
            held.message
        );
    }

    #[test]
    fn an_unknown_identity_says_why_and_what_to_do() {
        let target: AcpVersion = "4.3.1".parse().unwrap();
        let grant = "give the kubeconfig's user `get` on namespace kube-system";
        // (why the identity is unknown, what the message must say)
        let table: [(Option<IdentityUnknown>, &[&str]); 4] = [
            (Some(IdentityUnknown::Forbidden), &["403", grant]),
            (Some(IdentityUnknown::Refused(401)), &["HTTP 401", grant]),
            (Some(IdentityUnknown::Malformed), &["is not a UID"]),
            (None, &["not known yet"]),
        ];
        for (why, parts) in table {
            let stop = may_start("me", None, why.as_ref(), &[], &target).unwrap_err();
            assert_eq!(stop.reason, "ClusterIdentityUnknown");
            for part in ["`me`", "4.3.1"].iter().chain(parts) {
                assert!(stop.message.contains(part), "{why:?} {part}: {}", stop.message);
            }
            let mut seen = now(true, None, Some("sha256:aaa"));
            seen.identity_unknown = why.as_ref();
            let stop = check(&pinned(Some("uid-1"), Some("sha256:aaa")), &target, &seen).unwrap_err();
            assert_eq!(stop.reason, "ClusterIdentityUnknown");
            for part in parts.iter().filter(|p| **p != "not known yet") {
                assert!(stop.message.contains(part), "{why:?} {part}: {}", stop.message);
            }
        }
    }
}
