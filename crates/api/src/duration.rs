//! Durations as people write them in specs and on the command line: `45s`, `30m`, `2h`, `1h30m`, `7d`.

use std::time::Duration;

/// Reads a duration of whole units (`s`, `m`, `h`, `d`) written one after another; None for anything
/// else (a bare number, another unit, an overflow).
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let value: u64 = number.parse().ok()?;
        number.clear();
        total = total.checked_add(value.checked_mul(unit)?)?;
    }
    number.is_empty().then(|| Duration::from_secs(total))
}

/// A duration the way [`parse`] reads it: `4h`, `1h30m`, `45s`.
pub fn format(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            text.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_people_write_them() {
        for (text, secs) in [
            ("45s", 45),
            ("30m", 1800),
            ("2h", 7200),
            ("1h30m", 5400),
            ("7d", 604_800),
            ("1d2h3m4s", 93_784),
        ] {
            assert_eq!(parse(text), Some(Duration::from_secs(secs)), "{text}");
            assert_eq!(format(Duration::from_secs(secs)), text);
        }
        for text in ["", "5", "h", "1x", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
