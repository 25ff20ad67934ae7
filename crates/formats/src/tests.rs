//! Each format, the all-or-nothing rule, and robustness against garbage.

use std::sync::Arc;

use arrow::array::{
    DictionaryArray, Float32Array, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The window of a request at [`now`] with the default 730 kept days.
fn window() -> SampleWindow {
    SampleWindow::new(now(), 730)
}

const CSV: &str = "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score,extra
2026-05-01 10:00:00+00:00,emp_1,Core,0.5,0.1,0.3,42.5,x
2026-05-01T10:15:00Z,emp_2,,0.25,0,1,99,y
2026-05-01 10:30:00,emp_3,Edge,1,1,0,0,z
";

#[test]
fn a_pandas_style_csv_parses_with_extra_columns_ignored() {
    let s = parse_samples(Format::Csv, CSV.as_bytes(), &window()).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].time.to_rfc3339(), "2026-05-01T10:00:00+00:00");
    assert_eq!(s[0].team.as_ref().unwrap().as_str(), "Core");
    assert_eq!(s[0].values.burnout_score, 42.5);
    assert_eq!(s[1].team, None, "an empty team cell is no team");
    assert_eq!(
        s[2].time.to_rfc3339(),
        "2026-05-01T10:30:00+00:00",
        "naive times are UTC"
    );
}

#[test]
fn a_csv_with_a_byte_order_mark_parses() {
    let with_bom = format!("\u{feff}{CSV}");
    assert_eq!(
        parse_samples(Format::Csv, with_bom.as_bytes(), &window())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_missing_column_is_named() {
    let csv = "time,employee_id,degree_centrality,betweenness_centrality,clustering_coeff\n";
    assert_eq!(
        parse_samples(Format::Csv, csv.as_bytes(), &window()).unwrap_err(),
        FormatError::MissingColumn("burnout_score".into())
    );
}

#[test]
fn the_team_column_may_be_absent() {
    let csv = "time,employee_id,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score\n2026-05-01T00:00:00Z,e,0,0,0,0\n";
    let s = parse_samples(Format::Csv, csv.as_bytes(), &window()).unwrap();
    assert_eq!(s[0].team, None);
}

fn row_error(result: Result<Vec<organism_domain::MetricSample>, FormatError>) -> (usize, String) {
    match result {
        Err(FormatError::Row(e)) => (e.row, e.field),
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn a_bad_csv_row_is_named_by_row_and_field() {
    let bad = CSV.replace("0.25,0,1,99", "0.25,0,1,nan");
    assert_eq!(
        row_error(parse_samples(Format::Csv, bad.as_bytes(), &window())),
        (2, "burnout_score".into())
    );
    let bad = CSV.replace("0.25,0,1,99", "0.25,abc,1,99");
    assert_eq!(
        row_error(parse_samples(Format::Csv, bad.as_bytes(), &window())),
        (2, "betweenness_centrality".into())
    );
    let bad = CSV.replace("emp_3", "emp 3");
    assert_eq!(
        row_error(parse_samples(Format::Csv, bad.as_bytes(), &window())),
        (3, "employee_id".into())
    );
    let bad = CSV.replace("2026-05-01 10:30:00", "2027-01-01 00:00:00");
    assert_eq!(
        row_error(parse_samples(Format::Csv, bad.as_bytes(), &window())),
        (3, "time".into())
    );
    let bad = format!("{CSV}2026-05-01T00:00:00Z,emp_4\n");
    assert_eq!(
        row_error(parse_samples(Format::Csv, bad.as_bytes(), &window())).0,
        4
    );
}

#[test]
fn json_arrays_and_ndjson_parse_and_name_bad_rows() {
    let a = r#"{"time":"2026-05-01T00:00:00Z","employee_id":"a","team":"T","degree_centrality":0.1,"betweenness_centrality":0.2,"clustering_coeff":0.3,"burnout_score":50,"other":[1]}"#;
    let b = r#"{"time":"2026-05-01T00:15:00+02:00","employee_id":"b","team":null,"degree_centrality":0,"betweenness_centrality":0,"clustering_coeff":0,"burnout_score":0}"#;
    let s = parse_samples(
        Format::JsonArray,
        format!("[{a},{b}]").as_bytes(),
        &window(),
    )
    .unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].time.to_rfc3339(), "2026-04-30T22:15:00+00:00");
    let s = parse_samples(
        Format::Ndjson,
        format!("{a}\n\n{b}\n").as_bytes(),
        &window(),
    )
    .unwrap();
    assert_eq!(s.len(), 2);
    let wrong_type = b.replace("\"burnout_score\":0", "\"burnout_score\":\"0\"");
    assert_eq!(
        row_error(parse_samples(
            Format::JsonArray,
            format!("[{a},{wrong_type}]").as_bytes(),
            &window()
        )),
        (2, "burnout_score".into())
    );
    assert_eq!(
        row_error(parse_samples(
            Format::Ndjson,
            format!("{a}\n{{broken\n").as_bytes(),
            &window()
        ))
        .0,
        2
    );
    assert!(matches!(
        parse_samples(Format::JsonArray, a.as_bytes(), &window()),
        Err(FormatError::Malformed(_))
    ));
}

fn parquet_bytes(burnout_last: f64) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("employee_id", DataType::Utf8, true),
        Field::new(
            "team",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("degree_centrality", DataType::Float64, true),
        Field::new("betweenness_centrality", DataType::Float32, true),
        Field::new("clustering_coeff", DataType::Float64, true),
        Field::new("burnout_score", DataType::Int64, true),
        Field::new("__index_level_0__", DataType::Int64, true),
    ]));
    let t0 = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z")
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap();
    let teams: DictionaryArray<Int32Type> =
        vec![Some("Core"), None, Some("Core")].into_iter().collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(
                TimestampNanosecondArray::from(vec![
                    t0,
                    t0 + 900_000_000_000,
                    t0 + 1_800_000_000_000,
                ])
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
            Arc::new(teams),
            Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3])),
            Arc::new(Float32Array::from(vec![0.0, 0.5, 1.0])),
            Arc::new(Float64Array::from(vec![0.9, 0.8, 0.7])),
            Arc::new(Int64Array::from(vec![10, 20, burnout_last as i64])),
            Arc::new(Int64Array::from(vec![0, 1, 2])),
        ],
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

#[test]
fn parquet_as_pandas_writes_it_parses_across_row_groups() {
    let s = parse_samples(Format::Parquet, &parquet_bytes(30.0), &window()).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[1].time.to_rfc3339(), "2026-05-01T00:15:00+00:00");
    assert_eq!(s[0].team.as_ref().unwrap().as_str(), "Core");
    assert_eq!(s[1].team, None);
    assert_eq!(s[2].values.burnout_score, 30.0);
    assert_eq!(s[1].values.betweenness_centrality, 0.5);
}

#[test]
fn a_bad_parquet_row_is_named_and_garbage_is_malformed() {
    assert_eq!(
        row_error(parse_samples(
            Format::Parquet,
            &parquet_bytes(300.0),
            &window()
        )),
        (3, "burnout_score".into())
    );
    assert!(matches!(
        parse_samples(Format::Parquet, b"PAR1 not really", &window()),
        Err(FormatError::Malformed(_))
    ));
}

#[test]
fn content_types_and_extensions_map_to_formats() {
    assert_eq!(
        Format::from_content_type("text/csv; charset=utf-8"),
        Some(Format::Csv)
    );
    assert_eq!(
        Format::from_content_type("application/x-ndjson"),
        Some(Format::Ndjson)
    );
    assert_eq!(
        Format::from_content_type("Application/JSON"),
        Some(Format::JsonArray)
    );
    assert_eq!(
        Format::from_content_type("application/vnd.apache.parquet"),
        Some(Format::Parquet)
    );
    for unsupported in ["", "text/plain", "application/xml", "multipart/form-data"] {
        assert_eq!(Format::from_content_type(unsupported), None);
    }
    assert_eq!(
        Format::from_path(Path::new("x/m.PARQUET")),
        Some(Format::Parquet)
    );
    assert_eq!(
        Format::from_path(Path::new("m.jsonl")),
        Some(Format::Ndjson)
    );
    assert_eq!(Format::from_path(Path::new("m.txt")), None);
}

#[test]
fn garbage_never_panics_any_parser() {
    // A deterministic xorshift: mutate valid documents and feed pure noise.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<(Format, Vec<u8>)> = vec![
        (Format::Csv, CSV.as_bytes().to_vec()),
        (Format::JsonArray, br#"[{"time":"2026-05-01T00:00:00Z","employee_id":"a","degree_centrality":0.1,"betweenness_centrality":0.2,"clustering_coeff":0.3,"burnout_score":50}]"#.to_vec()),
        (Format::Ndjson, br#"{"time":"2026-05-01T00:00:00Z","employee_id":"a","degree_centrality":0.1}"#.to_vec()),
        (Format::Parquet, parquet_bytes(10.0)),
    ];
    for _ in 0..300 {
        for (format, seed) in &seeds {
            let mut doc = seed.clone();
            for _ in 0..(next() % 8 + 1) {
                if doc.is_empty() {
                    break;
                }
                let at = (next() as usize) % doc.len();
                doc[at] = next() as u8;
            }
            let _ = parse_samples(*format, &doc, &window());
            let noise: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
            let _ = parse_samples(*format, &noise, &window());
        }
    }
}

const HEADER: &str =
    "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score";

/// A CSV and an NDJSON document of one row with this time.
fn one_row_docs(time: &str) -> [(Format, Vec<u8>); 3] {
    let json = serde_json::json!({
        "time": time, "employee_id": "e1", "team": "Core",
        "degree_centrality": 0.1, "betweenness_centrality": 0.1,
        "clustering_coeff": 0.1, "burnout_score": 10,
    });
    [
        (
            Format::Csv,
            format!("{HEADER}\n{time},e1,Core,0.1,0.1,0.1,10\n").into_bytes(),
        ),
        (Format::Ndjson, format!("{json}\n").into_bytes()),
        (Format::JsonArray, format!("[{json}]").into_bytes()),
    ]
}

#[test]
fn hostile_and_out_of_window_times_are_refused_naming_row_and_time() {
    for time in [
        "-5000-01-01 00:00:00",
        "0000-01-01T00:00:00Z",
        "0000-01-01 00:00:00",
        "-0001-06-01T00:00:00+00:00",
        "+275760-09-13T00:00:00Z",
        "1810-01-01T00:00:00Z",
        "1970-01-01 00:00:00",
        // 731 days before 2026-06-01 and 6 minutes after it.
        "2024-05-31T23:59:59Z",
        "2026-06-01T00:06:00Z",
    ] {
        for (format, doc) in one_row_docs(time) {
            let err = parse_samples(format, &doc, &window());
            assert_eq!(row_error(err), (1, "time".into()), "{format:?} {time}");
        }
    }
    // Backfill inside the window: older than the raw 90 days is fine.
    for time in [
        "2024-06-02T00:00:00Z",
        "2026-01-01 00:00:00",
        "2026-06-01T00:05:00Z",
    ] {
        for (format, doc) in one_row_docs(time) {
            assert_eq!(
                parse_samples(format, &doc, &window()).unwrap().len(),
                1,
                "{time}"
            );
        }
    }
}

#[test]
fn nul_in_any_text_cell_is_refused_naming_row_and_field() {
    let csv = format!("{HEADER}\n2026-05-01T00:00:00Z,e1,Co\0re,0.1,0.1,0.1,10\n");
    assert_eq!(
        row_error(parse_samples(Format::Csv, csv.as_bytes(), &window())),
        (1, "team".into())
    );
    let csv = format!("{HEADER}\n2026-05-01T00:00:00Z,e\x001,Core,0.1,0.1,0.1,10\n");
    assert_eq!(
        row_error(parse_samples(Format::Csv, csv.as_bytes(), &window())),
        (1, "employee_id".into())
    );
    let csv = format!("{HEADER}\n2026-05-01T00:00:00Z\0,e1,Core,0.1,0.1,0.1,10\n");
    assert_eq!(
        row_error(parse_samples(Format::Csv, csv.as_bytes(), &window())),
        (1, "time".into())
    );
    for (field, value) in [
        ("team", "Co\\u0000re"),
        ("employee_id", "e\\u00001"),
        ("time", "2026-05-01T00:00:00Z\\u0000"),
    ] {
        let mut row = serde_json::json!({
            "time": "2026-05-01T00:00:00Z", "employee_id": "e1", "team": "Core",
            "degree_centrality": 0.1, "betweenness_centrality": 0.1,
            "clustering_coeff": 0.1, "burnout_score": 10,
        })
        .to_string();
        let original = match field {
            "team" => "\"Core\"",
            "employee_id" => "\"e1\"",
            _ => "\"2026-05-01T00:00:00Z\"",
        };
        row = row.replace(original, &format!("\"{value}\""));
        for (format, doc) in [
            (Format::Ndjson, format!("{row}\n")),
            (Format::JsonArray, format!("[{row}]")),
        ] {
            assert_eq!(
                row_error(parse_samples(format, doc.as_bytes(), &window())),
                (1, field.into()),
                "{format:?} {doc}"
            );
        }
    }
}

#[test]
fn tiny_values_are_read_as_exactly_zero_in_every_format() {
    let csv = format!("{HEADER}\n2026-05-01T00:00:00Z,e1,Core,5e-324,1e-200,0.1,1e-101\n");
    let json = r#"{"time":"2026-05-01T00:00:00Z","employee_id":"e1","team":"Core","degree_centrality":5e-324,"betweenness_centrality":1e-200,"clustering_coeff":0.1,"burnout_score":1e-101}"#;
    for (format, doc) in [
        (Format::Csv, csv.into_bytes()),
        (Format::Ndjson, json.as_bytes().to_vec()),
        (Format::JsonArray, format!("[{json}]").into_bytes()),
    ] {
        let s = parse_samples(format, &doc, &window()).unwrap();
        let v = s[0].values;
        assert_eq!(
            [
                v.degree_centrality,
                v.betweenness_centrality,
                v.burnout_score
            ]
            .map(f64::to_bits),
            [0; 3],
            "{format:?}"
        );
        assert_eq!(v.clustering_coeff, 0.1);
    }
}

#[test]
fn chunked_parsing_gives_the_same_samples_in_chunks_of_the_asked_size() {
    let whole = parse_samples(Format::Csv, CSV.as_bytes(), &window()).unwrap();
    for size in [1, 2, 3, 10] {
        let mut chunks = Vec::new();
        let n = parse_samples_chunked(Format::Csv, CSV.as_bytes(), &window(), size, |c| {
            chunks.push(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, whole.len());
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= size));
        assert_eq!(chunks.len(), whole.len().div_ceil(size), "size {size}");
        assert_eq!(chunks.concat(), whole, "size {size}");
    }
}

#[test]
fn chunked_parsing_stops_at_a_bad_row_or_when_the_sink_refuses() {
    let bad = format!("{CSV}2026-05-01T11:00:00Z,emp_4,Core,0.5,0.1,0.3,101\n");
    let mut seen = 0;
    let err = parse_samples_chunked(Format::Csv, bad.as_bytes(), &window(), 2, |c| {
        seen += c.len();
        Ok(())
    })
    .unwrap_err();
    assert!(matches!(&err, FormatError::Row(r) if r.row == 4), "{err}");
    assert_eq!(seen, 2, "the full first chunk went out before the bad row");
    let err = parse_samples_chunked(Format::Csv, CSV.as_bytes(), &window(), 1, |_| {
        Err(FormatError::Malformed("stop".into()))
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        FormatError::Malformed("stop".into()).to_string()
    );
}
