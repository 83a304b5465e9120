//! How an upgrade is going, in one reading of a cvsh at an instant: its state, progress, how long it has
//! run and how long the last one took. `ac adm upgrade status`, `ac adm upgrade` and the console's
//! fleet page all read a cluster through [`summarize`].

use std::time::Duration;

use jiff::Timestamp;

use super::{ClusterVersionShadow, Reachability, Reading, State};

/// An upgrade running this much longer than the last completed one is Slow (the estimate is a
/// single sample, so leave it some room).
const SLOW_FACTOR: f64 = 1.3;

/// What the summary says, computed once and shared by the page and `--watch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The cluster's state, as the operator's metric and `ac adm cluster list` read it too.
    pub reading: Reading,
    /// Executing, and already longer than the last completed upgrade took.
    pub slow: bool,
    pub percent: u8,
    pub done: usize,
    pub total: usize,
    /// How long the running upgrade has taken so far.
    pub elapsed: Option<Duration>,
    /// How long the last completed upgrade took.
    pub estimate: Option<Duration>,
}

impl Summary {
    /// Time left by the estimate; None without an estimate, zero when overdue.
    pub fn remaining(&self) -> Option<Duration> {
        Some(self.estimate?.saturating_sub(self.elapsed?))
    }

    /// The one-word answer to "how is it going?": the state's word, or Slow for an upgrade running
    /// longer than the last one took.
    pub fn assessment(&self) -> &'static str {
        if self.slow {
            "Slow"
        } else {
            self.reading.state.as_str()
        }
    }

    /// The version being worked towards, if any.
    pub fn target(&self) -> Option<&str> {
        self.reading.state.target()
    }

    /// `--watch` stops here: the cluster is at its version, or the upgrade needs a person.
    pub fn is_final(&self) -> bool {
        matches!(self.reading.state, State::Idle | State::Stalled { .. })
    }

    /// The assessment with what else the reading says: `Idle (unreachable)`.
    pub fn assessment_text(&self) -> String {
        match self.reading.reachability {
            Reachability::Unreachable => format!("{} (unreachable)", self.assessment()),
            _ => self.assessment().to_owned(),
        }
    }
}

/// Assesses a cluster at `now`.
pub fn summarize(cvsh: &ClusterVersionShadow, now: Timestamp) -> Summary {
    let status = cvsh.status_or_default();
    let reading = cvsh.reading();
    let executing = reading.state.is_executing();
    let elapsed = executing
        .then(|| {
            status
                .running_upgrade()
                .map(|h| Duration::try_from(now.duration_since(h.started_time.0)).unwrap_or_default())
        })
        .flatten();
    // A zero-length entry is the install record, not an upgrade: no basis for an estimate.
    let estimate = status.last_completed_duration().filter(|d| !d.is_zero());
    let slow = matches!(reading.state, State::Executing { .. })
        && match (elapsed, estimate) {
            (Some(elapsed), Some(estimate)) => elapsed.as_secs_f64() > estimate.as_secs_f64() * SLOW_FACTOR,
            _ => false,
        };
    let progress = status.progress();
    let (done, total, percent) = if reading.state == State::Idle {
        (progress.total, progress.total, 100)
    } else {
        (progress.done, progress.total, progress.percent())
    };
    Summary {
        reading,
        slow,
        percent,
        done,
        total,
        elapsed,
        estimate,
    }
}
