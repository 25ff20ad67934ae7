//! One employee's measurement at one time, and the window of times a
//! sample may have.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::time::check_representable;
use crate::{EmployeeId, MetricValues, TeamName, ValidationError};

/// How far in the future a measurement time may be: clocks drift, but a
/// sample from next week is a bug upstream, not a measurement.
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

/// The times a sample may have, computed once per request (or file) from the
/// clock and the retention settings, and passed to every validator.
///
/// `newest` is `now` + [`MAX_FUTURE_SKEW`] (DESIGN.md §2). `oldest` is `now`
/// minus the rollup's retention (`rollup_days`, 730 by default): an older
/// sample could not be kept by any table, so storing it would only create a
/// partition or chunk that retention must then drop (a batch of 4,000 old
/// days once made 4,000 of them). Backfill within the window is accepted,
/// including samples older than the raw retention (they feed the rollup and
/// raw trends until the next retention run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleWindow {
    oldest: DateTime<Utc>,
    newest: DateTime<Utc>,
}

impl SampleWindow {
    /// The window as of `now` for data kept `keep_days` days.
    pub fn new(now: DateTime<Utc>, keep_days: u32) -> Self {
        let floor = DateTime::<Utc>::MIN_UTC;
        let oldest = now
            .checked_sub_signed(Duration::days(i64::from(keep_days)))
            .unwrap_or(floor);
        Self {
            oldest,
            newest: now
                .checked_add_signed(MAX_FUTURE_SKEW)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// The earliest time accepted.
    pub fn oldest(&self) -> DateTime<Utc> {
        self.oldest
    }

    /// The latest time accepted.
    pub fn newest(&self) -> DateTime<Utc> {
        self.newest
    }

    /// `time` if it is representable and inside the window; the error names
    /// the field `time`.
    pub fn check(&self, time: DateTime<Utc>) -> Result<DateTime<Utc>, ValidationError> {
        let time = check_representable(time)?;
        if time > self.newest {
            return Err(ValidationError::new(
                "time",
                format!(
                    "must not be more than 5 minutes in the future, got {} (latest accepted {})",
                    time.to_rfc3339(),
                    self.newest.to_rfc3339()
                ),
            ));
        }
        if time < self.oldest {
            return Err(ValidationError::new(
                "time",
                format!(
                    "is older than the data the service keeps, got {} (earliest accepted {})",
                    time.to_rfc3339(),
                    self.oldest.to_rfc3339()
                ),
            ));
        }
        Ok(time)
    }
}

/// A validated sample: the unit the writer stores. The only way to build one
/// is [`MetricSample::new`] (or [`RawSample::validate`]), which checks every
/// rule of DESIGN.md §2.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSample {
    pub time: DateTime<Utc>,
    pub employee_id: EmployeeId,
    pub team: Option<TeamName>,
    #[serde(flatten)]
    pub values: MetricValues,
}

impl MetricSample {
    /// Builds a sample, refusing a time outside `window`. The window is an
    /// argument so that tests and replays control the clock.
    pub fn new(
        time: DateTime<Utc>,
        employee_id: EmployeeId,
        team: Option<TeamName>,
        values: MetricValues,
        window: &SampleWindow,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            time: window.check(time)?,
            employee_id,
            team,
            values,
        })
    }
}

/// A sample as it arrives, before any rule is checked: what the file parsers
/// and the JSON body produce. Team may be absent or empty (an empty CSV cell
/// is "no team").
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct RawSample {
    pub time: Option<DateTime<Utc>>,
    pub employee_id: Option<String>,
    pub team: Option<String>,
    pub degree_centrality: Option<f64>,
    pub betweenness_centrality: Option<f64>,
    pub clustering_coeff: Option<f64>,
    pub burnout_score: Option<f64>,
}

impl RawSample {
    /// Checks every field; the first broken rule is returned, naming its field.
    pub fn validate(self, window: &SampleWindow) -> Result<MetricSample, ValidationError> {
        fn required<T>(v: Option<T>, field: &str) -> Result<T, ValidationError> {
            v.ok_or_else(|| ValidationError::new(field, "is required"))
        }
        let time = required(self.time, "time")?;
        let employee_id = EmployeeId::parse(required(self.employee_id, "employee_id")?)?;
        let team = match self.team {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) => Some(TeamName::parse(t)?),
        };
        let values = MetricValues::new(
            required(self.degree_centrality, "degree_centrality")?,
            required(self.betweenness_centrality, "betweenness_centrality")?,
            required(self.clustering_coeff, "clustering_coeff")?,
            required(self.burnout_score, "burnout_score")?,
        )?;
        MetricSample::new(time, employee_id, team, values, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(time: DateTime<Utc>) -> RawSample {
        RawSample {
            time: Some(time),
            employee_id: Some("emp_1".into()),
            team: Some("Core".into()),
            degree_centrality: Some(0.5),
            betweenness_centrality: Some(0.1),
            clustering_coeff: Some(0.3),
            burnout_score: Some(42.0),
        }
    }

    #[test]
    fn a_complete_sample_validates() {
        let now = Utc::now();
        let s = raw(now).validate(&SampleWindow::new(now, 730)).unwrap();
        assert_eq!(s.employee_id.as_str(), "emp_1");
        assert_eq!(s.team.unwrap().as_str(), "Core");
        assert_eq!(s.values.burnout_score, 42.0);
    }

    #[test]
    fn a_time_more_than_five_minutes_ahead_is_rejected() {
        let now = Utc::now();
        assert!(
            raw(now + Duration::minutes(5))
                .validate(&SampleWindow::new(now, 730))
                .is_ok()
        );
        let err = raw(now + Duration::minutes(5) + Duration::seconds(1))
            .validate(&SampleWindow::new(now, 730))
            .unwrap_err();
        assert_eq!(err.field, "time");
    }

    #[test]
    fn samples_within_the_kept_days_are_accepted_and_older_ones_refused() {
        let now = Utc::now();
        let window = SampleWindow::new(now, 730);
        // Older than the raw retention (90 days), within the rollup's.
        assert!(raw(now - Duration::days(91)).validate(&window).is_ok());
        assert!(raw(now - Duration::days(730)).validate(&window).is_ok());
        let err = raw(now - Duration::days(730) - Duration::seconds(1))
            .validate(&window)
            .unwrap_err();
        assert_eq!(err.field, "time");
        assert!(err.message.contains("older than"), "{err}");
        assert!(
            raw(now - Duration::days(3 * 365))
                .validate(&window)
                .is_err()
        );
    }

    #[test]
    fn unrepresentable_years_are_refused_whatever_the_window() {
        let now = Utc::now();
        let window = SampleWindow::new(now, u32::MAX);
        assert_eq!(window.oldest(), DateTime::<Utc>::MIN_UTC);
        for year in [-5000, -1, 0] {
            let t = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            let err = raw(t).validate(&window).unwrap_err();
            assert_eq!(err.field, "time");
            assert!(err.message.contains("years 1 and 9999"), "{err}");
        }
    }

    #[test]
    fn a_missing_field_is_named() {
        let now = Utc::now();
        let mut r = raw(now);
        r.clustering_coeff = None;
        assert_eq!(
            r.validate(&SampleWindow::new(now, 730)).unwrap_err().field,
            "clustering_coeff"
        );
        let mut r = raw(now);
        r.time = None;
        assert_eq!(
            r.validate(&SampleWindow::new(now, 730)).unwrap_err().field,
            "time"
        );
    }

    #[test]
    fn an_empty_team_means_no_team() {
        let now = Utc::now();
        let mut r = raw(now);
        r.team = Some(String::new());
        assert_eq!(r.validate(&SampleWindow::new(now, 730)).unwrap().team, None);
    }

    #[test]
    fn a_bad_employee_id_is_named() {
        let now = Utc::now();
        let mut r = raw(now);
        r.employee_id = Some("not valid".into());
        assert_eq!(
            r.validate(&SampleWindow::new(now, 730)).unwrap_err().field,
            "employee_id"
        );
    }
}
