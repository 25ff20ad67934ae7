//! Backfill: history imported into a service whose retention has already
//! run (the usual case when moving from another system) reaches the
//! hourly rollup, the team days and the statistics, on both engines, and
//! survives the next retention run that drops its raw rows. Every expected
//! answer is computed here from the generated samples, not by the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::stream;
use organism_domain::{
    EmployeeId, MetricName, MetricSample, StatsDays, TeamName, TimeRange, TrendDays,
};
use organism_testkit::organism_store::Store;
use organism_testkit::organism_store::jobs::Job;
use organism_testkit::organism_store::queries::TrendPoints;

use crate::data::{now, sample};

const DAYS: i64 = 400;
const EMPLOYEES: usize = 6;

fn team_of(e: usize) -> &'static str {
    if e < 4 { "Core" } else { "Edge" }
}

/// Burnout of employee `e` at hour `h` (hours since the first one): a
/// spread of values with repeats, exactly representable.
fn burnout(e: usize, h: i64) -> f64 {
    ((h * 7 + e as i64 * 13) % 101) as f64 * 0.5
}

/// One sample an hour for each employee, over the 400 days before today.
fn history() -> Vec<MetricSample> {
    let start = (now() - Duration::days(DAYS))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let hours = (now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc() - start).num_hours();
    let mut out = Vec::new();
    for h in 0..hours {
        for e in 0..EMPLOYEES {
            out.push(sample(
                &format!("emp_h{e}"),
                Some(team_of(e)),
                start + Duration::hours(h) + Duration::minutes(10),
                0.25,
                0.125,
                0.5,
                burnout(e, h),
            ));
        }
    }
    out
}

/// Members, samples, sum and max of a team day, as they are counted.
type DayTally = (std::collections::BTreeSet<String>, i64, f64, f64);

struct Expected {
    /// (employee, hour) -> burnout.
    hourly: BTreeMap<(String, DateTime<Utc>), f64>,
    /// (team, day) -> (members, samples, sum, max).
    team_days: BTreeMap<(String, NaiveDate), (i64, i64, f64, f64)>,
}

fn expected(samples: &[MetricSample]) -> Expected {
    let mut hourly = BTreeMap::new();
    let mut days: BTreeMap<(String, NaiveDate), DayTally> = BTreeMap::new();
    for s in samples {
        let hour = s.time.duration_trunc_hour();
        let b = s.values.burnout_score;
        hourly.insert((s.employee_id.to_string(), hour), b);
        let team = s.team.as_ref().unwrap().to_string();
        let d = days
            .entry((team, s.time.date_naive()))
            .or_insert_with(|| (Default::default(), 0, 0.0, f64::MIN));
        d.0.insert(s.employee_id.to_string());
        d.1 += 1;
        d.2 += b;
        d.3 = d.3.max(b);
    }
    Expected {
        hourly,
        team_days: days
            .into_iter()
            .map(|(k, (members, n, sum, max))| (k, (members.len() as i64, n, sum, max)))
            .collect(),
    }
}

async fn hourly_points(store: &Store, employee: &str, day: NaiveDate) -> Vec<(DateTime<Utc>, f64)> {
    let trend = store
        .employee_trend(
            &EmployeeId::parse(employee).unwrap(),
            TimeRange::parse(&day.to_string(), &day.to_string()).unwrap(),
            true,
        )
        .await
        .unwrap();
    match trend.points {
        TrendPoints::Hourly(p) => p.iter().map(|p| (p.time, p.burnout_score)).collect(),
        TrendPoints::Raw(_) => panic!("asked for hourly points"),
    }
}

/// Every answer about the old days equals the one computed from the
/// samples: hourly points of days 93-99 and 300-399 ago, every team day,
/// the statistics over a year.
async fn check(store: &Store, samples: &[MetricSample], want: &Expected, when: &str) {
    for ago in (93..100).chain([150, 300, 399]) {
        let day = (now() - Duration::days(ago)).date_naive();
        for e in [0, 5] {
            let employee = format!("emp_h{e}");
            let got = hourly_points(store, &employee, day).await;
            let expected: Vec<(DateTime<Utc>, f64)> = want
                .hourly
                .range(
                    (
                        employee.clone(),
                        day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
                    )..,
                )
                .take_while(|((who, t), _)| *who == employee && t.date_naive() == day)
                .map(|((_, t), b)| (*t, *b))
                .collect();
            assert_eq!(expected.len(), 24);
            assert_eq!(got, expected, "{when}: {employee} on {day}");
        }
    }
    for team in ["Core", "Edge"] {
        let trend = store
            .team_trend(
                &TeamName::parse(team).unwrap(),
                TrendDays::new(DAYS + 1).unwrap(),
                now(),
            )
            .await
            .unwrap();
        let shown: BTreeMap<NaiveDate, _> = trend.days.iter().map(|d| (d.day, d)).collect();
        let mut checked = 0;
        for ((t, day), (members, n, sum, max)) in &want.team_days {
            if t != team {
                continue;
            }
            let d = shown
                .get(day)
                .unwrap_or_else(|| panic!("{when}: {team} has no row for {day}"));
            assert_eq!(
                (d.members, d.samples),
                (*members, *n),
                "{when}: {team} {day}"
            );
            assert!(
                (d.burnout_score - sum / *n as f64).abs() < 1e-9,
                "{when}: {team} {day}"
            );
            assert_eq!(d.burnout_max, *max, "{when}: {team} {day}");
            checked += 1;
        }
        assert!(checked >= DAYS as usize, "{when}: {checked} days of {team}");
    }
    let stats = store
        .metric_statistics(
            MetricName::BurnoutScore,
            StatsDays::new(365).unwrap(),
            now(),
        )
        .await
        .unwrap();
    let from = now() - Duration::days(365);
    let year: Vec<f64> = samples
        .iter()
        .filter(|s| s.time >= from.duration_trunc_hour())
        .map(|s| s.values.burnout_score)
        .collect();
    assert_eq!(stats.count, year.len() as i64, "{when}");
    assert_eq!(stats.min, year.iter().copied().reduce(f64::min), "{when}");
    assert_eq!(stats.max, year.iter().copied().reduce(f64::max), "{when}");
    let avg = year.iter().sum::<f64>() / year.len() as f64;
    assert!((stats.avg.unwrap() - avg).abs() < 1e-9, "{when}");
}

trait HourTrunc {
    fn duration_trunc_hour(self) -> Self;
}

impl HourTrunc for DateTime<Utc> {
    fn duration_trunc_hour(self) -> Self {
        use chrono::DurationRound;
        self.duration_trunc(Duration::hours(1)).unwrap()
    }
}

async fn four_hundred_days_of_history_reach_every_answer(store: Store) {
    // A running service: its retention has already dropped raw rows
    // older than 90 days.
    let recent = sample(
        "emp_now",
        Some("Ops"),
        now() - Duration::hours(1),
        0.1,
        0.1,
        0.1,
        1.0,
    );
    store
        .write_batch(std::slice::from_ref(&recent))
        .await
        .unwrap();
    store.run_job(Job::Retention, now()).await.unwrap();

    let history = history();
    // What the store holds in the end: the history and the recent sample.
    let samples: Vec<MetricSample> = history.iter().cloned().chain([recent]).collect();
    let want = expected(&samples);
    // Imported as a large file is: chunks in one transaction.
    let chunks: Vec<_> = history.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let summary = store.write_chunks(stream::iter(chunks)).await.unwrap();
    assert_eq!(summary.stored, history.len());
    check(&store, &samples, &want, "right after the import").await;

    // Every job, as the scheduler runs them: refresh, retention (which
    // drops the imported raw rows older than 90 days), compression.
    for job in [Job::Refresh, Job::Retention, Job::Compression] {
        store.run_job(job, now()).await.unwrap();
    }
    let raw_left = store
        .employee_trend(
            &EmployeeId::parse("emp_h0").unwrap(),
            TimeRange::parse(
                &(now() - Duration::days(99)).date_naive().to_string(),
                &(now() - Duration::days(93)).date_naive().to_string(),
            )
            .unwrap(),
            false,
        )
        .await
        .unwrap();
    match raw_left.points {
        TrendPoints::Raw(p) => assert!(p.is_empty(), "raw rows of days 93-99 were dropped"),
        TrendPoints::Hourly(_) => unreachable!(),
    }
    check(
        &store,
        &samples,
        &want,
        "after refresh, retention and compression",
    )
    .await;

    // Importing the same file again is a no-op for every answer: its hours
    // below the kept raw rows are summarised now, so the retry is refused
    // whole, naming its first such row, and nothing is counted twice.
    let chunks: Vec<_> = history.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let err = store.write_chunks(stream::iter(chunks)).await.unwrap_err();
    assert!(err.to_string().contains("summarised"), "{err}");
    check(&store, &samples, &want, "after a refused retry").await;
}

organism_testkit::engine_tests!(four_hundred_days_of_history_reach_every_answer);
