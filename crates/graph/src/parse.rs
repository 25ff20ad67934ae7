//! Interactions and the directory from CSV (with a header row), NDJSON or
//! Parquet bytes ([`parquet`](self::parquet) for how Parquet's types read).
//!
//! # The malformed-row rule
//!
//! One bad row must not cost a whole month of data, so a row that cannot be
//! turned into a value is **skipped and counted**, never fatal and never a
//! panic. The count and the first [`MAX_REPORTED_ROWS`] rows (their 1-based
//! row number and the reason) are returned in [`MalformedRows`].
//!
//! A row is malformed when:
//! - it cannot be decoded: a CSV record with the wrong number of fields or
//!   invalid UTF-8, an NDJSON line that is not a JSON object;
//! - a required field is missing or blank (`from`, `to`, `time`, `channel`
//!   for interactions; `employee_id` for the directory);
//! - `time` is not a timestamp of the service's one grammar
//!   ([`organism_domain::time`]: RFC 3339 such as `2024-03-01T09:30:00Z` or
//!   `2024-03-01 10:30:00+01:00`, one without an offset being UTC) with a
//!   year from 1 to 9999 (interactions are never stored; one outside the
//!   snapshot's window, which ends at a time the sample window accepts, is
//!   dropped and counted as `outside_window`);
//! - `channel` is not `email`, `chat` or `meeting` (any case);
//! - `weight` or `duration_minutes` is present but not a finite,
//!   non-negative number;
//! - a directory hour is out of range (`work_start_hour` 0..=23,
//!   `work_end_hour` 1..=24, the two equal), `utc_offset_minutes` is beyond
//!   ±14 hours, or the `employee_id` already appeared on an earlier row.
//!
//! Optional fields that are absent or blank take their defaults: weight 1,
//! duration 0, no team, working hours 9 to 18, UTC.
//!
//! Row numbers count data rows from 1: in CSV the header is not a row (the
//! first record after it is row 1); in NDJSON the row number is the line
//! number, and blank lines are skipped silently (they still take a number,
//! so a reported row is the line an editor shows).
//!
//! In Parquet the row number counts data rows from 1 across row groups.
//!
//! Only a CSV file without a readable header or without a required column,
//! or a Parquet file that cannot be read or lacks a required column, is an
//! error ([`ParseError`]): then no row can be read at all.
//!
//! Self-loops and unknown employees are *not* rejected here: they are well
//! formed, and [`crate::graph`] drops and counts them separately.

use std::borrow::Cow;
use std::collections::HashMap;

use organism_domain::parse_timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::error::ParseError;
use crate::model::{Channel, DirectoryEntry, Interaction};

mod parquet;

/// The columns of interactions: the required ones, then the optional ones.
const INTERACTION_COLUMNS: [&str; 6] = [
    "from",
    "to",
    "time",
    "channel",
    "weight",
    "duration_minutes",
];
/// The columns of the directory: the required one, then the optional ones.
const DIRECTORY_COLUMNS: [&str; 5] = [
    "employee_id",
    "team",
    "work_start_hour",
    "work_end_hour",
    "utc_offset_minutes",
];

/// How many malformed rows are kept with their reason; the rest are only counted.
pub const MAX_REPORTED_ROWS: usize = 10;

/// One skipped row: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based data-row number (see the module docs).
    pub row: usize,
    pub reason: String,
}

/// How many rows were skipped, and the first few of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MalformedRows {
    pub count: usize,
    pub first: Vec<RowError>,
}

impl MalformedRows {
    fn record(&mut self, row: usize, reason: String) {
        self.count += 1;
        if self.first.len() < MAX_REPORTED_ROWS {
            self.first.push(RowError { row, reason });
        }
    }
}

/// The rows that parsed, in input order, and the ones that did not.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub malformed: MalformedRows,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            malformed: MalformedRows::default(),
        }
    }
}

/// A field as read from a row: absent (or blank), or its text.
type FieldResult<'a> = Result<Option<Cow<'a, str>>, String>;

/// One row, CSV or NDJSON alike, so both formats share the same field rules.
trait Fields {
    fn get(&self, name: &'static str) -> FieldResult<'_>;
}

/// A CSV record and the header's column positions (lower-cased names).
struct CsvRow<'a> {
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Fields for CsvRow<'_> {
    fn get(&self, name: &'static str) -> FieldResult<'_> {
        Ok(self
            .columns
            .get(name)
            .and_then(|&i| self.record.get(i))
            .filter(|text| !text.is_empty())
            .map(Cow::Borrowed))
    }
}

/// An NDJSON line's object. Numbers are taken as their text, so an id or an
/// hour may be written `7` or `"7"`.
struct JsonRow(serde_json::Map<String, Value>);

impl Fields for JsonRow {
    fn get(&self, name: &'static str) -> FieldResult<'_> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                let text = text.trim();
                Ok((!text.is_empty()).then_some(Cow::Borrowed(text)))
            }
            Some(Value::Number(number)) => Ok(Some(Cow::Owned(number.to_string()))),
            Some(_) => Err(format!("`{name}` must be a string or a number")),
        }
    }
}

/// Interactions from CSV with a header naming at least `from`, `to`, `time`,
/// `channel` (any order, any case; `weight`, `duration_minutes` optional).
pub fn interactions_from_csv(bytes: &[u8]) -> Result<Parsed<Interaction>, ParseError> {
    from_csv(bytes, &["from", "to", "time", "channel"], interaction_from).map(interactions_only)
}

/// Interactions from NDJSON, one object per line, with the CSV column names as keys.
pub fn interactions_from_ndjson(bytes: &[u8]) -> Parsed<Interaction> {
    interactions_only(from_ndjson(bytes, interaction_from))
}

/// The directory from CSV with a header naming at least `employee_id`
/// (`team`, `work_start_hour`, `work_end_hour`, `utc_offset_minutes` optional).
pub fn directory_from_csv(bytes: &[u8]) -> Result<Parsed<DirectoryEntry>, ParseError> {
    from_csv(bytes, &["employee_id"], directory_entry_from).map(drop_duplicate_employees)
}

/// The directory from NDJSON, one object per line, with the CSV column names as keys.
pub fn directory_from_ndjson(bytes: &[u8]) -> Parsed<DirectoryEntry> {
    drop_duplicate_employees(from_ndjson(bytes, directory_entry_from))
}

/// Interactions from Parquet with at least the columns `from`, `to`, `time`,
/// `channel` (any case; `weight`, `duration_minutes` optional), as pandas
/// `df.to_parquet()` writes them.
pub fn interactions_from_parquet(bytes: &[u8]) -> Result<Parsed<Interaction>, ParseError> {
    parquet::from_parquet(
        bytes,
        &INTERACTION_COLUMNS[..4],
        &INTERACTION_COLUMNS,
        interaction_from,
    )
    .map(interactions_only)
}

/// The directory from Parquet with at least the column `employee_id`
/// (`team`, `work_start_hour`, `work_end_hour`, `utc_offset_minutes`
/// optional).
pub fn directory_from_parquet(bytes: &[u8]) -> Result<Parsed<DirectoryEntry>, ParseError> {
    parquet::from_parquet(
        bytes,
        &DIRECTORY_COLUMNS[..1],
        &DIRECTORY_COLUMNS,
        directory_entry_from,
    )
    .map(drop_duplicate_employees)
}

/// The format of an interactions or directory file, as its name's extension
/// says (any case): `.csv`, `.ndjson` or `.jsonl`, `.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Ndjson,
    Parquet,
}

impl InputFormat {
    /// The extensions [`InputFormat::from_path`] knows, for messages.
    pub const EXTENSIONS: &'static str = ".csv, .ndjson, .jsonl or .parquet";

    /// The format of a file by its name; `None` for any other extension.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }

    /// Interactions in this format.
    pub fn interactions(self, bytes: &[u8]) -> Result<Parsed<Interaction>, ParseError> {
        match self {
            Self::Csv => interactions_from_csv(bytes),
            Self::Ndjson => Ok(interactions_from_ndjson(bytes)),
            Self::Parquet => interactions_from_parquet(bytes),
        }
    }

    /// The directory in this format.
    pub fn directory(self, bytes: &[u8]) -> Result<Parsed<DirectoryEntry>, ParseError> {
        match self {
            Self::Csv => directory_from_csv(bytes),
            Self::Ndjson => Ok(directory_from_ndjson(bytes)),
            Self::Parquet => directory_from_parquet(bytes),
        }
    }
}

/// Parsing a row yields its value, or the reason it is malformed.
type RowParser<T> = fn(&dyn Fields) -> Result<T, String>;

/// Parsed rows keep their row numbers until duplicates are resolved.
struct Numbered<T> {
    rows: Vec<(usize, T)>,
    malformed: MalformedRows,
}

fn from_csv<T>(
    bytes: &[u8],
    required: &[&'static str],
    parse_row: RowParser<T>,
) -> Result<Numbered<T>, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let header = reader.headers().map_err(ParseError::Header)?.clone();
    let mut parsed = Numbered {
        rows: Vec::new(),
        malformed: MalformedRows::default(),
    };
    if header.is_empty() {
        return Ok(parsed);
    }
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim().to_ascii_lowercase(), i))
        .collect();
    if let Some(column) = required.iter().find(|c| !columns.contains_key(**c)) {
        return Err(ParseError::MissingColumn { column });
    }
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                parsed.malformed.record(row, csv_reason(&error));
                continue;
            }
        };
        let row_fields = CsvRow {
            columns: &columns,
            record: &record,
        };
        match parse_row(&row_fields) {
            Ok(value) => parsed.rows.push((row, value)),
            Err(reason) => parsed.malformed.record(row, reason),
        }
    }
    Ok(parsed)
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_owned(),
        _ => error.to_string(),
    }
}

fn from_ndjson<T>(bytes: &[u8], parse_row: RowParser<T>) -> Numbered<T> {
    let mut parsed = Numbered {
        rows: Vec::new(),
        malformed: MalformedRows::default(),
    };
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let row = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let object = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                parsed.malformed.record(row, "not a JSON object".to_owned());
                continue;
            }
            Err(error) => {
                parsed
                    .malformed
                    .record(row, format!("invalid JSON: {error}"));
                continue;
            }
        };
        match parse_row(&JsonRow(object)) {
            Ok(value) => parsed.rows.push((row, value)),
            Err(reason) => parsed.malformed.record(row, reason),
        }
    }
    parsed
}

fn interactions_only(parsed: Numbered<Interaction>) -> Parsed<Interaction> {
    Parsed {
        rows: parsed.rows.into_iter().map(|(_, value)| value).collect(),
        malformed: parsed.malformed,
    }
}

/// The first row for an employee wins; a later one is malformed, because two
/// entries with different teams or hours cannot both be right.
fn drop_duplicate_employees(parsed: Numbered<DirectoryEntry>) -> Parsed<DirectoryEntry> {
    let mut first_seen: HashMap<String, usize> = HashMap::with_capacity(parsed.rows.len());
    let mut malformed = parsed.malformed;
    let mut rows = Vec::with_capacity(parsed.rows.len());
    for (row, entry) in parsed.rows {
        if let Some(first) = first_seen.get(&entry.employee_id) {
            malformed.record(
                row,
                format!(
                    "duplicate employee_id `{}`, first seen at row {first}",
                    entry.employee_id
                ),
            );
            continue;
        }
        first_seen.insert(entry.employee_id.clone(), row);
        rows.push(entry);
    }
    // Reasons were appended out of row order (duplicates come last); keep
    // the report in row order so "the first few" means what it says.
    malformed.first.sort_by_key(|e| e.row);
    Parsed { rows, malformed }
}

fn interaction_from(row: &dyn Fields) -> Result<Interaction, String> {
    let from = required(row, "from")?.into_owned();
    let to = required(row, "to")?.into_owned();
    let time_text = required(row, "time")?;
    let time = parse_timestamp(&time_text).map_err(|e| format!("`time` {e}"))?;
    let channel_text = required(row, "channel")?;
    let channel = Channel::parse(&channel_text).ok_or_else(|| {
        format!("unknown channel `{channel_text}` (expected email, chat or meeting)")
    })?;
    let weight = non_negative(row, "weight", Interaction::DEFAULT_WEIGHT)?;
    let duration_minutes = non_negative(
        row,
        "duration_minutes",
        Interaction::DEFAULT_DURATION_MINUTES,
    )?;
    Ok(Interaction {
        from,
        to,
        time,
        channel,
        weight,
        duration_minutes,
    })
}

fn directory_entry_from(row: &dyn Fields) -> Result<DirectoryEntry, String> {
    let employee_id = required(row, "employee_id")?.into_owned();
    let team = row.get("team")?.map(Cow::into_owned);
    let work_start_hour = integer(
        row,
        "work_start_hour",
        DirectoryEntry::DEFAULT_WORK_START_HOUR,
        0..=23,
    )?;
    let work_end_hour = integer(
        row,
        "work_end_hour",
        DirectoryEntry::DEFAULT_WORK_END_HOUR,
        1..=24,
    )?;
    if work_start_hour == work_end_hour {
        return Err(format!(
            "work_start_hour and work_end_hour are both {work_start_hour}: no working hours"
        ));
    }
    let max = DirectoryEntry::MAX_UTC_OFFSET_MINUTES;
    let utc_offset_minutes = integer(row, "utc_offset_minutes", 0, -max..=max)?;
    Ok(DirectoryEntry {
        employee_id,
        team,
        work_start_hour,
        work_end_hour,
        utc_offset_minutes,
    })
}

fn required<'a>(row: &'a dyn Fields, name: &'static str) -> Result<Cow<'a, str>, String> {
    row.get(name)?.ok_or_else(|| format!("missing `{name}`"))
}

fn non_negative(row: &dyn Fields, name: &'static str, default: f64) -> Result<f64, String> {
    let Some(text) = row.get(name)? else {
        return Ok(default);
    };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!(
            "`{name}` must be a finite non-negative number, got `{text}`"
        )),
    }
}

fn integer<T>(
    row: &dyn Fields,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(text) = row.get(name)? else {
        return Ok(default);
    };
    match text.parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(format!(
            "`{name}` must be an integer in {}..={}, got `{text}`",
            range.start(),
            range.end()
        )),
    }
}
