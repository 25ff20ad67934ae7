//! Compression: every query answers the same before and after, a late
//! sample written into a compressed range is stored and visible, and writers
//! running during compression lose nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use organism_domain::{
    AlertDays, EmployeeId, MetricName, MetricSample, MetricValues, StatsDays, TeamName, Threshold,
    TimeRange, TrendDays,
};
use organism_testkit::organism_store::queries::TrendPoints;
use organism_testkit::organism_store::{Engine, Store};
use serde_json::Value;

use crate::data::{at, now, sample, seed, window};

/// One stored sample: time, team, the four values.
type Point = (DateTime<Utc>, Option<String>, [f64; 4]);

/// Raw points of an employee over the whole history.
async fn raw_points(store: &Store, employee: &str) -> Vec<Point> {
    let trend = store
        .employee_trend(
            &EmployeeId::parse(employee).unwrap(),
            TimeRange::parse("2026-04-01", "2026-06-10").unwrap(),
            false,
        )
        .await
        .unwrap();
    let TrendPoints::Raw(points) = trend.points else {
        panic!("raw points expected")
    };
    points
        .into_iter()
        .map(|p| {
            (
                p.time,
                p.team,
                [
                    p.degree_centrality,
                    p.betweenness_centrality,
                    p.clustering_coeff,
                    p.burnout_score,
                ],
            )
        })
        .collect()
}

fn burnouts(points: &[Point]) -> Vec<f64> {
    points.iter().map(|p| p.2[3]).collect()
}

/// A history that exercises every branch of the codec, between 2026-04-25
/// and 2026-06-09: six employees, samples every 30 minutes holding their
/// values for four hours at a time; a day with a missing sample and one at
/// an odd minute (uneven times), a day with a single sample, an employee
/// without a team, and one who changes team in the middle of a day.
fn history() -> Vec<MetricSample> {
    let first = Utc.with_ymd_and_hms(2026, 4, 25, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    for (e, employee) in ["cmp_a", "cmp_b", "cmp_c", "cmp_d", "cmp_e", "cmp_f"]
        .iter()
        .enumerate()
    {
        for day in 0..46i64 {
            for slot in 0..48i64 {
                let mut time = first + Duration::days(day) + Duration::minutes(30 * slot);
                if e == 1 && day == 3 && slot == 7 {
                    continue; // a missing sample
                }
                if e == 2 && day == 4 && slot == 11 {
                    time += Duration::minutes(7); // an odd minute
                }
                if e == 3 && day == 5 && slot > 0 {
                    break; // one sample that day
                }
                let team = match e {
                    4 => None,
                    5 if day > 10 || (day == 10 && slot >= 20) => Some("Blue"),
                    _ if e % 2 == 0 => Some("Blue"),
                    _ => Some("Green"),
                };
                let block = (day * 6 + slot / 8) as f64;
                let wave = (block / 5.0 + e as f64).sin();
                let values = MetricValues::new(
                    (0.3 + 0.2 * wave).clamp(0.0, 1.0),
                    (0.1 + 0.05 * wave).clamp(0.0, 1.0),
                    (0.5 + 0.3 * (block / 7.0).cos()).clamp(0.0, 1.0),
                    (40.0 + 10.0 * e as f64 + 15.0 * wave).clamp(0.0, 100.0),
                )
                .unwrap();
                out.push(
                    MetricSample::new(
                        time,
                        EmployeeId::parse(*employee).unwrap(),
                        team.map(|t| TeamName::parse(t).unwrap()),
                        values,
                        &window(),
                    )
                    .unwrap(),
                );
            }
        }
    }
    out
}

const EMPLOYEES: [&str; 6] = ["cmp_a", "cmp_b", "cmp_c", "cmp_d", "cmp_e", "cmp_f"];

/// Every query's answer, as JSON: raw and hourly trends of each employee,
/// team trends, statistics of each metric, alerts, latest values and the
/// recent sample count.
async fn every_answer(store: &Store) -> Value {
    let mut answers = serde_json::Map::new();
    let range = TimeRange::parse("2026-04-01", "2026-06-10").unwrap();
    for e in EMPLOYEES {
        let id = EmployeeId::parse(e).unwrap();
        for hourly in [false, true] {
            let trend = store.employee_trend(&id, range, hourly).await.unwrap();
            answers.insert(
                format!("{e} hourly={hourly}"),
                serde_json::to_value(&trend).unwrap(),
            );
        }
    }
    for team in ["Blue", "Green"] {
        let trend = store
            .team_trend(
                &TeamName::parse(team).unwrap(),
                TrendDays::new(90).unwrap(),
                now(),
            )
            .await
            .unwrap();
        answers.insert(
            format!("team {team}"),
            serde_json::to_value(&trend).unwrap(),
        );
    }
    for metric in MetricName::ALL {
        let stats = store
            .metric_statistics(metric, StatsDays::new(90).unwrap(), now())
            .await
            .unwrap();
        answers.insert(
            format!("stats {metric:?}"),
            serde_json::to_value(&stats).unwrap(),
        );
    }
    for threshold in [0.0, 55.0] {
        let alerts = store
            .burnout_alerts(
                Threshold::new(threshold).unwrap(),
                AlertDays::new(90).unwrap(),
                now(),
            )
            .await
            .unwrap();
        answers.insert(
            format!("alerts {threshold}"),
            serde_json::to_value(&alerts).unwrap(),
        );
    }
    let latest: BTreeMap<_, _> = store
        .latest_values(now() - Duration::days(80))
        .await
        .unwrap()
        .into_iter()
        .collect();
    answers.insert("latest".into(), serde_json::to_value(&latest).unwrap());
    let recent = store
        .recent_samples(Duration::days(60), now())
        .await
        .unwrap();
    answers.insert("recent".into(), recent.into());
    Value::Object(answers)
}

/// Equal, but for the last bits of floating-point sums taken in another
/// order (averages are sums over rows, whose order compression changes).
#[track_caller]
fn assert_same(before: &Value, after: &Value, path: &str) {
    match (before, after) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{path}: {a} before, {b} after"
            );
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{path}: keys"
            );
            for (k, x) in a {
                assert_same(x, &b[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(before, after, "{path}"),
    }
}

async fn queries_answer_the_same_after_compression(store: Store) {
    seed(&store).await;
    store.write_batch(&history()).await.unwrap();
    let before = every_answer(&store).await;
    let raw_before = raw_points(&store, "cmp_c").await;

    // Everything before 2026-05-31 is compressed (30 days before the clock).
    let report = store.compress(now() + Duration::days(20)).await.unwrap();
    assert!(report.chunks_compressed >= 30, "{report:?}");
    assert!(
        report.bytes_after > 0 && report.bytes_after < report.bytes_before,
        "{report:?}"
    );
    assert_same(&before, &every_answer(&store).await, "after compression");
    // Raw points come back bit for bit, uneven times included.
    assert_eq!(raw_points(&store, "cmp_c").await, raw_before);

    // The materialised rollup agrees with what the packed samples give.
    store.refresh_rollup(now()).await.unwrap();
    assert_same(&before, &every_answer(&store).await, "after refresh");

    // Compressing again changes nothing.
    let again = store.compress(now() + Duration::days(20)).await.unwrap();
    if store.engine() == Engine::Portable {
        assert_eq!(again.chunks_compressed, 0, "{again:?}");
    }
    assert_same(&before, &every_answer(&store).await, "compressed twice");
}

async fn late_writes_into_a_compressed_range_are_kept(store: Store) {
    seed(&store).await;
    let later = now() + Duration::days(60);
    let report = store.compress(later).await.unwrap();
    assert!(report.chunks_compressed >= 4, "{report:?}");
    let alerts_before = store
        .burnout_alerts(
            Threshold::new(50.0).unwrap(),
            AlertDays::new(90).unwrap(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        burnouts(&raw_points(&store, "emp_a").await),
        vec![60.0, 80.0, 90.0]
    );

    // A late sample into a compressed day, and a correction of a compressed
    // sample: both stored, visible at once, nothing duplicated.
    store
        .write_batch(&[
            sample("emp_a", Some("Core"), at(10, 9, 45), 0.6, 0.2, 0.4, 95.0),
            sample("emp_a", Some("Core"), at(9, 10, 0), 0.4, 0.2, 0.2, 33.0),
        ])
        .await
        .unwrap();
    // And one sample on its own into another compressed day.
    store
        .write_sample(&sample(
            "emp_c",
            Some("Edge"),
            at(1, 11, 0),
            0.2,
            0.2,
            0.2,
            20.0,
        ))
        .await
        .unwrap();
    let expected_a = vec![33.0, 80.0, 90.0, 95.0];
    let expected_c = vec![99.0, 20.0, 72.0];
    assert_eq!(burnouts(&raw_points(&store, "emp_a").await), expected_a);
    assert_eq!(burnouts(&raw_points(&store, "emp_c").await), expected_c);
    let alerts = store
        .burnout_alerts(
            Threshold::new(50.0).unwrap(),
            AlertDays::new(90).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let a = alerts.iter().find(|a| a.employee_id == "emp_a").unwrap();
    assert_eq!((a.latest_score, a.samples), (95.0, 4));
    assert_eq!(alerts.len(), alerts_before.len());

    // Compressing again packs them with the rest and keeps every value.
    let again = store.compress(later).await.unwrap();
    assert!(again.chunks_compressed >= 1, "{again:?}");
    assert_eq!(burnouts(&raw_points(&store, "emp_a").await), expected_a);
    assert_eq!(burnouts(&raw_points(&store, "emp_c").await), expected_c);
    // Writing the same batch again changes nothing.
    let summary = store
        .write_batch(&[sample(
            "emp_a",
            Some("Core"),
            at(10, 9, 45),
            0.6,
            0.2,
            0.4,
            95.0,
        )])
        .await
        .unwrap();
    assert_eq!(summary.changed, 0);
    assert_eq!(burnouts(&raw_points(&store, "emp_a").await), expected_a);
}

/// Four writers, each owning its own keys, correct old samples and add new
/// ones in days being compressed, while compression runs over and over. At
/// the end every key holds the last value written to it, once.
async fn concurrent_writers_during_compression_lose_nothing(store: Store) {
    let base = history();
    store.write_batch(&base).await.unwrap();
    type Value4 = (Option<String>, [f64; 4]);
    let mut expected: BTreeMap<(String, DateTime<Utc>), Value4> = base
        .iter()
        .map(|s| {
            (
                (s.employee_id.to_string(), s.time),
                (
                    s.team.as_ref().map(|t| t.to_string()),
                    [
                        s.values.degree_centrality,
                        s.values.betweenness_centrality,
                        s.values.clustering_coeff,
                        s.values.burnout_score,
                    ],
                ),
            )
        })
        .collect();

    // Writer w owns the samples whose slot ≡ w (mod 4), and the new samples
    // at minute 10 + w; each batch spans three days, some of them packed by
    // then and some not.
    let first = Utc.with_ymd_and_hms(2026, 4, 25, 0, 0, 0).unwrap();
    let mut batches: Vec<Vec<Vec<MetricSample>>> = vec![Vec::new(); 4];
    for (w, writer_batches) in batches.iter_mut().enumerate() {
        for round in 0..8i64 {
            let mut batch = Vec::new();
            for day in [round * 5, round * 5 + 1, round * 5 + 2] {
                for (e, employee) in EMPLOYEES.iter().enumerate() {
                    let slot = (w as i64) + 4 * ((round + e as i64) % 12);
                    let burnout = 1.0 + (w * 10 + e) as f64 + round as f64 / 10.0;
                    let values = MetricValues::new(0.01, 0.02, 0.03, burnout).unwrap();
                    for time in [
                        first + Duration::days(day) + Duration::minutes(30 * slot),
                        first
                            + Duration::days(day)
                            + Duration::hours(slot)
                            + Duration::minutes(10 + w as i64),
                    ] {
                        batch.push(
                            MetricSample::new(
                                time,
                                EmployeeId::parse(*employee).unwrap(),
                                Some(TeamName::parse("Late").unwrap()),
                                values,
                                &window(),
                            )
                            .unwrap(),
                        );
                    }
                }
            }
            for s in &batch {
                expected.insert(
                    (s.employee_id.to_string(), s.time),
                    (
                        Some("Late".into()),
                        [0.01, 0.02, 0.03, s.values.burnout_score],
                    ),
                );
            }
            writer_batches.push(batch);
        }
    }

    let writers = batches.into_iter().map(|writer_batches| {
        let store = store.clone();
        tokio::spawn(async move {
            for batch in writer_batches {
                store.write_batch(&batch).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    });
    let compressor = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut packed = 0;
            for _ in 0..4 {
                packed += store
                    .compress(now() + Duration::days(20))
                    .await
                    .unwrap()
                    .chunks_compressed;
            }
            packed
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let packed = compressor.await.unwrap();
    assert!(packed >= 30, "compression packed {packed} days");
    // Once more after the writers, then compare every key.
    store.compress(now() + Duration::days(20)).await.unwrap();

    let mut stored = BTreeMap::new();
    for e in EMPLOYEES {
        for (time, team, values) in raw_points(&store, e).await {
            let previous = stored.insert((e.to_string(), time), (team, values));
            assert!(previous.is_none(), "{e} at {time} stored twice");
        }
    }
    assert_eq!(stored.len(), expected.len(), "samples stored");
    for (key, value) in &expected {
        assert_eq!(stored.get(key), Some(value), "{key:?}");
    }
}

organism_testkit::engine_tests!(
    queries_answer_the_same_after_compression,
    late_writes_into_a_compressed_range_are_kept,
    concurrent_writers_during_compression_lose_nothing,
);
