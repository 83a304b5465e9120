//! Durations and ages the way kubectl prints them (`45s`, `12m`, `3h4m`, `5d`), and the parser for
//! duration flags such as `--timeout=10m`.

use std::time::Duration;

use acp_api::k8s::{Time, Timestamp};

/// A short duration: `45s`, `3m20s` (under 10 minutes), `12m`, `2h5m` (under 8 hours), `9h`, `3d`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        0..120 => format!("{s}s"),
        120..600 if s.is_multiple_of(60) => format!("{m}m"),
        120..600 => format!("{m}m{}s", s % 60),
        600..10_800 => format!("{m}m"),
        10_800..28_800 if m.is_multiple_of(60) => format!("{h}h"),
        10_800..28_800 => format!("{h}h{}m", m % 60),
        28_800..172_800 => format!("{h}h"),
        _ => format!("{days}d"),
    }
}

/// Time elapsed from `then` to `now`; zero when `then` is in the future (clock skew).
pub fn elapsed(now: Timestamp, then: &Time) -> Duration {
    Duration::try_from(now.duration_since(then.0)).unwrap_or_default()
}

/// `12m` — how long ago `then` was.
pub fn age(now: Timestamp, then: &Time) -> String {
    duration(elapsed(now, then))
}

/// A timestamp as the API writes it, to the second: `2026-03-01T10:00:00Z`.
pub fn timestamp(t: &Time) -> String {
    t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses `90`, `90s`, `10m`, `1h30m`, `2h`, `1d`: a bare number is seconds.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let text = input.trim();
    text.parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .or_else(|| acp_api::duration::parse(text))
        .ok_or_else(|| {
            format!("invalid duration {input:?}: expected a number of seconds or e.g. 30s, 10m, 1h30m")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (720, "12m"),
            (10_800, "3h"),
            (11_100, "3h5m"),
            (32_400, "9h"),
            (3 * 86_400, "3d"),
        ];
        for (seconds, text) in cases {
            assert_eq!(duration(Duration::from_secs(seconds)), text, "{seconds}s");
        }
    }

    #[test]
    fn duration_flags_parse_and_garbage_is_refused() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        for bad in ["", "m", "10x", "10m5", "ten"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("expected a number of seconds"), "{bad}: {err}");
        }
    }

    #[test]
    fn ages_never_go_negative() {
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let later = Time("2026-03-01T10:05:00Z".parse().unwrap());
        let earlier = Time("2026-03-01T09:48:00Z".parse().unwrap());
        assert_eq!(age(now, &later), "0s");
        assert_eq!(age(now, &earlier), "12m");
        assert_eq!(timestamp(&earlier), "2026-03-01T09:48:00Z");
    }
}
