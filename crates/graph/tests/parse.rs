//! Malformed rows are skipped and counted, never fatal.
#![allow(clippy::unwrap_used)]

use organism_graph::parse::{
    MAX_REPORTED_ROWS, directory_from_csv, directory_from_ndjson, interactions_from_csv,
    interactions_from_ndjson,
};
use organism_graph::{Channel, ParseError};

#[test]
fn a_well_formed_csv_parses_with_defaults_for_optional_columns() {
    let csv = "from,to,time,channel\n\
               a,b,2024-03-01T09:30:00Z,email\n\
               b,c,2024-03-01T10:30:00+01:00,MEETING\n";
    let parsed = interactions_from_csv(csv.as_bytes()).unwrap();
    assert_eq!(parsed.malformed.count, 0);
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.rows[0].weight, 1.0);
    assert_eq!(parsed.rows[1].duration_minutes, 0.0);
    assert_eq!(parsed.rows[1].channel, Channel::Meeting);
    assert_eq!(parsed.rows[1].time, parsed.rows[0].time);
}

#[test]
fn malformed_csv_rows_are_counted_with_their_row_number_and_reason() {
    let mut csv = b"from,to,time,channel,weight,duration_minutes\n".to_vec();
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z,chat,2,0\n"); // 1 ok
    csv.extend_from_slice(b"a,b,yesterday,chat,1,0\n"); // 2 bad time
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z,fax,1,0\n"); // 3 bad channel
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z,chat,-1,0\n"); // 4 negative weight
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z,chat,NaN,0\n"); // 5 NaN weight
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z\n"); // 6 too few fields
    csv.extend_from_slice(b",b,2024-03-01T09:30:00Z,chat,1,0\n"); // 7 blank from
    csv.extend_from_slice(b"a,\xff\xfe,2024-03-01T09:30:00Z,chat,1,0\n"); // 8 invalid UTF-8
    csv.extend_from_slice(b"a,b,2024-03-01T09:30:00Z,meeting,,45\n"); // 9 ok, default weight
    let parsed = interactions_from_csv(&csv).unwrap();
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.rows[1].weight, 1.0);
    assert_eq!(parsed.rows[1].duration_minutes, 45.0);
    assert_eq!(parsed.malformed.count, 7);
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![2, 3, 4, 5, 6, 7, 8]);
    assert!(parsed.malformed.first[0].reason.contains("RFC 3339"));
    assert!(parsed.malformed.first[1].reason.contains("unknown channel"));
    assert!(parsed.malformed.first[4].reason.contains("fields"));
    assert!(parsed.malformed.first[5].reason.contains("missing `from`"));
}

#[test]
fn only_the_first_few_malformed_rows_keep_their_reason() {
    let mut csv = String::from("from,to,time,channel\n");
    for _ in 0..25 {
        csv.push_str("a,b,not-a-time,chat\n");
    }
    let parsed = interactions_from_csv(csv.as_bytes()).unwrap();
    assert_eq!(parsed.malformed.count, 25);
    assert_eq!(parsed.malformed.first.len(), MAX_REPORTED_ROWS);
}

#[test]
fn a_csv_without_a_required_column_is_an_error() {
    let error = interactions_from_csv(b"from,to,channel\na,b,chat\n").unwrap_err();
    assert!(matches!(
        error,
        ParseError::MissingColumn { column: "time" }
    ));
}

#[test]
fn empty_input_is_no_rows_not_an_error() {
    assert!(interactions_from_csv(b"").unwrap().rows.is_empty());
    assert!(directory_from_csv(b"").unwrap().rows.is_empty());
    assert_eq!(interactions_from_ndjson(b"").malformed.count, 0);
}

#[test]
fn malformed_ndjson_lines_are_counted_and_blank_lines_skipped() {
    let ndjson = concat!(
        r#"{"from":"a","to":"b","time":"2024-03-01T09:30:00Z","channel":"chat","weight":2}"#,
        "\n\n",
        "{not json\n",
        "[1,2]\n",
        r#"{"from":"a","to":"b","time":"2024-03-01T09:30:00Z","channel":"chat","weight":"x"}"#,
        "\n",
        r#"{"from":7,"to":"b","time":"2024-03-01T09:30:00Z","channel":"meeting","duration_minutes":30}"#,
        "\n",
        r#"{"from":["a"],"to":"b","time":"2024-03-01T09:30:00Z","channel":"chat"}"#,
    );
    let parsed = interactions_from_ndjson(ndjson.as_bytes());
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.rows[0].weight, 2.0);
    assert_eq!(parsed.rows[1].from, "7");
    assert_eq!(parsed.rows[1].duration_minutes, 30.0);
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![3, 4, 5, 7]);
    assert_eq!(parsed.malformed.count, 4);
}

#[test]
fn directory_rows_take_defaults_and_bad_hours_or_duplicates_are_malformed() {
    let csv = "employee_id,team,work_start_hour,work_end_hour,utc_offset_minutes\n\
               a,core,,,\n\
               b,,8,17,60\n\
               c,core,25,17,0\n\
               d,core,9,9,0\n\
               e,core,9,17,100000\n\
               a,other,9,17,0\n\
               f,core,22,6,-300\n";
    let parsed = directory_from_csv(csv.as_bytes()).unwrap();
    let ids: Vec<&str> = parsed.rows.iter().map(|e| e.employee_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "f"]);
    assert_eq!(parsed.rows[0].team.as_deref(), Some("core"));
    assert_eq!(parsed.rows[0].work_start_hour, 9);
    assert_eq!(parsed.rows[0].work_end_hour, 18);
    assert_eq!(parsed.rows[1].team, None);
    assert_eq!(parsed.rows[1].utc_offset_minutes, 60);
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![3, 4, 5, 6]);
    assert!(parsed.malformed.first[3].reason.contains("duplicate"));

    let ndjson =
        "{\"employee_id\":\"a\",\"team\":\"core\",\"work_start_hour\":7}\n{\"team\":\"x\"}\n";
    let parsed = directory_from_ndjson(ndjson.as_bytes());
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].work_start_hour, 7);
    assert_eq!(parsed.malformed.first[0].row, 2);
}

#[test]
fn interactions_with_unrepresentable_years_are_malformed() {
    let csv = "from,to,time,channel\n\
               a,b,0000-01-01T00:00:00Z,email\n\
               a,b,-5000-01-01T00:00:00Z,email\n\
               a,b,0001-01-01T00:00:00Z,email\n";
    let parsed = interactions_from_csv(csv.as_bytes()).unwrap();
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.malformed.count, 2);
    assert!(
        parsed.malformed.first[0]
            .reason
            .contains("years 1 and 9999")
    );
    let ndjson =
        "{\"from\":\"a\",\"to\":\"b\",\"time\":\"0000-06-01T00:00:00Z\",\"channel\":\"chat\"}\n";
    assert_eq!(
        interactions_from_ndjson(ndjson.as_bytes()).malformed.count,
        1
    );
}

#[test]
fn interaction_times_follow_the_one_timestamp_grammar() {
    // The same instant as RFC 3339, pandas' text, and without offset (UTC).
    let csv = "from,to,time,channel\n\
               a,b,2024-03-01T09:30:00Z,email\n\
               a,b,2024-03-01 10:30:00+01:00,email\n\
               a,b,2024-03-01 09:30:00,email\n\
               a,b,2024-03-01T09:30:00,email\n\
               a,b,2024-02-29T23:59:60Z,email\n\
               a,b,2024-03-01T09:30:00+24:00,email\n\
               a,b,2024-03-01,email\n";
    let parsed = interactions_from_csv(csv.as_bytes()).unwrap();
    assert_eq!(parsed.rows.len(), 4);
    assert!(parsed.rows.iter().all(|r| r.time == parsed.rows[0].time));
    let rows: Vec<usize> = parsed.malformed.first.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![5, 6, 7]);
    assert!(parsed.malformed.first[0].reason.contains("leap second"));
    assert!(parsed.malformed.first[1].reason.contains("offset"));
    assert!(
        parsed.malformed.first[2]
            .reason
            .starts_with("`time` must be")
    );
    let ndjson = "{\"from\":\"a\",\"to\":\"b\",\"time\":\"2024-03-01T09:30:00Z\\u0000\",\"channel\":\"chat\"}\n";
    let parsed = interactions_from_ndjson(ndjson.as_bytes());
    assert_eq!(parsed.malformed.count, 1);
    assert!(parsed.malformed.first[0].reason.contains("after the end"));
}
