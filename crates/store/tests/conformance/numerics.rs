//! Every value the domain accepts works in every query, rollup and job
//! (issue 13, item 1): a seeded property test over arbitrary finite
//! in-range values, with 0, the smallest subnormal (5e-324), 1e-200, 1e-100
//! and 1 − ε among them, through write → rollup refresh → statistics, team
//! and hourly trends → retention → compression, on each engine.
//!
//! Before the flush to zero (`organism_domain::FLUSH_TO_ZERO_BELOW`) a
//! single 1e-200 made PostgreSQL raise "value out of range: underflow" in
//! the rollup's sums of squares, so statistics answered 500 and the jobs
//! failed every run.

use chrono::{DateTime, Duration, Utc};
use organism_domain::{
    AlertDays, EmployeeId, FLUSH_TO_ZERO_BELOW, MetricName, MetricSample, MetricValues, StatsDays,
    TeamName, Threshold, TimeRange, TrendDays,
};
use organism_testkit::organism_store::Store;
use organism_testkit::organism_store::jobs::{Job, JobOutcome};
use organism_testkit::organism_store::queries::{MetricStatistics, TrendPoints};

use crate::data::{now, window};

/// splitmix64: a fixed seed gives the same cases on every run and engine.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A finite value in `0..=max`: an edge case, a uniform one, one spread
    /// over every magnitude down to subnormals, or a raw bit pattern.
    fn value(&mut self, max: f64) -> f64 {
        const EDGES: [f64; 12] = [
            0.0,
            -0.0,
            5e-324,
            1e-320,
            f64::MIN_POSITIVE,
            1e-300,
            1e-200,
            9.999_999_999_999_999e-101,
            1e-100,
            1e-50,
            1.0 - f64::EPSILON,
            1.0,
        ];
        match self.next() % 4 {
            0 => {
                let e = EDGES[(self.next() % EDGES.len() as u64) as usize];
                if e == 1.0 || e == 1.0 - f64::EPSILON {
                    e * max
                } else {
                    e
                }
            }
            1 => self.unit() * max,
            2 => {
                // 10^-323 .. max, log-uniform.
                let v = max * 10f64.powf(-323.0 * self.unit());
                v.min(max)
            }
            _ => {
                // Any finite non-negative double up to max.
                let v = f64::from_bits(self.next() >> 1);
                if !v.is_finite() {
                    self.unit() * max
                } else if v <= max {
                    v
                } else {
                    v % max
                }
            }
        }
    }
}

fn samples(seed: u64) -> Vec<MetricSample> {
    let mut cases = Cases(seed);
    let mut out = Vec::new();
    for e in 0..6 {
        let id = EmployeeId::parse(format!("num_{e}")).unwrap();
        let team = TeamName::parse(if e % 2 == 0 { "Tiny" } else { "Small" }).unwrap();
        // Three days, an uneven number of samples an hour (one, or several).
        for k in 0..40 {
            let time = now() - Duration::hours(70) + Duration::minutes(97 * k + 13 * e);
            let mut v = || [cases.value(1.0), cases.value(1.0), cases.value(1.0)];
            let [d, b, c] = v();
            let burnout = cases.value(100.0);
            let values = MetricValues::new(d, b, c, burnout)
                .unwrap_or_else(|err| panic!("{d:e} {b:e} {c:e} {burnout:e}: {err}"));
            out.push(
                MetricSample::new(time, id.clone(), Some(team.clone()), values, &window()).unwrap(),
            );
        }
    }
    // One employee whose every value is the smallest subnormal: all zero.
    let id = EmployeeId::parse("num_subnormal").unwrap();
    for k in 0..5 {
        let values = MetricValues::new(5e-324, 5e-324, 5e-324, 5e-324).unwrap();
        out.push(
            MetricSample::new(
                now() - Duration::hours(k),
                id.clone(),
                None,
                values,
                &window(),
            )
            .unwrap(),
        );
    }
    out
}

/// count, min, max, mean and sample standard deviation, computed here.
fn expected(samples: &[MetricSample], metric: MetricName) -> (i64, f64, f64, f64, f64) {
    let v: Vec<f64> = samples.iter().map(|s| s.values.get(metric)).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (v.len() as i64, min, max, mean, var.sqrt())
}

#[track_caller]
fn close(label: &str, got: f64, want: f64, scale: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * scale,
        "{label}: got {got:e}, expected {want:e}"
    );
}

fn check_statistics(stats: &MetricStatistics, samples: &[MetricSample], when: &str) {
    let metric = stats.metric;
    let (count, min, max, mean, sd) = expected(samples, metric);
    let scale = metric.max();
    assert_eq!(stats.count, count, "{when} {metric}");
    assert_eq!(stats.min, Some(min), "{when} {metric} min");
    assert_eq!(stats.max, Some(max), "{when} {metric} max");
    close(
        &format!("{when} {metric} avg"),
        stats.avg.unwrap(),
        mean,
        scale,
    );
    close(
        &format!("{when} {metric} stddev"),
        stats.stddev.unwrap(),
        sd,
        scale,
    );
}

/// Every read over the data: none may fail, and the statistics must agree
/// with the values computed here.
async fn read_everything(store: &Store, at: DateTime<Utc>, samples: &[MetricSample], when: &str) {
    for metric in MetricName::ALL {
        let stats = store
            .metric_statistics(metric, StatsDays::new(365).unwrap(), at)
            .await
            .unwrap_or_else(|e| panic!("{when}: statistics of {metric}: {e}"));
        check_statistics(&stats, samples, when);
    }
    for team in ["Tiny", "Small"] {
        let trend = store
            .team_trend(
                &TeamName::parse(team).unwrap(),
                TrendDays::new(730).unwrap(),
                at,
            )
            .await
            .unwrap_or_else(|e| panic!("{when}: team trend {team}: {e}"));
        assert_eq!(trend.days.len(), 4, "{when} {team}: {:?}", trend.days);
        for day in &trend.days {
            for v in [
                day.degree_centrality,
                day.betweenness_centrality,
                day.clustering_coeff,
                day.burnout_score,
                day.burnout_max,
            ] {
                assert!(v.is_finite() && v >= 0.0, "{when} {team} {day:?}");
            }
        }
    }
    let range = TimeRange::new(now() - Duration::days(4), now() + Duration::hours(1)).unwrap();
    for e in ["num_0", "num_3", "num_subnormal"] {
        let id = EmployeeId::parse(e).unwrap();
        let hourly = store
            .employee_trend(&id, range, true)
            .await
            .unwrap_or_else(|err| panic!("{when}: hourly trend {e}: {err}"));
        let TrendPoints::Hourly(points) = hourly.points else {
            panic!("hourly points expected")
        };
        assert!(!points.is_empty(), "{when} {e}");
        // Raw rows exist until retention drops them.
        store
            .employee_trend(&id, range, false)
            .await
            .unwrap_or_else(|err| panic!("{when}: raw trend {e}: {err}"));
    }
    store
        .burnout_alerts(
            Threshold::new(0.0).unwrap(),
            AlertDays::new(90).unwrap(),
            at,
        )
        .await
        .unwrap_or_else(|e| panic!("{when}: alerts: {e}"));
}

async fn run_ok(store: &Store, job: Job, at: DateTime<Utc>) {
    match store.run_job(job, at).await.unwrap() {
        JobOutcome::Ran { ok, error, .. } => assert!(ok, "{job:?} failed: {error:?}"),
        other => panic!("{job:?}: {other:?}"),
    }
}

async fn any_accepted_value_survives_every_query_and_job(store: Store) {
    let samples = samples(0x0dd5_eed5);
    // The flush holds: what reaches the store is 0 or at least 1e-100.
    for s in &samples {
        for m in MetricName::ALL {
            let v = s.values.get(m);
            assert!(v.to_bits() == 0 || v >= FLUSH_TO_ZERO_BELOW, "{v:e}");
        }
    }
    assert!(
        samples
            .iter()
            .any(|s| s.values.degree_centrality == 0.0 && s.employee_id.as_str() != "num_subnormal"),
        "the cases include flushed values"
    );
    store.write_batch(&samples).await.unwrap();
    store.refresh_rollup(now()).await.unwrap();
    read_everything(&store, now(), &samples, "after the refresh").await;

    // The jobs as the scheduler runs them.
    for job in [Job::Refresh, Job::Retention, Job::Compression] {
        run_ok(&store, job, now()).await;
    }
    read_everything(&store, now(), &samples, "after the jobs").await;

    // Forty days on, every day is compressed; the answers do not move.
    let later = now() + Duration::days(40);
    let report = store.compress(later).await.unwrap();
    assert!(report.chunks_compressed >= 3, "{report:?}");
    run_ok(&store, Job::Compression, later).await;
    run_ok(&store, Job::Refresh, later).await;
    read_everything(&store, later, &samples, "after compression").await;

    // A hundred days on, retention drops every raw day; the rollup keeps the
    // statistics.
    let much_later = now() + Duration::days(100);
    let report = store.apply_retention(much_later).await.unwrap();
    assert!(report.raw_parts_dropped >= 3, "{report:?}");
    run_ok(&store, Job::Retention, much_later).await;
    for metric in MetricName::ALL {
        let stats = store
            .metric_statistics(metric, StatsDays::new(365).unwrap(), much_later)
            .await
            .unwrap();
        check_statistics(&stats, &samples, "after retention");
    }
}

organism_testkit::engine_tests!(any_accepted_value_survives_every_query_and_job);
