//! `POST /api/graph/snapshots`.

use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

fn interaction(from: &str, to: &str, hours_ago: i64) -> Value {
    let time = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    json!({"from": from, "to": to, "time": time.to_rfc3339(), "channel": "chat"})
}

/// A triangle a-b-c with d hanging off c; plus a self-loop, an unknown
/// employee and a malformed row, which are counted and dropped.
fn request() -> Value {
    json!({
        "directory": [
            {"employee_id": "emp_a", "team": "Core"},
            {"employee_id": "emp_b", "team": "Core"},
            {"employee_id": "emp_c", "team": "Core"},
            {"employee_id": "emp_d", "team": "Edge"},
        ],
        "interactions": [
            interaction("emp_a", "emp_b", 5),
            interaction("emp_b", "emp_c", 4),
            interaction("emp_c", "emp_a", 3),
            interaction("emp_c", "emp_d", 2),
            interaction("emp_a", "emp_a", 2),
            interaction("emp_a", "emp_zz", 2),
            {"from": "emp_a", "to": "emp_b", "time": "yesterday", "channel": "chat"},
        ],
    })
}

#[tokio::test]
async fn a_snapshot_computes_and_stores_every_employee() {
    let app = spawn_app().await;
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["employees"], 4);
    assert_eq!(body["edges"], 4);
    assert_eq!(
        (
            &body["self_loops"],
            &body["unknown_employees"],
            &body["malformed_rows"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(body["rows_written"], 4);
    assert_eq!(app.metric_rows().await, 4);

    // emp_c: neighbours a, b, d of 3 others; one of its three neighbour
    // pairs (a-b) is linked; it is on the shortest paths d-a and d-b, two of
    // the three pairs of others.
    let (status, trend) = app.get_json("/api/trends/employee/emp_c?days=1").await;
    assert_eq!(status, 200, "{trend}");
    let p = &trend["points"][0];
    assert_eq!(p["team"], "Core");
    assert!((p["degree_centrality"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert!((p["clustering_coeff"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((p["betweenness_centrality"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);

    // Incremental and nothing moved: nothing written.
    let mut again = request();
    again["incremental"] = json!(true);
    again["at"] = json!((chrono::Utc::now()).to_rfc3339());
    let (status, body) = app.post_json("/api/graph/snapshots", &again).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["rows_written"], &body["unchanged"]),
        (&json!(0), &json!(4))
    );
    assert_eq!(app.metric_rows().await, 4);
}

#[tokio::test]
async fn bad_snapshot_requests_are_named_and_write_nothing() {
    let app = spawn_app().await;
    let mut bad_id = request();
    bad_id["directory"][2]["employee_id"] = json!("emp c");
    bad_id["interactions"] = json!([]);
    let (status, body) = app.post_json("/api/graph/snapshots", &bad_id).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "invalid_row");
    assert_eq!(
        (
            body["error"]["row"].as_u64(),
            body["error"]["field"].as_str()
        ),
        (Some(3), Some("employee_id"))
    );

    let mut bad_window = request();
    bad_window["window_days"] = json!(0);
    let (status, body) = app.post_json("/api/graph/snapshots", &bad_window).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "window_days");

    let (status, body) = app
        .post_json("/api/graph/snapshots", &json!({"directory": []}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "malformed_body");

    let (status, _) = app
        .post_body("/api/graph/snapshots", "text/csv", "a,b\n")
        .await;
    assert_eq!(status, 415);
    assert_eq!(app.metric_rows().await, 0);
}
