//! The four network metrics and their allowed ranges.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Accepted values smaller than this in magnitude are stored as exactly 0.
///
/// Every metric value (a posted sample, a row of a file, a graph snapshot's
/// output) is built by [`MetricName::check`], so this is the one place the
/// rule lives. The reason is PostgreSQL's `float8` arithmetic: a product
/// whose exact value is nonzero but rounds to 0 (a subnormal such as
/// `5e-324`, or `1e-200` squared) raises "value out of range: underflow"
/// instead of giving 0. The rollup's sums of squares, `stddev` (whose
/// Youngs–Cramer accumulator squares differences of values) and the
/// timescale refresh and retention jobs all multiply values, so one such
/// sample would break every later statistic and job run. With every nonzero
/// value at least `1e-100`, a square is at least `1e-200`, and a squared
/// difference of two stored values (at least the spacing of doubles near
/// `1e-100`, about `1e-116`) is at least about `1e-232`, far above the
/// smallest normal double (`2.2e-308`) even divided by the square of any
/// count. Values this small mean nothing for centralities in 0..1 or scores
/// in 0..100, so flushing them loses no information.
pub const FLUSH_TO_ZERO_BELOW: f64 = 1e-100;

/// `value` itself, or `0.0` when its magnitude is below
/// [`FLUSH_TO_ZERO_BELOW`] (which also turns `-0.0` into `0.0`).
fn flush_tiny(value: f64) -> f64 {
    if value.abs() < FLUSH_TO_ZERO_BELOW {
        0.0
    } else {
        value
    }
}

/// One of the four metrics the platform measures. The storage layer maps each
/// to its column through [`MetricName::column`], so a column name in SQL never
/// comes from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    DegreeCentrality,
    BetweennessCentrality,
    ClusteringCoeff,
    BurnoutScore,
}

impl MetricName {
    pub const ALL: [MetricName; 4] = [
        MetricName::DegreeCentrality,
        MetricName::BetweennessCentrality,
        MetricName::ClusteringCoeff,
        MetricName::BurnoutScore,
    ];

    /// The column (and field) name, as in DESIGN.md §2 and §9.
    pub const fn column(self) -> &'static str {
        match self {
            MetricName::DegreeCentrality => "degree_centrality",
            MetricName::BetweennessCentrality => "betweenness_centrality",
            MetricName::ClusteringCoeff => "clustering_coeff",
            MetricName::BurnoutScore => "burnout_score",
        }
    }

    /// The largest allowed value; every metric starts at 0.
    pub const fn max(self) -> f64 {
        match self {
            MetricName::BurnoutScore => 100.0,
            _ => 1.0,
        }
    }

    /// Checks one value against the metric's rule: finite and within
    /// 0..=max. An accepted value whose magnitude is below
    /// [`FLUSH_TO_ZERO_BELOW`] comes back as exactly `0.0` (and `-0.0` as
    /// `0.0`); see that constant for why.
    pub fn check(self, value: f64) -> Result<f64, ValidationError> {
        if !value.is_finite() {
            return Err(ValidationError::new(
                self.column(),
                format!("must be a finite number, got {value}"),
            ));
        }
        if !(0.0..=self.max()).contains(&value) {
            return Err(ValidationError::new(
                self.column(),
                format!("must be between 0 and {}, got {value}", self.max()),
            ));
        }
        Ok(flush_tiny(value))
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.column())
    }
}

impl FromStr for MetricName {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MetricName::ALL
            .into_iter()
            .find(|m| m.column() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "metric_name",
                    format!(
                        "must be one of degree_centrality, betweenness_centrality, clustering_coeff, burnout_score; got {s:?}"
                    ),
                )
            })
    }
}

/// The four values of one measurement, each checked against its range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricValues {
    #[schema(minimum = 0, maximum = 1)]
    pub degree_centrality: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub betweenness_centrality: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub clustering_coeff: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub burnout_score: f64,
}

impl MetricValues {
    pub fn new(
        degree_centrality: f64,
        betweenness_centrality: f64,
        clustering_coeff: f64,
        burnout_score: f64,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            degree_centrality: MetricName::DegreeCentrality.check(degree_centrality)?,
            betweenness_centrality: MetricName::BetweennessCentrality
                .check(betweenness_centrality)?,
            clustering_coeff: MetricName::ClusteringCoeff.check(clustering_coeff)?,
            burnout_score: MetricName::BurnoutScore.check(burnout_score)?,
        })
    }

    pub fn get(&self, metric: MetricName) -> f64 {
        match metric {
            MetricName::DegreeCentrality => self.degree_centrality,
            MetricName::BetweennessCentrality => self.betweenness_centrality,
            MetricName::ClusteringCoeff => self.clustering_coeff,
            MetricName::BurnoutScore => self.burnout_score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_metric_names_parse() {
        for m in MetricName::ALL {
            assert_eq!(m.column().parse::<MetricName>().unwrap(), m);
        }
        for bad in [
            "",
            "burnout",
            "BURNOUT_SCORE",
            "time",
            "employee_id",
            "burnout_score;drop",
        ] {
            let err = bad.parse::<MetricName>().unwrap_err();
            assert_eq!(err.field, "metric_name");
        }
    }

    #[test]
    fn nan_and_infinities_are_rejected_for_every_metric() {
        for m in MetricName::ALL {
            for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let err = m.check(v).unwrap_err();
                assert_eq!(err.field, m.column());
            }
        }
    }

    #[test]
    fn centralities_must_lie_between_zero_and_one() {
        assert!(MetricValues::new(1.0, 0.0, 0.5, 50.0).is_ok());
        let err = MetricValues::new(1.0000001, 0.0, 0.0, 0.0).unwrap_err();
        assert_eq!(err.field, "degree_centrality");
        let err = MetricValues::new(0.0, -0.1, 0.0, 0.0).unwrap_err();
        assert_eq!(err.field, "betweenness_centrality");
        let err = MetricValues::new(0.0, 0.0, 2.0, 0.0).unwrap_err();
        assert_eq!(err.field, "clustering_coeff");
    }

    #[test]
    fn values_below_1e_100_are_stored_as_exactly_zero() {
        for m in MetricName::ALL {
            for tiny in [
                5e-324,
                f64::MIN_POSITIVE,
                1e-300,
                1e-200,
                9.99e-101,
                -0.0,
                0.0,
            ] {
                let v = m.check(tiny).unwrap();
                assert_eq!(v.to_bits(), 0.0f64.to_bits(), "{m} {tiny:e} -> {v:e}");
            }
            for kept in [1e-100, 1.5e-100, 1e-50, 0.5, m.max()] {
                assert_eq!(m.check(kept).unwrap(), kept, "{m} {kept:e}");
            }
            // A negative value stays refused, however small.
            assert!(m.check(-5e-324).is_err());
            assert!(m.check(-1e-200).is_err());
        }
        let v = MetricValues::new(5e-324, 1e-200, 1.0 - f64::EPSILON, 1e-100).unwrap();
        assert_eq!((v.degree_centrality, v.betweenness_centrality), (0.0, 0.0));
        assert_eq!(v.clustering_coeff, 1.0 - f64::EPSILON);
        assert_eq!(v.burnout_score, 1e-100);
    }

    #[test]
    fn burnout_must_lie_between_zero_and_one_hundred() {
        assert!(MetricValues::new(0.0, 0.0, 0.0, 100.0).is_ok());
        assert!(MetricValues::new(0.0, 0.0, 0.0, 0.0).is_ok());
        let err = MetricValues::new(0.0, 0.0, 0.0, 100.5).unwrap_err();
        assert_eq!(err.field, "burnout_score");
        assert!(err.message.contains("between 0 and 100"));
        assert!(MetricValues::new(0.0, 0.0, 0.0, -0.0001).is_err());
    }
}
