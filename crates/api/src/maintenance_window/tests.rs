use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn spec(schedule: &str, duration: &str, tz: Option<&str>) -> MaintenanceWindowSpec {
    MaintenanceWindowSpec {
        schedule: schedule.into(),
        duration: duration.into(),
        time_zone: tz.map(Into::into),
        exclusions: Vec::new(),
    }
}

fn excluding(mut spec: MaintenanceWindowSpec, periods: &[(&str, &str)]) -> MaintenanceWindowSpec {
    spec.exclusions = periods
        .iter()
        .map(|(start, end)| ExclusionSpec {
            start: start.to_string(),
            end: end.to_string(),
            reason: Some("freeze".into()),
        })
        .collect();
    spec
}

fn open(closes: &str) -> WindowState {
    WindowState::Open {
        closes_at: Some(at(closes)),
    }
}

fn closed(opens: &str) -> WindowState {
    WindowState::Closed {
        opens_at: Some(at(opens)),
    }
}

/// (what the case shows, window, now, expected)
fn check(table: Vec<(&str, MaintenanceWindowSpec, &str, WindowState)>) {
    for (case, spec, now, want) in table {
        let window = spec.parse().unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(window.at(at(now)), want, "{case} at {now}");
    }
}

#[test]
fn occurrences_open_at_the_cron_time_and_last_the_duration() {
    // 2026-12-04 is a Friday.
    let weekend = || spec("0 22 * * FRI,SAT", "6h", None);
    check(vec![
        (
            "before Friday's",
            weekend(),
            "2026-12-04T21:00:00Z",
            closed("2026-12-04T22:00:00Z"),
        ),
        (
            "at its start",
            weekend(),
            "2026-12-04T22:00:00Z",
            open("2026-12-05T04:00:00Z"),
        ),
        (
            "just before its end",
            weekend(),
            "2026-12-05T03:59:59Z",
            open("2026-12-05T04:00:00Z"),
        ),
        (
            "at its end",
            weekend(),
            "2026-12-05T04:00:00Z",
            closed("2026-12-05T22:00:00Z"),
        ),
        (
            "in Saturday's",
            weekend(),
            "2026-12-06T03:00:00Z",
            open("2026-12-06T04:00:00Z"),
        ),
        (
            "after Saturday's",
            weekend(),
            "2026-12-06T05:00:00Z",
            closed("2026-12-11T22:00:00Z"),
        ),
        (
            "1h30m",
            spec("0 1 * * *", "1h30m", None),
            "2026-12-06T02:29:00Z",
            open("2026-12-06T02:30:00Z"),
        ),
        (
            "90m",
            spec("0 1 * * *", "90m", None),
            "2026-12-06T02:30:00Z",
            closed("2026-12-07T01:00:00Z"),
        ),
    ]);
}

#[test]
fn the_schedule_is_read_on_the_wall_clock_of_the_time_zone() {
    let berlin = || spec("0 22 * * FRI,SAT", "6h", Some("Europe/Berlin"));
    let shanghai = || spec("0 22 * * FRI,SAT", "6h", Some("Asia/Shanghai"));
    check(vec![
        // 22:00 CET is 21:00 UTC in December.
        (
            "Berlin before",
            berlin(),
            "2026-12-04T20:59:00Z",
            closed("2026-12-04T21:00:00Z"),
        ),
        (
            "Berlin inside",
            berlin(),
            "2026-12-04T21:30:00Z",
            open("2026-12-05T03:00:00Z"),
        ),
        // 22:00 CEST is 20:00 UTC in June.
        (
            "Berlin summer",
            berlin(),
            "2026-06-05T19:00:00Z",
            closed("2026-06-05T20:00:00Z"),
        ),
        // 22:00 in Shanghai is 14:00 UTC.
        (
            "Shanghai",
            shanghai(),
            "2026-12-04T13:00:00Z",
            closed("2026-12-04T14:00:00Z"),
        ),
        (
            "UTC by default",
            spec("0 22 * * FRI", "6h", None),
            "2026-12-04T21:30:00Z",
            closed("2026-12-04T22:00:00Z"),
        ),
    ]);
}

#[test]
fn exclusions_hold_starts_even_inside_an_occurrence() {
    let nightly = || spec("0 22 * * *", "6h", None);
    check(vec![
        (
            "a freeze covering many occurrences opens when it ends, inside the occurrence then running",
            excluding(nightly(), &[("2026-12-20T00:00:00Z", "2027-01-05T00:00:00Z")]),
            "2026-12-20T01:00:00Z",
            closed("2027-01-05T00:00:00Z"),
        ),
        (
            "an exclusion covering the start of an occurrence opens when it ends",
            excluding(nightly(), &[("2026-12-04T21:00:00Z", "2026-12-04T23:30:00Z")]),
            "2026-12-04T22:10:00Z",
            closed("2026-12-04T23:30:00Z"),
        ),
        (
            "the same exclusion, seen before the occurrence",
            excluding(nightly(), &[("2026-12-04T21:00:00Z", "2026-12-04T23:30:00Z")]),
            "2026-12-04T20:00:00Z",
            closed("2026-12-04T23:30:00Z"),
        ),
        (
            "an open window closes when an exclusion starts",
            excluding(nightly(), &[("2026-12-05T02:00:00Z", "2026-12-05T03:00:00Z")]),
            "2026-12-04T23:00:00Z",
            open("2026-12-05T02:00:00Z"),
        ),
        (
            "back-to-back exclusions past the occurrence's end wait for the next occurrence",
            excluding(
                nightly(),
                &[
                    ("2026-12-04T21:00:00Z", "2026-12-04T23:00:00Z"),
                    ("2026-12-04T23:00:00Z", "2026-12-05T05:00:00Z"),
                ],
            ),
            "2026-12-04T22:30:00Z",
            closed("2026-12-05T22:00:00Z"),
        ),
        (
            "an exclusion ending exactly at the occurrence's end leaves nothing of it",
            excluding(nightly(), &[("2026-12-04T22:00:00Z", "2026-12-05T04:00:00Z")]),
            "2026-12-04T21:00:00Z",
            closed("2026-12-05T22:00:00Z"),
        ),
        (
            "an exclusion outside every occurrence changes nothing",
            excluding(nightly(), &[("2026-12-05T10:00:00Z", "2026-12-05T12:00:00Z")]),
            "2026-12-04T23:00:00Z",
            open("2026-12-05T04:00:00Z"),
        ),
    ]);
}

#[test]
fn across_daylight_saving_time_an_occurrence_starts_once_and_lasts_its_real_duration() {
    let nightly = || spec("30 2 * * *", "1h", Some("Europe/Berlin"));
    check(vec![
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist; the occurrence starts at
        // the first minute after the gap, 03:00 CEST (01:00 UTC), and lasts one real hour.
        (
            "day before the gap",
            nightly(),
            "2026-03-28T01:00:00Z",
            closed("2026-03-28T01:30:00Z"),
        ),
        (
            "before the gap",
            nightly(),
            "2026-03-29T00:45:00Z",
            closed("2026-03-29T01:00:00Z"),
        ),
        (
            "after the gap",
            nightly(),
            "2026-03-29T01:30:00Z",
            open("2026-03-29T02:00:00Z"),
        ),
        (
            "day after the gap",
            nightly(),
            "2026-03-29T02:00:00Z",
            closed("2026-03-30T00:30:00Z"),
        ),
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice; the occurrence starts on
        // the first pass (02:30 CEST, 00:30 UTC) only and lasts one real hour, to 02:30 CET.
        (
            "before the repeated hour",
            nightly(),
            "2026-10-25T00:00:00Z",
            closed("2026-10-25T00:30:00Z"),
        ),
        (
            "first pass",
            nightly(),
            "2026-10-25T01:00:00Z",
            open("2026-10-25T01:30:00Z"),
        ),
        (
            "second pass",
            nightly(),
            "2026-10-25T01:45:00Z",
            closed("2026-10-26T01:30:00Z"),
        ),
    ]);
}

#[test]
fn occurrences_that_overlap_or_meet_make_one_open_stretch() {
    let never_closes = WindowState::Open { closes_at: None };
    check(vec![
        (
            "hourly for 90m never closes",
            spec("0 * * * *", "90m", None),
            "2026-12-04T10:15:00Z",
            never_closes,
        ),
        (
            "daily for 36h never closes",
            spec("0 22 * * *", "36h", None),
            "2026-12-04T10:15:00Z",
            never_closes,
        ),
        (
            "hourly for 1h never closes either: each occurrence meets the next",
            spec("0 * * * *", "1h", None),
            "2026-12-04T10:15:00Z",
            never_closes,
        ),
        (
            "Friday and Saturday for 30h join",
            spec("0 22 * * FRI,SAT", "30h", None),
            "2026-12-05T01:00:00Z",
            open("2026-12-07T04:00:00Z"),
        ),
        (
            "an exclusion still cuts a stretch that never ends",
            excluding(
                spec("0 * * * *", "90m", None),
                &[("2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z")],
            ),
            "2026-12-24T12:00:00Z",
            closed("2026-12-27T00:00:00Z"),
        ),
    ]);
}

#[test]
fn a_schedule_that_never_matches_never_opens() {
    let window = spec("0 0 30 2 *", "1h", None).parse().unwrap();
    assert_eq!(
        window.at(at("2026-12-04T10:00:00Z")),
        WindowState::Closed { opens_at: None }
    );
    // A freeze longer than the horizon.
    let window = excluding(
        spec("0 22 * * *", "6h", None),
        &[("2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")],
    )
    .parse()
    .unwrap();
    assert_eq!(
        window.at(at("2026-12-04T23:00:00Z")),
        WindowState::Closed { opens_at: None }
    );
}

#[test]
fn every_unreadable_field_is_named_with_what_to_write() {
    let good = || spec("0 22 * * FRI,SAT", "6h", Some("Europe/Berlin"));
    let with = |f: &dyn Fn(&mut MaintenanceWindowSpec)| {
        let mut s = good();
        f(&mut s);
        s
    };
    let exclusion = |start: &str, end: &str| ExclusionSpec {
        start: start.into(),
        end: end.into(),
        reason: None,
    };
    let fine = exclusion("2026-12-20T00:00:00Z", "2027-01-05T00:00:00Z");
    // (spec, field, words the message must hold)
    let table: Vec<(MaintenanceWindowSpec, &str, &str)> = vec![
        (
            with(&|s| s.schedule = "0 22 * *".into()),
            "spec.schedule",
            "write e.g. `0 22 * * FRI,SAT`",
        ),
        (
            with(&|s| s.schedule = "0 0 22 * * FRI".into()),
            "spec.schedule",
            "5-field",
        ),
        (
            with(&|s| s.schedule = "at ten".into()),
            "spec.schedule",
            "`at ten`",
        ),
        (
            with(&|s| s.schedule = "61 22 * * *".into()),
            "spec.schedule",
            "5-field",
        ),
        (
            with(&|s| s.duration = "6 hours".into()),
            "spec.duration",
            "like `90m`, `6h` or `1h30m`",
        ),
        (
            with(&|s| s.duration = "90".into()),
            "spec.duration",
            "needs its unit",
        ),
        (
            with(&|s| s.duration = "30s".into()),
            "spec.duration",
            "out of bounds",
        ),
        (
            with(&|s| s.duration = "169h".into()),
            "spec.duration",
            "from 1m to 168h",
        ),
        (
            with(&|s| s.duration = "7d".into()),
            "spec.duration",
            "not a duration",
        ),
        (
            with(&|s| s.duration = String::new()),
            "spec.duration",
            "not a duration",
        ),
        (
            with(&|s| s.time_zone = Some("Europe/Berln".into())),
            "spec.timeZone",
            "`Europe/Berlin`",
        ),
        (
            with(&|s| s.time_zone = Some("CET+1".into())),
            "spec.timeZone",
            "not an IANA time zone",
        ),
        (
            with(&|s| {
                s.exclusions = vec![
                    fine.clone(),
                    fine.clone(),
                    exclusion("2026-12-20T00:00:00Z", "2027-01-05"),
                ]
            }),
            "spec.exclusions[2].end",
            "`2027-01-05` is not an RFC 3339 time",
        ),
        (
            with(&|s| s.exclusions = vec![fine.clone(), exclusion("yesterday", "2027-01-05T00:00:00Z")]),
            "spec.exclusions[1].start",
            "RFC 3339",
        ),
        (
            with(&|s| s.exclusions = vec![exclusion("2027-01-05T00:00:00Z", "2026-12-20T00:00:00Z")]),
            "spec.exclusions[0].end",
            "ends after it starts",
        ),
        (
            with(&|s| s.exclusions = vec![fine.clone(); MAX_EXCLUSIONS + 1]),
            "spec.exclusions",
            "at most 32",
        ),
    ];
    for (spec, field, words) in table {
        let err = spec.parse().expect_err(field);
        assert_eq!(err.field, field, "{err}");
        assert!(err.message.contains(words), "{field}: {err}");
        assert!(err.to_string().starts_with(field), "{err}");
    }
}

#[test]
fn durations_read_like_go_durations() {
    for (text, secs) in [
        ("90m", 5400),
        ("1h30m", 5400),
        ("6h", 21_600),
        ("1m", 60),
        ("168h", 604_800),
        ("2h0m30s", 7230),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(SignedDuration::from_secs(secs)),
            "{text}"
        );
    }
    assert!(parse_duration("59s").is_err());
    assert!(parse_duration("h").is_err());
    assert!(parse_duration("-1h").is_err());
    assert!(parse_duration("99999999999999999999h").is_err());
}

#[test]
fn the_sentence_names_the_window_and_the_local_time_and_people_also_read_how_long_until() {
    let window = spec("0 22 * * FRI,SAT", "6h", Some("Europe/Berlin"))
        .parse()
        .unwrap();
    // 18:40 CET on Friday.
    let now = at("2026-12-04T17:40:00Z");
    assert_eq!(
        window.describe("weekend-nights", now),
        "maintenance window weekend-nights opens at 2026-12-04 22:00 CET"
    );
    assert_eq!(
        window
            .at(now)
            .describe("weekend-nights", window.time_zone(), Some(now)),
        "maintenance window weekend-nights opens at 2026-12-04 22:00 CET (in 3h20m)"
    );
    let inside = at("2026-12-04T21:00:00Z");
    assert_eq!(
        window
            .at(inside)
            .describe("weekend-nights", window.time_zone(), Some(inside)),
        "maintenance window weekend-nights is open until 2026-12-05 04:00 CET (in 6h)"
    );
    let frozen = excluding(
        spec("0 22 * * FRI,SAT", "6h", Some("Europe/Berlin")),
        &[("2026-12-04T20:00:00Z", "2026-12-04T21:30:00Z")],
    )
    .parse()
    .unwrap();
    assert_eq!(
        frozen.describe("weekend-nights", at("2026-12-04T21:00:00Z")),
        "maintenance window weekend-nights opens at 2026-12-04 22:30 CET; an exclusion (freeze) holds it closed \
         until 2026-12-04 22:30 CET"
    );
    let never = spec("0 0 30 2 *", "1h", None).parse().unwrap();
    assert_eq!(
        never.describe("leap", at("2026-12-04T21:00:00Z")),
        "maintenance window leap does not open within 400 days"
    );
    let now = at("2026-12-04T00:00:00Z");
    for (then, text) in [
        ("2026-12-04T00:00:40Z", "in 40s"),
        ("2026-12-04T00:20:00Z", "in 20m"),
        ("2026-12-06T04:30:00Z", "in 2d4h"),
        ("2026-12-03T00:00:00Z", "now"),
    ] {
        assert_eq!(from_now(now, at(then)), text);
    }
}

#[test]
fn the_kind_is_in_acp_cvos_own_group() {
    use kube::Resource;
    assert_eq!(MaintenanceWindow::group(&()), crate::names::ROLLOUT_GROUP);
    assert_eq!(MaintenanceWindow::version(&()), crate::names::ROLLOUT_VERSION);
    assert_eq!(
        MaintenanceWindow::api_version(&()),
        crate::names::ROLLOUT_API_VERSION
    );
}
