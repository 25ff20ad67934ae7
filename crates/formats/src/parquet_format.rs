//! Parquet, as pandas (pyarrow) writes it: timestamps of any unit with or
//! without a time zone, strings plain or dictionary-encoded (a pandas
//! category), metrics as any float or integer type; many row groups.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use organism_domain::{RawSample, parse_timestamp};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{FormatError, REQUIRED_COLUMNS};

/// Rows per decoded batch: large enough to amortise decoding, small enough
/// to keep memory flat on big files.
const BATCH_ROWS: usize = 8192;

pub fn read(
    bytes: &[u8],
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(bytes))
        .map_err(|e| FormatError::Malformed(format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    for name in REQUIRED_COLUMNS {
        if schema.column_with_name(name).is_none() {
            return Err(FormatError::MissingColumn(name.to_string()));
        }
    }
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| FormatError::Malformed(format!("cannot read the Parquet file: {e}")))?;
    let mut first_row = 1usize;
    for batch in reader {
        let batch = batch
            .map_err(|e| FormatError::Malformed(format!("cannot read a Parquet row group: {e}")))?;
        read_batch(&batch, first_row, push)?;
        first_row += batch.num_rows();
    }
    Ok(())
}

fn column(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    batch
        .schema()
        .index_of(name)
        .ok()
        .map(|i| Arc::clone(batch.column(i)))
}

fn strings(
    batch: &RecordBatch,
    name: &str,
    first_row: usize,
) -> Result<Option<StringArray>, FormatError> {
    let Some(array) = column(batch, name) else {
        return Ok(None);
    };
    // Text only (or a column of nulls): a number is not an id or a team,
    // as in JSON, so it is not cast to one.
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let is_text = match array.data_type() {
        DataType::Null => true,
        DataType::Dictionary(_, value) => text(value),
        other => text(other),
    };
    if !is_text {
        return Err(FormatError::row(
            first_row,
            name,
            format!("must be text, the column is {}", array.data_type()),
        ));
    }
    let utf8 = cast(&array, &DataType::Utf8)
        .map_err(|e| FormatError::row(first_row, name, format!("must be text: {e}")))?;
    Ok(Some(utf8.as_string::<i32>().clone()))
}

fn floats(batch: &RecordBatch, name: &str, first_row: usize) -> Result<Float64Array, FormatError> {
    let array = column(batch, name).ok_or_else(|| FormatError::MissingColumn(name.to_string()))?;
    if !(array.data_type().is_numeric()) {
        return Err(FormatError::row(
            first_row,
            name,
            format!("must be numeric, the column is {}", array.data_type()),
        ));
    }
    let f = cast(&array, &DataType::Float64)
        .map_err(|e| FormatError::row(first_row, name, format!("must be numeric: {e}")))?;
    Ok(f.as_primitive::<arrow::datatypes::Float64Type>().clone())
}

/// One row's time: absent (null), unreadable (with the reason), or a UTC instant.
type RowTime = Option<Result<DateTime<Utc>, String>>;

/// Microseconds since the epoch for each row, or `None` for a null.
fn times(batch: &RecordBatch, first_row: usize) -> Result<Vec<RowTime>, FormatError> {
    let array = column(batch, "time").ok_or_else(|| FormatError::MissingColumn("time".into()))?;
    let n = array.len();
    let from_nanos = |v: i64| Ok(DateTime::from_timestamp_nanos(v));
    let from = |v: Option<i64>, scale: i64| -> Result<DateTime<Utc>, String> {
        let v = v.ok_or("null")?;
        let micros = v.checked_mul(scale).ok_or("out of range")?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| "out of range".to_string())
    };
    let out = match array.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            let a = array.as_primitive::<TimestampNanosecondType>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| from_nanos(a.value(i))))
                .collect()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = array.as_primitive::<TimestampMicrosecondType>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| from(Some(a.value(i)), 1)))
                .collect()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let a = array.as_primitive::<TimestampMillisecondType>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| from(Some(a.value(i)), 1_000)))
                .collect()
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            let a = array.as_primitive::<TimestampSecondType>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| from(Some(a.value(i)), 1_000_000)))
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let s = strings(batch, "time", first_row)?
                .ok_or_else(|| FormatError::MissingColumn("time".into()))?;
            (0..n)
                .map(|i| {
                    s.is_valid(i)
                        .then(|| parse_timestamp(s.value(i)).map_err(|e| e.to_string()))
                })
                .collect()
        }
        other => {
            return Err(FormatError::row(
                first_row,
                "time",
                format!("must be a timestamp, the column is {other}"),
            ));
        }
    };
    Ok(out)
}

fn read_batch(
    batch: &RecordBatch,
    first_row: usize,
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let times = times(batch, first_row)?;
    let ids = strings(batch, "employee_id", first_row)?
        .ok_or_else(|| FormatError::MissingColumn("employee_id".into()))?;
    let teams = strings(batch, "team", first_row)?;
    let metrics = [
        floats(batch, REQUIRED_COLUMNS[2], first_row)?,
        floats(batch, REQUIRED_COLUMNS[3], first_row)?,
        floats(batch, REQUIRED_COLUMNS[4], first_row)?,
        floats(batch, REQUIRED_COLUMNS[5], first_row)?,
    ];
    let value = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    for (i, time) in times.into_iter().enumerate() {
        let row = first_row + i;
        let time = time
            .transpose()
            .map_err(|m| FormatError::row(row, "time", format!("cannot be read: {m}")))?;
        let raw = RawSample {
            time,
            employee_id: ids.is_valid(i).then(|| ids.value(i).to_string()),
            team: teams
                .as_ref()
                .and_then(|t| t.is_valid(i).then(|| t.value(i).to_string())),
            degree_centrality: value(&metrics[0], i),
            betweenness_centrality: value(&metrics[1], i),
            clustering_coeff: value(&metrics[2], i),
            burnout_score: value(&metrics[3], i),
        };
        push(row, raw)?;
    }
    Ok(())
}
