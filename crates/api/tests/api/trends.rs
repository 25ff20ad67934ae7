//! The six read endpoints: answers and every parameter error.

use organism_store::Store;
use serde_json::json;

use crate::helpers::{error_code, sample, spawn_app};

async fn seeded(store: Store) -> crate::helpers::TestApp {
    let app = spawn_app(store).await;
    let batch = json!([
        sample("emp_a", "Core", 50, 80.0),
        sample("emp_a", "Core", 30, 85.0),
        sample("emp_a", "Core", 10, 90.0),
        sample("emp_b", "Core", 20, 40.0),
        sample("emp_c", "Edge", 15, 75.0),
    ]);
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 200, "{body}");
    app
}

async fn an_employee_trend_returns_the_samples_oldest_first(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app.get_json("/api/trends/employee/emp_a?days=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resolution"], "raw");
    let scores: Vec<f64> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["burnout_score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, vec![80.0, 85.0, 90.0]);
}

async fn an_hourly_trend_aggregates_the_hour(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app
        .get_json("/api/trends/employee/emp_a?days=1&use_hourly=true")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resolution"], "hourly");
    let points = body["points"].as_array().unwrap();
    let samples: i64 = points.iter().map(|p| p["samples"].as_i64().unwrap()).sum();
    assert_eq!(samples, 3);
    let weighted: f64 = points
        .iter()
        .map(|p| p["burnout_score"].as_f64().unwrap() * p["samples"].as_f64().unwrap())
        .sum();
    assert!((weighted / 3.0 - 85.0).abs() < 1e-9);
}

async fn days_outside_one_to_730_are_refused_naming_the_parameter(store: Store) {
    let app = seeded(store).await;
    for days in ["0", "731", "-3", "seven", "1.5"] {
        let (status, body) = app
            .get_json(&format!("/api/trends/employee/emp_a?days={days}"))
            .await;
        assert_eq!(status, 400, "days={days}: {body}");
        assert_eq!(error_code(&body), "invalid_parameter");
        assert_eq!(body["error"]["field"], "days");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1 to 730"),
            "{body}"
        );
    }
}

async fn wrong_types_and_unknown_parameters_are_refused(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app
        .get_json("/api/trends/employee/emp_a?use_hourly=maybe")
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("use_hourly")),
        "{body}"
    );
    let (status, body) = app.get_json("/api/trends/employee/emp_a?day=7").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("day")),
        "{body}"
    );
}

async fn an_unknown_employee_is_404_and_an_ill_formed_id_is_400(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app.get_json("/api/trends/employee/nobody").await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "employee_not_found");
    for bad in ["a%20b", "x'%3B--", "%C3%A9"] {
        let (status, body) = app.get_json(&format!("/api/trends/employee/{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["field"], "employee_id");
    }
}

async fn a_range_needs_two_valid_dates_in_order(store: Store) {
    let app = seeded(store).await;
    // The samples are at most 50 minutes old: yesterday and today hold
    // them at any time of day (today alone missed some before 00:50 UTC).
    let today = crate::helpers::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let (status, body) = app
        .get_json(&format!(
            "/api/trends/employee/emp_a/range?start_date={yesterday}&end_date={today}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"].as_array().unwrap().len(), 3);
    let cases = [
        ("start_date=2026-02-01&end_date=2026-01-01", "start_date"),
        ("start_date=yesterday&end_date=2026-01-01", "start_date"),
        ("start_date=2026-01-01&end_date=2026-02-30", "end_date"),
        ("start_date=2026-01-01", "end_date"),
        ("end_date=2026-01-01", "start_date"),
    ];
    for (query, field) in cases {
        let (status, body) = app
            .get_json(&format!("/api/trends/employee/emp_a/range?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

async fn a_team_trend_has_daily_members_and_averages(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app.get_json("/api/trends/team/Core?days=2").await;
    assert_eq!(status, 200, "{body}");
    let days = body["days"].as_array().unwrap();
    let members: i64 = days
        .iter()
        .map(|d| d["members"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!((1..=2).contains(&members), "members {members}");
    let samples: i64 = days.iter().map(|d| d["samples"].as_i64().unwrap()).sum();
    assert_eq!(samples, 4);
    let (status, body) = app.get_json("/api/trends/team/Nowhere").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (404, "team_not_found")
    );
    let (status, body) = app.get_json("/api/trends/team/Core?days=731").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("days"))
    );
}

async fn burnout_alerts_list_the_highest_first_and_check_their_parameters(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app
        .get_json("/api/trends/burnout-alerts?threshold=70&days=1")
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["employee_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["emp_a", "emp_c"]);
    assert_eq!(body["alerts"][0]["peak_score"], 90.0);
    for (query, field) in [
        ("threshold=101", "threshold"),
        ("threshold=-1", "threshold"),
        ("days=91", "days"),
        ("days=0", "days"),
    ] {
        let (status, body) = app
            .get_json(&format!("/api/trends/burnout-alerts?{query}"))
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["field"], field);
    }
}

async fn statistics_accept_only_the_four_metric_names(store: Store) {
    let app = seeded(store).await;
    let (status, body) = app
        .get_json("/api/trends/statistics/burnout_score?days=1")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 5);
    assert_eq!(body["max"], 90.0);
    assert_eq!(body["min"], 40.0);
    let (status, body) = app.get_json("/api/trends/statistics/salary").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("metric_name"))
    );
    let (status, body) = app
        .get_json("/api/trends/statistics/burnout_score?days=366")
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("days"))
    );
}

async fn trends_answer_csv_when_asked(store: Store) {
    let app = seeded(store).await;
    let response = app
        .http
        .get(format!("{}/api/trends/employee/emp_a?days=1", app.base))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "burnout_score"), "{headers:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let column = headers.iter().position(|h| h == "burnout_score").unwrap();
    assert_eq!(&rows[2][column], "90.0");
}

organism_testkit::engine_tests!(
    an_employee_trend_returns_the_samples_oldest_first,
    an_hourly_trend_aggregates_the_hour,
    days_outside_one_to_730_are_refused_naming_the_parameter,
    wrong_types_and_unknown_parameters_are_refused,
    an_unknown_employee_is_404_and_an_ill_formed_id_is_400,
    a_range_needs_two_valid_dates_in_order,
    a_team_trend_has_daily_members_and_averages,
    burnout_alerts_list_the_highest_first_and_check_their_parameters,
    statistics_accept_only_the_four_metric_names,
    trends_answer_csv_when_asked,
);
