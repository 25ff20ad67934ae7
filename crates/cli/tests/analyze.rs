//! `organism analyze` against a throwaway database holding a small
//! synthetic organisation with known shapes: one team of eight whose
//! burnout moves with a weekly rhythm and a little deterministic noise, a
//! target whose burnout drops by 20 points on the day an intervention became
//! active (recorded after the fact with `effective_at`), a step of +25 in
//! another employee ten days ago, and degree centrality that rises with
//! burnout. Each subcommand's JSON is checked for those shapes and against
//! the endpoint's answer (an in-process server with the same clock), and
//! the bad flags for an error naming the flag before any database is
//! opened.
//!
//! One engine (portable): the command reads through the same store
//! functions on both, which the storage suite runs on each engine.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Output;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SecondsFormat, Utc};
use organism_domain::{
    Actor, EmployeeId, InterventionId, InterventionKind, InterventionStatus, MetricSample,
    MetricValues, TeamName,
};
use organism_testkit::DATABASE_VARIABLES;
use organism_testkit::organism_store::interventions::{NewIntervention, StatusChange};
use organism_testkit::organism_store::{Engine, Store};
use serde_json::Value;

/// Days of history, ending yesterday.
const DAYS: i64 = 60;
/// Samples per employee per day (every six hours).
const PER_DAY: i64 = 4;
/// The team's members; `e0` is the intervention's target, `e3` steps up.
const MEMBERS: usize = 8;
/// Days before today the intervention became active (at midnight).
const ACTIVE_DAYS_AGO: i64 = 28;
/// Days before today `e3`'s burnout stepped up.
const STEP_DAYS_AGO: i64 = 10;

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A deterministic value in [-0.5, 0.5) for (employee, day, sample).
fn noise(e: usize, day: i64, k: i64) -> f64 {
    let mut x = (e as u64 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((day as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(k as u64);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// Employee `e`'s burnout on day `d` (days from the first day), sample `k`.
fn burnout(e: usize, d: i64, k: i64, today: i64) -> f64 {
    let weekly = 3.0 * ((d as f64) * std::f64::consts::TAU / 7.0 + e as f64).sin();
    let mut b = 40.0 + 3.0 * e as f64 + weekly + 2.0 * noise(e, d, k);
    if e == 0 {
        b += if d < today - ACTIVE_DAYS_AGO {
            30.0
        } else {
            10.0
        };
    }
    if e == 3 && d >= today - STEP_DAYS_AGO {
        b += 25.0;
    }
    b
}

/// The organisation's samples from `DAYS` days before `today` to yesterday.
fn samples(today: NaiveDate) -> Vec<MetricSample> {
    let first = today - Duration::days(DAYS);
    let team = TeamName::parse("Core").unwrap();
    let mut out = Vec::new();
    for e in 0..MEMBERS {
        let id = EmployeeId::parse(format!("e{e}")).unwrap();
        for d in 0..DAYS {
            for k in 0..PER_DAY {
                let b = burnout(e, d, k, DAYS);
                out.push(MetricSample {
                    time: midnight(first + Duration::days(d)) + Duration::hours(6 * k),
                    employee_id: id.clone(),
                    team: Some(team.clone()),
                    values: MetricValues {
                        degree_centrality: (0.1 + 0.008 * b + 0.02 * noise(e + 100, d, k))
                            .clamp(0.0, 1.0),
                        betweenness_centrality: 0.05 + 0.02 * noise(e + 200, d, k),
                        clustering_coeff: 0.5 + 0.1 * noise(e + 300, d, k),
                        burnout_score: b,
                    },
                });
            }
        }
    }
    out
}

/// A store holding the organisation, the rollup refreshed, with an
/// intervention on `e0` active from `ACTIVE_DAYS_AGO` days ago and another
/// only proposed; and the `--now` to ask as (today, six in the morning).
async fn organisation() -> (Store, String) {
    let store = organism_testkit::store(Engine::Portable).await;
    let today = Utc::now().date_naive();
    store.write_batch(&samples(today)).await.unwrap();
    store.refresh_rollup(Utc::now()).await.unwrap();
    let actor = Actor::parse("hr-partner@example.org").unwrap();
    for (id, target) in [("iv-e0", "e0"), ("iv-proposed", "e1")] {
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(InterventionId::parse(id).unwrap()),
                kind: InterventionKind::parse("workload_rebalance").unwrap(),
                target_employee_id: Some(EmployeeId::parse(target).unwrap()),
                details: serde_json::json!({}),
                actor: actor.clone(),
            })
            .await
            .unwrap();
    }
    let active = midnight(today - Duration::days(ACTIVE_DAYS_AGO));
    for (to, at) in [
        (InterventionStatus::Approved, active - Duration::days(1)),
        (InterventionStatus::Active, active),
    ] {
        store
            .change_status(
                &InterventionId::parse("iv-e0").unwrap(),
                StatusChange {
                    to,
                    actor: actor.clone(),
                    details: serde_json::json!({}),
                    effective_at: Some(at),
                },
            )
            .await
            .unwrap();
    }
    let now = rfc3339(midnight(today) + Duration::hours(6));
    (store, now)
}

/// Runs `organism args…` with exactly these database variables.
async fn organism(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"));
    for name in DATABASE_VARIABLES {
        command.env_remove(name);
    }
    command
        .env_remove("ORGANISM_MIN_GROUP_SIZE")
        .args(args)
        .envs(env.iter().copied())
        .env("ORGANISM_LOG", "warn");
    command.output().await.unwrap()
}

/// `organism --engine portable analyze args… --now now` on `store`'s
/// database.
async fn analyze(store: &Store, now: &str, args: &[&str]) -> Output {
    let dbname = store
        .settings()
        .connection
        .get_dbname()
        .unwrap()
        .to_string();
    let url = organism_testkit::cluster().connection_string(&dbname);
    let mut all = vec!["--engine", "portable", "analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now", now]);
    organism(&all, &[("DATABASE_URL", &url)]).await
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a successful run printed.
#[track_caller]
fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn day_ago(now: &str, days: i64) -> String {
    let today = DateTime::parse_from_rfc3339(now).unwrap().date_naive();
    (today - Duration::days(days)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_analysis_finds_the_shapes_put_into_a_synthetic_organisation() {
    let (store, now) = organisation().await;

    // effect: the drop of 20 points, by both methods.
    let effect = json(
        &analyze(
            &store,
            &now,
            &[
                "effect",
                "--intervention",
                "iv-e0",
                "--before-days",
                "21",
                "--after-days",
                "21",
            ],
        )
        .await,
    );
    assert_eq!(effect["target_employee_id"], "e0");
    assert_eq!(effect["team"], "Core");
    assert_eq!(effect["after"]["start"], day_ago(&now, ACTIVE_DAYS_AGO));
    let level = f(&effect["interrupted_time_series"]["level_change"]["estimate"]);
    assert!((-25.0..-15.0).contains(&level), "level change {level}");
    let p = f(&effect["interrupted_time_series"]["level_change"]["p_value"]);
    assert!(p < 0.01, "p = {p}");
    let did = &effect["difference_in_differences"];
    assert_eq!(did["comparison_units"], 7, "{effect:#}");
    let estimate = f(&did["estimate"]["estimate"]);
    assert!((-22.0..-18.0).contains(&estimate), "DiD {estimate}");
    let ci = &did["estimate"]["ci95"];
    assert!(f(&ci[0]) < estimate && estimate < f(&ci[1]), "{ci}");

    // A larger minimum group size than the comparison group: absent, and why.
    let effect = json(
        &analyze(
            &store,
            &now,
            &["effect", "--intervention", "iv-e0", "--min-group-size", "8"],
        )
        .await,
    );
    assert!(effect["difference_in_differences"].is_null());
    assert!(
        effect["comparison_unavailable"]
            .as_str()
            .unwrap()
            .contains("minimum group size of 8"),
        "{effect:#}"
    );

    // forecast of an employee and of the team.
    let forecast = json(
        &analyze(
            &store,
            &now,
            &[
                "forecast",
                "--employee",
                "e1",
                "--horizon-days",
                "10",
                "--threshold",
                "95",
            ],
        )
        .await,
    );
    assert_eq!(forecast["subject"], "employee");
    assert_eq!(forecast["history_window"]["end"], day_ago(&now, 0));
    assert!(
        forecast["model"]["name"]
            .as_str()
            .unwrap()
            .starts_with("ETS")
    );
    let points = forecast["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    assert_eq!(points[0]["day"], day_ago(&now, 0));
    for p in points {
        assert!(f(&p["lower_95"]) <= f(&p["lower_80"]) && f(&p["upper_80"]) <= f(&p["upper_95"]));
        assert!((30.0..60.0).contains(&f(&p["value"])), "{p}");
    }
    assert_eq!(forecast["threshold"], 95.0);
    assert!(forecast["threshold_reached_on"].is_null());
    let team = json(&analyze(&store, &now, &["forecast", "--team", "Core"]).await);
    assert_eq!(team["subject"], "team");
    assert_eq!(team["points"].as_array().unwrap().len(), 14);

    // anomalies: e3's step and e0's drop are the two highest scores.
    let anomalies = json(&analyze(&store, &now, &["anomalies", "--days", "30"]).await);
    let rows = anomalies["anomalies"].as_array().unwrap();
    assert_eq!(anomalies["count"].as_u64().unwrap() as usize, rows.len());
    let top: Vec<(String, String)> = rows
        .iter()
        .take(2)
        .map(|r| {
            (
                r["employee_id"].as_str().unwrap().into(),
                r["day"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("e3".to_string(), day_ago(&now, STEP_DAYS_AGO)),
        ("e0".to_string(), day_ago(&now, ACTIVE_DAYS_AGO)),
    ] {
        assert!(top.contains(&expected), "{expected:?} not in {top:?}");
    }
    let step = rows.iter().find(|r| r["employee_id"] == "e3").unwrap();
    assert!((20.0..30.0).contains(&f(&step["change"])), "{step}");

    // correlations: degree rises with burnout.
    let correlations = json(
        &analyze(
            &store,
            &now,
            &["correlations", "--team", "Core", "--max-lag-days", "3"],
        )
        .await,
    );
    assert_eq!(correlations["employees"], MEMBERS);
    assert_eq!(correlations["suppressed"], false);
    let pairs = correlations["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6);
    let degree_burnout = pairs
        .iter()
        .find(|p| p["x"] == "degree_centrality" && p["y"] == "burnout_score")
        .unwrap();
    assert!(
        f(&degree_burnout["pearson"]["coefficient"]) > 0.9,
        "{degree_burnout}"
    );
    assert!(
        f(&degree_burnout["spearman"]["coefficient"]) > 0.9,
        "{degree_burnout}"
    );
    assert_eq!(correlations["lagged"].as_array().unwrap().len(), 3 * 4);

    // backtest: every employee, the held-out days, finite errors, coverage
    // a proportion.
    let backtest = json(
        &analyze(
            &store,
            &now,
            &["backtest", "--holdout-days", "7", "--history-days", "45"],
        )
        .await,
    );
    assert_eq!(backtest["units"], MEMBERS);
    assert_eq!(backtest["days"], MEMBERS * 7);
    for mae in ["mae_model", "mae_naive", "mae_drift"] {
        let v = f(&backtest[mae]);
        assert!(v.is_finite() && v > 0.0, "{mae} {v}");
    }
    for coverage in ["coverage_80", "coverage_95"] {
        let v = f(&backtest[coverage]);
        assert!((0.0..=1.0).contains(&v), "{coverage} {v}");
    }
    assert!(f(&backtest["coverage_80"]) <= f(&backtest["coverage_95"]));
}

/// The API on `store`, keys off, its clock at `now`, on a free port: its
/// base URL.
async fn api(store: &Store, now: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = organism_api::ApiConfig {
        auth: organism_api::AuthMode::InsecureNoAuth,
        clock: organism_api::Clock::Fixed(DateTime::parse_from_rfc3339(now).unwrap().to_utc()),
        ..organism_api::ApiConfig::default()
    };
    let state = organism_api::AppState::new(store.clone(), config);
    tokio::spawn(organism_api::serve(listener, state, std::future::pending()));
    base
}

/// The command prints the body the endpoint answers an admin with, for
/// the same parameters and the same time, value for value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_analysis_prints_what_its_endpoint_answers() {
    let (store, now) = organisation().await;
    let base = api(&store, &now).await;
    let client = reqwest::Client::new();
    let cases: [(&[&str], &str); 6] = [
        (
            &["effect", "--intervention", "iv-e0", "--before-days", "20"],
            "/api/analytics/interventions/iv-e0/effect?before_days=20",
        ),
        (
            &[
                "forecast",
                "--employee",
                "e2",
                "--threshold",
                "50",
                "--history-days",
                "40",
            ],
            "/api/analytics/forecast/employee/e2?threshold=50&history_days=40",
        ),
        (
            &[
                "forecast",
                "--team",
                "Core",
                "--metric",
                "degree_centrality",
                "--horizon-days",
                "5",
            ],
            "/api/analytics/forecast/team/Core?metric=degree_centrality&horizon_days=5",
        ),
        (
            &["anomalies", "--days", "20", "--team", "Core"],
            "/api/analytics/anomalies?days=20&team=Core",
        ),
        (&["correlations"], "/api/analytics/correlations"),
        (
            &["correlations", "--days", "30", "--max-lag-days", "2"],
            "/api/analytics/correlations?days=30&max_lag_days=2",
        ),
    ];
    for (args, path) in cases {
        let printed = json(&analyze(&store, &now, args).await);
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let answered: Value = response.json().await.unwrap();
        assert_eq!(printed, answered, "{args:?} against {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_summaries_give_the_estimates_the_forecast_the_matrix_and_the_errors() {
    let (store, now) = organisation().await;
    let text = |out: Output| {
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let effect = text(
        analyze(
            &store,
            &now,
            &["effect", "--intervention", "iv-e0", "--format", "text"],
        )
        .await,
    );
    for needle in [
        "level change",
        "slope change",
        "95% CI",
        "p = ",
        "difference in differences against 7",
    ] {
        assert!(effect.contains(needle), "{needle:?} not in\n{effect}");
    }
    let forecast = text(
        analyze(
            &store,
            &now,
            &[
                "forecast",
                "--team",
                "Core",
                "--threshold",
                "10",
                "--format",
                "text",
            ],
        )
        .await,
    );
    for needle in ["model ETS", "first ", "last ", "threshold 10: reached on"] {
        assert!(forecast.contains(needle), "{needle:?} not in\n{forecast}");
    }
    let anomalies = text(
        analyze(
            &store,
            &now,
            &["anomalies", "--top", "1", "--format", "text"],
        )
        .await,
    );
    assert!(
        anomalies.contains("score") && anomalies.contains("more"),
        "{anomalies}"
    );
    let correlations = text(analyze(&store, &now, &["correlations", "--format", "text"]).await);
    for needle in [
        "degree",
        "betweenness",
        "clustering",
        "burnout",
        "Pearson below the diagonal",
    ] {
        assert!(
            correlations.contains(needle),
            "{needle:?} not in\n{correlations}"
        );
    }
    let backtest = text(analyze(&store, &now, &["backtest", "--format", "text"]).await);
    for needle in [
        "MAE: model",
        "naive (last value)",
        "drift",
        "coverage: 80% intervals",
    ] {
        assert!(backtest.contains(needle), "{needle:?} not in\n{backtest}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intervention_that_never_became_active_is_an_error_saying_so() {
    let (store, now) = organisation().await;
    let out = analyze(&store, &now, &["effect", "--intervention", "iv-proposed"]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("never became active"),
        "{}",
        stderr(&out)
    );
    let out = analyze(&store, &now, &["forecast", "--team", "Nowhere"]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
}

/// Each bad flag is named, and refused before a database is opened: no
/// embedded cluster is created for it.
#[tokio::test]
async fn a_bad_flag_is_named_and_starts_no_cluster() {
    let dir = std::env::temp_dir().join(format!("organism-analyze-flags-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("organism-data");
    let cases: [(&[&str], &str); 9] = [
        (
            &["effect", "--intervention", "iv-1", "--before-days", "0"],
            "--before-days",
        ),
        (
            &["effect", "--intervention", "iv-1", "--metric", "stress"],
            "--metric",
        ),
        (&["effect"], "--intervention"),
        (
            &["forecast", "--employee", "e1", "--threshold", "200"],
            "--threshold",
        ),
        (
            &["forecast", "--employee", "e1", "--horizon-days", "31"],
            "--horizon-days",
        ),
        (&["forecast", "--metric", "burnout_score"], "--employee"),
        (&["anomalies", "--days", "91"], "--days"),
        (&["correlations", "--max-lag-days", "31"], "--max-lag-days"),
        (
            &["backtest", "--holdout-days", "14", "--history-days", "14"],
            "--holdout-days",
        ),
    ];
    for (args, flag) in cases {
        let mut all = vec!["--data-dir", data.to_str().unwrap(), "analyze"];
        all.extend_from_slice(args);
        let out = organism(&all, &[]).await;
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains(flag),
            "{args:?}: {flag} not in {}",
            stderr(&out)
        );
    }
    let out = organism(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "analyze",
            "anomalies",
            "--now",
            "yesterday",
        ],
        &[],
    )
    .await;
    assert!(stderr(&out).contains("--now"), "{}", stderr(&out));
    let out = organism(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "analyze",
            "anomalies",
            "--min-group-size",
            "0",
        ],
        &[],
    )
    .await;
    assert!(
        stderr(&out).contains("--min-group-size"),
        "{}",
        stderr(&out)
    );
    assert!(!data.exists(), "a data directory was made for a bad flag");
    let _ = std::fs::remove_dir_all(&dir);
}
