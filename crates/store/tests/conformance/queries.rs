//! Exact results of every query on the hand-computed dataset of `data.rs`.

use chrono::{Duration, NaiveDate};
use organism_domain::{
    AlertDays, EmployeeId, MetricName, StatsDays, TeamName, Threshold, TimeRange, TrendDays,
};
use organism_testkit::organism_store::queries::TrendPoints;
use organism_testkit::organism_store::{Store, StoreError};

use crate::data::{assert_close, at, dataset, now, sample, seed};

fn emp(id: &str) -> EmployeeId {
    EmployeeId::parse(id).unwrap()
}

fn burnout_of(points: &TrendPoints) -> Vec<f64> {
    match points {
        TrendPoints::Raw(p) => p.iter().map(|p| p.burnout_score).collect(),
        TrendPoints::Hourly(p) => p.iter().map(|p| p.burnout_score).collect(),
    }
}

async fn raw_trend_covers_the_last_n_days_oldest_first(store: Store) {
    seed(&store).await;
    let one = store
        .employee_trend_days(&emp("emp_a"), TrendDays::new(1).unwrap(), false, now())
        .await
        .unwrap();
    assert_eq!(burnout_of(&one.points), vec![80.0, 90.0]);
    let two = store
        .employee_trend_days(&emp("emp_a"), TrendDays::new(2).unwrap(), false, now())
        .await
        .unwrap();
    assert_eq!(burnout_of(&two.points), vec![60.0, 80.0, 90.0]);
    let TrendPoints::Raw(points) = &two.points else {
        panic!("raw points expected")
    };
    assert_eq!(points[0].time, at(9, 10, 0));
    assert_eq!(points[0].team.as_deref(), Some("Core"));
    assert_eq!(
        (
            points[2].degree_centrality,
            points[2].betweenness_centrality,
            points[2].clustering_coeff
        ),
        (0.7, 0.3, 0.5)
    );
}

async fn hourly_trend_averages_each_hour(store: Store) {
    seed(&store).await;
    let trend = store
        .employee_trend_days(&emp("emp_a"), TrendDays::new(2).unwrap(), true, now())
        .await
        .unwrap();
    let TrendPoints::Hourly(points) = &trend.points else {
        panic!("hourly points expected")
    };
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].time, at(9, 10, 0));
    assert_eq!(points[0].samples, 1);
    assert_close(points[0].burnout_score, 60.0, "first hour burnout");
    let h = &points[1];
    assert_eq!(h.time, at(10, 9, 0));
    assert_eq!(h.samples, 2);
    assert_close(h.degree_centrality, 0.6, "degree");
    assert_close(h.betweenness_centrality, 0.2, "betweenness");
    assert_close(h.clustering_coeff, 0.4, "clustering");
    assert_close(h.burnout_score, 85.0, "burnout");
    assert_eq!((h.burnout_min, h.burnout_max), (80.0, 90.0));
}

async fn range_trend_covers_whole_days_and_unknown_employees_are_not_found(store: Store) {
    seed(&store).await;
    let range = TimeRange::parse("2026-06-10", "2026-06-10").unwrap();
    let trend = store
        .employee_trend(&emp("emp_a"), range, false)
        .await
        .unwrap();
    assert_eq!(burnout_of(&trend.points), vec![80.0, 90.0]);
    // Known employee, nothing in range: an empty answer, not an error.
    let empty = TimeRange::parse("2026-01-01", "2026-01-31").unwrap();
    let trend = store
        .employee_trend(&emp("emp_a"), empty, true)
        .await
        .unwrap();
    assert!(trend.points.is_empty());
    // Nobody of that id: not found, raw or hourly.
    for hourly in [false, true] {
        let err = store
            .employee_trend(&emp("emp_nobody"), range, hourly)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "employee",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

async fn team_trend_gives_members_averages_and_peak_per_day(store: Store) {
    seed(&store).await;
    let core = TeamName::parse("Core").unwrap();
    let trend = store
        .team_trend(&core, TrendDays::new(2).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(trend.days.len(), 2);
    let d0 = &trend.days[0];
    assert_eq!(d0.day, NaiveDate::from_ymd_opt(2026, 6, 9).unwrap());
    assert_eq!((d0.members, d0.samples), (1, 1));
    assert_close(d0.burnout_score, 60.0, "9 June burnout");
    assert_eq!(d0.burnout_max, 60.0);
    let d1 = &trend.days[1];
    assert_eq!(d1.day, NaiveDate::from_ymd_opt(2026, 6, 10).unwrap());
    assert_eq!((d1.members, d1.samples), (2, 4));
    assert_close(
        d1.degree_centrality,
        (0.5 + 0.7 + 0.2 + 0.3) / 4.0,
        "degree",
    );
    assert_close(
        d1.betweenness_centrality,
        (0.1 + 0.3 + 0.0 + 0.1) / 4.0,
        "betweenness",
    );
    assert_close(
        d1.clustering_coeff,
        (0.3 + 0.5 + 0.1 + 0.2) / 4.0,
        "clustering",
    );
    assert_close(
        d1.burnout_score,
        (80.0 + 90.0 + 40.0 + 75.0) / 4.0,
        "burnout",
    );
    assert_eq!(d1.burnout_max, 90.0);

    // One day is today only.
    let today = store
        .team_trend(&core, TrendDays::new(1).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(today.days.len(), 1);
    assert_eq!(today.days[0].day, d1.day);

    // A team with data, none in the window: empty. No data ever: not found.
    let edge = TeamName::parse("Edge").unwrap();
    let edge_trend = store
        .team_trend(
            &edge,
            TrendDays::new(1).unwrap(),
            now() + Duration::days(30),
        )
        .await
        .unwrap();
    assert!(edge_trend.days.is_empty());
    let err = store
        .team_trend(
            &TeamName::parse("Nowhere").unwrap(),
            TrendDays::new(30).unwrap(),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "team", .. }),
        "{err:?}"
    );
}

async fn burnout_alerts_use_each_latest_score_highest_first(store: Store) {
    seed(&store).await;
    let alerts = store
        .burnout_alerts(
            Threshold::new(70.0).unwrap(),
            AlertDays::new(7).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = alerts.iter().map(|a| a.employee_id.as_str()).collect();
    assert_eq!(ids, vec!["emp_a", "emp_b", "emp_c"]);
    let a = &alerts[0];
    assert_eq!((a.latest_score, a.latest_time), (90.0, at(10, 9, 15)));
    assert_eq!((a.peak_score, a.samples), (90.0, 3));
    assert_close(a.average_score, (60.0 + 80.0 + 90.0) / 3.0, "emp_a average");
    assert_eq!(a.team.as_deref(), Some("Core"));
    let b = &alerts[1];
    assert_eq!((b.latest_score, b.peak_score, b.samples), (75.0, 75.0, 2));
    assert_close(b.average_score, 57.5, "emp_b average");
    // emp_c's 99 of 1 June is outside the 7-day window.
    let c = &alerts[2];
    assert_eq!((c.latest_score, c.peak_score, c.samples), (72.0, 72.0, 1));

    // The threshold is inclusive, and judged on the latest score only.
    let at_75 = store
        .burnout_alerts(
            Threshold::new(75.0).unwrap(),
            AlertDays::new(7).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = at_75.iter().map(|a| a.employee_id.as_str()).collect();
    assert_eq!(ids, vec!["emp_a", "emp_b"]);

    // Over 30 days emp_c's peak is the 99, but its latest is still 72; emp_d
    // (95, 40 days ago) stays out.
    let month = store
        .burnout_alerts(
            Threshold::new(70.0).unwrap(),
            AlertDays::new(30).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let c = month.iter().find(|a| a.employee_id == "emp_c").unwrap();
    assert_eq!((c.latest_score, c.peak_score, c.samples), (72.0, 99.0, 2));
    assert_close(c.average_score, 85.5, "emp_c 30-day average");
    assert!(month.iter().all(|a| a.employee_id != "emp_d"));
}

async fn burnout_alerts_follow_corrections_and_ignore_older_late_samples(store: Store) {
    seed(&store).await;
    // A late sample older than emp_b's latest: a new peak, not a new latest.
    store
        .write_sample(&sample(
            "emp_b",
            Some("Core"),
            at(10, 10, 0),
            0.3,
            0.1,
            0.2,
            99.0,
        ))
        .await
        .unwrap();
    // emp_a's latest sample corrected below the threshold, by a batch whose
    // samples arrive newest first; written twice, the second changes nothing.
    let correction = vec![
        sample("emp_a", Some("Core"), at(10, 9, 15), 0.7, 0.3, 0.5, 50.0),
        sample("emp_a", Some("Core"), at(10, 9, 0), 0.5, 0.1, 0.3, 80.0),
    ];
    assert_eq!(store.write_batch(&correction).await.unwrap().changed, 1);
    assert_eq!(store.write_batch(&correction).await.unwrap().changed, 0);
    let alerts = store
        .burnout_alerts(
            Threshold::new(70.0).unwrap(),
            AlertDays::new(7).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = alerts.iter().map(|a| a.employee_id.as_str()).collect();
    assert_eq!(ids, vec!["emp_b", "emp_c"]);
    let b = &alerts[0];
    assert_eq!(
        (b.latest_score, b.latest_time, b.peak_score, b.samples),
        (75.0, at(10, 11, 0), 99.0, 3)
    );
}

/// min, max, mean and sample standard deviation computed directly.
fn reference(values: &[f64]) -> (usize, f64, f64, f64, Option<f64>) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = (values.len() > 1)
        .then(|| values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0));
    (
        values.len(),
        values.iter().copied().fold(f64::INFINITY, f64::min),
        values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean,
        var.map(f64::sqrt),
    )
}

async fn statistics_match_a_reference_computation(store: Store) {
    seed(&store).await;
    for (days, metric) in [
        (7, MetricName::BurnoutScore),
        (7, MetricName::DegreeCentrality),
        (365, MetricName::BurnoutScore),
        (365, MetricName::ClusteringCoeff),
        (1, MetricName::BetweennessCentrality),
    ] {
        let start = now() - Duration::days(days);
        let values: Vec<f64> = dataset()
            .iter()
            .filter(|s| s.time >= start)
            .map(|s| s.values.get(metric))
            .collect();
        let (count, min, max, avg, stddev) = reference(&values);
        let stats = store
            .metric_statistics(metric, StatsDays::new(days).unwrap(), now())
            .await
            .unwrap();
        let what = format!("{metric} over {days} days");
        assert_eq!(stats.count as usize, count, "{what}");
        assert_eq!((stats.min, stats.max), (Some(min), Some(max)), "{what}");
        assert_close(stats.avg.unwrap(), avg, &what);
        assert_close(stats.stddev.unwrap(), stddev.unwrap(), &what);
    }
    // The 7-day burnout numbers, by hand: 60, 80, 90, 40, 75, 72.
    let stats = store
        .metric_statistics(MetricName::BurnoutScore, StatsDays::new(7).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(stats.count, 6);
    assert_close(stats.avg.unwrap(), 69.5, "7-day burnout mean");
}

async fn statistics_of_many_samples_match_the_reference(store: Store) {
    // 1,200 samples over 10 days from a fixed pseudo-random sequence.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let samples: Vec<_> = (0..1200)
        .map(|i| {
            let time = now() - Duration::minutes(12 * i64::from(i));
            sample(
                &format!("emp_{}", i % 37),
                Some("Core"),
                time,
                next(),
                next(),
                next(),
                100.0 * next(),
            )
        })
        .collect();
    store.write_batch(&samples).await.unwrap();
    for days in [1, 3, 10] {
        let start = now() - Duration::days(days);
        for metric in MetricName::ALL {
            let values: Vec<f64> = samples
                .iter()
                .filter(|s| s.time >= start)
                .map(|s| s.values.get(metric))
                .collect();
            let (count, min, max, avg, stddev) = reference(&values);
            let stats = store
                .metric_statistics(metric, StatsDays::new(days).unwrap(), now())
                .await
                .unwrap();
            let what = format!("{metric} over {days} days");
            assert_eq!(stats.count as usize, count, "{what}");
            assert_eq!((stats.min, stats.max), (Some(min), Some(max)), "{what}");
            assert!((stats.avg.unwrap() - avg).abs() < 1e-9, "{what}");
            assert!(
                (stats.stddev.unwrap() - stddev.unwrap()).abs() < 1e-9,
                "{what}"
            );
        }
    }
}

async fn statistics_of_an_empty_window_have_no_values(store: Store) {
    let stats = store
        .metric_statistics(MetricName::BurnoutScore, StatsDays::new(7).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(stats.count, 0);
    assert_eq!(
        (stats.min, stats.max, stats.avg, stats.stddev),
        (None, None, None, None)
    );
}

async fn recent_samples_count_by_measurement_time(store: Store) {
    seed(&store).await;
    let one_hour = store
        .recent_samples(Duration::hours(1), now())
        .await
        .unwrap();
    assert_eq!(one_hour, 1);
    let three_hours = store
        .recent_samples(Duration::hours(3), now())
        .await
        .unwrap();
    assert_eq!(three_hours, 5);
}

organism_testkit::engine_tests!(
    raw_trend_covers_the_last_n_days_oldest_first,
    hourly_trend_averages_each_hour,
    range_trend_covers_whole_days_and_unknown_employees_are_not_found,
    team_trend_gives_members_averages_and_peak_per_day,
    burnout_alerts_use_each_latest_score_highest_first,
    burnout_alerts_follow_corrections_and_ignore_older_late_samples,
    statistics_match_a_reference_computation,
    statistics_of_many_samples_match_the_reference,
    statistics_of_an_empty_window_have_no_values,
    recent_samples_count_by_measurement_time,
);
