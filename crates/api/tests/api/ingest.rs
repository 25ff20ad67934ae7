//! `POST /api/metrics`: formats, all-or-nothing, idempotence, limits.

use organism_api::ApiConfig;
use organism_store::Store;
use serde_json::json;

use crate::helpers::{error_code, sample, spawn_app, spawn_on};

async fn a_json_batch_is_written_and_a_retry_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let batch = json!([sample("e1", "T", 5, 10.0), sample("e2", "T", 5, 20.0)]);
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["received"].as_i64(), body["changed"].as_i64()),
        (Some(2), Some(2))
    );
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 200);
    assert_eq!(body["changed"], 0);
    assert_eq!(app.metric_rows().await, 2);
}

async fn ndjson_and_csv_bodies_are_accepted(store: Store) {
    let app = spawn_app(store).await;
    let ndjson = format!(
        "{}\n{}\n",
        sample("n1", "T", 5, 1.0),
        sample("n2", "T", 5, 2.0)
    );
    let (status, body) = app
        .post_body("/api/metrics", "application/x-ndjson", ndjson)
        .await;
    assert_eq!(status, 200, "{body}");
    let time = (crate::helpers::now() - chrono::Duration::minutes(3)).to_rfc3339();
    let csv = format!(
        "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score,extra\n\
         {time},c1,Core,0.1,0.2,0.3,44.5,ignored\n{time},c2,,0.1,0.2,0.3,45,x\n"
    );
    let (status, body) = app
        .post_body("/api/metrics", "text/csv; charset=utf-8", csv)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.metric_rows().await, 4);
}

async fn one_bad_row_rejects_the_batch_naming_row_and_field(store: Store) {
    let app = spawn_app(store).await;
    let mut bad = sample("e2", "T", 5, 20.0);
    bad["burnout_score"] = json!(101.0);
    let batch = json!([sample("e1", "T", 5, 10.0), bad, sample("e3", "T", 5, 30.0)]);
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "invalid_row");
    assert_eq!(body["error"]["row"], 2);
    assert_eq!(body["error"]["field"], "burnout_score");
    assert_eq!(
        app.metric_rows().await,
        0,
        "nothing of a rejected batch is written"
    );
}

async fn malformed_bodies_are_400_and_write_nothing(store: Store) {
    let app = spawn_app(store).await;
    let (status, body) = app
        .post_body("/api/metrics", "application/json", "[{\"time\": ")
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .post_body(
            "/api/metrics",
            "text/csv",
            "time,employee_id\n2026-01-01T00:00:00Z,e1\n",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "missing_column");
    let (status, _) = app
        .post_body(
            "/api/metrics",
            "application/vnd.apache.parquet",
            "not a parquet file",
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.metric_rows().await, 0);
}

async fn an_unsupported_content_type_is_415(store: Store) {
    let app = spawn_app(store).await;
    for ct in ["text/plain", "application/xml", ""] {
        let (status, body) = app.post_body("/api/metrics", ct, "[]").await;
        assert_eq!(status, 415, "{ct:?}");
        assert_eq!(error_code(&body), "unsupported_media_type");
    }
}

async fn a_body_over_the_limit_is_413(store: Store) {
    let app = spawn_on(
        store,
        ApiConfig {
            body_limit: 1024,
            ..ApiConfig::default()
        },
    )
    .await;
    let batch: Vec<_> = (0..50)
        .map(|i| sample(&format!("e{i}"), "T", 5, 1.0))
        .collect();
    let (status, body) = app.post_json("/api/metrics", &json!(batch)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "payload_too_large");
    assert_eq!(app.metric_rows().await, 0);
}

/// A Parquet file of `n` samples for employee `e0…`, one minute apart.
fn parquet_file(n: usize, burnout_last: f64) -> Vec<u8> {
    use std::sync::Arc;

    use arrow::array::{Float64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;

    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("employee_id", DataType::Utf8, false),
        Field::new("team", DataType::Utf8, true),
        Field::new("degree_centrality", DataType::Float64, false),
        Field::new("betweenness_centrality", DataType::Float64, false),
        Field::new("clustering_coeff", DataType::Float64, false),
        Field::new("burnout_score", DataType::Float64, false),
    ]));
    let now = crate::helpers::now().timestamp_micros();
    let times: Vec<i64> = (0..n as i64).map(|i| now - (i + 1) * 60_000_000).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    let mut burnout = vec![50.0; n];
    burnout[n - 1] = burnout_last;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(vec![Some("Core"); n])),
            Arc::new(Float64Array::from(vec![0.2; n])),
            Arc::new(Float64Array::from(vec![0.1; n])),
            Arc::new(Float64Array::from(vec![0.4; n])),
            Arc::new(Float64Array::from(burnout)),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

async fn a_parquet_body_is_written_whole_or_not_at_all(store: Store) {
    let app = spawn_app(store).await;
    let (status, body) = app
        .post_body(
            "/api/metrics",
            "application/vnd.apache.parquet",
            parquet_file(5, 101.0),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "invalid_row");
    assert_eq!(
        (
            body["error"]["row"].as_u64(),
            body["error"]["field"].as_str()
        ),
        (Some(5), Some("burnout_score"))
    );
    assert_eq!(app.metric_rows().await, 0);

    let (status, body) = app
        .post_body(
            "/api/metrics",
            "application/vnd.apache.parquet",
            parquet_file(5, 60.0),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], 5);
    assert_eq!(app.metric_rows().await, 5);
}

organism_testkit::engine_tests!(
    a_json_batch_is_written_and_a_retry_changes_nothing,
    ndjson_and_csv_bodies_are_accepted,
    one_bad_row_rejects_the_batch_naming_row_and_field,
    malformed_bodies_are_400_and_write_nothing,
    an_unsupported_content_type_is_415,
    a_body_over_the_limit_is_413,
    a_parquet_body_is_written_whole_or_not_at_all,
);
