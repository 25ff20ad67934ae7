//! Interactions and the directory from Parquet, as pandas writes them: the
//! same rows and the same malformed-row reasons as CSV, row numbers across
//! row groups.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, ListArray, StringArray,
    TimestampMillisecondArray, TimestampNanosecondArray,
};
use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use chrono::DateTime;
use organism_graph::ParseError;
use organism_graph::parse::{
    directory_from_csv, directory_from_parquet, interactions_from_csv, interactions_from_parquet,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// A Parquet file of these columns, two rows per row group.
fn parquet(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut out = Vec::new();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn nanos(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

#[test]
fn interactions_read_as_pandas_writes_them_with_the_csv_rules_and_row_numbers() {
    let t = nanos("2024-03-01T09:30:00Z");
    let hour = 3_600_000_000_000;
    let channel: DictionaryArray<Int32Type> = vec![
        Some("email"),
        Some("CHAT"),
        Some("fax"),
        Some("meeting"),
        Some("chat"),
        Some("email"),
    ]
    .into_iter()
    .collect();
    let bytes = parquet(vec![
        (
            "from",
            strings(&[Some("a"), Some("b"), Some("a"), None, Some("c"), Some("a")]),
        ),
        (
            "To",
            strings(&[
                Some("b"),
                Some("c"),
                Some("b"),
                Some("b"),
                Some("a"),
                Some("c"),
            ]),
        ),
        (
            "time",
            Arc::new(
                TimestampNanosecondArray::from(vec![
                    Some(t),
                    Some(t + hour),
                    Some(t),
                    Some(t),
                    Some(t + 2 * hour),
                    None,
                ])
                .with_timezone("UTC"),
            ),
        ),
        ("channel", Arc::new(channel)),
        (
            "weight",
            Arc::new(Float64Array::from(vec![
                Some(2.0),
                None,
                Some(1.0),
                Some(1.0),
                Some(-1.0),
                Some(1.0),
            ])),
        ),
        (
            "duration_minutes",
            Arc::new(Int64Array::from(vec![0, 0, 0, 30, 0, 0])),
        ),
        (
            "__index_level_0__",
            Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4, 5])),
        ),
    ]);
    let parsed = interactions_from_parquet(&bytes).unwrap();
    let csv = "from,to,time,channel,weight,duration_minutes\n\
               a,b,2024-03-01T09:30:00Z,email,2,0\n\
               b,c,2024-03-01T10:30:00Z,CHAT,,0\n\
               a,b,2024-03-01T09:30:00Z,fax,1,0\n\
               ,b,2024-03-01T09:30:00Z,meeting,1,30\n\
               c,a,2024-03-01T11:30:00Z,chat,-1,0\n\
               a,c,,email,1,0\n";
    let from_csv = interactions_from_csv(csv.as_bytes()).unwrap();
    assert_eq!(parsed, from_csv, "Parquet reads as the same CSV does");
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.rows[1].weight, 1.0, "a null takes the default");
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![3, 4, 5, 6], "numbered across row groups");
    assert!(
        parsed.malformed.first[0]
            .reason
            .contains("unknown channel `fax`")
    );
    assert!(parsed.malformed.first[1].reason.contains("missing `from`"));
    assert!(parsed.malformed.first[2].reason.contains("`weight`"));
    assert!(parsed.malformed.first[3].reason.contains("missing `time`"));
}

#[test]
fn times_may_be_naive_timestamps_of_any_unit_or_text() {
    let ms = nanos("2024-03-01T09:30:00Z") / 1_000_000;
    let bytes = parquet(vec![
        ("from", strings(&[Some("a"), Some("a")])),
        ("to", strings(&[Some("b"), Some("b")])),
        (
            "time",
            Arc::new(TimestampMillisecondArray::from(vec![ms, ms + 500])),
        ),
        ("channel", strings(&[Some("chat"), Some("chat")])),
    ]);
    let parsed = interactions_from_parquet(&bytes).unwrap();
    assert_eq!(parsed.malformed.count, 0);
    assert_eq!(
        parsed.rows[1].time.to_rfc3339(),
        "2024-03-01T09:30:00.500+00:00"
    );
    let bytes = parquet(vec![
        ("from", strings(&[Some("a"), Some("a")])),
        ("to", strings(&[Some("b"), Some("b")])),
        (
            "time",
            strings(&[Some("2024-03-01 10:30:00+01:00"), Some("yesterday")]),
        ),
        ("channel", strings(&[Some("chat"), Some("chat")])),
    ]);
    let parsed = interactions_from_parquet(&bytes).unwrap();
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].time.timestamp_millis(), ms);
    assert_eq!(parsed.malformed.first[0].row, 2);
    assert!(parsed.malformed.first[0].reason.contains("RFC 3339"));
}

#[test]
fn directory_hours_pandas_made_float_still_read_and_bad_rows_are_named() {
    let team: DictionaryArray<Int32Type> = vec![Some("Core"), None, Some("Core"), Some("Edge")]
        .into_iter()
        .collect();
    let bytes = parquet(vec![
        (
            "employee_id",
            strings(&[Some("a"), Some("b"), Some("a"), Some("c")]),
        ),
        ("team", Arc::new(team)),
        (
            "work_start_hour",
            Arc::new(Float64Array::from(vec![
                Some(8.0),
                None,
                Some(9.0),
                Some(7.5),
            ])),
        ),
        (
            "utc_offset_minutes",
            Arc::new(Int64Array::from(vec![60, 0, 0, 0])),
        ),
    ]);
    let parsed = directory_from_parquet(&bytes).unwrap();
    let csv = "employee_id,team,work_start_hour,utc_offset_minutes\n\
               a,Core,8,60\n\
               b,,,0\n\
               a,Core,9,0\n\
               c,Edge,7.5,0\n";
    assert_eq!(parsed, directory_from_csv(csv.as_bytes()).unwrap());
    let ids: Vec<&str> = parsed.rows.iter().map(|e| e.employee_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert_eq!(parsed.rows[0].work_start_hour, 8);
    assert_eq!(parsed.rows[0].utc_offset_minutes, 60);
    assert_eq!(parsed.rows[1].team, None);
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![3, 4]);
    assert!(
        parsed.malformed.first[0]
            .reason
            .contains("duplicate employee_id `a`")
    );
    assert!(
        parsed.malformed.first[1]
            .reason
            .contains("`work_start_hour` must be an integer")
    );
}

#[test]
fn a_file_that_is_not_parquet_or_lacks_a_required_column_is_an_error() {
    let error = interactions_from_parquet(b"from,to,time,channel\n").unwrap_err();
    assert!(matches!(error, ParseError::Parquet(_)), "{error}");
    assert!(error.to_string().contains("not a readable Parquet file"));

    let bytes = parquet(vec![
        ("from", strings(&[Some("a")])),
        ("to", strings(&[Some("b")])),
        ("channel", strings(&[Some("chat")])),
    ]);
    let error = interactions_from_parquet(&bytes).unwrap_err();
    assert!(matches!(
        error,
        ParseError::MissingParquetColumn { column: "time" }
    ));
    assert_eq!(error.to_string(), "the Parquet file has no `time` column");

    // A column of a type without text, for a field we read.
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
    let bytes = parquet(vec![
        ("employee_id", strings(&[Some("a")])),
        ("team", Arc::new(list)),
    ]);
    let error = directory_from_parquet(&bytes).unwrap_err();
    assert!(error.to_string().contains("column `team`"), "{error}");
    // An extra column of any type is ignored.
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
    let bytes = parquet(vec![
        ("employee_id", strings(&[Some("a")])),
        ("tags", Arc::new(list)),
    ]);
    assert_eq!(directory_from_parquet(&bytes).unwrap().rows.len(), 1);
}
