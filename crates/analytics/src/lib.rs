//! Analytics on the daily series the store keeps: did an intervention work
//! (interrupted time series, difference in differences), where is a series
//! heading (forecast), what is unusual (anomalies) and what moves together
//! (correlations).
//!
//! Pure computations: no I/O, no clock. The store reads the daily means
//! each computation needs (from the rollups) and the API applies the
//! privacy rules before and after; everything here works on numbers.
//!
//! Metrics are indexed in `organism_domain::MetricName::ALL` order:
//! degree centrality, betweenness centrality, clustering coefficient,
//! burnout score.

use chrono::NaiveDate;
use serde::Serialize;

pub mod anomaly;
pub mod backtest;
pub mod correlation;
pub mod effect;
pub mod forecast;
pub mod regression;

/// A metric's mean over one UTC day (of one employee, or of a team).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayValue {
    pub day: NaiveDate,
    pub value: f64,
}

/// One employee-day of a panel of one metric: `unit` indexes the caller's
/// list of employees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelValue {
    pub unit: usize,
    pub day: NaiveDate,
    pub value: f64,
}

/// The four metrics' means of one employee-day (in `MetricName::ALL`
/// order); `unit` indexes the caller's list of employees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelDay {
    pub unit: usize,
    pub day: NaiveDate,
    pub values: [f64; 4],
}

/// Why a computation has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// Too few observations for the model (the message says how many it
    /// needs and how many it got).
    #[error("{0}")]
    NotEnoughData(String),
    /// The data cannot identify the model (constant series, collinear
    /// regressors).
    #[error("{0}")]
    Degenerate(String),
}

pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;
