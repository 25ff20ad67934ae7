//! A small dataset whose query results are computed by hand in the tests.
//!
//! The clock is fixed at 2026-06-10 12:00 UTC (every query takes `now`).
//!
//! | employee | team | time (UTC)       | degree | betweenness | clustering | burnout |
//! |----------|------|------------------|--------|-------------|------------|---------|
//! | emp_a    | Core | 2026-06-09 10:00 | 0.4    | 0.2         | 0.2        | 60      |
//! | emp_a    | Core | 2026-06-10 09:00 | 0.5    | 0.1         | 0.3        | 80      |
//! | emp_a    | Core | 2026-06-10 09:15 | 0.7    | 0.3         | 0.5        | 90      |
//! | emp_b    | Core | 2026-06-10 09:30 | 0.2    | 0.0         | 0.1        | 40      |
//! | emp_b    | Core | 2026-06-10 11:00 | 0.3    | 0.1         | 0.2        | 75      |
//! | emp_c    | Edge | 2026-06-01 10:00 | 0.1    | 0.1         | 0.1        | 99      |
//! | emp_c    | Edge | 2026-06-10 10:00 | 0.9    | 0.8         | 0.6        | 72      |
//! | emp_d    | Edge | 2026-05-01 08:00 | 0.6    | 0.5         | 0.4        | 95      |

use chrono::{DateTime, TimeZone, Utc};
use organism_domain::{EmployeeId, MetricSample, MetricValues, SampleWindow, TeamName};
use organism_testkit::organism_store::Store;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap()
}

/// The sample window the suite's samples are built with: [`now`] and ten
/// years kept. The store accepts any [`MetricSample`]; the window is the
/// parsers' rule (tested in the domain, formats and API suites), and these
/// tests write history older than the default 730 days on purpose.
pub fn window() -> SampleWindow {
    SampleWindow::new(now(), 3650)
}

/// A time in June 2026.
pub fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, hour, minute, 0).unwrap()
}

#[allow(clippy::too_many_arguments)]
pub fn sample(
    employee: &str,
    team: Option<&str>,
    time: DateTime<Utc>,
    degree: f64,
    betweenness: f64,
    clustering: f64,
    burnout: f64,
) -> MetricSample {
    MetricSample::new(
        time,
        EmployeeId::parse(employee).unwrap(),
        team.map(|t| TeamName::parse(t).unwrap()),
        MetricValues::new(degree, betweenness, clustering, burnout).unwrap(),
        &window(),
    )
    .unwrap()
}

pub fn dataset() -> Vec<MetricSample> {
    vec![
        sample("emp_a", Some("Core"), at(9, 10, 0), 0.4, 0.2, 0.2, 60.0),
        sample("emp_a", Some("Core"), at(10, 9, 0), 0.5, 0.1, 0.3, 80.0),
        sample("emp_a", Some("Core"), at(10, 9, 15), 0.7, 0.3, 0.5, 90.0),
        sample("emp_b", Some("Core"), at(10, 9, 30), 0.2, 0.0, 0.1, 40.0),
        sample("emp_b", Some("Core"), at(10, 11, 0), 0.3, 0.1, 0.2, 75.0),
        sample("emp_c", Some("Edge"), at(1, 10, 0), 0.1, 0.1, 0.1, 99.0),
        sample("emp_c", Some("Edge"), at(10, 10, 0), 0.9, 0.8, 0.6, 72.0),
        sample(
            "emp_d",
            Some("Edge"),
            Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap(),
            0.6,
            0.5,
            0.4,
            95.0,
        ),
    ]
}

pub async fn seed(store: &Store) {
    let summary = store.write_batch(&dataset()).await.unwrap();
    assert_eq!(summary.received, 8);
    assert_eq!(summary.stored, 8);
    assert_eq!(summary.changed, 8);
}

/// Rows in `employee_metrics`, counted around the service.
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[track_caller]
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        close(actual, expected),
        "{what}: got {actual}, expected {expected}"
    );
}
