//! How good the forecasts are, measured on the history: hold out the last
//! days of every series, forecast them from the rest, and compare with two
//! baselines any forecast should beat.
//!
//! - **naive**: the last fitted value, for every held-out day;
//! - **drift**: the line through the first and the last fitted values,
//!   extended (Hyndman & Athanasopoulos, "Forecasting: Principles and
//!   Practice", §5.2).
//!
//! The errors are pooled over every held-out day of every unit (a unit with
//! more held-out days weighs more), and the coverage is the share of those
//! days whose value lies inside the forecast's 80% and 95% intervals.

use serde::Serialize;

use crate::forecast::{MIN_HISTORY_DAYS, forecast};
use crate::{AnalyticsError, DayValue, Result};

/// The figures of one backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Backtest {
    /// Units forecast.
    pub units: usize,
    /// Units left out: fewer than `holdout` + 7 days with a value, or a
    /// series the model could not fit.
    pub skipped: usize,
    /// Held-out days compared (over all units).
    pub days: usize,
    /// Mean absolute error of the model's point forecasts.
    pub mae_model: f64,
    /// Mean absolute error of the last fitted value.
    pub mae_naive: f64,
    /// Mean absolute error of the line through the first and last fitted
    /// values.
    pub mae_drift: f64,
    /// Share of held-out days inside the 80% interval.
    pub coverage_80: f64,
    /// Share of held-out days inside the 95% interval.
    pub coverage_95: f64,
}

/// Sums over the held-out days.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    days: usize,
    model: f64,
    naive: f64,
    drift: f64,
    inside_80: usize,
    inside_95: usize,
}

/// Holds out the last `holdout` observed days of every unit, forecasts them
/// from the days before, and reports the errors and coverage.
///
/// Days are the days with a value: with gaps, the held-out days may span
/// more calendar days, and the forecast reaches as far as the last of them.
pub fn backtest(series_per_unit: &[Vec<DayValue>], holdout: u32) -> Result<Backtest> {
    if holdout == 0 {
        return Err(AnalyticsError::NotEnoughData(
            "a backtest needs at least 1 held-out day".to_owned(),
        ));
    }
    let mut total = Tally::default();
    let (mut units, mut skipped) = (0, 0);
    for series in series_per_unit {
        match unit_tally(series, holdout as usize) {
            Some(t) => {
                units += 1;
                total.days += t.days;
                total.model += t.model;
                total.naive += t.naive;
                total.drift += t.drift;
                total.inside_80 += t.inside_80;
                total.inside_95 += t.inside_95;
            }
            None => skipped += 1,
        }
    }
    if units == 0 {
        return Err(AnalyticsError::NotEnoughData(format!(
            "a backtest needs a unit with at least {} days with a value ({MIN_HISTORY_DAYS} to fit, {holdout} held out), none of {} has",
            MIN_HISTORY_DAYS + holdout as usize,
            series_per_unit.len()
        )));
    }
    let n = total.days as f64;
    Ok(Backtest {
        units,
        skipped,
        days: total.days,
        mae_model: total.model / n,
        mae_naive: total.naive / n,
        mae_drift: total.drift / n,
        coverage_80: total.inside_80 as f64 / n,
        coverage_95: total.inside_95 as f64 / n,
    })
}

/// The tally of one unit, or `None` when it is too short or cannot be fit.
fn unit_tally(series: &[DayValue], holdout: usize) -> Option<Tally> {
    let mut days: Vec<DayValue> = series
        .iter()
        .filter(|v| v.value.is_finite())
        .copied()
        .collect();
    days.sort_by_key(|v| v.day);
    if days.len() < MIN_HISTORY_DAYS + holdout {
        return None;
    }
    let (fitted, held_out) = days.split_at(days.len() - holdout);
    let (first, last) = (fitted[0], fitted[fitted.len() - 1]);
    let horizon = (held_out[held_out.len() - 1].day - last.day).num_days();
    let f = forecast(fitted, u32::try_from(horizon).ok()?, None, None).ok()?;
    let slope = (last.value - first.value) / (last.day - first.day).num_days() as f64;
    let mut t = Tally::default();
    for actual in held_out {
        let h = (actual.day - last.day).num_days();
        let p = f.points.get(usize::try_from(h - 1).ok()?)?;
        let y = actual.value;
        t.days += 1;
        t.model += (y - p.value).abs();
        t.naive += (y - last.value).abs();
        t.drift += (y - (last.value + slope * h as f64)).abs();
        t.inside_80 += usize::from(p.lower_80 <= y && y <= p.upper_80);
        t.inside_95 += usize::from(p.lower_95 <= y && y <= p.upper_95);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Days, NaiveDate};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn day(i: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date") + Days::new(i)
    }

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A synthetic organisation of `employees` burnout series of `days`
    /// days: a base in 20..70, a slope in −0.3..0.3 points a day that
    /// drifts (σ 0.02 a day), a level that wanders (σ 0.2..1) and daily
    /// noise (σ 1..3); one day in twenty missing.
    fn organisation(seed: u64, employees: usize, days: u64) -> Vec<Vec<DayValue>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..employees)
            .map(|_| {
                let mut level: f64 = rng.random_range(20.0..70.0);
                let mut slope: f64 = rng.random_range(-0.3..0.3);
                let wander: f64 = rng.random_range(0.2..1.0);
                let noise: f64 = rng.random_range(1.0..3.0);
                let mut series = Vec::new();
                for d in 0..days {
                    slope += 0.02 * gaussian(&mut rng);
                    level += slope + wander * gaussian(&mut rng);
                    let value = level + noise * gaussian(&mut rng);
                    if rng.random_range(0..20) != 0 {
                        series.push(DayValue { day: day(d), value });
                    }
                }
                series
            })
            .collect()
    }

    #[test]
    fn on_an_organisation_with_trends_and_noise_the_model_beats_naive_and_covers_95_percent() {
        let org = organisation(2026, 300, 90);
        let b = backtest(&org, 14).expect("backtest");
        println!("{b:?}");
        assert_eq!(b.units, 300);
        assert!(b.days > 300 * 13, "{b:?}");
        assert!(b.mae_model < b.mae_naive, "{b:?}");
        assert!((0.90..=0.99).contains(&b.coverage_95), "{b:?}");
        assert!(b.coverage_80 < b.coverage_95, "{b:?}");
    }

    /// Series shaped like the demo's: a base, a weekend dip, a 17-day
    /// cycle of random phase and amplitude, and daily noise.
    fn cyclic_organisation(seed: u64, employees: usize, days: u64) -> Vec<Vec<DayValue>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..employees)
            .map(|_| {
                let base: f64 = rng.random_range(20.0..70.0);
                let amplitude: f64 = rng.random_range(2.0..6.0);
                let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                let dip: f64 = rng.random_range(0.0..7.0);
                let noise: f64 = rng.random_range(0.3..1.5);
                (0..days)
                    .map(|d| {
                        use chrono::Datelike;
                        let weekend = day(d).weekday().num_days_from_monday() >= 5;
                        let cycle = (d as f64 / 17.0 * std::f64::consts::TAU + phase).sin();
                        DayValue {
                            day: day(d),
                            value: base + amplitude * cycle - if weekend { dip } else { 0.0 }
                                + noise * gaussian(&mut rng),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn on_an_organisation_with_cycles_the_model_beats_naive_and_covers_95_percent() {
        let b = backtest(&cyclic_organisation(17, 200, 90), 14).expect("backtest");
        println!("{b:?}");
        assert_eq!(b.units, 200);
        assert!(b.mae_model < 0.5 * b.mae_naive, "{b:?}");
        assert!((0.90..=0.99).contains(&b.coverage_95), "{b:?}");
        assert!(b.coverage_80 < b.coverage_95, "{b:?}");
    }

    #[test]
    fn the_baselines_are_the_last_value_and_the_line_through_the_ends() {
        // Fitted days 0..=9 on the line 2t, then held-out values of 100.
        let series: Vec<DayValue> = (0..12)
            .map(|t| DayValue {
                day: day(t),
                value: if t < 10 { 2.0 * t as f64 } else { 100.0 },
            })
            .collect();
        let b = backtest(&[series], 2).expect("backtest");
        assert_eq!(b.days, 2);
        // Naive: 18 for both days; drift: 20 and 22.
        assert!((b.mae_naive - 82.0).abs() < 1e-9, "{b:?}");
        assert!((b.mae_drift - 79.0).abs() < 1e-9, "{b:?}");
    }

    #[test]
    fn units_too_short_to_hold_out_are_skipped() {
        let mut org = organisation(7, 3, 30);
        org.push(org[0][..10].to_vec());
        let b = backtest(&org, 7).expect("backtest");
        assert_eq!((b.units, b.skipped), (3, 1));
        let err = backtest(&org[3..], 7).expect_err("nothing long enough");
        assert!(matches!(err, AnalyticsError::NotEnoughData(m) if m.contains("14 days")));
    }
}
