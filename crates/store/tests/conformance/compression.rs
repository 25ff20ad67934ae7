//! Compression: every query answers the same before and after, and a late
//! sample written into a compressed range is stored and visible.

use chrono::Duration;
use organism_domain::{AlertDays, EmployeeId, Threshold, TimeRange};
use organism_testkit::organism_store::queries::TrendPoints;
use organism_testkit::organism_store::{Engine, Store, StoreError};

use crate::data::{at, count_rows, now, sample, seed};

async fn raw_burnouts(store: &Store, employee: &str) -> Vec<f64> {
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
    points.iter().map(|p| p.burnout_score).collect()
}

async fn queries_answer_the_same_after_compression(store: Store) {
    seed(&store).await;
    let later = now() + Duration::days(60);
    if store.engine() == Engine::Portable {
        let err = store.compress(later).await.unwrap_err();
        assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
        return;
    }
    let employees = ["emp_a", "emp_b", "emp_c", "emp_d"];
    let mut before = Vec::new();
    for e in employees {
        before.push(raw_burnouts(&store, e).await);
    }
    let alerts_before = store
        .burnout_alerts(
            Threshold::new(50.0).unwrap(),
            AlertDays::new(90).unwrap(),
            now(),
        )
        .await
        .unwrap();

    let report = store.compress(later).await.unwrap();
    assert!(report.chunks_compressed >= 4, "{report:?}");
    assert!(report.bytes_after > 0 && report.bytes_before > 0);

    for (e, expected) in employees.iter().zip(&before) {
        assert_eq!(&raw_burnouts(&store, e).await, expected, "{e}");
    }
    let alerts_after = store
        .burnout_alerts(
            Threshold::new(50.0).unwrap(),
            AlertDays::new(90).unwrap(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(alerts_before, alerts_after);

    // A late sample into a compressed day, and a correction of a compressed
    // sample: both stored, visible, nothing duplicated.
    store
        .write_batch(&[
            sample("emp_a", Some("Core"), at(10, 9, 45), 0.6, 0.2, 0.4, 95.0),
            sample("emp_a", Some("Core"), at(9, 10, 0), 0.4, 0.2, 0.2, 33.0),
        ])
        .await
        .unwrap();
    assert_eq!(
        raw_burnouts(&store, "emp_a").await,
        vec![33.0, 80.0, 90.0, 95.0]
    );
    assert_eq!(count_rows(&store, "employee_metrics").await, 9);
    // Compressing again keeps them.
    store.compress(later).await.unwrap();
    assert_eq!(
        raw_burnouts(&store, "emp_a").await,
        vec![33.0, 80.0, 90.0, 95.0]
    );
}

organism_testkit::engine_tests!(queries_answer_the_same_after_compression);
