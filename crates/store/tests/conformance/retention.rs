//! Retention: raw rows older than the kept days go (whole days), the rollup
//! keeps their hours, the audit log stays whole, and a sample older than the
//! kept raw days is rolled up without replacing what the rollup kept.

use chrono::{DateTime, TimeZone, Utc};
use organism_domain::{AlertDays, EmployeeId, MetricName, StatsDays, Threshold, TimeRange};
use organism_testkit::organism_store::queries::TrendPoints;
use organism_testkit::organism_store::{Engine, Store, StoreError};

use crate::data::{count_rows, now, sample};

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// One employee: 2024-01-01 (beyond the rollup's 730 days), 1 and 11 March
/// (beyond the raw 90 days, which start on 12 March at 00:00), 12 March and
/// 9 June (kept).
async fn seed(store: &Store) {
    let samples: Vec<_> = [
        (t(2024, 1, 1, 10, 0), 10.0),
        (t(2026, 3, 1, 10, 0), 20.0),
        (t(2026, 3, 11, 23, 30), 30.0),
        (t(2026, 3, 12, 0, 30), 40.0),
        (t(2026, 6, 9, 10, 0), 50.0),
    ]
    .into_iter()
    .map(|(time, burnout)| sample("emp_r", Some("Core"), time, 0.1, 0.1, 0.1, burnout))
    .collect();
    store.write_batch(&samples).await.unwrap();
}

async fn burnouts(store: &Store, start: &str, end: &str, hourly: bool) -> Vec<f64> {
    burnouts_of(store, "emp_r", start, end, hourly).await
}

async fn burnouts_of(
    store: &Store,
    employee: &str,
    start: &str,
    end: &str,
    hourly: bool,
) -> Vec<f64> {
    let trend = store
        .employee_trend(
            &EmployeeId::parse(employee).unwrap(),
            TimeRange::parse(start, end).unwrap(),
            hourly,
        )
        .await
        .unwrap();
    match trend.points {
        TrendPoints::Raw(p) => p.iter().map(|p| p.burnout_score).collect(),
        TrendPoints::Hourly(p) => p.iter().map(|p| p.burnout_score).collect(),
    }
}

async fn retention_drops_exactly_what_is_older_than_the_limits(store: Store) {
    seed(&store).await;
    let audit = {
        use organism_domain::{Actor, InterventionId, InterventionKind};
        use organism_testkit::organism_store::interventions::NewIntervention;
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(InterventionId::parse("iv-r").unwrap()),
                kind: InterventionKind::parse("one_on_one").unwrap(),
                target_employee_id: None,
                details: serde_json::json!({}),
                actor: Actor::parse("hr").unwrap(),
            })
            .await
            .unwrap();
        count_rows(&store, "intervention_audit_log").await
    };
    let stats = |store: Store| async move {
        store
            .metric_statistics(
                MetricName::BurnoutScore,
                StatsDays::new(365).unwrap(),
                now(),
            )
            .await
            .unwrap()
    };
    let before = stats(store.clone()).await;
    assert_eq!(before.count, 4);

    let report = store.apply_retention(now()).await.unwrap();
    assert_eq!(report.raw_kept_from, t(2026, 3, 12, 0, 0));
    assert_eq!(report.rollup_kept_from, t(2024, 6, 10, 12, 0));
    assert!(report.raw_parts_dropped >= 2, "{report:?}");

    // Raw: only 12 March 00:30 and 9 June are left.
    assert_eq!(count_rows(&store, "employee_metrics").await, 2);
    assert_eq!(
        burnouts(&store, "2025-06-11", "2026-06-10", false).await,
        vec![40.0, 50.0]
    );
    // The rollup still has the dropped days' hours...
    assert_eq!(
        burnouts(&store, "2025-06-11", "2026-06-10", true).await,
        vec![20.0, 30.0, 40.0, 50.0]
    );
    // ...so statistics over a year are unchanged...
    let after = stats(store.clone()).await;
    assert_eq!(
        (after.count, after.min, after.max, after.avg),
        (before.count, before.min, before.max, before.avg)
    );
    // ...but not beyond the rollup's two years.
    assert!(
        burnouts(&store, "2023-12-31", "2024-01-02", true)
            .await
            .is_empty()
    );
    // The audit log is never touched.
    assert_eq!(count_rows(&store, "intervention_audit_log").await, audit);
    // Running it again drops nothing more.
    let again = store.apply_retention(now()).await.unwrap();
    assert_eq!((again.raw_parts_dropped, again.rollup_dropped), (0, 0));
    assert_eq!(count_rows(&store, "employee_metrics").await, 2);
}

/// Backfill below the kept raw days: a sample for an (employee, hour) the
/// rollup summarised before its raw rows were dropped is refused (it could
/// only replace the summary or be counted twice); any other sample there is
/// rolled up at once into its own (employee, hour), leaving the others'
/// rows of the hour as they were, and outlives its raw row.
async fn backfill_before_the_kept_raw_days_reaches_the_rollup(store: Store) {
    seed(&store).await;
    store.apply_retention(now()).await.unwrap();
    let at = |time, employee: &str, burnout| {
        sample(employee, Some("Core"), time, 0.1, 0.1, 0.1, burnout)
    };
    let refused = store
        .write_batch(&[
            at(t(2026, 3, 1, 11, 0), "emp_r", 70.0),
            at(t(2026, 3, 1, 10, 15), "emp_r", 99.0),
        ])
        .await
        .unwrap_err();
    match refused {
        StoreError::InvalidRow(e) => {
            assert_eq!((e.row, e.field.as_str()), (2, "time"), "{e}");
            assert!(e.message.contains("summarised"), "{e}");
        }
        other => panic!("expected a refused row, got {other:?}"),
    }
    assert_eq!(
        count_rows(&store, "employee_metrics").await,
        2,
        "nothing written"
    );

    // Another hour of the same employee, and the same hour of another one.
    store
        .write_batch(&[
            at(t(2026, 3, 1, 11, 0), "emp_r", 70.0),
            at(t(2026, 3, 1, 10, 30), "emp_b", 80.0),
        ])
        .await
        .unwrap();
    let hourly =
        |store: Store| async move { burnouts(&store, "2026-03-01", "2026-03-01", true).await };
    assert_eq!(hourly(store.clone()).await, vec![20.0, 70.0]);
    let stats = |store: Store| async move {
        store
            .metric_statistics(
                MetricName::BurnoutScore,
                StatsDays::new(365).unwrap(),
                now(),
            )
            .await
            .unwrap()
    };
    // 20, 30, 40, 50 kept from before, 70 and 80 backfilled.
    let s = stats(store.clone()).await;
    assert_eq!((s.count, s.max), (6, Some(80.0)));
    // Writing the same backfill again changes nothing (its raw rows are
    // still kept, so the hours are recomputed from them).
    store
        .write_batch(&[at(t(2026, 3, 1, 10, 30), "emp_b", 80.0)])
        .await
        .unwrap();
    assert_eq!(stats(store.clone()).await.count, 6);
    // A refresh leaves the backfilled hours alone; the next retention run
    // drops their raw rows and the rollup keeps them.
    store.refresh_rollup(now()).await.unwrap();
    store.apply_retention(now()).await.unwrap();
    assert!(
        burnouts(&store, "2026-03-01", "2026-03-01", false)
            .await
            .is_empty()
    );
    assert_eq!(count_rows(&store, "employee_metrics").await, 2);
    assert_eq!(hourly(store.clone()).await, vec![20.0, 70.0]);
    let s = stats(store.clone()).await;
    assert_eq!((s.count, s.max), (6, Some(80.0)));
}

/// With the raw rows and the rollup kept for the same days, retention keeps
/// the rollup from an hour and the raw rows from the start of that hour's
/// day: on that first day an early hour has raw rows and no stored row. An
/// alert's window over that day counts those raw rows (on portable the
/// window's whole hours come from the rollup, but not on that day).
async fn alerts_count_the_first_kept_days_raw_rows(store: Store) {
    let mut settings = store.settings().clone();
    settings.retention.raw_days = 5;
    settings.retention.rollup_days = 5;
    let store = Store::open(settings).await.unwrap();
    let samples: Vec<_> = [
        (t(2026, 6, 5, 9, 0), 95.0),
        (t(2026, 6, 5, 13, 0), 60.0),
        (t(2026, 6, 8, 10, 0), 70.0),
        (t(2026, 6, 10, 11, 30), 80.0),
    ]
    .into_iter()
    .map(|(time, burnout)| sample("emp_k", Some("Core"), time, 0.1, 0.1, 0.1, burnout))
    .collect();
    store.write_batch(&samples).await.unwrap();
    let report = store.apply_retention(now()).await.unwrap();
    assert_eq!(report.raw_kept_from, t(2026, 6, 5, 0, 0));
    assert_eq!(report.rollup_kept_from, t(2026, 6, 5, 12, 0));
    // The 09:00 hour is gone from the rollup (on portable: timescale drops
    // the aggregate's whole chunks), its raw row is kept.
    if store.engine() == Engine::Portable {
        assert_eq!(
            burnouts_of(&store, "emp_k", "2026-06-05", "2026-06-05", true).await,
            vec![60.0]
        );
    }
    assert_eq!(
        burnouts_of(&store, "emp_k", "2026-06-05", "2026-06-05", false).await,
        vec![95.0, 60.0]
    );
    for start in [now(), now() - chrono::Duration::minutes(25)] {
        let alerts = store
            .burnout_alerts(
                Threshold::new(0.0).unwrap(),
                AlertDays::new(7).unwrap(),
                start,
            )
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(
            (a.latest_score, a.peak_score, a.samples),
            (80.0, 95.0, 4),
            "{a:?}"
        );
        assert!((a.average_score - 76.25).abs() < 1e-9, "{a:?}");
    }
}

async fn retention_settings_are_checked(store: Store) {
    let mut settings = store.settings().clone();
    settings.retention.raw_days = 0;
    assert!(matches!(
        Store::open(settings.clone()).await,
        Err(StoreError::Schema(_))
    ));
    settings.retention.raw_days = 100;
    settings.retention.rollup_days = 30;
    assert!(matches!(
        Store::open(settings).await,
        Err(StoreError::Schema(_))
    ));
}

organism_testkit::engine_tests!(
    retention_drops_exactly_what_is_older_than_the_limits,
    backfill_before_the_kept_raw_days_reaches_the_rollup,
    retention_settings_are_checked,
    alerts_count_the_first_kept_days_raw_rows,
);
