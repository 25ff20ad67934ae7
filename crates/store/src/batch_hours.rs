//! A batch's samples summed as the rollup's levels keep them, in memory:
//! per (employee, hour) as the hourly store, per hour as the
//! organisation's hours, per (employee, UTC day, team) as the daily store.
//!
//! The portable engine adds these to its stores when a batch of new
//! samples goes into hours already materialised (see
//! `engines/portable.rs`, "rollups kept by the writer"), instead of
//! recording the hours for the refresh to recompute from raw rows. The
//! sums are those the refresh computes (`hourly_from_raw`,
//! `org_hours_from_store`, `team_days_from_store`); only the order in
//! which floating-point values are added may differ.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use organism_domain::{MetricName, MetricSample};

use crate::rollup::{day_start, hour_start};

/// One metric over some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    pub sum: f64,
    pub sumsq: f64,
    pub min: f64,
    pub max: f64,
}

impl Moments {
    fn of(x: f64) -> Moments {
        Moments {
            sum: x,
            sumsq: x * x,
            min: x,
            max: x,
        }
    }

    fn add(&mut self, x: f64) {
        self.merge(&Moments::of(x));
    }

    fn merge(&mut self, other: &Moments) {
        self.sum += other.sum;
        self.sumsq += other.sumsq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Every metric of one sample, in `MetricName::ALL` order.
fn moments_of(sample: &MetricSample) -> [Moments; 4] {
    MetricName::ALL.map(|m| Moments::of(sample.values.get(m)))
}

/// The samples of one employee in one hour, as a row of the hourly store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmployeeHour {
    pub employee: String,
    pub bucket: DateTime<Utc>,
    /// The team of the hour's latest sample.
    pub team: Option<String>,
    latest: DateTime<Utc>,
    pub samples: i64,
    /// In `MetricName::ALL` order.
    pub metrics: [Moments; 4],
}

/// One hour of the organisation, as a row of its hourly store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgHour {
    pub bucket: DateTime<Utc>,
    pub samples: i64,
    pub metrics: [Moments; 4],
}

/// One employee's hours of one team in one UTC day, as a row of the daily
/// store: sums of every metric and the burnout peak.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TeamDay {
    pub bucket: DateTime<Utc>,
    pub employee: String,
    pub team: Option<String>,
    pub samples: i64,
    /// In `MetricName::ALL` order.
    pub sums: [f64; 4],
    pub burnout_max: f64,
}

/// A batch's (employee, hour)s before a given time, in (employee, hour)
/// order: the hourly store's key order, so that inserting them walks its
/// index once.
#[derive(Debug, Default)]
pub(crate) struct BatchHours {
    pub hours: Vec<EmployeeHour>,
}

impl BatchHours {
    /// The hours of `samples` that start before `before`. The samples must
    /// hold each (employee, time) once (a batch with repeats is merged in
    /// SQL, never summed here).
    pub fn before(samples: &[MetricSample], before: DateTime<Utc>) -> BatchHours {
        let mut index: HashMap<(&str, DateTime<Utc>), usize> = HashMap::new();
        let mut hours: Vec<EmployeeHour> = Vec::new();
        // An employee's samples usually come in runs: a sample of the
        // previous sample's (employee, hour) is found without hashing.
        let mut last: Option<(&str, DateTime<Utc>, usize)> = None;
        for sample in samples {
            let bucket = hour_start(sample.time);
            if bucket >= before {
                continue;
            }
            let employee = sample.employee_id.as_str();
            let team = sample.team.as_ref().map(|t| t.as_str());
            let found = match last {
                Some((e, b, i)) if b == bucket && e == employee => Some(i),
                _ => index.get(&(employee, bucket)).copied(),
            };
            last = Some((employee, bucket, found.unwrap_or(hours.len())));
            match found {
                Some(i) => {
                    let hour = &mut hours[i];
                    hour.samples += 1;
                    for (m, metric) in hour.metrics.iter_mut().zip(MetricName::ALL) {
                        m.add(sample.values.get(metric));
                    }
                    if sample.time > hour.latest {
                        hour.latest = sample.time;
                        if hour.team.as_deref() != team {
                            hour.team = team.map(str::to_string);
                        }
                    }
                }
                None => {
                    index.insert((employee, bucket), hours.len());
                    hours.push(EmployeeHour {
                        employee: employee.to_string(),
                        bucket,
                        team: team.map(str::to_string),
                        latest: sample.time,
                        samples: 1,
                        metrics: moments_of(sample),
                    });
                }
            }
        }
        hours.sort_by(|a, b| (&a.employee, a.bucket).cmp(&(&b.employee, b.bucket)));
        BatchHours { hours }
    }

    pub fn is_empty(&self) -> bool {
        self.hours.is_empty()
    }

    /// The organisation's hours: every employee's hour summed, in hour
    /// order.
    pub fn org_hours(&self) -> Vec<OrgHour> {
        let mut by_hour: std::collections::BTreeMap<DateTime<Utc>, OrgHour> = Default::default();
        for h in &self.hours {
            by_hour
                .entry(h.bucket)
                .and_modify(|o| {
                    o.samples += h.samples;
                    for (a, b) in o.metrics.iter_mut().zip(&h.metrics) {
                        a.merge(b);
                    }
                })
                .or_insert_with(|| OrgHour {
                    bucket: h.bucket,
                    samples: h.samples,
                    metrics: h.metrics,
                });
        }
        by_hour.into_values().collect()
    }

    /// The (employee, day, team)s of the hours in days before `before` (the
    /// start of a UTC day), each hour counted for its own team, in key
    /// order (employee, day, team).
    pub fn team_days(&self, before: DateTime<Utc>) -> Vec<TeamDay> {
        let mut days: Vec<TeamDay> = Vec::new();
        // Hours are in (employee, hour) order, so an employee's day is a
        // run; within it a team may come back after another.
        for h in &self.hours {
            let bucket = day_start(h.bucket);
            if bucket >= before {
                continue;
            }
            let sums = h.metrics.map(|m| m.sum);
            let burnout_max = h.metrics[3].max;
            let same = days
                .iter_mut()
                .rev()
                .take_while(|d| d.employee == h.employee && d.bucket == bucket)
                .find(|d| d.team == h.team);
            if let Some(d) = same {
                d.samples += h.samples;
                for (a, b) in d.sums.iter_mut().zip(sums) {
                    *a += b;
                }
                d.burnout_max = d.burnout_max.max(burnout_max);
            } else {
                days.push(TeamDay {
                    bucket,
                    employee: h.employee.clone(),
                    team: h.team.clone(),
                    samples: h.samples,
                    sums,
                    burnout_max,
                });
            }
        }
        days.sort_by(|a, b| {
            (&a.employee, a.bucket, &a.team).cmp(&(&b.employee, b.bucket, &b.team))
        });
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use organism_domain::{EmployeeId, MetricValues, TeamName};

    fn sample(employee: &str, team: &str, h: u32, m: u32, burnout: f64) -> MetricSample {
        MetricSample {
            employee_id: EmployeeId::parse(employee).unwrap(),
            team: Some(TeamName::parse(team).unwrap()),
            time: Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap(),
            values: MetricValues::new(0.5, 0.25, 0.125, burnout).unwrap(),
        }
    }

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn an_hour_sums_its_samples_and_takes_the_team_of_the_latest() {
        let batch = [
            sample("e1", "later", 10, 45, 30.0),
            sample("e1", "earlier", 10, 0, 10.0),
            sample("e1", "earlier", 10, 15, 20.0),
        ];
        let hours = BatchHours::before(&batch, t(23)).hours;
        assert_eq!(hours.len(), 1);
        let h = &hours[0];
        assert_eq!((h.bucket, h.samples), (t(10), 3));
        assert_eq!(h.team.as_deref(), Some("later"));
        let burnout = h.metrics[3];
        assert_eq!(
            (burnout.sum, burnout.sumsq, burnout.min, burnout.max),
            (60.0, 1400.0, 10.0, 30.0)
        );
        assert_eq!(h.metrics[0].sum, 1.5);
    }

    #[test]
    fn only_hours_before_the_limit_are_kept_in_key_order() {
        let batch = [
            sample("e2", "a", 9, 0, 1.0),
            sample("e1", "a", 11, 0, 1.0),
            sample("e1", "a", 9, 30, 1.0),
            sample("e1", "a", 12, 0, 1.0),
        ];
        let keys: Vec<_> = BatchHours::before(&batch, t(12))
            .hours
            .iter()
            .map(|h| (h.employee.clone(), h.bucket))
            .collect();
        assert_eq!(
            keys,
            [
                ("e1".to_string(), t(9)),
                ("e1".to_string(), t(11)),
                ("e2".to_string(), t(9))
            ]
        );
    }

    #[test]
    fn the_organisations_hour_and_the_team_days_add_the_employee_hours() {
        let batch = [
            sample("e1", "a", 9, 0, 10.0),
            sample("e2", "a", 9, 0, 50.0),
            sample("e1", "b", 10, 0, 70.0),
            sample("e1", "a", 11, 0, 20.0),
        ];
        let hours = BatchHours::before(&batch, t(23));
        let org = hours.org_hours();
        assert_eq!(org.len(), 3);
        assert_eq!((org[0].bucket, org[0].samples), (t(9), 2));
        assert_eq!((org[0].metrics[3].sum, org[0].metrics[3].max), (60.0, 50.0));
        let days = hours.team_days(t(0) + chrono::Duration::days(1));
        let rows: Vec<_> = days
            .iter()
            .map(|d| {
                (
                    d.employee.as_str(),
                    d.team.as_deref(),
                    d.samples,
                    d.sums[3],
                    d.burnout_max,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("e1", Some("a"), 2, 30.0, 20.0),
                ("e1", Some("b"), 1, 70.0, 70.0),
                ("e2", Some("a"), 1, 50.0, 50.0),
            ]
        );
        // Days from the limit on are left to the refresh.
        assert!(hours.team_days(t(0)).is_empty());
    }
}
