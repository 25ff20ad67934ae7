//! The analytics endpoints over HTTP, on both engines: an intervention's
//! effect measured from its recorded activation, forecasts, anomalies,
//! correlations and the overview, and the read rules on each of them (a
//! key limited to teams, a manager key).

use chrono::{DateTime, Duration, Utc};
use organism_api::{ApiConfig, MinGroupSize};
use organism_domain::Role;
use organism_store::Store;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, now, spawn_on};

/// Deterministic noise in [-1, 1]: the same data on every run, not a
/// straight line (a model with no residual has no standard error).
fn wiggle(i: i64, j: i64) -> f64 {
    (((i * 37 + j * 101) % 23) as f64 - 11.0) / 11.0
}

fn noon(days_ago: i64) -> DateTime<Utc> {
    now() - Duration::days(days_ago)
}

fn sample(employee: &str, team: &str, time: DateTime<Utc>, burnout: f64) -> Value {
    json!({
        "time": time.to_rfc3339(),
        "employee_id": employee,
        "team": team,
        "degree_centrality": 0.2 + burnout / 1000.0,
        "betweenness_centrality": 0.1,
        "clustering_coeff": 0.5 - burnout / 1000.0,
        "burnout_score": burnout,
    })
}

/// Activation of the target's intervention: 20 days before the clock, at
/// 09:00 (so its day is left out of both windows).
fn activation() -> DateTime<Utc> {
    noon(20) - Duration::hours(3)
}

/// 40 days at noon of: Core's target `core_t` at about 70 until the
/// activation and about 55 after it; `comparison` other Core members at
/// about 50 throughout (one of them, `core_0`, with a jump of +30 on the
/// day 5 days ago); Edge's six members at about 30.
async fn seeded(store: Store, comparison: usize) -> TestApp {
    let app = spawn_on(
        store,
        ApiConfig {
            min_group_size: MinGroupSize::new(5).unwrap(),
            ..Default::default()
        },
    )
    .await;
    let mut rows = Vec::new();
    for d in 1..=40 {
        let t = noon(d);
        let level = if t > activation() { 55.0 } else { 70.0 };
        rows.push(sample("core_t", "Core", t, level + wiggle(d, 0)));
        for j in 0..comparison as i64 {
            let jump = if j == 0 && d <= 5 { 30.0 } else { 0.0 };
            rows.push(sample(
                &format!("core_{j}"),
                "Core",
                t,
                50.0 + jump + wiggle(d, j + 1),
            ));
        }
        for j in 0..6 {
            rows.push(sample(
                &format!("edge_{j}"),
                "Edge",
                t,
                30.0 + wiggle(d, j + 9),
            ));
        }
    }
    let (status, body) = app.post_json("/api/metrics", &json!(rows)).await;
    assert_eq!(status, 200, "{body}");
    app
}

async fn activate(app: &TestApp, id: &str, target: Option<&str>, effective_at: DateTime<Utc>) {
    let (status, body) = app
        .post_json(
            "/api/interventions",
            &json!({"intervention_id": id, "kind": "workload_rebalance",
                    "target_employee_id": target, "actor": "hr"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for (to, at) in [
        ("approved", effective_at - Duration::days(1)),
        ("active", effective_at),
    ] {
        let (status, body) = app
            .patch_json(
                &format!("/api/interventions/{id}"),
                &json!({"status": to, "actor": "hr", "effective_at": at.to_rfc3339()}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

fn estimate(v: &Value) -> (f64, f64, f64) {
    let ci = v["ci95"].as_array().unwrap();
    (
        v["estimate"].as_f64().unwrap(),
        ci[0].as_f64().unwrap(),
        ci[1].as_f64().unwrap(),
    )
}

async fn an_effect_is_measured_from_the_recorded_activation(store: Store) {
    let app = seeded(store, 6).await;
    activate(&app, "iv-t", Some("core_t"), activation()).await;
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-t/effect?before_days=14&after_days=14")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["activated_at"]
            .as_str()
            .map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some(activation())
    );
    assert_eq!(body["team"], "Core");
    // The day of activation is in neither window.
    let day = activation().date_naive();
    assert_eq!(body["before"]["end"], day.to_string());
    assert_eq!(
        body["after"]["start"],
        (day + Duration::days(1)).to_string()
    );
    let means = body["daily_means"].as_array().unwrap();
    assert_eq!(means.len(), 28, "{body}");
    assert!(means.iter().all(|m| m["day"] != day.to_string()));

    let its = &body["interrupted_time_series"];
    assert_eq!(its["days_before"], 14, "{body}");
    assert_eq!(its["days_after"], 14);
    let (level, lo, hi) = estimate(&its["level_change"]);
    assert!(
        lo < -15.0 && -15.0 < hi,
        "level change {level} [{lo}, {hi}]"
    );
    assert!(its["level_change"]["p_value"].as_f64().unwrap() < 0.001);
    assert_eq!(its["fitted"].as_array().unwrap().len(), 28);

    let did = &body["difference_in_differences"];
    assert!(body["comparison_unavailable"].is_null(), "{body}");
    assert_eq!(did["treated_units"], 1);
    // core_0 .. core_5: the target is not its own comparison.
    assert_eq!(did["comparison_units"], 6);
    // A drop of 15 against a flat comparison group, give or take the
    // wiggles. (With one treated employee, cluster-robust intervals are
    // known to be too narrow, docs/ANALYTICS.md: only the estimate is
    // checked against the truth.)
    let (d, lo, hi) = estimate(&did["estimate"]);
    assert!(
        (d + 15.0).abs() < 1.0 && lo < d && d < hi,
        "DiD {d} [{lo}, {hi}]"
    );

    // The activation's effective time is in its audit event.
    let (status, events) = app.get_json("/api/audit?intervention_id=iv-t").await;
    assert_eq!(status, 200, "{events}");
    let activated = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "activated")
        .cloned()
        .unwrap();
    assert_eq!(
        activated["details"]["effective_at"]
            .as_str()
            .map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some(activation()),
        "{activated}"
    );
}

async fn a_comparison_group_below_the_minimum_is_absent_with_the_reason(store: Store) {
    let app = seeded(store, 4).await;
    activate(&app, "iv-t", Some("core_t"), activation()).await;
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-t/effect")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["difference_in_differences"].is_null(), "{body}");
    let why = body["comparison_unavailable"].as_str().unwrap();
    assert!(
        why.contains("4 employees") && why.contains("minimum group size of 5"),
        "{why}"
    );
    // The time series alone is still there.
    assert!(body["interrupted_time_series"]["level_change"].is_object());
}

async fn effective_times_and_effects_refuse_what_cannot_be(store: Store) {
    let app = seeded(store, 6).await;
    let create = |id: &'static str, target: Option<&'static str>| {
        let app = &app;
        async move {
            let (status, body) = app
                .post_json(
                    "/api/interventions",
                    &json!({"intervention_id": id, "kind": "coaching",
                            "target_employee_id": target, "actor": "hr"}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    };
    create("iv-a", Some("core_t")).await;
    let change = |body: Value| {
        let app = &app;
        async move { app.patch_json("/api/interventions/iv-a", &body).await }
    };
    // In the future (by the server's clock).
    let (status, body) = change(json!({"status": "approved", "actor": "hr",
        "effective_at": (now() + Duration::minutes(1)).to_rfc3339()}))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "effective_at", "{body}");
    // Not a timestamp.
    let (status, body) = change(json!({"status": "approved", "actor": "hr",
        "effective_at": "yesterday"}))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "effective_at", "{body}");
    let events_before = app.audit_rows().await;
    // Before the previous change.
    let (status, body) = change(json!({"status": "approved", "actor": "hr",
        "effective_at": noon(10).to_rfc3339()}))
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = change(json!({"status": "active", "actor": "hr",
        "effective_at": noon(11).to_rfc3339()}))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "effective_at", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous status change"),
        "{body}"
    );
    // The refused change wrote nothing.
    assert_eq!(app.audit_rows().await, events_before + 1);
    let (_, iv) = app.get_json("/api/interventions?status=approved").await;
    assert!(iv.to_string().contains("iv-a"), "{iv}");

    // Approved, never active: no effect to measure.
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-a/effect")
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "never_activated");
    // No target.
    activate(&app, "iv-org", None, activation()).await;
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-org/effect")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "no_target");
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-none/effect")
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "intervention_not_found");
    let (status, body) = app
        .get_json("/api/analytics/interventions/iv-a/effect?before_days=0")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "before_days", "{body}");
}

async fn forecasts_anomalies_and_correlations_answer(store: Store) {
    let app = seeded(store, 6).await;
    let (status, body) = app
        .get_json(
            "/api/analytics/forecast/employee/core_t?history_days=30&horizon_days=7&threshold=60",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 7, "{body}");
    assert_eq!(points[0]["day"], now().date_naive().to_string());
    for p in points {
        let v = p["value"].as_f64().unwrap();
        assert!(p["lower_95"].as_f64().unwrap() <= p["lower_80"].as_f64().unwrap());
        assert!(p["lower_80"].as_f64().unwrap() <= v && v <= p["upper_80"].as_f64().unwrap());
        assert!(p["upper_80"].as_f64().unwrap() <= p["upper_95"].as_f64().unwrap());
        // About 55 since the activation: nowhere near 60.
        assert!((50.0..60.0).contains(&v), "{p}");
    }
    assert!(body["threshold_reached_on"].is_null(), "{body}");
    assert_eq!(body["history"].as_array().unwrap().len(), 30);

    let (status, body) = app
        .get_json("/api/analytics/forecast/team/Edge?history_days=30")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"].as_array().unwrap().len(), 14);

    // The two steps: core_t's drop and core_0's jump.
    let (status, body) = app.get_json("/api/analytics/anomalies?days=30").await;
    assert_eq!(status, 200, "{body}");
    let found: Vec<(String, String)> = body["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["employee_id"].as_str().unwrap().to_string(),
                a["day"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let first_after = (activation().date_naive() + Duration::days(1)).to_string();
    assert!(
        found.contains(&("core_t".into(), activation().date_naive().to_string()))
            || found.contains(&("core_t".into(), first_after)),
        "{found:?}"
    );
    assert!(
        found.contains(&("core_0".into(), noon(5).date_naive().to_string())),
        "{found:?}"
    );
    assert!(
        found.iter().all(|(e, _)| !e.starts_with("edge")),
        "{found:?}"
    );

    let (status, body) = app
        .get_json("/api/analytics/correlations?days=30&max_lag_days=3")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["employees"], 13);
    assert_eq!(body["suppressed"], false);
    let pairs = body["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6);
    assert!(pairs.iter().all(|p| p["n"] == 13 * 30), "{body}");
    // The seeded degree centrality rises with burnout exactly.
    let degree_burnout = pairs
        .iter()
        .find(|p| p["x"] == "degree_centrality" && p["y"] == "burnout_score")
        .unwrap();
    let r = degree_burnout["pearson"]["coefficient"].as_f64().unwrap();
    assert!((r - 1.0).abs() < 1e-9, "{degree_burnout}");
    assert_eq!(body["lagged"].as_array().unwrap().len(), 3 * 4);
}

async fn analytics_follow_the_read_rules(store: Store) {
    let app = seeded(store, 6).await;
    activate(&app, "iv-t", Some("core_t"), activation()).await;
    let edge_reader = app.key(Role::Reader, &["Edge"]).await;
    for path in [
        "/api/analytics/interventions/iv-t/effect",
        "/api/analytics/forecast/employee/core_t",
        "/api/analytics/forecast/team/Core",
        "/api/analytics/anomalies?team=Core",
        "/api/analytics/correlations?team=Core",
    ] {
        let (status, body) = app.get_as(Some(&edge_reader), path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(error_code(&body), "team_forbidden", "{path}");
    }
    // Once the target has an hour in Edge, the Edge reader sees that hour's
    // day of its effect, but not the team it was in at activation, not
    // even by name.
    let (status, body) = app
        .post_json(
            "/api/metrics",
            &json!([sample(
                "core_t",
                "Edge",
                noon(30) + Duration::hours(1),
                60.0
            )]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .get_as(
            Some(&edge_reader),
            "/api/analytics/interventions/iv-t/effect?before_days=14",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["team"].is_null(), "{body}");
    assert!(!body.to_string().contains("Core"), "{body}");
    assert_eq!(body["daily_means"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["difference_in_differences"].is_null());

    // Without a team: only its teams' employees and teams.
    let (status, body) = app
        .get_as(Some(&edge_reader), "/api/analytics/correlations?days=30")
        .await;
    assert_eq!(status, 200, "{body}");
    // Edge's six, and core_t's Edge hour.
    assert_eq!(body["employees"], 7);
    let (_, body) = app
        .get_as(Some(&edge_reader), "/api/analytics/overview?days=30")
        .await;
    let teams: Vec<&str> = body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["Edge"]);

    // A manager: team-level answers from its published days only.
    let manager = app.key(Role::Manager, &["Core"]).await;
    for path in [
        "/api/analytics/interventions/iv-t/effect",
        "/api/analytics/forecast/employee/core_t",
        "/api/analytics/anomalies",
    ] {
        let (status, body) = app.get_as(Some(&manager), path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(error_code(&body), "wrong_role", "{path}");
    }
    let (status, body) = app
        .get_as(Some(&manager), "/api/analytics/correlations?days=30")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unit"], "team-day");
    assert!(body["employees"].is_null());
    let (status, overview) = app
        .get_as(Some(&manager), "/api/analytics/overview?days=30")
        .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["values"], "laplace");
    let (_, trend) = app
        .get_as(Some(&manager), "/api/trends/team/Core?days=30")
        .await;
    // The overview's burnout is the manager's own team trend, day by day.
    let core = &overview["teams"][0];
    assert_eq!(core["team"], "Core");
    for (o, t) in core["days"]
        .as_array()
        .unwrap()
        .iter()
        .zip(trend["days"].as_array().unwrap())
    {
        assert_eq!(o["day"], t["day"]);
        assert_eq!(o["burnout_score"], t["burnout_score"]);
    }
    let (status, forecast) = app
        .get_as(
            Some(&manager),
            "/api/analytics/forecast/team/Core?history_days=30",
        )
        .await;
    assert_eq!(status, 200, "{forecast}");
    let history = forecast["history"].as_array().unwrap();
    let published: Vec<&Value> = trend["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["burnout_score"])
        .collect();
    assert_eq!(history.len(), published.len());
    for (h, p) in history.iter().zip(published) {
        assert_eq!(
            &h["value"], p,
            "a manager's forecast is fitted on its published days"
        );
    }

    // Suppression for readers: a team of fewer members than the minimum.
    let (status, body) = app
        .post_json(
            "/api/metrics",
            &json!([
                sample("solo_1", "Solo", noon(2), 40.0),
                sample("solo_2", "Solo", noon(2), 60.0)
            ]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app
        .get_json("/api/analytics/correlations?days=30&team=Solo")
        .await;
    assert_eq!(body["suppressed"], true, "{body}");
    assert!(body["pairs"].as_array().unwrap().is_empty());
    let (_, body) = app.get_json("/api/analytics/overview?days=30").await;
    let solo = body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "Solo")
        .cloned()
        .unwrap();
    assert_eq!(solo["days"][0]["suppressed"], true, "{solo}");
    assert!(solo["days"][0]["burnout_score"].is_null(), "{solo}");
}

/// The kept answers' table and the generation, through a superuser
/// connection (not the API's own view of them).
async fn kept_state(app: &TestApp) -> (i64, i64) {
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let kept: i64 = client
        .query_one("SELECT count(*) FROM analytics_answers", &[])
        .await
        .unwrap()
        .get(0);
    let generation: i64 = client
        .query_one("SELECT generation FROM analytics_generation", &[])
        .await
        .unwrap()
        .get(0);
    (kept, generation)
}

async fn body_of(app: &TestApp, key: Option<&str>, path: &str) -> String {
    let client = match key {
        Some(key) => crate::helpers::client_with_key(key),
        None => app.http.clone(),
    };
    let r = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.text().await.unwrap()
}

fn edge_members(overview: &Value, day: &str) -> i64 {
    overview["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "Edge")
        .and_then(|t| {
            t["days"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["day"] == day)
                .cloned()
        })
        .map_or(0, |d| d["members"].as_i64().unwrap())
}

async fn kept_answers_are_served_until_a_past_day_changes(store: Store) {
    let app = seeded(store, 6).await;
    const PATHS: [&str; 3] = [
        "/api/analytics/overview?days=30",
        "/api/analytics/correlations?days=30",
        "/api/analytics/anomalies?days=30",
    ];
    let (kept_before, generation) = kept_state(&app).await;
    assert_eq!(kept_before, 0);
    let mut first = Vec::new();
    for path in PATHS {
        first.push(body_of(&app, None, path).await);
    }
    assert_eq!(
        kept_state(&app).await,
        (3, generation),
        "one kept answer each"
    );
    // Served again byte for byte, and nothing new is kept.
    for (path, body) in PATHS.iter().zip(&first) {
        assert_eq!(&body_of(&app, None, path).await, body, "{path}");
    }
    assert_eq!(kept_state(&app).await, (3, generation));

    // A write of the database's today (through the store: the API's clock
    // is in June) touches no kept window: the generation stays.
    let today = organism_domain::MetricSample {
        time: Utc::now(),
        employee_id: organism_domain::EmployeeId::parse("edge_today").unwrap(),
        team: Some(organism_domain::TeamName::parse("Edge").unwrap()),
        values: organism_domain::MetricValues {
            degree_centrality: 0.2,
            betweenness_centrality: 0.1,
            clustering_coeff: 0.5,
            burnout_score: 40.0,
        },
    };
    app.store
        .write_batch(std::slice::from_ref(&today))
        .await
        .unwrap();
    app.store.write_sample(&today).await.unwrap();
    assert_eq!(kept_state(&app).await.1, generation, "a write of today");
    assert_eq!(body_of(&app, None, PATHS[0]).await, first[0]);
    // What is served is the kept text itself, not a new computation.
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let marked = client
        .execute(
            "UPDATE analytics_answers SET answer = '{\"kept\": true}' WHERE answer LIKE '%\"values\":\"exact\"%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(body_of(&app, None, PATHS[0]).await, r#"{"kept": true}"#);

    // A late sample, three days ago, of a new Edge member: every kept
    // answer is stale and the next answers count it.
    let day = (noon(3)).date_naive().to_string();
    let before: Value = serde_json::from_str(&first[0]).unwrap();
    assert_eq!(edge_members(&before, &day), 6);
    let (status, body) = app
        .post_json(
            "/api/metrics",
            &json!([sample("edge_late", "Edge", noon(3), 31.0)]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, bumped) = kept_state(&app).await;
    assert_eq!(bumped, generation + 1);
    let after: Value = serde_json::from_str(&body_of(&app, None, PATHS[0]).await).unwrap();
    assert_eq!(edge_members(&after, &day), 7, "{after}");
    let correlations: Value = serde_json::from_str(&body_of(&app, None, PATHS[1]).await).unwrap();
    let was: Value = serde_json::from_str(&first[1]).unwrap();
    assert_eq!(
        correlations["employees"].as_i64().unwrap(),
        was["employees"].as_i64().unwrap() + 1,
        "{correlations}"
    );
    // The stale answers of the older generation are gone.
    let (kept, _) = kept_state(&app).await;
    assert_eq!(kept, 2, "overview and correlations of the new generation");

    // A key limited to Edge is not served the organisation's answer.
    let reader = app.key(Role::Reader, &["Edge"]).await;
    let limited: Value =
        serde_json::from_str(&body_of(&app, Some(&reader), PATHS[0]).await).unwrap();
    let teams: Vec<&str> = limited["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["Edge"], "{limited}");
    assert_eq!(kept_state(&app).await.0, 3, "kept under its own scope");

    // A manager's answer (its published days) is not kept.
    let manager = app.key(Role::Manager, &["Edge"]).await;
    let managed: Value =
        serde_json::from_str(&body_of(&app, Some(&manager), PATHS[0]).await).unwrap();
    assert_eq!(managed["values"], "laplace", "{managed}");
    assert_eq!(kept_state(&app).await.0, 3);
}

/// The alert events of the feed so far: (rule, employee, state).
async fn alerts_fed(app: &TestApp) -> Vec<(String, String, String)> {
    let (events, _) = app.store.feed_after(0, 1000).await.unwrap();
    events
        .iter()
        .filter(|e| e.kind == "alert")
        .map(|e| {
            let p = &e.payload;
            (
                p["rule"]["rule_id"].as_str().unwrap().to_string(),
                p["employee_id"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn forecast_and_anomaly_rules_alert_from_the_daily_means(store: Store) {
    use organism_api::daily_rules::evaluate_daily_rules;
    let app = seeded(store, 6).await;
    // Core's core_0 jumped to about 80 five days ago; the rest of Core is
    // at 50 to 55, Edge at 30.
    let (status, body) = app
        .post_json(
            "/api/alert-rules",
            &json!({"rule_id": "sudden-rise", "name": "Sudden rise", "metric": "burnout_score",
                    "kind": "anomaly", "direction": "above", "hysteresis": 1,
                    "destinations": [], "actor": "hr.partner"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The anomaly list's own cut-off when none is given.
    assert_eq!(body["rule"]["threshold"], 3.5);
    assert!(body["rule"]["within_days"].is_null());

    // Evaluated on the days after the jump, as each would have been: the
    // day after it finds core_0's jump; the next, an ordinary change,
    // resolves it.
    let day_after_jump = noon(5) + Duration::days(1);
    for day in [day_after_jump, day_after_jump + Duration::days(1)] {
        let pass = evaluate_daily_rules(&app.store, day).await.unwrap();
        assert_eq!(pass.rules, 1, "{pass:?}");
    }
    assert_eq!(
        alerts_fed(&app).await,
        [
            ("sudden-rise".into(), "core_0".into(), "firing".into()),
            ("sudden-rise".into(), "core_0".into(), "resolved".into())
        ]
    );

    let (status, body) = app
        .post_json(
            "/api/alert-rules",
            &json!({"rule_id": "will-reach-60", "name": "Burnout reaches 60 within a week",
                    "metric": "burnout_score", "kind": "forecast", "within_days": 7,
                    "direction": "above", "threshold": 60, "team": "Core",
                    "destinations": [], "actor": "hr.partner"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["rule"]["kind"], "forecast");
    assert_eq!(body["rule"]["within_days"], 7);
    // Today: the forecast rule sees core_0 over 60 within the week, and no
    // one else; the anomaly rule judges yesterday, an ordinary day.
    let today = evaluate_daily_rules(&app.store, now()).await.unwrap();
    assert_eq!(today.rules, 2, "{today:?}");
    let fed = alerts_fed(&app).await;
    assert_eq!(
        fed[2..],
        [("will-reach-60".into(), "core_0".into(), "firing".into())],
        "{fed:?}"
    );
    // Again the same day (a second pass, another process): nothing.
    let again = evaluate_daily_rules(&app.store, now()).await.unwrap();
    assert_eq!(again.rules, 0);

    let (events, _) = app.store.feed_after(0, 1000).await.unwrap();
    let fired = &events[0];
    assert_eq!(fired.team.as_deref(), Some("Core"));
    assert_eq!(fired.payload["rule"]["kind"], "anomaly");
    assert_eq!(
        fired.payload["evidence"]["day"],
        noon(5).date_naive().to_string()
    );
    assert!(fired.payload["value"].as_f64().unwrap() >= 3.5, "{fired:?}");
    let forecast = &events[2];
    assert!(forecast.payload["value"].as_f64().unwrap() >= 60.0);
    assert!(forecast.payload["evidence"]["reached_on"].is_string());
    // Every change is in the audit chain, which verifies.
    let report = app.store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
}

async fn rule_kinds_refuse_what_they_cannot_mean(store: Store) {
    let app = seeded(store, 0).await;
    let base = json!({"name": "r", "metric": "clustering_coeff", "direction": "above",
                      "threshold": 0.5, "destinations": [], "actor": "hr.partner"});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (json!({"kind": "forecast"}), "within_days"),
        (
            json!({"kind": "forecast", "within_days": 31}),
            "within_days",
        ),
        (json!({"kind": "anomaly", "within_days": 3}), "within_days"),
        (json!({"within_days": 3}), "within_days"),
        (json!({"threshold": null}), "threshold"),
        (
            json!({"kind": "forecast", "within_days": 3, "threshold": 2}),
            "threshold",
        ),
        (json!({"kind": "anomaly", "threshold": 0.1}), "threshold"),
        (
            json!({"kind": "anomaly", "threshold": 4, "hysteresis": 101}),
            "hysteresis",
        ),
        (json!({"kind": "trend"}), "kind"),
    ];
    for (extra, field) in cases {
        let (status, body) = app
            .post_json("/api/alert-rules", &with(extra.clone()))
            .await;
        assert_eq!(status, 400, "{extra}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            body["error"]["field"] == field || message.contains(field),
            "{extra}: {body}"
        );
    }
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let rules: i64 = client
        .query_one("SELECT count(*) FROM alert_rules", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rules, 0);
    // A score of 1.5 is a fine anomaly threshold for a metric of 0 to 1.
    let (status, body) = app
        .post_json(
            "/api/alert-rules",
            &with(json!({"kind": "anomaly", "threshold": 1.5, "direction": "below"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

organism_testkit::engine_tests!(
    forecast_and_anomaly_rules_alert_from_the_daily_means,
    rule_kinds_refuse_what_they_cannot_mean,
    an_effect_is_measured_from_the_recorded_activation,
    a_comparison_group_below_the_minimum_is_absent_with_the_reason,
    effective_times_and_effects_refuse_what_cannot_be,
    forecasts_anomalies_and_correlations_answer,
    analytics_follow_the_read_rules,
    kept_answers_are_served_until_a_past_day_changes,
);
