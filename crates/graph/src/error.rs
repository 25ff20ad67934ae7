//! Errors of this crate, one enum per kind of failure.
//!
//! A malformed *row* is not an error: the parsers skip it and count it (see
//! [`crate::parse`]). Only a file that cannot be read at all (no header, a
//! required column missing, not Parquet) or a configuration that makes no
//! sense is an error, because no useful snapshot can come out of either.

use thiserror::Error;

/// The file as a whole cannot be parsed; individual bad rows never end up here.
#[derive(Debug, Error)]
pub enum ParseError {
    /// The CSV header row could not be read (empty input is not an error).
    #[error("cannot read the CSV header: {0}")]
    Header(#[source] csv::Error),
    /// A column every row needs is absent from the header.
    #[error("the CSV header has no `{column}` column")]
    MissingColumn { column: &'static str },
    /// A column every row needs is absent from the Parquet file's schema.
    #[error("the Parquet file has no `{column}` column")]
    MissingParquetColumn { column: &'static str },
    /// The Parquet file cannot be read: not Parquet, a corrupt row group, or
    /// a column of a type that has no text (a list, a struct).
    #[error("{0}")]
    Parquet(String),
}

/// A window, burnout configuration or option that cannot be used.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("the window must span 1..={max} days, got {days}")]
    WindowDays { days: u32, max: u32 },
    #[error("the window start falls outside the representable time range")]
    WindowRange,
    #[error("the burnout {what} of {signal} must be a finite number {rule}, got {value}")]
    Burnout {
        what: &'static str,
        signal: &'static str,
        rule: &'static str,
        value: f64,
    },
    #[error("the betweenness sampling {name} must be a finite number in (0, 1), got {value}")]
    Accuracy { name: &'static str, value: f64 },
}

/// Why a snapshot was not computed: its graph is over a size limit, or the
/// computation ran out of time.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// More distinct employees in the directory than the limit.
    #[error("the directory has {count} employees; the limit is {limit}")]
    TooManyEmployees { count: usize, limit: usize },
    /// More edges (distinct pairs who interacted in the window) than the limit.
    #[error(
        "the interactions make {count} edges (distinct pairs in the window); the limit is {limit}"
    )]
    TooManyEdges { count: usize, limit: usize },
    #[error(transparent)]
    Interrupted(#[from] crate::budget::Interrupted),
}
