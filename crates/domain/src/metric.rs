//! The four network metrics and their allowed ranges.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// One of the four metrics the platform measures. The storage layer maps each
/// to its column through [`MetricName::column`], so a column name in SQL never
/// comes from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// Checks one value against the metric's rule: finite and within 0..=max.
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
        Ok(value)
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    pub degree_centrality: f64,
    pub betweenness_centrality: f64,
    pub clustering_coeff: f64,
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
    fn burnout_must_lie_between_zero_and_one_hundred() {
        assert!(MetricValues::new(0.0, 0.0, 0.0, 100.0).is_ok());
        assert!(MetricValues::new(0.0, 0.0, 0.0, 0.0).is_ok());
        let err = MetricValues::new(0.0, 0.0, 0.0, 100.5).unwrap_err();
        assert_eq!(err.field, "burnout_score");
        assert!(err.message.contains("between 0 and 100"));
        assert!(MetricValues::new(0.0, 0.0, 0.0, -0.0001).is_err());
    }
}
