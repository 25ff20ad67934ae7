//! The one timestamp grammar of the service.
//!
//! Every time a caller writes is read here: a sample's `time` in every
//! metrics format (CSV, NDJSON, JSON, Parquet text columns), an interaction's
//! `time` for the graph builder, a snapshot's `at`, the query parameters
//! `start_date`/`end_date` and the audit log's `start`/`end`, and the CLI's
//! `--at`/`--now`. So one text means the same instant everywhere.
//!
//! ```text
//! timestamp = date sep time [offset]
//! instant   = timestamp / date              (query parameters and the CLI)
//! date      = YYYY "-" MM "-" DD            year 0001-9999, a real calendar day
//! sep       = "T" / "t" / " "
//! time      = HH ":" MM ":" SS ["." 1*9DIGIT]   00-23 : 00-59 : 00-59
//! offset    = "Z" / "z" / ("+" / "-") HH [[":"] MM]   00-23, 00-59
//! ```
//!
//! - This is RFC 3339 (`2026-01-01T09:30:00Z`, `…+02:00`, `…-00:00`) plus
//!   what pandas and PostgreSQL write: a space for the `T`
//!   (`2026-01-01 09:30:00+00:00`), an offset without minutes or colon
//!   (`+02`, `+0200`), and **no offset at all, which is UTC**
//!   (docs/DECISIONS.md: pandas writes naive UTC times that way).
//! - Fractional seconds: 1 to 9 digits (nanoseconds); more is refused rather
//!   than silently cut.
//! - A bare `date` is an instant only where a caller asks for one
//!   ([`parse_instant`]): the start of that UTC day, or for an end its end.
//! - Surrounding whitespace is ignored; anything else after the timestamp is
//!   refused (trailing text, NUL, a space before the offset, a zone name).
//! - Refused on purpose: second 60 (leap seconds; the service counts none,
//!   and neither do pandas or PostgreSQL), hour 24, two-digit or unpadded
//!   fields, signed or five-digit years, offsets beyond ±23:59.
//! - The year, as written and as the UTC instant, must be in [`YEARS`].
//!
//! Errors ([`TimestampError`]) say what was wrong and do not name a field:
//! the caller knows it (`time`, `at`, `start_date`) and adds it with
//! [`TimestampError::for_field`].

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use crate::ValidationError;

/// The years a time may have: 1 to 9999, what RFC 3339 can write and what
/// PostgreSQL, chrono and every client can represent. A year 0, a negative
/// one or one past 9999 means a broken client, not a measurement.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// The forms [`parse_instant`] accepts, for documentation (the OpenAPI
/// descriptions of `start_date`/`end_date`).
pub const INSTANT_FORMS: &str =
    "RFC 3339 timestamp, a timestamp without offset (taken as UTC) or YYYY-MM-DD; years 1-9999";

/// The grammar's dates as a regular expression (ECMA-262 and Python alike:
/// only `[0-9]`, never `\d`, which Python reads as any Unicode digit): a
/// year 0001-9999, a month, and a day that exists in that month (29
/// February in leap years only).
macro_rules! date_pattern {
    () => {
        concat!(
            "(?:(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-",
            "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)",
            "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)"
        )
    };
}

macro_rules! clock_pattern {
    () => {
        concat!(
            "[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?",
            "(?:[Zz]|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
        )
    };
}

/// A timestamp of the grammar, for the OpenAPI document. Exact but for two
/// cases no regular expression can see: surrounding white space (accepted
/// and ignored) and an offset that moves 0001-01-01 or 9999-12-31 out of
/// [`YEARS`] in UTC (refused).
pub const TIMESTAMP_PATTERN: &str = concat!("^", date_pattern!(), clock_pattern!(), "$");

/// An instant of the grammar (a timestamp or a bare date), for the OpenAPI
/// document; see [`TIMESTAMP_PATTERN`].
pub const INSTANT_PATTERN: &str = concat!("^", date_pattern!(), "(?:", clock_pattern!(), ")?$");

/// The most digits of a fraction of a second: nanoseconds.
const MAX_FRACTION_DIGITS: usize = 9;

/// How much of a refused input an error quotes.
const MAX_QUOTED_CHARS: usize = 64;

/// A timestamp of the grammar (module docs), as a UTC instant.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    parse(text, None)
}

/// A timestamp of the grammar, or a `YYYY-MM-DD` date taken as the start
/// of that UTC day (with `end_of_day`, its end: the next day's start, so a
/// range from and to the same date is that whole day). The date's year is
/// what is checked: the end of 9999-12-31 is allowed.
pub fn parse_instant(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, TimestampError> {
    parse(text, Some(end_of_day))
}

/// Refuses a time outside [`YEARS`] (a Parquet integer time, a computed
/// one); the error names the field `time`.
pub fn check_representable(time: DateTime<Utc>) -> Result<DateTime<Utc>, ValidationError> {
    if YEARS.contains(&time.year()) {
        Ok(time)
    } else {
        Err(ValidationError::new(
            "time",
            format!(
                "must be between the years {} and {}, got year {}",
                YEARS.start(),
                YEARS.end(),
                time.year()
            ),
        ))
    }
}

/// A text that is not a time of the grammar: what was wrong, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    problem: TimestampProblem,
    /// The input, trimmed, cut to [`MAX_QUOTED_CHARS`].
    quoted: String,
    /// Whether a bare date was allowed (it changes what "expected" says).
    dates: bool,
}

/// What was wrong with a timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampProblem {
    /// Nothing but whitespace.
    Empty,
    /// Not the grammar: at `position` (1-based character) `expected` was due.
    Syntax {
        position: usize,
        expected: &'static str,
    },
    /// A year outside [`YEARS`], as written (`-5000`, `0000`, `10000`) or,
    /// after the offset, in UTC.
    Year { year: String, in_utc: bool },
    /// A month, day, hour, minute or second out of its range.
    OutOfRange {
        part: &'static str,
        value: u32,
        range: String,
    },
    /// Second 60.
    LeapSecond,
    /// More than nine digits after the decimal point.
    TooManyFractionDigits { digits: usize },
    /// An offset beyond ±23:59.
    Offset { offset: String },
    /// Text after a complete timestamp.
    Trailing { rest: String },
}

impl TimestampError {
    pub fn problem(&self) -> &TimestampProblem {
        &self.problem
    }

    /// The error as the caller names the input (`time`, `at`, `start_date`).
    pub fn for_field(self, field: impl Into<String>) -> ValidationError {
        ValidationError::new(field, self.to_string())
    }

    fn forms(&self) -> &'static str {
        if self.dates {
            "an RFC 3339 timestamp (2026-01-01T09:30:00Z), a timestamp without offset (taken as UTC) or a YYYY-MM-DD date"
        } else {
            "an RFC 3339 timestamp such as 2026-01-01T09:30:00Z or 2026-01-01 09:30:00+02:00 (one without an offset is UTC)"
        }
    }
}

/// A sample's column is `time`: the field a bare conversion names.
impl From<TimestampError> for ValidationError {
    fn from(error: TimestampError) -> Self {
        error.for_field("time")
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = &self.quoted;
        match &self.problem {
            TimestampProblem::Empty => write!(f, "is empty; must be {}", self.forms()),
            TimestampProblem::Syntax { position, expected } => write!(
                f,
                "must be {}, got {quoted:?} (expected {expected} at character {position})",
                self.forms()
            ),
            TimestampProblem::Year { year, in_utc } => write!(
                f,
                "must be between the years {} and {}, got year {year}{} in {quoted:?}",
                YEARS.start(),
                YEARS.end(),
                if *in_utc { " in UTC" } else { "" }
            ),
            TimestampProblem::OutOfRange { part, value, range } => {
                write!(f, "has {part} {value:02}, outside {range}, in {quoted:?}")
            }
            TimestampProblem::LeapSecond => write!(
                f,
                "has second 60 (a leap second), which is not accepted: times are counted without leap seconds, in {quoted:?}"
            ),
            TimestampProblem::TooManyFractionDigits { digits } => write!(
                f,
                "has {digits} digits of fractional seconds, at most {MAX_FRACTION_DIGITS} (nanoseconds), in {quoted:?}"
            ),
            TimestampProblem::Offset { offset } => write!(
                f,
                "has the UTC offset {offset}, outside -23:59 to +23:59, in {quoted:?}"
            ),
            TimestampProblem::Trailing { rest } => write!(
                f,
                "has {rest:?} after the end of the timestamp, in {quoted:?}"
            ),
        }
    }
}

impl std::error::Error for TimestampError {}

/// The input cut to [`MAX_QUOTED_CHARS`] characters, for error messages.
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// `date_as`: `None` for a timestamp only; `Some(end_of_day)` when a bare
/// date is an instant too.
fn parse(text: &str, date_as: Option<bool>) -> Result<DateTime<Utc>, TimestampError> {
    let text = text.trim();
    let fail = |problem| TimestampError {
        problem,
        quoted: quote(text),
        dates: date_as.is_some(),
    };
    if text.is_empty() {
        return Err(fail(TimestampProblem::Empty));
    }
    let mut s = Scanner { text, at: 0 };
    let date = s.date().map_err(fail)?;
    if s.done() {
        return match date_as {
            Some(end_of_day) => Ok(day_bound(date, end_of_day)),
            None => Err(fail(s.expected("'T' or a space, then the time HH:MM:SS"))),
        };
    }
    if !s.eat_any(b"Tt ") {
        return Err(fail(s.expected("'T' or a space after the date")));
    }
    let time = s.time().map_err(fail)?;
    let offset_seconds = s.offset().map_err(fail)?;
    if !s.done() {
        return Err(fail(TimestampProblem::Trailing {
            rest: quote(&text[s.at..]),
        }));
    }
    let utc = date.and_time(time).and_utc() - Duration::seconds(i64::from(offset_seconds));
    if !YEARS.contains(&utc.year()) {
        return Err(fail(TimestampProblem::Year {
            year: utc.year().to_string(),
            in_utc: true,
        }));
    }
    Ok(utc)
}

/// The start of `date` (UTC), or with `end_of_day` the start of the next.
fn day_bound(date: NaiveDate, end_of_day: bool) -> DateTime<Utc> {
    let start = date.and_time(NaiveTime::MIN).and_utc();
    if end_of_day {
        start + Duration::days(1)
    } else {
        start
    }
}

/// A cursor over the (trimmed) input. It only ever steps over ASCII, so a
/// byte position is a character position.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at == self.text.len()
    }

    fn expected(&self, expected: &'static str) -> TimestampProblem {
        TimestampProblem::Syntax {
            position: self.at + 1,
            expected,
        }
    }

    fn eat_any(&mut self, bytes: &[u8]) -> bool {
        match self.peek() {
            Some(b) if bytes.contains(&b) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn literal(&mut self, byte: u8, expected: &'static str) -> Result<(), TimestampProblem> {
        if self.eat_any(&[byte]) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    /// A run of ASCII digits (possibly empty).
    fn digits(&mut self) -> &str {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// Exactly two digits, not followed by a third.
    fn two_digits(&mut self, expected: &'static str) -> Result<u32, TimestampProblem> {
        let third = self.text.as_bytes().get(self.at + 2);
        if third.is_some_and(u8::is_ascii_digit) {
            return Err(self.expected(expected));
        }
        self.leading_two_digits(expected)
    }

    /// Two digits, whatever follows (an offset's `+hhmm`).
    fn leading_two_digits(&mut self, expected: &'static str) -> Result<u32, TimestampProblem> {
        match self.text.as_bytes().get(self.at..self.at + 2) {
            Some(&[a, b]) if a.is_ascii_digit() && b.is_ascii_digit() => {
                self.at += 2;
                Ok(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            }
            _ => Err(self.expected(expected)),
        }
    }

    fn date(&mut self) -> Result<NaiveDate, TimestampProblem> {
        let year = self.year()?;
        self.literal(b'-', "'-' after the year")?;
        let month = self.two_digits("a two-digit month")?;
        if !(1..=12).contains(&month) {
            return Err(out_of_range("month", month, "01 to 12".into()));
        }
        self.literal(b'-', "'-' after the month")?;
        let day = self.two_digits("a two-digit day")?;
        NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
            out_of_range(
                "day",
                day,
                format!(
                    "01 to {:02} in {year:04}-{month:02}",
                    days_in_month(year, month)
                ),
            )
        })
    }

    /// Four digits, 0001 to 9999. A sign or more digits is a year out of
    /// range when a `-` follows (`-5000-01-01`, `10000-01-01`); fewer
    /// digits (`26-01-01`) and anything else are a syntax error.
    fn year(&mut self) -> Result<i32, TimestampProblem> {
        let start = self.at;
        let signed = self.eat_any(b"+-");
        let run = self.digits();
        let (len, value) = (run.len(), run.parse::<i32>().ok());
        if !signed && len == 4 {
            return match value {
                Some(year) if YEARS.contains(&year) => Ok(year),
                _ => Err(TimestampProblem::Year {
                    year: self.text[start..self.at].to_string(),
                    in_utc: false,
                }),
            };
        }
        if (signed || len > 4) && len > 0 && self.peek() == Some(b'-') {
            return Err(TimestampProblem::Year {
                year: quote(&self.text[start..self.at]),
                in_utc: false,
            });
        }
        self.at = start;
        Err(self.expected("a four-digit year"))
    }

    fn time(&mut self) -> Result<NaiveTime, TimestampProblem> {
        let hour = self.two_digits("a two-digit hour")?;
        if hour > 23 {
            return Err(out_of_range("hour", hour, "00 to 23".into()));
        }
        self.literal(b':', "':' after the hour")?;
        let minute = self.two_digits("two-digit minutes")?;
        if minute > 59 {
            return Err(out_of_range("minute", minute, "00 to 59".into()));
        }
        self.literal(b':', "':' and the seconds after the minutes")?;
        let second = self.two_digits("two-digit seconds")?;
        if second == 60 {
            return Err(TimestampProblem::LeapSecond);
        }
        if second > 59 {
            return Err(out_of_range("second", second, "00 to 59".into()));
        }
        let nanos = self.fraction()?;
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .ok_or_else(|| out_of_range("second", second, "00 to 59".into()))
    }

    /// `.` and 1 to 9 digits, as nanoseconds; 0 when there is no `.`.
    fn fraction(&mut self) -> Result<u32, TimestampProblem> {
        if !self.eat_any(b".") {
            return Ok(0);
        }
        let run = self.digits();
        if run.is_empty() {
            return Err(self.expected("digits after the decimal point"));
        }
        if run.len() > MAX_FRACTION_DIGITS {
            return Err(TimestampProblem::TooManyFractionDigits { digits: run.len() });
        }
        let padded = format!("{run:0<9}");
        padded
            .parse::<u32>()
            .map_err(|_| self.expected("digits after the decimal point"))
    }

    /// The offset east of UTC in seconds; 0 for `Z` or no offset.
    fn offset(&mut self) -> Result<i32, TimestampProblem> {
        let start = self.at;
        if self.done() {
            return Ok(0);
        }
        if self.eat_any(b"Zz") {
            return Ok(0);
        }
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Ok(0), // whatever follows is trailing text
        };
        self.at += 1;
        let hours = self.leading_two_digits("a two-digit offset hour")?;
        let colon = self.eat_any(b":");
        let minutes = if colon || self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.two_digits("two-digit offset minutes")?
        } else {
            0
        };
        if hours > 23 || minutes > 59 {
            return Err(TimestampProblem::Offset {
                offset: self.text[start..self.at].to_string(),
            });
        }
        // hours <= 23 and minutes <= 59: no overflow.
        Ok(sign * (hours * 3600 + minutes * 60) as i32)
    }
}

fn out_of_range(part: &'static str, value: u32, range: String) -> TimestampProblem {
    TimestampProblem::OutOfRange { part, value, range }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(first), Some(next)) => (next - first).num_days() as u32,
        _ => 31,
    }
}

#[cfg(test)]
mod tests;
