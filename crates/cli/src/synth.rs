//! A synthetic organisation whose metrics move the way real ones do.
//!
//! The platform rebuilds the collaboration graph every few hours, so a real
//! employee's metrics are a step function: steady between rebuilds, moving a
//! little at each one, with a weekly rhythm (quieter weekends) and slow
//! drifts. White noise would make compression and charts look nothing like
//! production, so values here are held constant between rebuilds
//! ([`REBUILD_EVERY`]) and vary smoothly across them. About one employee in
//! twelve drifts toward burnout over a month, receives an intervention, and
//! recovers over the following two weeks.
//!
//! Everything is a pure function of (seed, employee, time), so any day can
//! be generated on its own, in any order, on any thread.

use chrono::{DateTime, Datelike, Duration, DurationRound, Utc, Weekday};
use organism_domain::{EmployeeId, MetricSample, MetricValues, TeamName};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How often the simulated platform rebuilds the graph.
pub const REBUILD_EVERY: Duration = Duration::hours(4);

const FUNCTIONS: [&str; 12] = [
    "Platform", "Payments", "Search", "Mobile", "Data", "Security", "Sales", "Support", "Finance",
    "People", "Design", "Research",
];

#[derive(Debug, Clone)]
pub struct OrgSpec {
    pub employees: usize,
    pub days: u32,
    pub interval: Duration,
    pub seed: u64,
    /// The last sample time (exclusive); samples cover `days` days before it.
    pub end: DateTime<Utc>,
}

/// A stretch of rising burnout, then an intervention and recovery.
#[derive(Debug, Clone, Copy)]
pub struct Drift {
    /// Days from the start of the history.
    pub start_day: f64,
    /// The day the intervention begins (drift peaks here).
    pub intervention_day: f64,
    /// Burnout points added at the peak.
    pub height: f64,
}

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: EmployeeId,
    pub team: TeamName,
    degree: f64,
    betweenness: f64,
    clustering: f64,
    burnout: f64,
    phase: f64,
    pub drift: Option<Drift>,
}

#[derive(Debug, Clone)]
pub struct SyntheticOrg {
    pub spec: OrgSpec,
    pub employees: Vec<Employee>,
    start: DateTime<Utc>,
}

impl SyntheticOrg {
    pub fn new(spec: OrgSpec) -> anyhow::Result<Self> {
        anyhow::ensure!(spec.employees > 0, "at least one employee");
        anyhow::ensure!(
            spec.interval >= Duration::seconds(1),
            "interval of at least a second"
        );
        let end = spec.end.duration_trunc(spec.interval)?;
        let start = end - Duration::days(i64::from(spec.days));
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        // Teams of 3 to 20 people, so that some fall under the minimum
        // group size of aggregates.
        let mut teams: Vec<(TeamName, usize)> = Vec::new();
        let mut assigned = 0;
        while assigned < spec.employees {
            let size = rng.random_range(3..=20).min(spec.employees - assigned);
            let name = format!(
                "{} {}",
                FUNCTIONS[teams.len() % FUNCTIONS.len()],
                teams.len() / FUNCTIONS.len() + 1
            );
            teams.push((TeamName::parse(name)?, size));
            assigned += size;
        }
        let mut employees = Vec::with_capacity(spec.employees);
        for (team, size) in &teams {
            for _ in 0..*size {
                let n = employees.len() + 1;
                let broker = rng.random_bool(0.05);
                let drifts = rng.random_bool(1.0 / 12.0) && spec.days >= 10;
                let drift = drifts.then(|| {
                    let days = f64::from(spec.days);
                    let start_day = rng.random_range(0.0..(days * 0.85));
                    Drift {
                        start_day,
                        intervention_day: start_day + rng.random_range(14.0..35.0),
                        height: rng.random_range(30.0..50.0),
                    }
                });
                employees.push(Employee {
                    id: EmployeeId::parse(format!("emp_{n:05}"))?,
                    team: team.clone(),
                    degree: (2.0 + rng.random_range(0.0..1.0) * (*size as f64 + 10.0))
                        / spec.employees.max(40) as f64,
                    betweenness: if broker {
                        rng.random_range(0.08..0.3)
                    } else {
                        rng.random_range(0.0..0.03)
                    },
                    clustering: rng.random_range(0.15..0.8),
                    burnout: rng.random_range(15.0..55.0),
                    phase: rng.random_range(0.0..std::f64::consts::TAU),
                    drift,
                });
            }
        }
        Ok(Self {
            spec,
            employees,
            start,
        })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn samples_per_day(&self) -> usize {
        (Duration::days(1).num_seconds() / self.spec.interval.num_seconds().max(1)) as usize
    }

    /// Every employee's samples on day `day` (0 = the first day).
    pub fn day(&self, day: u32) -> Vec<MetricSample> {
        self.day_of(day, 0..self.employees.len())
    }

    /// The samples on day `day` of the employees at `employees` (indexes
    /// into [`SyntheticOrg::employees`]), employee by employee.
    pub fn day_of(&self, day: u32, employees: std::ops::Range<usize>) -> Vec<MetricSample> {
        let day_start = self.start + Duration::days(i64::from(day));
        let per_day = self.samples_per_day();
        let employees = &self.employees
            [employees.start.min(self.employees.len())..employees.end.min(self.employees.len())];
        let mut out = Vec::with_capacity(per_day * employees.len());
        for e in employees {
            for k in 0..per_day {
                let time = day_start + self.spec.interval * k as i32;
                if time >= self.spec.end {
                    break;
                }
                out.push(self.sample(e, time));
            }
        }
        out
    }

    /// The sample of employee `e` at `time`.
    pub fn sample(&self, e: &Employee, time: DateTime<Utc>) -> MetricSample {
        // The values of the graph rebuild this sample belongs to.
        let rebuild = time.duration_trunc(REBUILD_EVERY).unwrap_or(time);
        let days = (rebuild - self.start).num_seconds() as f64 / 86_400.0;
        let weekend = matches!(rebuild.weekday(), Weekday::Sat | Weekday::Sun);
        let slow = (days / 17.0 * std::f64::consts::TAU + e.phase).sin();
        let jitter = hash_unit(self.spec.seed, e.id.as_str(), rebuild.timestamp()) - 0.5;
        let activity = if weekend { 0.55 } else { 1.0 };
        let degree = e.degree * activity * (1.0 + 0.1 * slow + 0.04 * jitter);
        let betweenness = e.betweenness * activity * (1.0 + 0.15 * slow + 0.05 * jitter);
        let clustering = e.clustering + 0.04 * slow + 0.02 * jitter;
        let mut burnout = e.burnout + 4.0 * slow + 1.5 * jitter + if weekend { -5.0 } else { 2.0 };
        if let Some(d) = e.drift {
            burnout += drift_effect(d, days);
        }
        let values = MetricValues {
            degree_centrality: degree.clamp(0.0, 1.0),
            betweenness_centrality: betweenness.clamp(0.0, 1.0),
            clustering_coeff: clustering.clamp(0.0, 1.0),
            burnout_score: burnout.clamp(0.0, 100.0),
        };
        MetricSample {
            time,
            employee_id: e.id.clone(),
            team: Some(e.team.clone()),
            values,
        }
    }
}

/// Burnout points added by a drift `days` into the history: a linear rise to
/// the intervention, then an exponential recovery (half-life four days).
pub fn drift_effect(d: Drift, days: f64) -> f64 {
    if days < d.start_day {
        0.0
    } else if days < d.intervention_day {
        d.height * (days - d.start_day) / (d.intervention_day - d.start_day)
    } else {
        d.height * 0.5_f64.powf((days - d.intervention_day) / 4.0)
    }
}

/// A deterministic number in [0, 1) from (seed, id, time): SplitMix64 over
/// an FNV-1a hash of the inputs.
fn hash_unit(seed: u64, id: &str, t: i64) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in id.bytes().chain(t.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> SyntheticOrg {
        SyntheticOrg::new(OrgSpec {
            employees: 200,
            days: 30,
            interval: Duration::minutes(15),
            seed: 7,
            end: DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        })
        .unwrap()
    }

    #[test]
    fn every_employee_gets_one_sample_per_interval() {
        let org = org();
        assert_eq!(org.day(0).len(), 200 * 96);
    }

    #[test]
    fn a_day_is_the_concatenation_of_its_employee_slices() {
        let org = org();
        let mut pieces = org.day_of(4, 0..70);
        pieces.extend(org.day_of(4, 70..500));
        assert_eq!(pieces, org.day(4));
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(org().day(3), org().day(3));
    }

    #[test]
    fn values_hold_between_graph_rebuilds_and_move_across_them() {
        let org = org();
        let day = org.day(2);
        let first: Vec<_> = day
            .iter()
            .filter(|s| s.employee_id.as_str() == "emp_00001")
            .collect();
        // 16 samples of 15 minutes per 4-hour rebuild.
        assert!(first[..16].windows(2).all(|w| w[0].values == w[1].values));
        assert_ne!(first[15].values, first[16].values);
    }

    #[test]
    fn every_value_is_within_its_range_and_teams_vary_in_size() {
        let org = org();
        for s in org.day(10) {
            assert!(
                MetricValues::new(
                    s.values.degree_centrality,
                    s.values.betweenness_centrality,
                    s.values.clustering_coeff,
                    s.values.burnout_score
                )
                .is_ok()
            );
        }
        let mut sizes = std::collections::HashMap::new();
        for e in &org.employees {
            *sizes.entry(e.team.clone()).or_insert(0) += 1;
        }
        assert!(sizes.values().any(|n| *n < 5), "some teams are small");
        assert!(sizes.len() >= 10);
    }

    #[test]
    fn a_drift_rises_to_the_intervention_then_recovers() {
        let d = Drift {
            start_day: 10.0,
            intervention_day: 30.0,
            height: 40.0,
        };
        assert_eq!(drift_effect(d, 5.0), 0.0);
        assert!((drift_effect(d, 20.0) - 20.0).abs() < 1e-9);
        assert!((drift_effect(d, 30.0) - 40.0).abs() < 1e-9);
        assert!((drift_effect(d, 34.0) - 20.0).abs() < 1e-9);
        assert!(drift_effect(d, 60.0) < 2.0);
    }
}
