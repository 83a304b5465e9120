//! `upgrade_path`: does a supported edge lead from the current version to the target?

use crate::catalogue::Catalogue;
use crate::verdict::{Reason, Verdict};
use crate::version::AcpVersion;

/// Refuses the same version, downgrades, unknown targets and sources the target does not list;
/// when refused for the source, names an intermediate release that would work.
pub fn upgrade_path(catalogue: &Catalogue, current: &AcpVersion, target: &AcpVersion) -> Verdict {
    if target == current {
        return Verdict::refused(
            Reason::SameVersion,
            format!(
                "ACP {current} is already the current version: choose a newer release (`ac adm upgrade` lists them)"
            ),
        );
    }
    if target < current {
        return Verdict::refused(
            Reason::Downgrade,
            format!(
                "ACP {target} is older than the current version {current} and ACP never downgrades: choose a release \
                 newer than {current}"
            ),
        );
    }
    let Some(release) = catalogue.release(target) else {
        return Verdict::refused(
            Reason::UnknownRelease,
            format!(
                "ACP {target} is not a known release: import its ProductManifest first \
                 (`ac adm release import-manifest --version {target}`)"
            ),
        );
    };
    if !release.accepts_upgrade_from(current) {
        let hint = match intermediate(catalogue, current, target) {
            Some(via) => format!("upgrade to {via} first, then to {target}"),
            None => "no known release bridges the gap; import a release that does".to_owned(),
        };
        return Verdict::refused(
            Reason::UnsupportedUpgradeSource,
            format!(
                "ACP {target} cannot be reached directly from {current} (it accepts {}): {hint}",
                release.upgrade_from_text()
            ),
        );
    }
    Verdict::allowed(
        Reason::UpgradePathSupported,
        format!("{current} → {target} is a supported upgrade"),
    )
}

/// Whether an edge exists, without building any message (for [`crate::available_updates`]).
pub(crate) fn edge_exists(catalogue: &Catalogue, current: &AcpVersion, target: &AcpVersion) -> bool {
    target > current
        && catalogue
            .release(target)
            .is_some_and(|r| r.accepts_upgrade_from(current))
}

/// The newest release reachable from `current` from which `target` is reachable.
fn intermediate(catalogue: &Catalogue, current: &AcpVersion, target: &AcpVersion) -> Option<AcpVersion> {
    catalogue
        .iter()
        .rev()
        .filter(|r| r.version < *target)
        .find(|r| edge_exists(catalogue, current, &r.version) && edge_exists(catalogue, &r.version, target))
        .map(|r| r.version.clone())
}
