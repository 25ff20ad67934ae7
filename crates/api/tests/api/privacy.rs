//! The minimum group size: a team day computed from fewer distinct
//! employees than the minimum shows no averages and no peak, whatever the
//! parameters.

use organism_api::{ApiConfig, MinGroupSize};
use organism_store::Store;
use serde_json::{Value, json};

use crate::helpers::{TestApp, sample, spawn_app, spawn_on};

/// `n` employees of team `team` measured a few minutes ago. A team trend's
/// `days=1` is today since 00:00 UTC, which misses them just after
/// midnight: the tests ask for `days=2`, which holds them at any time of day.
async fn team_of(app: &TestApp, team: &str, n: usize) {
    let batch: Vec<Value> = (0..n)
        .map(|i| sample(&format!("{team}_{i}"), team, 5, 60.0 + i as f64))
        .collect();
    let (status, body) = app.post_json("/api/metrics", &json!(batch)).await;
    assert_eq!(status, 200, "{body}");
}

/// The latest day row: the day of the samples of [`team_of`].
fn today(body: &Value) -> &Value {
    body["days"]
        .as_array()
        .unwrap()
        .last()
        .unwrap_or_else(|| panic!("no day rows: {body}"))
}

const METRICS: [&str; 5] = [
    "degree_centrality",
    "betweenness_centrality",
    "clustering_coeff",
    "burnout_score",
    "burnout_max",
];

async fn a_team_day_below_five_members_is_suppressed_for_every_window(store: Store) {
    let app = spawn_app(store).await;
    team_of(&app, "Small", 4).await;
    for days in [1, 2, 7, 30, 730] {
        let (status, body) = app
            .get_json(&format!("/api/trends/team/Small?days={days}"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["min_group_size"], 5);
        for day in body["days"].as_array().unwrap() {
            assert_eq!(day["suppressed"], true, "days={days}: {day}");
            assert_eq!(day["members"], 4);
            for m in METRICS {
                assert!(day[m].is_null(), "days={days}: {m} shown: {day}");
            }
        }
    }
    // The CSV form hides them too.
    let text = app
        .http
        .get(format!("{}/api/trends/team/Small?days=2", app.base))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("63"), "the peak 63 leaks in CSV: {text}");
    assert!(text.contains("true"), "{text}");
}

async fn a_team_day_of_five_members_is_shown_with_its_averages(store: Store) {
    let app = spawn_app(store).await;
    team_of(&app, "Big", 5).await;
    let (status, body) = app.get_json("/api/trends/team/Big?days=2").await;
    assert_eq!(status, 200, "{body}");
    let day = today(&body);
    assert_eq!(day["suppressed"], false, "{day}");
    assert_eq!(day["members"], 5);
    assert_eq!(day["burnout_max"], 64.0);
    assert_eq!(day["burnout_score"], 62.0);
}

async fn the_minimum_group_size_is_configurable(store: Store) {
    let app = spawn_on(
        store,
        ApiConfig {
            min_group_size: MinGroupSize::new(3).unwrap(),
            ..ApiConfig::default()
        },
    )
    .await;
    team_of(&app, "Three", 3).await;
    team_of(&app, "Two", 2).await;
    let (_, body) = app.get_json("/api/trends/team/Three?days=2").await;
    assert_eq!(today(&body)["suppressed"], false, "{body}");
    let (_, body) = app.get_json("/api/trends/team/Two?days=2").await;
    assert_eq!(today(&body)["suppressed"], true, "{body}");
    assert!(today(&body)["burnout_max"].is_null());
}

async fn statistics_cannot_be_narrowed_to_a_team(store: Store) {
    let app = spawn_app(store).await;
    team_of(&app, "Small", 2).await;
    for query in ["team=Small", "team_name=Small", "employee_id=Small_0"] {
        let (status, body) = app
            .get_json(&format!("/api/trends/statistics/burnout_score?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
    }
}

organism_testkit::engine_tests!(
    a_team_day_below_five_members_is_suppressed_for_every_window,
    a_team_day_of_five_members_is_shown_with_its_averages,
    the_minimum_group_size_is_configurable,
    statistics_cannot_be_narrowed_to_a_team,
);
