//! `POST /api/graph/snapshots`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use organism_api::ApiConfig;
use organism_api::snapshots::{SnapshotRequest, SnapshotSettings, take_snapshot};
use organism_domain::Role;
use organism_store::{Engine, Store};
use serde_json::{Value, json};

use crate::helpers::{TestApp, client_with_key, error_code, spawn_app, spawn_engine, spawn_on};

fn interaction(from: &str, to: &str, hours_ago: i64) -> Value {
    let time = crate::helpers::now() - chrono::Duration::hours(hours_ago);
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

async fn a_snapshot_computes_and_stores_every_employee(store: Store) {
    let app = spawn_app(store).await;
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
    again["at"] = json!((crate::helpers::now()).to_rfc3339());
    let (status, body) = app.post_json("/api/graph/snapshots", &again).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["rows_written"], &body["unchanged"]),
        (&json!(0), &json!(4))
    );
    assert_eq!(app.metric_rows().await, 4);
    assert_eq!(body["samples"], 4);
    assert_eq!(body["betweenness"], json!({"method": "exact"}));
}

async fn bad_snapshot_requests_are_named_and_write_nothing(store: Store) {
    let app = spawn_app(store).await;
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

async fn a_tolerance_in_the_request_is_refused_naming_the_field_whatever_the_key(store: Store) {
    let app = spawn_app(store).await;
    let writer = app.key(Role::Writer, &[]).await;
    let mut body = request();
    body["incremental"] = json!(true);
    body["tolerance"] = json!(0.5);
    for key in [writer.as_str(), app.admin_key.as_str()] {
        let (status, answer) = app
            .send_as(
                Some(key),
                reqwest::Method::POST,
                "/api/graph/snapshots",
                Some(&body),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], "tolerance");
    }
    assert_eq!(app.metric_rows().await, 0);
}

/// One status and body, or text, per request, with what may differ between
/// two runs of the same requests masked.
async fn answers_of(app: &TestApp, key: &str, at: [DateTime<Utc>; 3], probe: &Value) -> Vec<Value> {
    let mut answers = Vec::new();
    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            let (status, answer) = app
                .send_as(Some(key), reqwest::Method::POST, path, Some(&body))
                .await;
            json!({"path": path, "status": status, "body": masked(answer)})
        }
    };
    let incremental = |at: DateTime<Utc>| {
        let mut body = request();
        body["at"] = json!(at.to_rfc3339());
        body["incremental"] = json!(true);
        body
    };
    // Incremental against the stored latest samples: equal in one state,
    // different in the other.
    answers.push(post("/api/graph/snapshots", incremental(at[1])).await);
    answers.push(post("/api/graph/snapshots", incremental(at[1])).await);
    // A sample equal to one stored in the first state only.
    answers.push(post("/api/metrics", json!([probe])).await);
    answers.push(post("/api/metrics", json!([probe])).await);
    // Not incremental, then the refused tolerance, a bad window.
    let mut full = request();
    full["at"] = json!(at[2].to_rfc3339());
    answers.push(post("/api/graph/snapshots", full).await);
    let mut tolerance = incremental(at[2]);
    tolerance["tolerance"] = json!(1e-6);
    answers.push(post("/api/graph/snapshots", tolerance).await);
    let mut window = incremental(at[2]);
    window["window_days"] = json!(0);
    answers.push(post("/api/graph/snapshots", window).await);
    for path in [
        "/api/trends/health",
        "/api/trends/employee/emp_a",
        "/api/trends/team/Core",
    ] {
        let (status, body) = app.get_as(Some(key), path).await;
        answers.push(json!({"path": path, "status": status, "body": masked(body)}));
    }
    let text = client_with_key(key)
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answers.push(json!({"path": "/metrics", "body": masked_exposition(&text)}));
    answers
}

/// Times the service measures and the pool's momentary occupancy: they move
/// with load and timing, not with stored values (timing is a channel the
/// service does not close; see the notes).
fn masked(mut body: Value) -> Value {
    if let Some(fields) = body.as_object_mut() {
        for field in ["seconds_graph", "seconds_total", "pool"] {
            if fields.contains_key(field) {
                fields.insert(field.into(), json!("masked"));
            }
        }
    }
    body
}

fn masked_exposition(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let timed = line.starts_with("organism_http_request_seconds")
                || line.starts_with("organism_db_pool_");
            match (timed, line.rsplit_once(' ')) {
                (true, Some((name, _))) => format!("{name} masked"),
                _ => line.to_string(),
            }
        })
        .collect()
}

/// Stores the snapshot of `interactions` (the directory of [`request`]) at
/// `at`, straight through the store: no request the writer's answers count.
async fn seed(app: &TestApp, interactions: &Value, at: DateTime<Utc>) {
    let mut body = request();
    body["interactions"] = interactions.clone();
    let ndjson = |values: &Value| {
        values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{v}\n"))
            .collect::<String>()
    };
    let directory =
        organism_graph::parse::directory_from_ndjson(ndjson(&body["directory"]).as_bytes());
    let interactions =
        organism_graph::parse::interactions_from_ndjson(ndjson(&body["interactions"]).as_bytes());
    take_snapshot(
        &app.store,
        directory.rows,
        interactions.rows,
        0,
        SnapshotRequest {
            at,
            now: crate::helpers::now(),
            window_days: SnapshotRequest::DEFAULT_WINDOW_DAYS,
            incremental: false,
        },
        &SnapshotSettings::default(),
        None,
    )
    .await
    .unwrap();
}

/// Two fresh apps whose stored scores differ, and a sample equal to one
/// stored in the first only.
async fn two_states(engine: Engine, at: [DateTime<Utc>; 3]) -> (TestApp, TestApp, Value) {
    let same = request()["interactions"].clone();
    // A chain a-b-c-d instead of the triangle: other scores for everyone.
    let other = json!([
        interaction("emp_a", "emp_b", 5),
        interaction("emp_b", "emp_c", 4),
        interaction("emp_c", "emp_d", 3),
    ]);
    let first = spawn_engine(engine, ApiConfig::default()).await;
    let second = spawn_engine(engine, ApiConfig::default()).await;
    seed(&first, &same, at[0]).await;
    seed(&second, &other, at[0]).await;
    // Both states hold the same rows (employees, times, teams); the values differ.
    assert_eq!(
        (first.metric_rows().await, second.metric_rows().await),
        (4, 4)
    );
    let latest = first
        .store
        .latest_values(at[0] - chrono::Duration::days(1))
        .await
        .unwrap();
    let [degree, betweenness, clustering, burnout] = latest["emp_a"];
    let probe = json!({
        "time": at[0].to_rfc3339(), "employee_id": "emp_a", "team": "Core",
        "degree_centrality": degree, "betweenness_centrality": betweenness,
        "clustering_coeff": clustering, "burnout_score": burnout,
    });
    assert_ne!(
        second
            .store
            .latest_values(at[0] - chrono::Duration::days(1))
            .await
            .unwrap()["emp_a"],
        latest["emp_a"]
    );
    (first, second, probe)
}

async fn a_writer_cannot_tell_two_stored_states_apart(store: Store) {
    // Two pairs of fresh apps on the case's engine; its own store is unused.
    let engine = store.engine();
    let now = crate::helpers::now();
    let at = [
        now - chrono::Duration::minutes(30),
        now - chrono::Duration::minutes(20),
        now - chrono::Duration::minutes(10),
    ];
    let (first, second, probe) = two_states(engine, at).await;
    let first_writer = first.key(Role::Writer, &[]).await;
    let second_writer = second.key(Role::Writer, &[]).await;
    let seen_first = answers_of(&first, &first_writer, at, &probe).await;
    let seen_second = answers_of(&second, &second_writer, at, &probe).await;
    assert_eq!(seen_first.len(), seen_second.len());
    for (a, b) in seen_first.iter().zip(&seen_second) {
        assert_eq!(a, b, "a writer's answer tells the states apart");
    }
    // The snapshots were taken and the probe accepted.
    assert_eq!(seen_first[0]["status"], 200, "{}", seen_first[0]);
    assert_eq!(seen_first[2]["status"], 200, "{}", seen_first[2]);
    assert_eq!(seen_first[5]["body"]["error"]["field"], "tolerance");

    // The same requests from an admin on the same two states do tell them
    // apart: the test would catch a leak.
    let (first, second, probe) = two_states(engine, at).await;
    let admin_first = answers_of(&first, &first.admin_key, at, &probe).await;
    let admin_second = answers_of(&second, &second.admin_key, at, &probe).await;
    assert_ne!(admin_first, admin_second);
}

fn config_with(change: impl FnOnce(&mut SnapshotSettings)) -> ApiConfig {
    let mut config = ApiConfig::default();
    change(&mut config.snapshot);
    config
}

async fn a_directory_over_the_employee_limit_is_refused_naming_the_field_and_the_limit(
    store: Store,
) {
    let app = spawn_on(store, config_with(|s| s.max_employees = 3)).await;
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "snapshot_too_large");
    assert_eq!(
        (&body["error"]["field"], &body["error"]["limit"]),
        (&json!("directory"), &json!(3))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--snapshot-max-employees")
    );
    assert_eq!(app.metric_rows().await, 0);
}

async fn interactions_over_the_edge_limit_are_refused_naming_the_field_and_the_limit(store: Store) {
    let app = spawn_on(store, config_with(|s| s.max_edges = 3)).await;
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "snapshot_too_large");
    assert_eq!(
        (&body["error"]["field"], &body["error"]["limit"]),
        (&json!("interactions"), &json!(3))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 edges")
    );
    assert_eq!(app.metric_rows().await, 0);
}

async fn a_snapshot_past_its_time_limit_is_stopped_and_refused(store: Store) {
    // A zero limit has passed by the first look at the clock.
    let app = spawn_on(store, config_with(|s| s.timeout = Duration::ZERO)).await;
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "snapshot_timeout");
    assert_eq!(body["error"]["limit"], 0);
    assert_eq!(app.metric_rows().await, 0);
    // The permit came back: the next snapshot is not refused as busy.
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(
        (status, error_code(&body)),
        (422, "snapshot_timeout".into())
    );
}

async fn a_snapshot_while_another_holds_the_only_permit_gets_503_with_retry_after(store: Store) {
    let app = spawn_app(store).await;
    assert_eq!(app.state.config.snapshot.concurrency, 1);
    let held = app
        .state
        .snapshot_permits
        .clone()
        .try_acquire_owned()
        .unwrap();
    let response = app
        .http
        .post(format!("{}/api/graph/snapshots", app.base))
        .json(&request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "snapshot_busy");
    assert_eq!(app.metric_rows().await, 0);
    drop(held);
    let (status, body) = app.post_json("/api/graph/snapshots", &request()).await;
    assert_eq!(status, 200, "{body}");
    // The permit is back once the snapshot is done.
    assert_eq!(app.state.snapshot_permits.available_permits(), 1);
}

async fn above_the_threshold_betweenness_is_sampled_and_the_bound_reported(store: Store) {
    let app = spawn_on(
        store,
        config_with(|s| {
            s.approximate_above = 0;
            s.epsilon = 0.3;
        }),
    )
    .await;
    // A ring of 300: the bound needs fewer samples than there are employees.
    let n = 300;
    let directory: Vec<Value> = (0..n)
        .map(|i| json!({"employee_id": format!("emp_{i}")}))
        .collect();
    let interactions: Vec<Value> = (0..n)
        .map(|i| interaction(&format!("emp_{i}"), &format!("emp_{}", (i + 1) % n), 2))
        .collect();
    let body = json!({"directory": directory, "interactions": interactions});
    let (status, body) = app.post_json("/api/graph/snapshots", &body).await;
    assert_eq!(status, 200, "{body}");
    let b = &body["betweenness"];
    assert_eq!(b["method"], "sampled", "{body}");
    assert_eq!((&b["epsilon"], &b["delta"]), (&json!(0.3), &json!(0.1)));
    assert!(b["samples"].as_u64().unwrap() < n as u64, "{body}");
    assert_eq!(body["rows_written"], n);
}

organism_testkit::engine_tests!(
    a_snapshot_computes_and_stores_every_employee,
    a_writer_cannot_tell_two_stored_states_apart,
    bad_snapshot_requests_are_named_and_write_nothing,
    a_tolerance_in_the_request_is_refused_naming_the_field_whatever_the_key,
    a_directory_over_the_employee_limit_is_refused_naming_the_field_and_the_limit,
    interactions_over_the_edge_limit_are_refused_naming_the_field_and_the_limit,
    a_snapshot_past_its_time_limit_is_stopped_and_refused,
    a_snapshot_while_another_holds_the_only_permit_gets_503_with_retry_after,
    above_the_threshold_betweenness_is_sampled_and_the_bound_reported,
);
