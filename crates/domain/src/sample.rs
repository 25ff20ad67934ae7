//! One employee's measurement at one time.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{EmployeeId, MetricValues, TeamName, ValidationError};

/// How far in the future a measurement time may be: clocks drift, but a
/// sample from next week is a bug upstream, not a measurement.
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

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
    /// Builds a sample, refusing a time more than [`MAX_FUTURE_SKEW`] after
    /// `now`. `now` is an argument so that tests and replays control the
    /// clock.
    pub fn new(
        time: DateTime<Utc>,
        employee_id: EmployeeId,
        team: Option<TeamName>,
        values: MetricValues,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        if time > now + MAX_FUTURE_SKEW {
            return Err(ValidationError::new(
                "time",
                format!(
                    "must not be more than 5 minutes in the future, got {} (now {})",
                    time.to_rfc3339(),
                    now.to_rfc3339()
                ),
            ));
        }
        Ok(Self {
            time,
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
    pub fn validate(self, now: DateTime<Utc>) -> Result<MetricSample, ValidationError> {
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
        MetricSample::new(time, employee_id, team, values, now)
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
        let s = raw(now).validate(now).unwrap();
        assert_eq!(s.employee_id.as_str(), "emp_1");
        assert_eq!(s.team.unwrap().as_str(), "Core");
        assert_eq!(s.values.burnout_score, 42.0);
    }

    #[test]
    fn a_time_more_than_five_minutes_ahead_is_rejected() {
        let now = Utc::now();
        assert!(raw(now + Duration::minutes(5)).validate(now).is_ok());
        let err = raw(now + Duration::minutes(5) + Duration::seconds(1))
            .validate(now)
            .unwrap_err();
        assert_eq!(err.field, "time");
    }

    #[test]
    fn old_samples_are_accepted() {
        let now = Utc::now();
        assert!(raw(now - Duration::days(3 * 365)).validate(now).is_ok());
    }

    #[test]
    fn a_missing_field_is_named() {
        let now = Utc::now();
        let mut r = raw(now);
        r.clustering_coeff = None;
        assert_eq!(r.validate(now).unwrap_err().field, "clustering_coeff");
        let mut r = raw(now);
        r.time = None;
        assert_eq!(r.validate(now).unwrap_err().field, "time");
    }

    #[test]
    fn an_empty_team_means_no_team() {
        let now = Utc::now();
        let mut r = raw(now);
        r.team = Some(String::new());
        assert_eq!(r.validate(now).unwrap().team, None);
    }

    #[test]
    fn a_bad_employee_id_is_named() {
        let now = Utc::now();
        let mut r = raw(now);
        r.employee_id = Some("not valid".into());
        assert_eq!(r.validate(now).unwrap_err().field, "employee_id");
    }
}
