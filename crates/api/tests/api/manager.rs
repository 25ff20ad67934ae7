//! The manager role, attacked: a manager key reaches its teams' aggregates
//! and nothing else, never sees an individual's value, an order statistic, a
//! suppressed day's member count or today's changing row, and asking again
//! in any form gives the same noisy answer.

use chrono::{DateTime, Duration, Utc};
use organism_api::auth::Access;
use organism_api::routes::table;
use organism_api::{ApiConfig, Clock};
use organism_domain::Role;
use organism_store::Store;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_on};

/// The server's fixed clock: what "today" and "whole past days" mean for a
/// manager cannot depend on the time of day the test runs.
use crate::helpers::now;

fn fixed_clock() -> ApiConfig {
    ApiConfig {
        clock: Clock::Fixed(now()),
        ..Default::default()
    }
}

/// Noon UTC, `days` days before [`now`].
fn noon(days: i64) -> DateTime<Utc> {
    now() - Duration::days(days)
}

fn sample_at(employee: &str, team: &str, time: DateTime<Utc>, burnout: f64) -> Value {
    json!({
        "time": time.to_rfc3339(),
        "employee_id": employee,
        "team": team,
        "degree_centrality": 0.25,
        "betweenness_centrality": 0.1,
        "clustering_coeff": 0.5,
        "burnout_score": burnout,
    })
}

/// Core: six members yesterday (burnout 10..60), three two days ago;
/// Edge: six members yesterday. One Core sample today.
async fn seeded(store: Store) -> TestApp {
    let app = spawn_on(store, fixed_clock()).await;
    let mut batch = Vec::new();
    for i in 0..6 {
        batch.push(sample_at(
            &format!("core_{i}"),
            "Core",
            noon(1),
            10.0 * (i + 1) as f64,
        ));
        batch.push(sample_at(&format!("edge_{i}"), "Edge", noon(1), 90.0));
    }
    for i in 0..3 {
        batch.push(sample_at(&format!("core_{i}"), "Core", noon(2), 99.0));
    }
    // A minute ago: today's, never shown to a manager.
    batch.push(sample_at(
        "core_0",
        "Core",
        now() - Duration::minutes(1),
        77.0,
    ));
    let (status, body) = app.post_json("/api/metrics", &json!(batch)).await;
    assert_eq!(status, 200, "{body}");
    app
}

fn concrete(path: &str) -> String {
    path.replace("{employee_id}", "core_0")
        .replace("{team_name}", "Core")
        .replace("{metric_name}", "burnout_score")
        .replace("{intervention_id}", "iv-1")
        .replace("{*file}", "dashboard.js")
}

async fn a_manager_key_reaches_its_teams_aggregates_and_nothing_individual(store: Store) {
    let app = seeded(store).await;
    let manager = app.key(Role::Manager, &["Core"]).await;
    for e in table() {
        let path = concrete(&e.path);
        let method: Method = e.method.to_uppercase().parse().unwrap();
        let (status, body) = app
            .send_as(Some(&manager), method, &path, Some(&json!({})))
            .await;
        match e.access {
            // A forecast of the one shown day is refused for the data, not
            // for the key.
            Access::Aggregate if status == 422 => {
                assert_eq!(error_code(&body), "not_enough_history", "{path}: {body}")
            }
            Access::Public | Access::AnyKey | Access::Aggregate => {
                assert!(status < 400, "{} {path}: {status} {body}", e.method)
            }
            Access::Read | Access::Write | Access::Admin => {
                assert_eq!(status, 403, "{} {path}: {body}", e.method);
                assert_eq!(error_code(&body), "wrong_role");
            }
        }
    }
    // Another team's aggregates are refused, as is an unknown team.
    for team in ["Edge", "Nowhere"] {
        let (status, body) = app
            .get_as(Some(&manager), &format!("/api/trends/team/{team}?days=7"))
            .await;
        assert_eq!(status, 403, "{team}: {body}");
        assert_eq!(error_code(&body), "team_forbidden");
    }
}

async fn a_managers_team_trend_has_no_individual_trace(store: Store) {
    let app = seeded(store).await;
    let manager = app.key(Role::Manager, &["Core"]).await;
    let (status, body) = app
        .get_as(Some(&manager), "/api/trends/team/Core?days=7")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["privacy"]["mechanism"], "laplace");
    assert_eq!(body["privacy"]["epsilon_per_value"], 1.0);
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "today is not shown: {body}");
    let small = &days[0];
    assert_eq!(small["day"], noon(2).date_naive().to_string());
    assert_eq!(small["suppressed"], true);
    for field in [
        "members",
        "burnout_score",
        "degree_centrality",
        "noise_scale_burnout",
    ] {
        assert!(
            small[field].is_null(),
            "{field} of a suppressed day: {small}"
        );
    }
    let day = &days[1];
    assert_eq!(day["suppressed"], false);
    assert_eq!(day["members"], 6);
    for field in ["burnout_max", "samples"] {
        assert!(
            day.get(field).is_none(),
            "{field} shown to a manager: {day}"
        );
    }
    // The true mean is 35; the shown one is noisy, with scale 100 / 6.
    let shown = day["burnout_score"].as_f64().unwrap();
    assert_ne!(shown, 35.0);
    assert!((0.0..=100.0).contains(&shown));
    let scale = day["noise_scale_burnout"].as_f64().unwrap();
    assert!((scale - 100.0 / 6.0).abs() < 1e-9, "{scale}");
    // No value of the answer is any member's own score.
    for v in [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 77.0, 99.0] {
        assert_ne!(shown, v);
    }
    // Asked again, with another window, or as CSV: the same released value.
    for days in [2, 7, 30, 730] {
        let (_, again) = app
            .get_as(
                Some(&manager),
                &format!("/api/trends/team/Core?days={days}"),
            )
            .await;
        let same = again["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["day"] == day["day"])
            .cloned()
            .unwrap();
        assert_eq!(&same, day, "days={days}");
    }
    let csv = crate::helpers::client_with_key(&manager)
        .get(format!("{}/api/trends/team/Core?days=7", app.base))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("burnout_max"), "{csv}");
    assert!(csv.contains(&shown.to_string()), "{csv}");
    // A reader of the same team sees the exact values and the peak.
    let reader = app.key(Role::Reader, &["Core"]).await;
    let (_, exact) = app
        .get_as(Some(&reader), "/api/trends/team/Core?days=7")
        .await;
    let exact_day = exact["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == day["day"])
        .cloned()
        .unwrap();
    assert_eq!(exact_day["burnout_score"], 35.0);
    assert_eq!(exact_day["burnout_max"], 60.0);
}

async fn a_managers_minimum_group_size_is_never_below_five(store: Store) {
    let config = ApiConfig {
        min_group_size: organism_domain::MinGroupSize::new(2).unwrap(),
        ..fixed_clock()
    };
    let app = crate::helpers::spawn_on(store, config).await;
    let batch: Vec<Value> = (0..3)
        .map(|i| sample_at(&format!("core_{i}"), "Core", noon(2), 40.0))
        .collect();
    let (status, body) = app.post_json("/api/metrics", &json!(batch)).await;
    assert_eq!(status, 200, "{body}");
    let day = noon(2).date_naive().to_string();
    let find = |body: &Value| {
        body["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["day"] == day.as_str())
            .cloned()
            .unwrap()
    };
    // Three members: enough for a reader under the setting of 2 ...
    let reader = app.key(Role::Reader, &["Core"]).await;
    let (_, exact) = app
        .get_as(Some(&reader), "/api/trends/team/Core?days=7")
        .await;
    assert_eq!(find(&exact)["suppressed"], false, "{exact}");
    // ... but a manager's answer keeps the floor of 5.
    let manager = app.key(Role::Manager, &["Core"]).await;
    let (status, noisy) = app
        .get_as(Some(&manager), "/api/trends/team/Core?days=7")
        .await;
    assert_eq!(status, 200, "{noisy}");
    assert_eq!(noisy["min_group_size"], 5, "{noisy}");
    let shown = find(&noisy);
    assert_eq!(shown["suppressed"], true, "{shown}");
    assert!(shown["members"].is_null() && shown["burnout_score"].is_null());
}

organism_testkit::engine_tests!(
    a_manager_key_reaches_its_teams_aggregates_and_nothing_individual,
    a_managers_team_trend_has_no_individual_trace,
    a_managers_minimum_group_size_is_never_below_five,
);
