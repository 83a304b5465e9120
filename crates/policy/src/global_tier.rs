//! The order inside the global tier (REFERENCE §3): with disaster recovery the standby global cluster
//! moves first, and only in step with its primary; the primary follows once the standby reached the
//! target.

use crate::verdict::{Reason, Verdict};
use crate::version::AcpVersion;

/// A global cluster as the tier rules see it: its name (for messages) and its ACP version, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalMember<'a> {
    pub name: &'a str,
    pub version: Option<&'a AcpVersion>,
}

/// May the primary global cluster move to `target`? Only once its standby (if it has one) runs the
/// target or newer; a standby whose version is unknown holds the primary too.
pub fn primary_gate(standby: Option<GlobalMember<'_>>, target: &AcpVersion) -> Verdict {
    match standby {
        Some(standby) if standby.version.is_none_or(|v| v < target) => Verdict::refused(
            Reason::GlobalStandbyBehind,
            format!(
                "the standby global cluster `{}` runs {}: upgrade it to {target} before the primary",
                standby.name,
                standby
                    .version
                    .map_or("an unknown version".to_string(), ToString::to_string)
            ),
        ),
        _ => Verdict::allowed(
            Reason::GlobalTier,
            "the global tier is upgraded before any workload cluster",
        ),
    }
}

/// May the standby global cluster `standby`, at `current`, move to `target`? It goes first, but only in
/// step with its primary: from the primary's version, or up to it. A standby behind its primary that
/// would move past it (or one ahead that would move further) is not part of one global tier.
pub fn standby_gate(
    standby: &str,
    current: &AcpVersion,
    primary: &str,
    primary_version: &AcpVersion,
    target: &AcpVersion,
) -> Verdict {
    if target <= primary_version || current == primary_version {
        return Verdict::allowed(
            Reason::GlobalStandby,
            "the standby global cluster is upgraded first, in step with the primary",
        );
    }
    Verdict::refused(
        Reason::GlobalTierOutOfStep,
        format!(
            "the standby global cluster `{standby}` runs {current} and the primary `{primary}` runs \
             {primary_version}: a standby moves to a new version only from its primary's version; bring it to \
             {primary_version} first"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> AcpVersion {
        s.parse().unwrap()
    }

    #[test]
    fn the_standby_moves_from_its_primarys_version_or_up_to_it() {
        // (primary, standby, target, allowed)
        let table = [
            // In step: from the primary's version, anywhere.
            ("4.2.3", "4.2.3", "4.3.1", true),
            // Behind: may catch up to the primary...
            ("4.3.1", "4.2.3", "4.3.1", true),
            ("4.3.1", "4.1.0", "4.2.5", true),
            // ...but not pass it.
            ("4.2.5", "4.1.0", "4.3.1", false),
            // Ahead: the primary follows first.
            ("4.2.3", "4.2.5", "4.3.1", false),
        ];
        for (primary, standby, target, allowed) in table {
            let verdict = standby_gate("dr", &v(standby), "global", &v(primary), &v(target));
            assert_eq!(
                verdict.passed(),
                allowed,
                "{primary}/{standby} → {target}: {verdict}"
            );
            let reason = if allowed {
                Reason::GlobalStandby
            } else {
                Reason::GlobalTierOutOfStep
            };
            assert_eq!(verdict.reason(), reason);
        }
        let refused = standby_gate("dr", &v("4.1.0"), "global", &v("4.2.5"), &v("4.3.1"));
        assert_eq!(
            refused.message(),
            "the standby global cluster `dr` runs 4.1.0 and the primary `global` runs 4.2.5: a standby moves to a \
             new version only from its primary's version; bring it to 4.2.5 first"
        );
    }

    #[test]
    fn the_primary_waits_for_its_standby() {
        let target = v("4.3.1");
        let (reached, ahead, behind) = (v("4.3.1"), v("4.4.0"), v("4.2.5"));
        let standby = |version| Some(GlobalMember { name: "dr", version });
        // (standby, allowed)
        let table = [
            (None, true),
            (standby(Some(&reached)), true),
            (standby(Some(&ahead)), true),
            (standby(Some(&behind)), false),
            (standby(None), false),
        ];
        for (standby, allowed) in table {
            let verdict = primary_gate(standby, &target);
            assert_eq!(verdict.passed(), allowed, "{standby:?}: {verdict}");
        }
        let refused = primary_gate(standby(Some(&behind)), &target);
        assert_eq!(refused.reason(), Reason::GlobalStandbyBehind);
        assert_eq!(
            refused.message(),
            "the standby global cluster `dr` runs 4.2.5: upgrade it to 4.3.1 before the primary"
        );
        assert!(
            primary_gate(standby(None), &target)
                .message()
                .contains("runs an unknown version")
        );
    }
}
