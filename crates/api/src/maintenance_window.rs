//! MaintenanceWindow (`mw`, `cvo.alauda.io/v1alpha1`): when an upgrade of a cluster may *start*.
//!
//! A window is a cron recurrence in an IANA time zone, each occurrence open for a fixed duration,
//! minus absolute exclusion periods (freezes). A cvsh labelled [`names::labels::MAINTENANCE_WINDOW`]
//! starts an upgrade only while its window is open; nothing here ever interrupts an upgrade that
//! started.
//!
//! The operator and the CLI read a window the same way: [`MaintenanceWindowSpec::parse`] turns the spec
//! into a [`Window`] (or says which field is wrong and what to write), [`Window::at`] says whether it is
//! open at an instant, and [`Window::describe`] says so in a sentence.
//!
//! Occurrences start at the cron time as the wall clock of the window's time zone shows it (croner's
//! rules across DST: a start in the skipped hour moves to the first minute after the gap; a start in
//! the repeated hour happens once, on its first pass) and last `duration` of real time.
//!
//! [`names::labels::MAINTENANCE_WINDOW`]: crate::names::labels::MAINTENANCE_WINDOW

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most exclusions one window lists.
pub const MAX_EXCLUSIONS: usize = 32;
/// The shortest duration a window may be open.
pub const MIN_DURATION: SignedDuration = SignedDuration::from_secs(60);
/// The longest duration a window may be open (7 days).
pub const MAX_DURATION: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How far ahead [`Window::at`] looks for an opening or a closing: beyond it, "not within 400 days".
pub const HORIZON: SignedDuration = SignedDuration::from_hours(400 * 24);
/// Time zone of a window that names none.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The most steps of a search: each jumps to the next occurrence or past an exclusion, so a real window
/// needs a handful; the bound only keeps a pathological one from spinning.
const MAX_STEPS: usize = 2048;

/// When upgrades of the clusters that name this window may start.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cvo.alauda.io",
    version = "v1alpha1",
    kind = "MaintenanceWindow",
    plural = "maintenancewindows",
    shortname = "mw",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    doc = "MaintenanceWindow says when an upgrade of the clusters whose ClusterVersionShadow carries the label cvo.alauda.io/maintenance-window=<name> may start: a cron recurrence in a time zone, each occurrence open for a duration, minus exclusion periods. It never interrupts an upgrade that started.",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "Duration", type_ = "string", json_path = ".spec.duration"),
    printcolumn(name = "TimeZone", type_ = "string", json_path = ".spec.timeZone"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowSpec {
    /// When each occurrence opens: a 5-field cron schedule (minute hour day-of-month month
    /// day-of-week), e.g. `0 22 * * FRI,SAT`, read on the wall clock of `timeZone`.
    #[schemars(length(min = 1, max = 128))]
    pub schedule: String,

    /// How long each occurrence stays open: hours, minutes and seconds like `90m`, `6h` or `1h30m`,
    /// from 1m to 168h (7 days).
    #[schemars(length(min = 2, max = 32))]
    pub duration: String,

    /// IANA time zone of the schedule, e.g. `Europe/Berlin`. Absent: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,

    /// Absolute periods in which no upgrade starts (freezes), even inside an occurrence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_EXCLUSIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub exclusions: Vec<ExclusionSpec>,
}

/// A period in which no upgrade starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionSpec {
    /// First instant excluded, RFC 3339 with an offset, e.g. `2026-12-20T00:00:00Z`.
    #[schemars(length(min = 1, max = 64))]
    pub start: String,

    /// First instant no longer excluded, RFC 3339 with an offset; after `start`.
    #[schemars(length(min = 1, max = 64))]
    pub end: String,

    /// Why, for people and messages, e.g. `year-end freeze`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub reason: Option<String>,
}

/// A field of a MaintenanceWindow spec that cannot be read, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct WindowError {
    /// The field's path, e.g. `spec.exclusions[2].end`.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl WindowError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A parsed window: ask it [`Window::at`] an instant.
#[derive(Clone, Debug)]
pub struct Window {
    schedule: Cron,
    duration: SignedDuration,
    time_zone: TimeZone,
    exclusions: Vec<Exclusion>,
}

/// A parsed exclusion: `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: Option<String>,
}

impl Exclusion {
    fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// Whether a window is open at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowState {
    /// An upgrade may start now. `closes_at`: when starting stops being allowed (`None`: no closing in
    /// sight: not within [`HORIZON`], or only after more than 2048 occurrences that meet or overlap).
    Open { closes_at: Option<Timestamp> },
    /// No upgrade may start now. `opens_at`: the first instant one may (`None`: not within
    /// [`HORIZON`]).
    Closed { opens_at: Option<Timestamp> },
}

impl WindowState {
    /// True when an upgrade may start.
    pub fn is_open(&self) -> bool {
        matches!(self, WindowState::Open { .. })
    }

    /// "maintenance window weekend-nights opens at 2026-12-05 22:00 CET", or "… is open until …", with
    /// times on the wall clock of `tz`. With `now`, adds how long until then ("(in 3h20m)"): for people
    /// reading it now, not for a status, which would then change every minute.
    pub fn describe(&self, name: &str, tz: &TimeZone, now: Option<Timestamp>) -> String {
        let when = |at: Timestamp| match now {
            Some(now) => format!("{} ({})", wall_clock(at, tz), from_now(now, at)),
            None => wall_clock(at, tz),
        };
        match *self {
            WindowState::Open { closes_at: Some(at) } => {
                format!("maintenance window {name} is open until {}", when(at))
            }
            WindowState::Open { closes_at: None } => {
                format!("maintenance window {name} is open with no closing in sight")
            }
            WindowState::Closed { opens_at: Some(at) } => {
                format!("maintenance window {name} opens at {}", when(at))
            }
            WindowState::Closed { opens_at: None } => {
                format!("maintenance window {name} does not open within 400 days")
            }
        }
    }
}

impl MaintenanceWindowSpec {
    /// The window this spec describes, or the first field that cannot be read.
    pub fn parse(&self) -> Result<Window, WindowError> {
        let schedule = parse_schedule(&self.schedule)?;
        let duration =
            parse_duration(&self.duration).map_err(|why| WindowError::new("spec.duration", why))?;
        let time_zone_name = self.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE);
        let time_zone = TimeZone::get(time_zone_name).map_err(|_| {
            WindowError::new(
                "spec.timeZone",
                format!(
                    "`{time_zone_name}` is not an IANA time zone: write a name like `Europe/Berlin`, \
                     `Asia/Shanghai` or `UTC`, or leave the field out for UTC"
                ),
            )
        })?;
        if self.exclusions.len() > MAX_EXCLUSIONS {
            return Err(WindowError::new(
                "spec.exclusions",
                format!(
                    "{} exclusions, at most {MAX_EXCLUSIONS}: merge adjacent periods",
                    self.exclusions.len()
                ),
            ));
        }
        let exclusions = self
            .exclusions
            .iter()
            .enumerate()
            .map(|(i, e)| parse_exclusion(i, e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Window {
            schedule,
            duration,
            time_zone,
            exclusions,
        })
    }
}

fn parse_schedule(text: &str) -> Result<Cron, WindowError> {
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser.parse(text).map_err(|err| {
        WindowError::new(
            "spec.schedule",
            format!(
                "`{text}` is not a 5-field cron schedule (minute hour day-of-month month day-of-week): {err}; \
                 write e.g. `0 22 * * FRI,SAT` for 22:00 every Friday and Saturday"
            ),
        )
    })
}

/// A Go-style duration of hours, minutes and seconds (`90m`, `6h`, `1h30m`), within the bounds.
fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let how = "write hours, minutes and seconds like `90m`, `6h` or `1h30m`, from 1m to 168h (7 days)";
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut parts = 0;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("`{text}` is not a duration: {how}")),
        };
        let value: i64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: {how}"))?;
        digits.clear();
        parts += 1;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too long: {how}"))?;
    }
    if !digits.is_empty() || parts == 0 {
        return Err(format!(
            "`{text}` is not a duration (every number needs its unit): {how}"
        ));
    }
    let duration = SignedDuration::from_secs(total);
    if duration < MIN_DURATION || duration > MAX_DURATION {
        return Err(format!("`{text}` is out of bounds: {how}"));
    }
    Ok(duration)
}

fn parse_exclusion(i: usize, spec: &ExclusionSpec) -> Result<Exclusion, WindowError> {
    let instant = |field: &str, text: &str| {
        Timestamp::from_str(text.trim()).map_err(|_| {
            WindowError::new(
                format!("spec.exclusions[{i}].{field}"),
                format!(
                    "`{text}` is not an RFC 3339 time with an offset: write e.g. `2026-12-20T00:00:00Z` or \
                     `2026-12-20T00:00:00+01:00`"
                ),
            )
        })
    };
    let start = instant("start", &spec.start)?;
    let end = instant("end", &spec.end)?;
    if end <= start {
        return Err(WindowError::new(
            format!("spec.exclusions[{i}].end"),
            format!(
                "`{}` is not after start `{}`: an exclusion ends after it starts",
                spec.end, spec.start
            ),
        ));
    }
    Ok(Exclusion {
        start,
        end,
        reason: spec.reason.clone().filter(|r| !r.trim().is_empty()),
    })
}

impl Window {
    /// Whether an upgrade may start at `now`, and until or from when.
    pub fn at(&self, now: Timestamp) -> WindowState {
        if self.exclusion_at(now).is_none() && self.in_occurrence(now) {
            WindowState::Open {
                closes_at: self.closes_after(now),
            }
        } else {
            WindowState::Closed {
                opens_at: self.opens_after(now),
            }
        }
    }

    /// "maintenance window NAME opens at 2026-12-05 22:00 CET" or "… is open until …", naming the
    /// exclusion that holds it closed, if one does. Absolute times only, so the sentence stays the same
    /// while nothing changes and can go into a status.
    pub fn describe(&self, name: &str, now: Timestamp) -> String {
        let state = self.at(now);
        let sentence = state.describe(name, &self.time_zone, None);
        match self.exclusion_at(now) {
            Some(e) if !state.is_open() => {
                let why = e.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                format!(
                    "{sentence}; an exclusion{why} holds it closed until {}",
                    wall_clock(e.end, &self.time_zone)
                )
            }
            _ => sentence,
        }
    }

    /// The window's time zone, for showing its times.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The exclusion `t` falls in, if any.
    pub fn exclusion_at(&self, t: Timestamp) -> Option<&Exclusion> {
        self.exclusions.iter().find(|e| e.contains(t))
    }

    /// The latest occurrence start at or before `t`.
    fn start_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let zoned = t.to_zoned(self.time_zone.clone());
        self.schedule
            .find_previous_occurrence(&zoned, true)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The first occurrence start after `t`.
    fn start_after(&self, t: Timestamp) -> Option<Timestamp> {
        let zoned = t.to_zoned(self.time_zone.clone());
        self.schedule
            .find_next_occurrence(&zoned, false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// Whether `t` lies inside an occurrence. Every occurrence lasts the same, so the latest start
    /// decides.
    fn in_occurrence(&self, t: Timestamp) -> bool {
        self.start_at_or_before(t)
            .is_some_and(|start| t < add(start, self.duration))
    }

    /// When the open stretch around `now` ends: occurrences that meet or overlap join, and an
    /// exclusion starting earlier cuts it short. `None` when no end is in sight.
    fn closes_after(&self, now: Timestamp) -> Option<Timestamp> {
        let horizon = add(now, HORIZON);
        let mut end = add(self.start_at_or_before(now)?, self.duration);
        let mut joined = 0;
        loop {
            if end > horizon || joined == MAX_STEPS {
                return None;
            }
            match self.start_at_or_before(end) {
                Some(start) if add(start, self.duration) > end => end = add(start, self.duration),
                _ => break,
            }
            joined += 1;
        }
        let cut = self
            .exclusions
            .iter()
            .filter(|e| e.start > now && e.start < end)
            .map(|e| e.start)
            .min();
        Some(cut.unwrap_or(end))
    }

    /// The first instant at or after `from` inside an occurrence and outside every exclusion.
    fn opens_after(&self, from: Timestamp) -> Option<Timestamp> {
        let horizon = add(from, HORIZON);
        let mut t = from;
        for _ in 0..MAX_STEPS {
            if t >= horizon {
                return None;
            }
            if let Some(e) = self.exclusion_at(t) {
                t = e.end;
                continue;
            }
            if self.in_occurrence(t) {
                return Some(t);
            }
            t = self.start_after(t)?;
        }
        None
    }
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// `2026-12-05 22:00 CET` on the wall clock of `tz`.
pub fn wall_clock(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

/// `in 3h20m`, `in 2d4h`, `in 40s`; `now` for an instant not after `now`.
pub fn from_now(now: Timestamp, at: Timestamp) -> String {
    let secs = at.duration_since(now).as_secs();
    if secs <= 0 {
        return "now".into();
    }
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let text = match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    };
    format!("in {text}")
}

#[cfg(test)]
mod tests;
