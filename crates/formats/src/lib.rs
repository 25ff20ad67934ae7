//! Metrics files into validated samples (DESIGN.md §9).
//!
//! CSV with a header, NDJSON, a JSON array or Parquet, with the columns
//! `time, employee_id, team, degree_centrality, betweenness_centrality,
//! clustering_coeff, burnout_score`: what pandas writes with
//! `df.to_csv(index=False)` or `df.to_parquet()`. Extra columns are ignored;
//! a missing required one is an error; `team` may be absent or empty.
//!
//! Parsing is all or nothing: the first bad row stops it, and the error names
//! the row (1 = the first record; a CSV header is not counted) and the field.
//! Every value goes through [`RawSample::validate`], so the rules live in one
//! place, the domain crate.

mod csv_format;
mod json_format;
mod parquet_format;

use std::path::Path;

use chrono::{DateTime, Utc};
use organism_domain::{MetricSample, RawSample, RowError, SampleWindow, ValidationError};

/// The columns a metrics file must have (`team` may be missing).
pub const REQUIRED_COLUMNS: [&str; 6] = [
    "time",
    "employee_id",
    "degree_centrality",
    "betweenness_centrality",
    "clustering_coeff",
    "burnout_score",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    JsonArray,
    Parquet,
}

impl Format {
    /// From an HTTP Content-Type, parameters (`; charset=utf-8`) ignored.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Some(Format::Ndjson),
            "application/json" => Some(Format::JsonArray),
            "application/vnd.apache.parquet" | "application/x-parquet" | "application/parquet" => {
                Some(Format::Parquet)
            }
            _ => None,
        }
    }

    /// From a file name's extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::JsonArray),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// A row broke a rule or could not be read.
    #[error(transparent)]
    Row(#[from] RowError),
    /// A required column is absent.
    #[error("required column {0:?} is missing")]
    MissingColumn(String),
    /// The document as a whole cannot be read.
    #[error("{0}")]
    Malformed(String),
}

impl FormatError {
    pub(crate) fn row(row: usize, field: &str, message: impl Into<String>) -> Self {
        FormatError::Row(RowError::new(row, ValidationError::new(field, message)))
    }
}

/// Parses a whole document. An empty document (no rows) is zero samples.
/// A time outside `window` (computed once for the request or file from the
/// clock and the retention) is an error naming its row and `time`.
pub fn parse_samples(
    format: Format,
    bytes: &[u8],
    window: &SampleWindow,
) -> Result<Vec<MetricSample>, FormatError> {
    // One row per line in CSV and NDJSON: sized once, the vector never
    // holds its old and new buffers at once while it grows.
    let mut out = match format {
        Format::Csv | Format::Ndjson => {
            Vec::with_capacity(bytes.iter().filter(|b| **b == b'\n').count() + 1)
        }
        Format::JsonArray | Format::Parquet => Vec::new(),
    };
    parse_each(format, bytes, window, |sample| {
        out.push(sample);
        Ok(())
    })?;
    Ok(out)
}

/// Parses a document into chunks of at most `chunk_rows` samples, handing
/// each to `sink` as soon as it is full, so that a large body and all of
/// its rows are never in memory at once. An error from `sink` stops the
/// parse and is returned. Returns the number of samples parsed.
pub fn parse_samples_chunked(
    format: Format,
    bytes: &[u8],
    window: &SampleWindow,
    chunk_rows: usize,
    mut sink: impl FnMut(Vec<MetricSample>) -> Result<(), FormatError>,
) -> Result<usize, FormatError> {
    let chunk_rows = chunk_rows.max(1);
    let mut total = 0usize;
    let mut chunk = Vec::with_capacity(chunk_rows);
    parse_each(format, bytes, window, |sample| {
        chunk.push(sample);
        total += 1;
        if chunk.len() == chunk_rows {
            sink(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(chunk_rows),
            ))?;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        sink(chunk)?;
    }
    Ok(total)
}

/// Every sample of a document, validated, one at a time.
fn parse_each(
    format: Format,
    bytes: &[u8],
    window: &SampleWindow,
    mut each: impl FnMut(MetricSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut push = |row: usize, raw: RawSample| -> Result<(), FormatError> {
        each(raw.validate(window).map_err(|e| RowError::new(row, e))?)
    };
    match format {
        Format::Csv => csv_format::read(bytes, &mut push),
        Format::Ndjson => json_format::read_lines(bytes, &mut push),
        Format::JsonArray => json_format::read_array(bytes, &mut push),
        Format::Parquet => parquet_format::read(bytes, &mut push),
    }
}

/// The kept days of [`parse_fuzz_input`]'s window: the default rollup
/// retention.
pub const FUZZ_KEPT_DAYS: u32 = 730;

/// The body of the cargo-fuzz target `parse_metrics` (`fuzz/`), also run by
/// a stable test over the committed corpus: the first byte picks the format
/// (`c` CSV, `n` NDJSON, `j` JSON array, `p` Parquet, any other byte by its
/// value modulo 4), the rest is the file. The clock is fixed
/// (2026-01-01T00:00:00Z, with the default 730 kept days) so that a corpus
/// entry means the same every run.
/// Whatever the input, it must return, never panic.
pub fn parse_fuzz_input(data: &[u8]) -> Option<(Format, Result<Vec<MetricSample>, FormatError>)> {
    let (&selector, body) = data.split_first()?;
    let format = match selector {
        b'c' => Format::Csv,
        b'n' => Format::Ndjson,
        b'j' => Format::JsonArray,
        b'p' => Format::Parquet,
        other => [
            Format::Csv,
            Format::Ndjson,
            Format::JsonArray,
            Format::Parquet,
        ][usize::from(other % 4)],
    };
    let now = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let window = SampleWindow::new(now, FUZZ_KEPT_DAYS);
    Some((format, parse_samples(format, body, &window)))
}

#[cfg(test)]
mod tests;
