//! `prune_history`: keep `status.history` bounded without losing the entries people look for.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::version::{AcpMinor, AcpVersion};

/// The most entries history keeps.
pub const MAX_HISTORY: usize = 100;
/// How many of the newest entries are always kept.
pub const KEEP_NEWEST: usize = 5;

/// What pruning needs to know about a history entry; the API type implements it.
pub trait HistoryRecord {
    /// The entry's ACP version, `None` when it cannot be parsed (such entries group with no minor).
    fn acp_version(&self) -> Option<AcpVersion>;
    /// Whether the upgrade finished (`Completed`, as opposed to `Partial`).
    fn is_completed(&self) -> bool;
}

/// `Completed` or `Partial`, as in `status.history[].state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HistoryState {
    Completed,
    Partial,
}

/// A minimal history entry, for callers without their own type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: AcpVersion,
    pub state: HistoryState,
}

impl HistoryRecord for HistoryEntry {
    fn acp_version(&self) -> Option<AcpVersion> {
        Some(self.version.clone())
    }
    fn is_completed(&self) -> bool {
        self.state == HistoryState::Completed
    }
}

/// Bounds `entries` (newest first, as in the status) to [`MAX_HISTORY`], always keeping:
/// the first entry ever recorded (the installation, last in the list), the [`KEEP_NEWEST`] newest,
/// the last `Completed` one, and the first and last `Completed` entry of each ACP minor. The rest
/// of the room goes to the newest remaining entries. Order is preserved.
pub fn prune_history<T: HistoryRecord>(entries: Vec<T>) -> Vec<T> {
    let len = entries.len();
    if len <= MAX_HISTORY {
        return entries;
    }
    // Indices in priority order; the first MAX_HISTORY distinct ones survive.
    let mut priority: Vec<usize> = Vec::with_capacity(len + 8);
    priority.push(len - 1);
    priority.extend(0..KEEP_NEWEST.min(len));
    let completed: Vec<(usize, Option<AcpMinor>)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_completed())
        .map(|(i, e)| (i, e.acp_version().map(|v| v.minor_line())))
        .collect();
    if let Some((newest_completed, _)) = completed.first() {
        priority.push(*newest_completed);
    }
    // Per minor, newest minor first: (last completed = smallest index, first completed = largest).
    let mut per_minor: BTreeMap<AcpMinor, (usize, usize)> = BTreeMap::new();
    for (index, minor) in &completed {
        if let Some(minor) = minor {
            let span = per_minor.entry(*minor).or_insert((*index, *index));
            span.0 = span.0.min(*index);
            span.1 = span.1.max(*index);
        }
    }
    for (last, first) in per_minor.values().rev() {
        priority.push(*last);
        priority.push(*first);
    }
    priority.extend(0..len);

    let mut keep = BTreeSet::new();
    for index in priority {
        if keep.len() == MAX_HISTORY {
            break;
        }
        keep.insert(index);
    }
    entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, e)| e)
        .collect()
}
