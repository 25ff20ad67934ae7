//! Interactions and the directory from Parquet, as pandas (pyarrow) writes
//! a DataFrame: the same columns (any case) and the same row rules as CSV
//! and NDJSON (see [`super`]); each cell is turned into the text the other
//! formats would hold, then read by the same field parsers.
//!
//! - Text columns may be plain or dictionary-encoded (a pandas category).
//! - `time` may be a timestamp of any unit, with or without a time zone (a
//!   time zone's instants are UTC in Parquet; one without is taken as UTC,
//!   as text without an offset is), or text in the service's grammar.
//! - Numbers may be of any integer or float type. A float with no fraction
//!   reads as the integer it is, so an hour column that pandas made float
//!   (an integer column with a missing value) still reads as hours.
//! - A null is an absent field, as a blank CSV cell is.
//!
//! Row numbers count data rows from 1 across row groups. A file that is not
//! Parquet, a required column that is missing, or a column of a type that
//! has no text (a list, a struct) is an error for the whole file: then no
//! row can be read.

use std::borrow::Cow;
use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use chrono::{DateTime, SecondsFormat, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{FieldResult, Fields, MalformedRows, Numbered, RowParser};
use crate::error::ParseError;

/// Rows per decoded batch: memory stays flat on large files.
const BATCH_ROWS: usize = 8192;

/// One column of a batch as the text of each row (`None`: null), or the
/// reason a cell has none.
type TextColumn = Vec<Option<Result<String, String>>>;

/// A row of a batch: the columns the parsers asked for, by lower-cased name.
struct ParquetRow<'a> {
    columns: &'a HashMap<String, TextColumn>,
    index: usize,
}

impl Fields for ParquetRow<'_> {
    fn get(&self, name: &'static str) -> FieldResult<'_> {
        match self.columns.get(name).and_then(|c| c.get(self.index)) {
            None | Some(None) => Ok(None),
            Some(Some(Ok(text))) => {
                let text = text.trim();
                Ok((!text.is_empty()).then_some(Cow::Borrowed(text)))
            }
            Some(Some(Err(reason))) => Err(format!("`{name}` {reason}")),
        }
    }
}

pub(super) fn from_parquet<T>(
    bytes: &[u8],
    required: &[&'static str],
    known: &[&'static str],
    parse_row: RowParser<T>,
) -> Result<Numbered<T>, ParseError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| ParseError::Parquet(format!("not a readable Parquet file: {e}")))?;
    // The file's column for each name we read (the first, if a name
    // appears twice in different cases).
    let mut wanted: HashMap<String, usize> = HashMap::new();
    for (i, field) in builder.schema().fields().iter().enumerate() {
        let name = field.name().trim().to_ascii_lowercase();
        if known.contains(&name.as_str()) {
            wanted.entry(name).or_insert(i);
        }
    }
    if let Some(column) = required.iter().find(|c| !wanted.contains_key(**c)) {
        return Err(ParseError::MissingParquetColumn { column });
    }
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| ParseError::Parquet(format!("cannot read the Parquet file: {e}")))?;
    let mut parsed = Numbered {
        rows: Vec::new(),
        malformed: MalformedRows::default(),
    };
    let mut first_row = 1usize;
    for batch in reader {
        let batch = batch
            .map_err(|e| ParseError::Parquet(format!("cannot read a Parquet row group: {e}")))?;
        let mut columns = HashMap::with_capacity(wanted.len());
        for (name, &i) in &wanted {
            columns.insert(name.clone(), text_column(name, batch.column(i))?);
        }
        for index in 0..batch.num_rows() {
            let row = first_row + index;
            match parse_row(&ParquetRow {
                columns: &columns,
                index,
            }) {
                Ok(value) => parsed.rows.push((row, value)),
                Err(reason) => parsed.malformed.record(row, reason),
            }
        }
        first_row += batch.num_rows();
    }
    Ok(parsed)
}

/// The text of each cell of `array`.
fn text_column(name: &str, array: &ArrayRef) -> Result<TextColumn, ParseError> {
    let n = array.len();
    let cells = |text: &dyn Fn(usize) -> Result<String, String>| -> TextColumn {
        (0..n).map(|i| array.is_valid(i).then(|| text(i))).collect()
    };
    let instant = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .ok_or_else(|| "is a timestamp out of range".to_string())
    };
    Ok(match array.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            let a = array.as_primitive::<TimestampNanosecondType>();
            cells(&|i| instant(Some(DateTime::from_timestamp_nanos(a.value(i)))))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = array.as_primitive::<TimestampMicrosecondType>();
            cells(&|i| instant(DateTime::from_timestamp_micros(a.value(i))))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let a = array.as_primitive::<TimestampMillisecondType>();
            cells(&|i| instant(DateTime::from_timestamp_millis(a.value(i))))
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            let a = array.as_primitive::<TimestampSecondType>();
            cells(&|i| instant(DateTime::from_timestamp(a.value(i), 0)))
        }
        DataType::Float16 => {
            let a = array.as_primitive::<Float16Type>();
            cells(&|i| Ok(float_text(f64::from(a.value(i)))))
        }
        DataType::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            cells(&|i| Ok(float_text(f64::from(a.value(i)))))
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            cells(&|i| Ok(float_text(a.value(i))))
        }
        other if other.is_nested() => {
            return Err(ParseError::Parquet(format!(
                "column `{name}` is {other}: expected text, a number or a timestamp"
            )));
        }
        other => {
            let utf8 = cast(array, &DataType::Utf8).map_err(|e| {
                ParseError::Parquet(format!(
                    "column `{name}` is {other}, which has no text: {e}"
                ))
            })?;
            let strings: &StringArray = utf8.as_string::<i32>();
            cells(&|i| Ok(strings.value(i).to_string()))
        }
    })
}

/// A float as CSV would hold it; one with no fraction as an integer.
fn float_text(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}
