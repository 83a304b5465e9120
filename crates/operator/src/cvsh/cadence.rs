//! How often an idle cluster is observed again: at `--resync` after anything changed, then less and less
//! often while nothing does, up to `--resync-max`; spread by ±10 % so that clusters registered together
//! do not come back together.

use std::time::Duration;

/// The first retry of a cluster that does not answer (unless `--resync` is shorter).
const UNREACHABLE_FIRST: Duration = Duration::from_secs(10);

/// The spread around each interval, as a fraction of it.
const JITTER: f64 = 0.1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    /// `--resync`: the interval after a change.
    pub first: Duration,
    /// `--resync-max`: the longest interval, which bounds how old an observation can get.
    pub max: Duration,
}

impl Cadence {
    /// The interval before the next observation of an idle cluster whose last `unchanged` observations in
    /// a row found nothing new. A cluster that does not answer is retried sooner at first, and backs off
    /// the same way: each attempt holds a worker for up to the request timeout.
    pub fn idle(&self, unchanged: u32, reachable: bool) -> Duration {
        let first = if reachable {
            self.first
        } else {
            UNREACHABLE_FIRST.min(self.first)
        };
        first.saturating_mul(1u32 << unchanged.min(16)).min(self.max)
    }

    /// `interval` moved by up to ±10 %; `unit` is uniform in [0, 1).
    pub fn spread(interval: Duration, unit: f64) -> Duration {
        let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        interval.mul_f64(factor)
    }

    /// The most an idle cluster's observation can age before it is due again.
    pub fn bound(&self) -> Duration {
        Self::spread(self.max, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence() -> Cadence {
        Cadence {
            first: Duration::from_secs(30),
            max: Duration::from_secs(300),
        }
    }

    #[test]
    fn an_idle_cluster_is_observed_less_often_while_nothing_changes_up_to_the_maximum() {
        let secs = |unchanged, reachable| cadence().idle(unchanged, reachable).as_secs();
        // (observations in a row that found nothing new, reachable, seconds to the next)
        let table = [
            (0, true, 30),
            (1, true, 60),
            (2, true, 120),
            (3, true, 240),
            (4, true, 300),
            (40, true, 300),
            (0, false, 10),
            (1, false, 20),
            (5, false, 300),
        ];
        for (unchanged, reachable, expected) in table {
            assert_eq!(secs(unchanged, reachable), expected, "{unchanged} {reachable}");
        }
        let short = Cadence {
            first: Duration::from_secs(3),
            max: Duration::from_secs(3),
        };
        assert_eq!(short.idle(0, false), Duration::from_secs(3));
        assert_eq!(short.idle(9, true), Duration::from_secs(3));
    }

    #[test]
    fn intervals_are_spread_by_a_tenth_either_way() {
        let minute = Duration::from_secs(60);
        assert_eq!(Cadence::spread(minute, 0.0), Duration::from_secs(54));
        assert_eq!(Cadence::spread(minute, 0.5), minute);
        assert_eq!(Cadence::spread(minute, 1.0), Duration::from_secs(66));
        assert_eq!(cadence().bound(), Duration::from_secs(330));
    }
}
