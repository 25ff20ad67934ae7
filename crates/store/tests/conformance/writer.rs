//! The writer: idempotent re-writes, all-or-nothing batches, partitions for
//! any date, and the database's own checks behind the domain's.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use futures_util::stream;
use organism_domain::{RowError, ValidationError};
use organism_testkit::organism_store::{Engine, Store, StoreError};

use crate::data::{count_rows, dataset, now, sample, seed};

async fn writing_the_same_batch_again_changes_nothing(store: Store) {
    seed(&store).await;
    let again = store.write_batch(&dataset()).await.unwrap();
    assert_eq!((again.received, again.stored, again.changed), (8, 8, 0));
    assert_eq!(count_rows(&store, "employee_metrics").await, 8);
    // A single sample rewritten: no duplicate either.
    let one = &dataset()[0];
    assert_eq!(store.write_sample(one).await.unwrap().changed, 0);
    assert_eq!(count_rows(&store, "employee_metrics").await, 8);
}

async fn a_corrected_sample_replaces_the_stored_one(store: Store) {
    seed(&store).await;
    let mut fixed = dataset()[1].clone();
    fixed.values.burnout_score = 11.0;
    let summary = store.write_batch(&[fixed.clone()]).await.unwrap();
    assert_eq!(summary.changed, 1);
    assert_eq!(count_rows(&store, "employee_metrics").await, 8);
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let score: f64 = client
        .query_one(
            "SELECT burnout_score FROM employee_metrics WHERE employee_id = $1 AND time = $2",
            &[&fixed.employee_id.as_str(), &fixed.time],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(score, 11.0);
}

async fn a_batch_of_new_and_stored_samples_writes_each_once(store: Store) {
    seed(&store).await;
    // A new sample last, after a stored one unchanged and one corrected: the
    // plain insert of new samples fails on the first and the batch is
    // upserted whole instead.
    let mut fixed = dataset()[2].clone();
    fixed.values.burnout_score = 12.5;
    let new = sample("emp_new", Some("Core"), now(), 0.3, 0.3, 0.3, 33.0);
    let batch = [dataset()[0].clone(), fixed.clone(), new.clone()];
    let summary = store.write_batch(&batch).await.unwrap();
    assert_eq!(
        (summary.received, summary.stored, summary.changed),
        (3, 3, 2)
    );
    assert_eq!(count_rows(&store, "employee_metrics").await, 9);
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    for (s, expected) in [(&fixed, 12.5), (&new, 33.0)] {
        let score: f64 = client
            .query_one(
                "SELECT burnout_score FROM employee_metrics WHERE employee_id = $1 AND time = $2",
                &[&s.employee_id.as_str(), &s.time],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(score, expected);
    }
    // And the same batch again changes nothing.
    let again = store.write_batch(&batch).await.unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(count_rows(&store, "employee_metrics").await, 9);
}

async fn within_a_batch_the_last_sample_for_a_time_wins(store: Store) {
    let first = sample("emp_x", Some("Core"), now(), 0.1, 0.1, 0.1, 10.0);
    let second = sample("emp_x", Some("Core"), now(), 0.2, 0.2, 0.2, 20.0);
    let summary = store.write_batch(&[first, second]).await.unwrap();
    assert_eq!((summary.received, summary.stored), (2, 1));
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let score: f64 = client
        .query_one("SELECT burnout_score FROM employee_metrics", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(score, 20.0);
}

async fn a_failing_chunk_leaves_nothing_written(store: Store) {
    let good: Vec<_> = dataset();
    let bad_row = RowError::new(
        9,
        ValidationError::new("burnout_score", "must be between 0 and 100, got 101"),
    );
    let chunks = stream::iter(vec![Ok(good.clone()), Err(StoreError::InvalidRow(bad_row))]);
    let err = store.write_chunks(chunks).await.unwrap_err();
    match err {
        StoreError::InvalidRow(e) => {
            assert_eq!(e.row, 9);
            assert_eq!(e.field, "burnout_score");
        }
        other => panic!("expected the row error back, got {other:?}"),
    }
    assert_eq!(count_rows(&store, "employee_metrics").await, 0);
    // The connection is clean afterwards: the same data then goes in whole.
    let summary = store
        .write_chunks(stream::iter(vec![
            Ok(good[..4].to_vec()),
            Ok(good[4..].to_vec()),
        ]))
        .await
        .unwrap();
    assert_eq!(summary.stored, 8);
    assert_eq!(count_rows(&store, "employee_metrics").await, 8);
}

async fn the_database_refuses_out_of_range_values_on_its_own(store: Store) {
    // Going around the domain types: the table's CHECK constraints still hold.
    // A valid sample first, so that the day's partition exists.
    store.write_batch(&dataset()[1..2]).await.unwrap();
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    for (column, value) in [
        ("burnout_score", 101.0),
        ("burnout_score", -1.0),
        ("degree_centrality", 1.5),
        ("betweenness_centrality", -0.1),
        ("clustering_coeff", f64::NAN),
    ] {
        let mut values = [0.5, 0.5, 0.5, 50.0];
        let i = [
            "degree_centrality",
            "betweenness_centrality",
            "clustering_coeff",
            "burnout_score",
        ]
        .iter()
        .position(|c| *c == column)
        .unwrap();
        values[i] = value;
        let result = client
            .execute(
                "INSERT INTO employee_metrics (time, employee_id, team, degree_centrality,
                     betweenness_centrality, clustering_coeff, burnout_score)
                 VALUES ($1, 'emp_x', NULL, $2, $3, $4, $5)",
                &[
                    &(now() - Duration::minutes(1)),
                    &values[0],
                    &values[1],
                    &values[2],
                    &values[3],
                ],
            )
            .await;
        let err = result.expect_err(&format!("{column} = {value} must be refused"));
        let code = err.as_db_error().map(|e| e.code().code().to_string());
        assert_eq!(code.as_deref(), Some("23514"), "{column}: {err:?}");
    }
    assert_eq!(count_rows(&store, "employee_metrics").await, 1);
}

async fn samples_of_any_date_are_accepted(store: Store) {
    // Today, three years ago, before every partition, after every partition.
    let times = [
        now(),
        now() - Duration::days(3 * 365),
        Utc.with_ymd_and_hms(2019, 2, 28, 23, 59, 59).unwrap(),
        now() - Duration::days(1),
        Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).unwrap(),
    ];
    for (i, time) in times.iter().enumerate() {
        let s = sample(&format!("emp_{i}"), None, *time, 0.1, 0.2, 0.3, 40.0);
        store.write_batch(&[s]).await.unwrap();
    }
    // A single sample too, into a day without a partition (it is made, and
    // the sample written once) and into one with.
    let lone = Utc.with_ymd_and_hms(2020, 7, 1, 12, 0, 0).unwrap();
    for (employee, time) in [("emp_lone", lone), ("emp_lone", now())] {
        let s = sample(employee, None, time, 0.1, 0.2, 0.3, 40.0);
        assert_eq!(store.write_sample(&s).await.unwrap().changed, 1);
    }
    assert_eq!(count_rows(&store, "employee_metrics").await, 7);
    if store.engine() == Engine::Portable {
        let days = store.partition_days().await.unwrap();
        let mut expected: Vec<NaiveDate> = times
            .iter()
            .chain([&lone])
            .map(|t| t.date_naive())
            .collect();
        expected.sort();
        assert_eq!(days, expected);
    }
}

async fn concurrent_writers_to_new_days_all_succeed(store: Store) {
    // Eight writers at once, each writing samples over the same ten new days:
    // partitions are created once, no writer fails.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let batch: Vec<_> = (0..10)
                .map(|d| {
                    sample(
                        &format!("emp_{w}"),
                        Some("Core"),
                        now() - Duration::days(400 + d),
                        0.1,
                        0.1,
                        0.1,
                        f64::from(w),
                    )
                })
                .collect();
            store.write_batch(&batch).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count_rows(&store, "employee_metrics").await, 80);
}

/// A team's raw samples are found by its reads however they were written:
/// one at a time, as a batch copied straight in, as a batch that meets a
/// stored sample (staged and upserted), and as a stream of chunks. Nothing
/// is refreshed, so every read goes to the raw rows.
async fn a_teams_samples_are_read_whichever_way_they_were_written(store: Store) {
    use organism_domain::{
        EmployeeId, MetricSample, MetricValues, SampleWindow, TeamName, TrendDays,
    };
    let t = |h: u32| crate::data::at(10, h, 0);
    let s = |e: &str, team: &str, h: u32| sample(e, Some(team), t(h), 0.2, 0.2, 0.2, 50.0);
    // A single sample takes the one-sample path only when it is recent by
    // the real clock (an older one may be backfill and goes as a batch).
    let recent = Utc::now() - Duration::minutes(5);
    let solo = MetricSample::new(
        recent,
        EmployeeId::parse("emp_1").unwrap(),
        Some(TeamName::parse("Solo").unwrap()),
        MetricValues::new(0.2, 0.2, 0.2, 50.0).unwrap(),
        &SampleWindow::new(Utc::now(), 30),
    )
    .unwrap();
    assert_eq!(store.write_sample(&solo).await.unwrap().changed, 1);
    let solo_trend = store
        .team_trend(
            &TeamName::parse("Solo").unwrap(),
            TrendDays::new(7).unwrap(),
            Utc::now(),
        )
        .await
        .unwrap();
    let days: Vec<_> = solo_trend.days.iter().map(|d| (d.day, d.members)).collect();
    assert_eq!(days, [(recent.date_naive(), 1)]);
    let direct = [s("emp_2", "Direct", 8), s("emp_3", "Direct", 9)];
    assert_eq!(store.write_batch(&direct).await.unwrap().changed, 2);
    // A stored sample first: the copy fails and the batch is upserted.
    let mixed = [s("emp_2", "Direct", 8), s("emp_4", "Mixed", 9)];
    assert_eq!(store.write_batch(&mixed).await.unwrap().changed, 1);
    let chunks = vec![
        Ok(vec![s("emp_5", "Chunks", 8)]),
        Ok(vec![s("emp_6", "Chunks", 9)]),
    ];
    assert_eq!(
        store
            .write_chunks(stream::iter(chunks))
            .await
            .unwrap()
            .stored,
        2
    );
    for (team, members, samples) in [("Direct", 2, 2), ("Mixed", 1, 1), ("Chunks", 2, 2)] {
        let trend = store
            .team_trend(
                &TeamName::parse(team).unwrap(),
                TrendDays::new(7).unwrap(),
                now(),
            )
            .await
            .unwrap();
        let days: Vec<_> = trend
            .days
            .iter()
            .map(|d| (d.day, d.members, d.samples))
            .collect();
        assert_eq!(days, [(t(0).date_naive(), members, samples)], "{team}");
    }
}

organism_testkit::engine_tests!(
    writing_the_same_batch_again_changes_nothing,
    a_corrected_sample_replaces_the_stored_one,
    a_batch_of_new_and_stored_samples_writes_each_once,
    within_a_batch_the_last_sample_for_a_time_wins,
    a_failing_chunk_leaves_nothing_written,
    the_database_refuses_out_of_range_values_on_its_own,
    samples_of_any_date_are_accepted,
    concurrent_writers_to_new_days_all_succeed,
    a_teams_samples_are_read_whichever_way_they_were_written,
);
