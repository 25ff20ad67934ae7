//! Query windows: `days` counts, date ranges and the burnout threshold.

use chrono::{DateTime, Duration, Utc};

use crate::ValidationError;
use crate::time::parse_instant;

/// A whole number of days between 1 and `MAX`, as the `days` query parameter
/// of DESIGN.md §5. Each endpoint has its own maximum, so each has its own
/// type (see the aliases below) and one cannot be passed for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Days<const MAX: u32>(u32);

/// `days` of the employee and team trends: 1..=730 (two years of rollups).
pub type TrendDays = Days<730>;
/// `days` of burnout alerts: 1..=90 (raw retention).
pub type AlertDays = Days<90>;
/// `days` of metric statistics: 1..=365.
pub type StatsDays = Days<365>;

impl<const MAX: u32> Days<MAX> {
    pub const MAX: u32 = MAX;

    pub fn new(days: i64) -> Result<Self, ValidationError> {
        if (1..=i64::from(MAX)).contains(&days) {
            Ok(Self(days as u32))
        } else {
            Err(Self::range_error(&days.to_string()))
        }
    }

    /// Parses the text of a query parameter.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| Self::range_error(text))
            .and_then(Self::new)
    }

    fn range_error(got: &str) -> ValidationError {
        ValidationError::new(
            "days",
            format!("must be a whole number from 1 to {MAX}, got {got:?}"),
        )
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::days(i64::from(self.0))
    }

    /// The window that ends at `now` and reaches back this many days.
    pub fn ending_at(self, now: DateTime<Utc>) -> TimeRange {
        TimeRange {
            start: now - self.duration(),
            end: now,
        }
    }
}

/// The OpenAPI schema of a `days` parameter: the whole numbers 1 to `MAX`.
impl<const MAX: u32> utoipa::PartialSchema for Days<MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX))
            .into()
    }
}

/// The OpenAPI schema of a threshold: a number from 0 to 100.
impl utoipa::PartialSchema for Threshold {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(0))
            .maximum(Some(100))
            .into()
    }
}

/// A burnout threshold between 0 and 100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold(f64);

impl Threshold {
    pub fn new(value: f64) -> Result<Self, ValidationError> {
        if value.is_finite() && (0.0..=100.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(Self::range_error(&value.to_string()))
        }
    }

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        text.trim()
            .parse::<f64>()
            .map_err(|_| Self::range_error(text))
            .and_then(Self::new)
    }

    fn range_error(got: &str) -> ValidationError {
        ValidationError::new(
            "threshold",
            format!("must be a number from 0 to 100, got {got:?}"),
        )
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A half-open time range `[start, end)` with `start < end`, at most
/// [`TimeRange::MAX_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeRange {
    /// The longest range a query may ask for: two years and a day, the reach
    /// of the hourly rollup.
    pub const MAX_DAYS: i64 = 731;

    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, ValidationError> {
        if start >= end {
            return Err(ValidationError::new(
                "start_date",
                format!(
                    "must be before end_date, got start_date {} and end_date {}",
                    start.to_rfc3339(),
                    end.to_rfc3339()
                ),
            ));
        }
        if end - start > Duration::days(Self::MAX_DAYS) {
            return Err(ValidationError::new(
                "end_date",
                format!("the range may span at most {} days", Self::MAX_DAYS),
            ));
        }
        Ok(Self { start, end })
    }

    /// Parses `start_date` and `end_date` query parameters, each an instant
    /// of [`crate::time`]'s grammar: a timestamp (without offset, UTC) or a
    /// calendar date. A date as `start_date` means the start of that UTC
    /// day; as `end_date` the end of it, so
    /// `start_date=2026-01-01&end_date=2026-01-01` is that whole day.
    pub fn parse(start: &str, end: &str) -> Result<Self, ValidationError> {
        let start = parse_instant(start, false).map_err(|e| e.for_field("start_date"))?;
        let end = parse_instant(end, true).map_err(|e| e.for_field("end_date"))?;
        Self::new(start, end)
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    #[test]
    fn trend_days_accept_one_to_730_only() {
        assert!(TrendDays::parse("1").is_ok());
        assert!(TrendDays::parse("730").is_ok());
        for bad in ["0", "731", "-1", "1.5", "abc", "", "99999999999999999999"] {
            let err = TrendDays::parse(bad).unwrap_err();
            assert_eq!(err.field, "days");
            assert!(err.message.contains("1 to 730"), "{err}");
        }
    }

    #[test]
    fn alert_and_statistics_days_have_their_own_limits() {
        assert!(AlertDays::new(90).is_ok());
        assert!(AlertDays::new(91).is_err());
        assert!(StatsDays::new(365).is_ok());
        assert!(StatsDays::new(366).is_err());
    }

    #[test]
    fn a_threshold_outside_zero_to_one_hundred_is_rejected() {
        assert_eq!(Threshold::parse("70").unwrap().get(), 70.0);
        assert_eq!(Threshold::parse("0").unwrap().get(), 0.0);
        assert_eq!(Threshold::parse("100").unwrap().get(), 100.0);
        for bad in ["101", "-1", "NaN", "inf", "x", ""] {
            assert_eq!(Threshold::parse(bad).unwrap_err().field, "threshold");
        }
    }

    #[test]
    fn a_start_after_the_end_is_rejected_naming_start_date() {
        let err = TimeRange::parse("2026-02-01", "2026-01-01").unwrap_err();
        assert_eq!(err.field, "start_date");
    }

    #[test]
    fn a_single_date_range_covers_the_whole_day() {
        let r = TimeRange::parse("2026-01-01", "2026-01-01").unwrap();
        assert_eq!(r.end() - r.start(), Duration::days(1));
    }

    #[test]
    fn malformed_dates_name_their_parameter() {
        assert_eq!(
            TimeRange::parse("yesterday", "2026-01-01")
                .unwrap_err()
                .field,
            "start_date"
        );
        assert_eq!(
            TimeRange::parse("2026-01-01", "2026-13-01")
                .unwrap_err()
                .field,
            "end_date"
        );
    }

    #[test]
    fn rfc3339_timestamps_with_offsets_are_converted_to_utc() {
        let r = TimeRange::parse("2026-01-01T02:00:00+02:00", "2026-01-01T03:00:00Z").unwrap();
        assert_eq!(r.start().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_timestamp_without_offset_is_taken_as_utc() {
        let r = TimeRange::parse("2026-11-30T00:00:00", "2026-11-30 06:30:00.5").unwrap();
        assert_eq!(r.start().to_rfc3339(), "2026-11-30T00:00:00+00:00");
        assert_eq!(r.end().to_rfc3339(), "2026-11-30T06:30:00.500+00:00");
        assert_eq!(
            parse_instant("2026-11-30T00:00:00+02:00", false)
                .unwrap()
                .to_rfc3339(),
            "2026-11-29T22:00:00+00:00"
        );
    }

    #[test]
    fn years_outside_1_to_9999_are_refused_naming_the_field() {
        for bad in [
            "-5000-01-01 00:00:00",
            "0000-01-01T00:00:00Z",
            "0000-01-01",
            "-0001-12-31",
            "+10000-01-01T00:00:00Z",
            "+275760-09-13T00:00:00",
            "10000-01-01",
        ] {
            let err = ValidationError::from(parse_instant(bad, false).unwrap_err());
            assert_eq!(err.field, "time", "{bad}");
            let err = TimeRange::parse(bad, "2026-01-01").unwrap_err();
            assert_eq!(err.field, "start_date", "{bad}");
        }
        assert!(parse_timestamp("0001-01-01T00:00:00Z").is_ok());
        assert!(parse_timestamp("9999-12-31T23:59:59Z").is_ok());
        assert!(parse_instant("9999-12-31", true).is_ok());
    }

    #[test]
    fn a_range_longer_than_two_years_is_rejected() {
        assert!(TimeRange::parse("2020-01-01", "2026-01-01").is_err());
    }
}
