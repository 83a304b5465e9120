//! `available_updates`: what `status.availableUpdates` offers.

use crate::catalogue::Catalogue;
use crate::upgrade_path::edge_exists;
use crate::version::AcpVersion;

/// At most this many updates are offered (the CRD's list bound).
pub const MAX_AVAILABLE_UPDATES: usize = 16;

/// The `ready` versions (those with a Ready ProductManifest) that a supported edge reaches from
/// `current`, newest first, without duplicates, at most [`MAX_AVAILABLE_UPDATES`].
pub fn available_updates(
    catalogue: &Catalogue,
    current: &AcpVersion,
    ready: &[AcpVersion],
) -> Vec<AcpVersion> {
    let mut updates: Vec<AcpVersion> = ready
        .iter()
        .filter(|v| edge_exists(catalogue, current, v))
        .cloned()
        .collect();
    updates.sort_unstable_by(|a, b| b.cmp(a));
    updates.dedup();
    updates.truncate(MAX_AVAILABLE_UPDATES);
    updates
}
