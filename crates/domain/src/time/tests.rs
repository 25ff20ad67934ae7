use chrono::{DateTime, Datelike, Duration, SecondsFormat, Timelike, Utc};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Texts the grammar accepts, and the instant each one is.
const ACCEPTED: &[(&str, &str)] = &[
    // RFC 3339.
    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ("2026-01-01t09:30:00z", "2026-01-01T09:30:00Z"),
    ("2026-01-01T02:00:00+02:00", "2026-01-01T00:00:00Z"),
    ("2026-01-01T00:00:00-05:30", "2026-01-01T05:30:00Z"),
    ("2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00Z"),
    ("2026-01-01T00:00:00+23:59", "2025-12-31T00:01:00Z"),
    ("2026-01-01T00:00:00-23:59", "2026-01-01T23:59:00Z"),
    ("2026-01-01T00:00:00.5+02:00", "2025-12-31T22:00:00.5Z"),
    // pandas' and PostgreSQL's text: a space, offsets without colon or minutes.
    ("2026-01-01 00:00:00+00:00", "2026-01-01T00:00:00Z"),
    ("2026-01-01 00:00:00Z", "2026-01-01T00:00:00Z"),
    ("2026-01-01T00:00:00+0200", "2025-12-31T22:00:00Z"),
    ("2026-01-01 00:00:00+02", "2025-12-31T22:00:00Z"),
    (
        "2026-01-01 00:00:00.123456+00",
        "2026-01-01T00:00:00.123456Z",
    ),
    // No offset: UTC.
    ("2026-11-30T00:00:00", "2026-11-30T00:00:00Z"),
    ("2026-11-30 06:30:00.5", "2026-11-30T06:30:00.5Z"),
    // Fractions: 1 to 9 digits.
    ("2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.1Z"),
    (
        "2026-01-01T00:00:00.123456789Z",
        "2026-01-01T00:00:00.123456789Z",
    ),
    (
        "2026-01-01T00:00:00.000000001",
        "2026-01-01T00:00:00.000000001Z",
    ),
    // Calendar edges and the year bounds.
    ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z"),
    ("2000-02-29 00:00:00", "2000-02-29T00:00:00Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    (
        "9999-12-31T23:59:59.999999999Z",
        "9999-12-31T23:59:59.999999999Z",
    ),
    ("0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00Z"),
    // Surrounding whitespace is ignored.
    ("  2026-01-01T00:00:00Z\t\n", "2026-01-01T00:00:00Z"),
];

/// A check of what an error says was wrong.
type Expect = fn(&TimestampProblem) -> bool;

/// Texts the grammar refuses, and what each error must say was wrong.
fn refused() -> Vec<(&'static str, Expect)> {
    use TimestampProblem as P;
    vec![
        ("", |p| *p == P::Empty),
        ("   ", |p| *p == P::Empty),
        // Years outside 1..=9999, written or in UTC.
        (
            "-5000-01-01 00:00:00",
            |p| matches!(p, P::Year { year, in_utc: false } if year == "-5000"),
        ),
        (
            "0000-01-01T00:00:00Z",
            |p| matches!(p, P::Year { year, .. } if year == "0000"),
        ),
        ("-0001-06-01T00:00:00+00:00", |p| {
            matches!(p, P::Year { .. })
        }),
        (
            "10000-01-01T00:00:00Z",
            |p| matches!(p, P::Year { year, .. } if year == "10000"),
        ),
        ("+10000-01-01T00:00:00Z", |p| matches!(p, P::Year { .. })),
        ("+275760-09-13T00:00:00Z", |p| matches!(p, P::Year { .. })),
        ("+2026-01-01T00:00:00Z", |p| matches!(p, P::Year { .. })),
        ("99999999999999999999999-01-01T00:00:00Z", |p| {
            matches!(p, P::Year { .. })
        }),
        (
            "0001-01-01T00:00:00+01:00",
            |p| matches!(p, P::Year { year, in_utc: true } if year == "0"),
        ),
        (
            "9999-12-31T23:00:00-02:00",
            |p| matches!(p, P::Year { year, in_utc: true } if year == "10000"),
        ),
        // Fields out of range.
        ("2026-13-01T00:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "month",
                    value: 13,
                    ..
                }
            )
        }),
        ("2026-00-01T00:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "month",
                    value: 0,
                    ..
                }
            )
        }),
        ("2026-02-29T00:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "day",
                    value: 29,
                    ..
                }
            )
        }),
        ("1900-02-29T00:00:00Z", |p| {
            matches!(p, P::OutOfRange { part: "day", .. })
        }),
        ("2026-04-31T00:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "day",
                    value: 31,
                    ..
                }
            )
        }),
        ("2026-01-00T00:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "day",
                    value: 0,
                    ..
                }
            )
        }),
        ("2026-01-01T24:00:00Z", |p| {
            matches!(
                p,
                P::OutOfRange {
                    part: "hour",
                    value: 24,
                    ..
                }
            )
        }),
        ("2026-01-01T00:60:00Z", |p| {
            matches!(p, P::OutOfRange { part: "minute", .. })
        }),
        ("2026-01-01T00:00:61Z", |p| {
            matches!(p, P::OutOfRange { part: "second", .. })
        }),
        // Leap seconds.
        ("2016-12-31T23:59:60Z", |p| *p == P::LeapSecond),
        ("2016-12-31 23:59:60", |p| *p == P::LeapSecond),
        // Offsets beyond ±23:59.
        (
            "2026-01-01T00:00:00+24:00",
            |p| matches!(p, P::Offset { offset } if offset == "+24:00"),
        ),
        ("2026-01-01T00:00:00-24:00", |p| {
            matches!(p, P::Offset { .. })
        }),
        ("2026-01-01T00:00:00+99:00", |p| {
            matches!(p, P::Offset { .. })
        }),
        ("2026-01-01T00:00:00+02:60", |p| {
            matches!(p, P::Offset { .. })
        }),
        // Fractions.
        ("2026-01-01T00:00:00.1234567891Z", |p| {
            *p == P::TooManyFractionDigits { digits: 10 }
        }),
        ("2026-01-01T00:00:00.Z", |p| {
            matches!(p, P::Syntax { position: 21, .. })
        }),
        (
            "2026-01-01T00:00:00,5Z",
            |p| matches!(p, P::Trailing { rest } if rest == ",5Z"),
        ),
        // Trailing text, NUL, zone names, a space before the offset.
        (
            "2026-01-01T00:00:00Zjunk",
            |p| matches!(p, P::Trailing { rest } if rest == "junk"),
        ),
        (
            "2026-01-01T00:00:00Z\0",
            |p| matches!(p, P::Trailing { rest } if rest == "\0"),
        ),
        ("2026-01-01T00:00:00\0", |p| matches!(p, P::Trailing { .. })),
        ("2026-01-01\0T00:00:00Z", |p| {
            matches!(p, P::Syntax { position: 11, .. })
        }),
        ("\u{0}2026-01-01T00:00:00Z", |p| {
            matches!(p, P::Syntax { position: 1, .. })
        }),
        ("2026-01-01T00:00:00UTC", |p| {
            matches!(p, P::Trailing { .. })
        }),
        ("2026-01-01T00:00:00 Z", |p| matches!(p, P::Trailing { .. })),
        ("2026-01-01 00:00:00 +00:00", |p| {
            matches!(p, P::Trailing { .. })
        }),
        ("2026-01-01T00:00:00+02:00:00", |p| {
            matches!(p, P::Trailing { .. })
        }),
        ("2026-01-01T00:00:00Z 2026-01-02T00:00:00Z", |p| {
            matches!(p, P::Trailing { .. })
        }),
        // Not the shape at all.
        ("yesterday", |p| matches!(p, P::Syntax { position: 1, .. })),
        ("2026-01-01", |p| {
            matches!(p, P::Syntax { position: 11, .. })
        }),
        ("2026-01-01T", |p| {
            matches!(p, P::Syntax { position: 12, .. })
        }),
        ("2026-01-01T00:00Z", |p| matches!(p, P::Syntax { .. })),
        ("2026-01-01T00:00:00+2:00", |p| {
            matches!(p, P::Syntax { .. })
        }),
        ("2026-01-01T00:00:00+020", |p| matches!(p, P::Syntax { .. })),
        ("2026-1-1T0:0:0Z", |p| matches!(p, P::Syntax { .. })),
        ("26-01-01T00:00:00Z", |p| matches!(p, P::Syntax { .. })),
        ("2026-001-01T00:00:00Z", |p| matches!(p, P::Syntax { .. })),
        ("2026/01/01 00:00:00", |p| matches!(p, P::Syntax { .. })),
        ("20260101T000000Z", |p| matches!(p, P::Syntax { .. })),
        ("2026-W01-1T00:00:00Z", |p| matches!(p, P::Syntax { .. })),
        ("1767225600", |p| matches!(p, P::Syntax { .. })),
        ("２０２６-01-01T00:00:00Z", |p| {
            matches!(p, P::Syntax { position: 1, .. })
        }),
        ("2026-01-01T00:00:00é", |p| matches!(p, P::Trailing { .. })),
    ]
}

#[test]
fn the_grammar_accepts_rfc3339_pandas_text_and_naive_utc() {
    for (text, instant) in ACCEPTED {
        let parsed = parse_timestamp(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(parsed, utc(instant), "{text:?}");
        // Query parameters take the same timestamps.
        assert_eq!(parse_instant(text, false).unwrap(), parsed, "{text:?}");
        assert_eq!(parse_instant(text, true).unwrap(), parsed, "{text:?}");
    }
}

#[test]
fn the_grammar_refuses_hostile_and_malformed_text_saying_what_was_wrong() {
    for (text, check) in refused() {
        let err = parse_timestamp(text).expect_err(text);
        assert!(check(err.problem()), "{text:?}: {:?}", err.problem());
        // The message quotes the input (escaped) unless there is none.
        let message = err.to_string();
        if !text.trim().is_empty() {
            assert!(
                message.contains(&format!("{:?}", quote(text.trim()))),
                "{text:?}: {message}"
            );
        }
        assert!(!message.contains('\0'), "{message}");
    }
}

#[test]
fn errors_say_the_rule_and_callers_name_the_field() {
    let year = parse_timestamp("0000-01-01T00:00:00Z").unwrap_err();
    assert!(
        year.to_string().contains("between the years 1 and 9999"),
        "{year}"
    );
    let syntax = parse_timestamp("yesterday").unwrap_err();
    assert!(syntax.to_string().contains("RFC 3339"), "{syntax}");
    assert!(syntax.to_string().contains("\"yesterday\""), "{syntax}");
    let as_query = parse_instant("yesterday", false).unwrap_err();
    assert!(as_query.to_string().contains("YYYY-MM-DD"), "{as_query}");
    let leap = parse_timestamp("2016-12-31T23:59:60Z").unwrap_err();
    assert!(leap.to_string().contains("leap second"), "{leap}");
    let day = parse_timestamp("2026-02-29T00:00:00Z").unwrap_err();
    assert!(day.to_string().contains("01 to 28 in 2026-02"), "{day}");

    let err = syntax.clone().for_field("start_date");
    assert_eq!(err.field, "start_date");
    assert_eq!(err.message, syntax.to_string());
    assert_eq!(ValidationError::from(syntax).field, "time");
}

#[test]
fn a_long_refused_input_is_quoted_cut_short() {
    let text = format!("2026-01-01T00:00:00Z{}", "x".repeat(100_000));
    let message = parse_timestamp(&text).unwrap_err().to_string();
    assert!(message.len() < 400, "{}", message.len());
    let multibyte = format!("{}T", "é".repeat(200));
    let message = parse_timestamp(&multibyte).unwrap_err().to_string();
    assert!(message.contains('…'), "{message}");
}

#[test]
fn a_bare_date_is_an_instant_only_where_asked_for() {
    assert_eq!(
        parse_instant("2026-01-01", false).unwrap(),
        utc("2026-01-01T00:00:00Z")
    );
    assert_eq!(
        parse_instant("2026-01-01", true).unwrap(),
        utc("2026-01-02T00:00:00Z")
    );
    assert_eq!(
        parse_instant("2024-02-29", true).unwrap(),
        utc("2024-03-01T00:00:00Z")
    );
    // The end of the last representable day is allowed.
    assert_eq!(
        parse_instant("9999-12-31", true).unwrap(),
        utc("9999-12-31T00:00:00Z") + Duration::days(1)
    );
    assert_eq!(
        parse_instant("0001-01-01", false).unwrap(),
        utc("0001-01-01T00:00:00Z")
    );
    for bad in [
        "0000-01-01",
        "-0001-12-31",
        "10000-01-01",
        "2026-02-30",
        "2026-1-1",
    ] {
        assert!(parse_instant(bad, false).is_err(), "{bad}");
        assert!(parse_instant(bad, true).is_err(), "{bad}");
    }
    assert!(matches!(
        parse_timestamp("2026-01-01").unwrap_err().problem(),
        TimestampProblem::Syntax { .. }
    ));
}

#[test]
fn the_representable_check_matches_the_grammar_bounds() {
    assert!(check_representable(utc("0001-01-01T00:00:00Z")).is_ok());
    assert!(check_representable(utc("9999-12-31T23:59:59Z")).is_ok());
    let year_zero = utc("0001-01-01T00:00:00Z") - Duration::seconds(1);
    assert_eq!(check_representable(year_zero).unwrap_err().field, "time");
}

/// SplitMix64: a seeded, dependency-free source for the property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A random instant in [`YEARS`], with `digits` of fractional seconds.
fn random_instant(rng: &mut Rng, digits: u32) -> DateTime<Utc> {
    let first = utc("0001-01-01T00:00:00Z").timestamp();
    let last = utc("9999-12-31T23:59:59Z").timestamp();
    // Half the cases near today, where the data is; half anywhere.
    let seconds = if rng.below(2) == 0 {
        utc("2020-01-01T00:00:00Z").timestamp() + rng.below(10 * 366 * 86_400) as i64
    } else {
        first + rng.below((last - first + 1) as u64) as i64
    };
    let unit = 10u64.pow(9 - digits);
    let nanos = (rng.below(1_000_000_000) / unit * unit) as u32;
    DateTime::from_timestamp(seconds, nanos).unwrap()
}

/// `instant` written in one of the grammar's forms, chosen at random, with
/// exactly `digits` fraction digits; `None` when its local year (after a
/// random offset) is not four digits.
fn random_text(rng: &mut Rng, instant: DateTime<Utc>, digits: u32) -> Option<(String, bool)> {
    let offset_minutes: i64 = match rng.below(3) {
        0 => 0,
        1 => *rng.pick(&[60, -300, 330, 345, -570, 840, -720]),
        _ => rng.below(2 * 1439 + 1) as i64 - 1439,
    };
    let local = instant.naive_utc() + Duration::minutes(offset_minutes);
    if !YEARS.contains(&local.year()) {
        return None;
    }
    let separator = *rng.pick(&["T", "t", " "]);
    let fraction = if digits == 0 {
        String::new()
    } else {
        let nanos = format!("{:09}", local.nanosecond());
        format!(".{}", &nanos[..digits as usize])
    };
    let (sign, abs) = if offset_minutes < 0 {
        ('-', -offset_minutes)
    } else {
        ('+', offset_minutes)
    };
    let (h, m) = (abs / 60, abs % 60);
    let mut offsets = vec![
        format!("{sign}{h:02}:{m:02}"),
        format!("{sign}{h:02}{m:02}"),
    ];
    if m == 0 {
        offsets.push(format!("{sign}{h:02}"));
    }
    if offset_minutes == 0 {
        offsets.extend(["Z".into(), "z".into(), String::new(), "-00:00".into()]);
    }
    let offset = rng.pick(&offsets).clone();
    let strict_rfc3339 =
        separator != " " && (offset.len() == 6 || offset.eq_ignore_ascii_case("z"));
    let text = format!(
        "{}{separator}{}{fraction}{offset}",
        local.format("%Y-%m-%d"),
        local.format("%H:%M:%S"),
    );
    Some((text, strict_rfc3339))
}

#[test]
fn property_any_instant_written_in_any_form_parses_back_to_itself() {
    let mut rng = Rng(0x7469_6d65_7374_616d);
    let mut checked = 0;
    while checked < 20_000 {
        let digits = rng.below(10) as u32;
        let instant = random_instant(&mut rng, digits);
        let Some((text, strict)) = random_text(&mut rng, instant, digits) else {
            continue;
        };
        let parsed = parse_timestamp(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(parsed, instant, "{text:?}");
        // Where the text is RFC 3339 proper, chrono agrees.
        if strict {
            assert_eq!(utc(&text), instant, "{text:?}");
        }
        // What the service writes in answers reads back the same.
        for format in [SecondsFormat::AutoSi, SecondsFormat::Nanos] {
            let written = instant.to_rfc3339_opts(format, true);
            assert_eq!(parse_timestamp(&written).unwrap(), instant, "{written}");
        }
        checked += 1;
    }
}

#[test]
fn property_mangled_timestamps_never_panic_and_anything_accepted_is_representable() {
    const PIECES: &[&str] = &[
        "0", "1", "9", "-", "+", ":", ".", "T", " ", "Z", "\0", "é", "６", "60", "24", "99",
        "0000", "-5000", "10000", "", "\u{202e}", "\t",
    ];
    let mut rng = Rng(0x6d61_6e67_6c65_6421);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..50_000 {
        let digits = rng.below(10) as u32;
        let instant = random_instant(&mut rng, digits);
        let Some((text, _)) = random_text(&mut rng, instant, digits) else {
            continue;
        };
        let mut chars: Vec<String> = text.chars().map(String::from).collect();
        for _ in 0..=rng.below(3) {
            let at = rng.below(chars.len() as u64 + 1) as usize;
            let piece = rng.pick(PIECES).to_string();
            match rng.below(3) {
                0 if at < chars.len() => chars[at] = piece,
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.insert(at, piece),
            }
        }
        let mangled: String = chars.concat();
        for result in [
            parse_timestamp(&mangled),
            parse_instant(&mangled, false),
            parse_instant(&mangled, true),
        ] {
            match result {
                Ok(t) => {
                    accepted += 1;
                    // The end of 9999-12-31 as an end of day is the one
                    // instant past the years.
                    assert!(
                        YEARS.contains(&t.year())
                            || t == utc("9999-12-31T00:00:00Z") + Duration::days(1),
                        "{mangled:?}: {t}"
                    );
                    let again = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
                    if YEARS.contains(&t.year()) {
                        assert_eq!(parse_timestamp(&again).unwrap(), t, "{mangled:?}");
                    }
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
    // Both sides were exercised.
    assert!(accepted > 1_000 && refused > 1_000, "{accepted} {refused}");
}
