//! Hostile input (issue 13, items 1, 2, 3 and 9), attacked over HTTP as a
//! writer or admin would: tiny values, hostile and out-of-window times, NUL
//! in every text field, naive timestamps in query parameters, and formula
//! cells in CSV exports. Storage cases run on both engines.

use chrono::{Duration, SecondsFormat, Utc};
use organism_api::ApiConfig;
use organism_store::Store;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, sample, spawn_app, spawn_on};

/// Every table, partition and chunk in the database (both engines: the
/// portable engine's daily partitions and TimescaleDB's chunks are tables).
async fn tables(app: &TestApp) -> i64 {
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn row(time: &str, employee: &str, team: &str) -> Value {
    json!({
        "time": time,
        "employee_id": employee,
        "team": team,
        "degree_centrality": 0.25,
        "betweenness_centrality": 0.1,
        "clustering_coeff": 0.5,
        "burnout_score": 50.0,
    })
}

const HEADER: &str =
    "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score";

/// Asserts a 422 naming `row` and `field`.
#[track_caller]
fn assert_row_error(status: u16, body: &Value, row: u64, field: &str, what: &str) {
    assert_eq!(status, 422, "{what}: {body}");
    assert_eq!(error_code(body), "invalid_row", "{what}");
    assert_eq!(body["error"]["row"], json!(row), "{what}: {body}");
    assert_eq!(body["error"]["field"], json!(field), "{what}: {body}");
}

async fn tiny_values_keep_every_read_answering(store: Store) {
    let app = spawn_on(store, ApiConfig::default()).await;
    let now = crate::helpers::now();
    let mut batch = Vec::new();
    for (i, v) in [
        5e-324,
        1e-320,
        1e-200,
        1e-101,
        1e-100,
        0.0,
        1.0 - f64::EPSILON,
    ]
    .into_iter()
    .enumerate()
    {
        let time = (now - Duration::minutes(10 * i as i64 + 1)).to_rfc3339();
        let mut r = row(&time, &format!("tiny_{}", i % 3), "Tiny");
        for field in [
            "degree_centrality",
            "betweenness_centrality",
            "clustering_coeff",
        ] {
            r[field] = json!(v);
        }
        r["burnout_score"] = json!(v * 100.0);
        batch.push(r);
    }
    let (status, body) = app.post_json("/api/metrics", &json!(batch)).await;
    assert_eq!(status, 200, "{body}");
    // What was stored is exactly 0 for everything below 1e-100.
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let tiny: i64 = client
        .query_one(
            "SELECT count(*) FROM employee_metrics WHERE degree_centrality > 0 AND degree_centrality < 1e-100",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tiny, 0);
    app.store
        .refresh_rollup(crate::helpers::now())
        .await
        .unwrap();
    for metric in [
        "degree_centrality",
        "betweenness_centrality",
        "clustering_coeff",
        "burnout_score",
    ] {
        let (status, body) = app
            .get_json(&format!("/api/trends/statistics/{metric}?days=1"))
            .await;
        assert_eq!(status, 200, "{metric}: {body}");
        assert_eq!(body["count"], json!(7), "{body}");
        assert!(body["stddev"].as_f64().unwrap().is_finite(), "{body}");
    }
    for path in [
        "/api/trends/team/Tiny?days=1",
        "/api/trends/employee/tiny_0?days=1&use_hourly=true",
        "/api/trends/employee/tiny_1?days=1",
        "/api/trends/burnout-alerts?threshold=0&days=1",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

async fn hostile_and_out_of_window_times_are_refused_and_make_no_partition(store: Store) {
    let app = spawn_on(store, ApiConfig::default()).await;
    let good = sample("emp_ok", "Core", 5, 40.0);
    assert_eq!(app.post_json("/api/metrics", &json!([good])).await.0, 200);
    let (tables_before, rows_before) = (tables(&app).await, app.metric_rows().await);

    let now = crate::helpers::now();
    let too_old = (now - Duration::days(731)).to_rfc3339();
    let too_new = (now + Duration::minutes(6)).to_rfc3339();
    let good_time = (now - Duration::minutes(1)).to_rfc3339();
    for time in [
        "-5000-01-01 00:00:00",
        "0000-01-01T00:00:00Z",
        "0000-01-01 00:00:00",
        "1810-01-01T00:00:00Z",
        "1970-01-01T00:00:00",
        too_old.as_str(),
        too_new.as_str(),
    ] {
        let json = json!([row(&good_time, "emp_x", "Core"), row(time, "emp_y", "Core")]);
        let (status, body) = app.post_json("/api/metrics", &json).await;
        assert_row_error(status, &body, 2, "time", time);
        let ndjson = format!(
            "{}\n{}\n",
            row(&good_time, "emp_x", "Core"),
            row(time, "emp_y", "Core")
        );
        let (status, body) = app
            .post_body("/api/metrics", "application/x-ndjson", ndjson)
            .await;
        assert_row_error(status, &body, 2, "time", time);
        let csv = format!("{HEADER}\n{time},emp_y,Core,0.1,0.1,0.1,10\n");
        let (status, body) = app.post_body("/api/metrics", "text/csv", csv).await;
        assert_row_error(status, &body, 1, "time", time);
    }
    // 4,000 distinct days from 1810: one 422, not 4,000 partitions.
    let mut csv = format!("{HEADER}\n{good_time},emp_x,Core,0.1,0.1,0.1,10\n");
    let start = chrono::NaiveDate::from_ymd_opt(1810, 1, 1).unwrap();
    for d in 0..4000 {
        let day = start + Duration::days(d);
        csv.push_str(&format!("{day} 12:00:00,emp_old,Core,0.1,0.1,0.1,10\n"));
    }
    let (status, body) = app.post_body("/api/metrics", "text/csv", csv).await;
    assert_row_error(status, &body, 2, "time", "4,000 days from 1810");
    assert_eq!(
        tables(&app).await,
        tables_before,
        "a refused batch made tables"
    );
    assert_eq!(app.metric_rows().await, rows_before);

    // Backfill inside the window is accepted, beyond the raw 90 days too.
    let backfill = json!([
        row(
            &(now - Duration::days(100)).to_rfc3339(),
            "emp_back",
            "Core"
        ),
        row(
            &(now - Duration::days(729)).to_rfc3339(),
            "emp_back",
            "Core"
        ),
        row(
            &(now + Duration::minutes(4)).to_rfc3339(),
            "emp_back",
            "Core"
        ),
    ]);
    let (status, body) = app.post_json("/api/metrics", &backfill).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.metric_rows().await, rows_before + 3);
}

organism_testkit::engine_tests!(
    tiny_values_keep_every_read_answering,
    hostile_and_out_of_window_times_are_refused_and_make_no_partition,
    a_snapshot_time_outside_the_window_is_refused_naming_at,
    nul_in_any_text_field_is_a_4xx_naming_the_field,
    unrepresentable_query_times_are_400_and_naive_ones_are_utc,
    csv_exports_neutralise_formula_cells_and_keep_numbers,
);

async fn a_snapshot_time_outside_the_window_is_refused_naming_at(store: Store) {
    let app = spawn_app(store).await;
    let tables_before = tables(&app).await;
    let now = crate::helpers::now();
    for at in [
        json!("0000-01-01T00:00:00Z"),
        json!("1810-01-01T00:00:00Z"),
        json!((now - Duration::days(731)).to_rfc3339()),
        json!((now + Duration::hours(1)).to_rfc3339()),
    ] {
        let body = json!({
            "directory": [{"employee_id": "emp_a", "team": "Core"}, {"employee_id": "emp_b"}],
            "interactions": [{"from": "emp_a", "to": "emp_b", "time": now.to_rfc3339(), "channel": "chat"}],
            "at": at,
        });
        let (status, answer) = app.post_json("/api/graph/snapshots", &body).await;
        assert!((400..500).contains(&status), "{at}: {status} {answer}");
        assert_eq!(answer["error"]["field"], json!("at"), "{at}: {answer}");
    }
    // Not a timestamp of the grammar (a signed year, a leap second, NUL, an
    // offset past 23:59): 400 naming `at` and what was wrong; not a string
    // at all: a malformed body.
    for (at, says) in [
        ("-5000-01-01T00:00:00Z", "years 1 and 9999"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2026-01-01T00:00:00Z\u{0}", "after the end"),
        ("2026-01-01T00:00:00+24:00", "offset"),
    ] {
        let (status, answer) = app
            .post_json(
                "/api/graph/snapshots",
                &json!({"directory": [], "interactions": [], "at": at}),
            )
            .await;
        assert_eq!(status, 400, "{at}: {answer}");
        assert_eq!(answer["error"]["field"], json!("at"), "{at}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{at}: {answer}"
        );
    }
    let (status, answer) = app
        .post_json(
            "/api/graph/snapshots",
            &json!({"directory": [], "interactions": [], "at": 1_767_225_600}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], json!("malformed_body"), "{answer}");
    assert_eq!(tables(&app).await, tables_before);
    assert_eq!(app.metric_rows().await, 0);
}

async fn nul_in_any_text_field_is_a_4xx_naming_the_field(store: Store) {
    let app = spawn_app(store).await;
    let seed = json!({"intervention_id": "iv-seed", "kind": "one_on_one", "actor": "hr"});
    assert_eq!(app.post_json("/api/interventions", &seed).await.0, 201);
    let audit_before = app.audit_rows().await;

    // Interventions: details at any depth, keys, and every other field.
    let create = |extra: Value| {
        let mut body = json!({"kind": "one_on_one", "actor": "hr"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (
            create(json!({"details": {"note": "a\u{0}b"}})),
            "details.note",
        ),
        (
            create(json!({"details": {"a": [1, {"b": "\u{0}"}]}})),
            "details.a[1].b",
        ),
        (create(json!({"details": {"k\u{0}": 1}})), "details"),
        // Stored, PostgreSQL would give back a 309-digit integer no double
        // holds: refused rather than stored unreadable (it once dropped the
        // connection without an answer).
        (
            create(json!({"details": {"a": 1.797_693_134_862_315_5e308}})),
            "details.a",
        ),
        (create(json!({"actor": "h\u{0}r"})), "actor"),
        (create(json!({"kind": "one\u{0}"})), "kind"),
        (
            create(json!({"intervention_id": "iv\u{0}1"})),
            "intervention_id",
        ),
        (
            create(json!({"target_employee_id": "e\u{0}"})),
            "target_employee_id",
        ),
    ] {
        let (status, answer) = app.post_json("/api/interventions", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], json!(field), "{body}: {answer}");
    }
    for (body, field) in [
        (
            json!({"status": "approved", "actor": "hr", "details": {"why": "\u{0}"}}),
            "details.why",
        ),
        (json!({"status": "approved", "actor": "\u{0}"}), "actor"),
        (json!({"status": "appro\u{0}ved", "actor": "hr"}), "status"),
    ] {
        let (status, answer) = app.patch_json("/api/interventions/iv-seed", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], json!(field), "{body}: {answer}");
    }
    // A lone surrogate is not JSON text serde accepts: 400 as well.
    let (status, answer) = app
        .post_body(
            "/api/interventions",
            "application/json",
            r#"{"kind": "one_on_one", "actor": "hr", "details": {"note": "\ud800"}}"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(app.audit_rows().await, audit_before);

    // Samples: team and id in every format.
    let time = (crate::helpers::now() - Duration::minutes(1)).to_rfc3339();
    for (r, field) in [
        (row(&time, "emp_1", "Co\u{0}re"), "team"),
        (row(&time, "emp\u{0}1", "Core"), "employee_id"),
        (row(&format!("{time}\u{0}"), "emp_1", "Core"), "time"),
    ] {
        let (status, body) = app.post_json("/api/metrics", &json!([r])).await;
        assert_row_error(status, &body, 1, field, field);
        let (status, body) = app
            .post_body("/api/metrics", "application/x-ndjson", format!("{r}\n"))
            .await;
        assert_row_error(status, &body, 1, field, field);
    }
    let csv = format!("{HEADER}\n{time},emp_1,Co\0re,0.1,0.1,0.1,10\n");
    let (status, body) = app.post_body("/api/metrics", "text/csv", csv).await;
    assert_row_error(status, &body, 1, "team", "csv team");
    let csv = format!("{HEADER}\n{time},emp\x001,Core,0.1,0.1,0.1,10\n");
    let (status, body) = app.post_body("/api/metrics", "text/csv", csv).await;
    assert_row_error(status, &body, 1, "employee_id", "csv id");
    // A graph snapshot's directory.
    let snapshot = json!({
        "directory": [{"employee_id": "emp_a", "team": "Core"}, {"employee_id": "emp_b", "team": "Ed\u{0}ge"}],
        "interactions": [],
    });
    let (status, body) = app.post_json("/api/graph/snapshots", &snapshot).await;
    assert_row_error(status, &body, 2, "team", "directory team");
    assert_eq!(app.metric_rows().await, 0);

    // Path segments and query parameters.
    for (path, field) in [
        ("/api/trends/team/Core%00", "team_name"),
        ("/api/trends/employee/emp%00", "employee_id"),
        ("/api/trends/statistics/burnout_score%00", "metric_name"),
        ("/api/interventions?target=e%00", "target"),
        ("/api/interventions?status=proposed%00", "status"),
        ("/api/audit?intervention_id=iv%00", "intervention_id"),
        ("/api/audit?start=2026-01-01%00", "start"),
        ("/api/audit?cursor=1%00", "cursor"),
        ("/api/trends/burnout-alerts?threshold=70%00", "threshold"),
        (
            "/api/trends/employee/emp_1/range?start_date=2026-01-01%00&end_date=2026-01-02",
            "start_date",
        ),
        ("/api/trends/team/Core?d%00ays=1", "d\u{0}ays"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["field"], json!(field), "{path}: {body}");
    }
}

async fn unrepresentable_query_times_are_400_and_naive_ones_are_utc(store: Store) {
    let app = spawn_app(store).await;
    for (query, field) in [
        ("start_date=-5000-01-01&end_date=2026-01-01", "start_date"),
        (
            "start_date=0000-01-01T00:00:00Z&end_date=0000-01-02T00:00:00Z",
            "start_date",
        ),
        ("start_date=2026-01-01&end_date=10000-01-01", "end_date"),
    ] {
        let (status, body) = app
            .get_json(&format!("/api/trends/employee/emp_1/range?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], json!(field), "{query}: {body}");
    }
    let (status, body) = app.get_json("/api/audit?start=0000-01-01").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], json!("start"));

    let at = chrono::DateTime::from_timestamp(
        (crate::helpers::now() - Duration::minutes(30)).timestamp(),
        0,
    )
    .unwrap();
    let (status, _) = app
        .post_json(
            "/api/metrics",
            &json!([row(&at.to_rfc3339(), "emp_1", "Core")]),
        )
        .await;
    assert_eq!(status, 200);
    // docs/DECISIONS.md: a timestamp without an offset is UTC.
    let (status, body) = app
        .get_json("/api/trends/employee/emp_1/range?start_date=2026-11-30T00:00:00&end_date=2026-12-01T00:00:00")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["start"], json!("2026-11-30T00:00:00Z"), "{body}");
    let naive = |t: chrono::DateTime<Utc>| t.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string();
    let (status, body) = app
        .get_json(&format!(
            "/api/trends/employee/emp_1/range?start_date={}&end_date={}",
            naive(at - Duration::minutes(1)),
            naive(at + Duration::minutes(1)).replace('T', "%20"),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        body["points"][0]["time"],
        json!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        "{body}"
    );
}

async fn csv_exports_neutralise_formula_cells_and_keep_numbers(store: Store) {
    let app = spawn_app(store).await;
    let team = "=HYPERLINK(\"http://x\",\"y\")";
    let time = (crate::helpers::now() - Duration::minutes(2)).to_rfc3339();
    let mut low = row(&time, "-emp", team);
    low["burnout_score"] = json!(80.5);
    let batch = json!([
        row(&time, "@emp", team),
        low,
        row(&time, "emp_3", "+Team"),
        row(&time, "emp_4", "@Team")
    ]);
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 200, "{body}");
    let csv_of = |path: String| {
        let client = app.http.clone();
        let base = app.base.clone();
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .header("accept", "text/csv")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let text = csv_of("/api/trends/employee/@emp?days=1".into()).await;
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "{text}"
    );
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    let text = csv_of("/api/trends/burnout-alerts?threshold=0&days=1".into()).await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[col("employee_id")]).collect();
    for id in ["'@emp", "'-emp", "emp_3"] {
        assert!(ids.contains(&id), "{id} in {ids:?}\n{text}");
    }
    let teams: Vec<&str> = rows.iter().map(|r| &r[col("team")]).collect();
    assert!(
        teams.contains(&"'@Team") && teams.contains(&"'+Team"),
        "{teams:?}"
    );
    // Numbers stay numbers, unquoted and without a leading quote.
    let low = rows
        .iter()
        .find(|r| &r[col("employee_id")] == "'-emp")
        .unwrap();
    assert_eq!(&low[col("latest_score")], "80.5");
    assert!(text.contains(",80.5,"), "{text}");
    // And the JSON answer is untouched.
    let (_, body) = app.get_json("/api/trends/employee/@emp?days=1").await;
    assert_eq!(body["points"][0]["team"], json!(team), "{body}");
}
