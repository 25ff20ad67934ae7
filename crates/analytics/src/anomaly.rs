//! Unusual day-over-day changes, judged against each employee's own
//! changes.
//!
//! **Rule** (the modified z-score of Iglewicz & Hoaglin, "How to Detect and
//! Handle Outliers", 1993). For one employee, let `c(d) = y(d) − y(d−1)` be
//! the change of the daily mean from one calendar day to the next (a pair
//! of days is used only when both have a value: a change across a gap is
//! not a day-over-day change and is left out). With `m` the median of that
//! employee's changes and `MAD` the median of `|c − m|`,
//!
//! `z(d) = 0.6745 · (c(d) − m) / MAD`
//!
//! and the day is flagged when `|z(d)| ≥ threshold` (3.5, the authors'
//! recommendation). 0.6745 = Φ⁻¹(0.75) makes `MAD/0.6745` estimate the
//! standard deviation for normal changes, so `z` reads as a number of
//! standard deviations that a few outliers cannot inflate (median and MAD
//! ignore up to half the data).
//!
//! **MAD = 0** (more than half the changes equal, e.g. a series that rarely
//! moves): the scale falls back to the mean absolute deviation from the
//! median, `z = (c − m) / (1.253314 · MeanAD)` (1.253314 = √(π/2) makes
//! MeanAD estimate σ for normal data; the fallback of IBM SPSS's modified
//! z-score). If that is 0 too, every change is the same and nothing is
//! flagged.
//!
//! **Weekly rhythm.** When every weekday has at least
//! [`MIN_CHANGES_PER_WEEKDAY`] changes into it, each change first loses the
//! median of the employee's changes into the same weekday, so that lighter
//! weekends are not two unusual changes a week (a step, one change, is
//! ignored by that median); the answer still reports the change as
//! measured, and the score of the adjusted one.
//!
//! **Baseline.** `m` and `MAD` are computed from all of the employee's
//! changes in the panel: the days before `window_start` the caller adds as
//! a baseline and the window itself. Only changes landing on a day
//! `>= window_start` are reported. An employee with fewer than
//! [`MIN_CHANGES`] changes is not judged.
//!
//! **False positives.** For stationary Gaussian noise `y(d) = μ + σ·ε(d)`
//! the changes are N(0, 2σ²), `MAD → 0.6745·√2·σ`, so `z → N(0, 1)` and a
//! day is flagged with probability `2·(1 − Φ(3.5)) = 4.65·10⁻⁴` (about one
//! employee-day in 2,150). With a short baseline the sample MAD is noisy and
//! the rate is higher (measured in docs/ANALYTICS.md); with heavy-tailed
//! changes it is higher too.

use chrono::NaiveDate;
use serde::Serialize;

use crate::PanelValue;

/// The cut-off Iglewicz & Hoaglin recommend for the modified z-score.
pub const DEFAULT_THRESHOLD: f64 = 3.5;

/// The fewest day-over-day changes an employee needs before a change can be
/// called unusual for them: fewer make the median and MAD too uncertain.
pub const MIN_CHANGES: usize = 10;

/// Φ⁻¹(0.75): `MAD / 0.6745` estimates σ for normal data.
const MAD_CONSISTENCY: f64 = 0.6745;

/// √(π/2): `1.253314 · MeanAD` estimates σ for normal data.
const MEAN_AD_CONSISTENCY: f64 = 1.253_314;

/// An unusual change of one employee between two consecutive days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Anomaly {
    /// The employee (index into the caller's list).
    pub unit: usize,
    /// The day after the change.
    pub day: NaiveDate,
    /// The daily mean of the day before.
    pub before: f64,
    /// The daily mean of `day`.
    pub after: f64,
    /// `after − before`.
    pub change: f64,
    /// The modified z-score of the change (signed).
    pub score: f64,
}

/// The employee-days of `panel` from `window_start` on whose change from
/// the day before has `|z| >= threshold`, by `|z|` descending (then by
/// unit and day).
pub fn detect(panel: &[PanelValue], window_start: NaiveDate, threshold: f64) -> Vec<Anomaly> {
    let mut sorted: Vec<PanelValue> = panel
        .iter()
        .filter(|v| v.value.is_finite())
        .copied()
        .collect();
    // Usually already in (unit, day) order from the store: pdqsort is then
    // linear.
    sorted.sort_unstable_by_key(|v| (v.unit, v.day));
    sorted.dedup_by_key(|v| (v.unit, v.day));
    let mut anomalies: Vec<Anomaly> = sorted
        .chunk_by(|a, b| a.unit == b.unit)
        .flat_map(|days| unit_anomalies(days, window_start, threshold))
        .collect();
    anomalies.sort_by(|a, b| {
        b.score
            .abs()
            .total_cmp(&a.score.abs())
            .then(a.unit.cmp(&b.unit))
            .then(a.day.cmp(&b.day))
    });
    anomalies
}

/// The changes between consecutive calendar days of one employee's
/// day-sorted values: `(before, after)` pairs.
fn changes(days: &[PanelValue]) -> Vec<(PanelValue, PanelValue)> {
    days.windows(2)
        .filter(|w| (w[1].day - w[0].day).num_days() == 1)
        .map(|w| (w[0], w[1]))
        .collect()
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The robust centre and scale of `values`: median and σ estimated by
/// MAD/0.6745, or by 1.253314·MeanAD when the MAD is 0; `None` when every
/// value is the same. `tiny` is the scale below which a spread is
/// rounding, not variation.
fn centre_and_scale(values: &[f64], tiny: f64) -> Option<(f64, f64)> {
    let m = median(&sorted(values.to_vec()));
    let deviations: Vec<f64> = values.iter().map(|c| (c - m).abs()).collect();
    let mad = median(&sorted(deviations.clone()));
    if mad > tiny {
        return Some((m, mad / MAD_CONSISTENCY));
    }
    let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
    (mean_ad > tiny).then_some((m, MEAN_AD_CONSISTENCY * mean_ad))
}

/// The fewest changes into every weekday for the weekly rhythm to be
/// removed (fewer: the changes are judged as they are).
pub const MIN_CHANGES_PER_WEEKDAY: usize = 12;

/// Each change minus the median of the employee's changes into the same
/// weekday, when every weekday has at least [`MIN_CHANGES_PER_WEEKDAY`] of
/// them; otherwise the changes as they are. Work that is lighter at
/// weekends moves everyone's metrics the same way twice a week; without
/// this, those two changes a week would be judged unusual against the
/// other five. A step (a real change of level) is one change, which the
/// weekday's median ignores.
fn without_weekly_rhythm(pairs: &[(PanelValue, PanelValue)], changes: &[f64]) -> Vec<f64> {
    use chrono::Datelike;
    let weekday = |p: &(PanelValue, PanelValue)| p.1.day.weekday().num_days_from_monday() as usize;
    let mut by_weekday: [Vec<f64>; 7] = Default::default();
    for (p, &c) in pairs.iter().zip(changes) {
        by_weekday[weekday(p)].push(c);
    }
    if by_weekday.iter().any(|w| w.len() < MIN_CHANGES_PER_WEEKDAY) {
        return changes.to_vec();
    }
    let medians: Vec<f64> = by_weekday.into_iter().map(|w| median(&sorted(w))).collect();
    pairs
        .iter()
        .zip(changes)
        .map(|(p, &c)| c - medians[weekday(p)])
        .collect()
}

fn unit_anomalies(days: &[PanelValue], window_start: NaiveDate, threshold: f64) -> Vec<Anomaly> {
    let pairs = changes(days);
    if pairs.len() < MIN_CHANGES {
        return Vec::new();
    }
    let values: Vec<f64> = pairs.iter().map(|(b, a)| a.value - b.value).collect();
    let judged = without_weekly_rhythm(&pairs, &values);
    let magnitude = days.iter().map(|v| v.value.abs()).sum::<f64>() / days.len() as f64;
    let Some((centre, scale)) = centre_and_scale(&judged, 1e-9 * (1.0 + magnitude)) else {
        return Vec::new();
    };
    pairs
        .iter()
        .zip(values.iter().zip(&judged))
        .filter(|((_, after), _)| after.day >= window_start)
        .map(|((before, after), (&change, &judged))| Anomaly {
            unit: after.unit,
            day: after.day,
            before: before.value,
            after: after.value,
            change,
            score: (judged - centre) / scale,
        })
        .filter(|a| a.score.abs() >= threshold)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;

    fn day(i: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date") + Days::new(i)
    }

    fn unit_series(unit: usize, values: &[f64]) -> Vec<PanelValue> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| PanelValue {
                unit,
                day: day(i as u64),
                value,
            })
            .collect()
    }

    /// A deterministic, aperiodic wiggle of ±1 around 50.
    fn wiggle(n: usize) -> Vec<f64> {
        (0..n).map(|i| 50.0 + (i as f64 * 1.7).sin()).collect()
    }

    #[test]
    fn the_score_is_the_modified_z_score_of_the_change() {
        // 19 changes: fewer than 3 into some weekday, so no weekly rhythm
        // is removed and the score is the plain modified z-score.
        let mut v = wiggle(20);
        v[12] += 30.0;
        let found = detect(&unit_series(0, &v), day(0), DEFAULT_THRESHOLD);
        let changes: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let m = median(&sorted(changes.clone()));
        let mad = median(&sorted(changes.iter().map(|c| (c - m).abs()).collect()));
        let up = found
            .iter()
            .find(|a| a.day == day(12))
            .expect("the jump up");
        assert_eq!((up.before, up.after), (v[11], v[12]));
        assert!((up.change - (v[12] - v[11])).abs() < 1e-12);
        assert!((up.score - 0.6745 * (up.change - m) / mad).abs() < 1e-9);
        // The way back down is a change too, of the opposite sign.
        let down = found.iter().find(|a| a.day == day(13)).expect("the drop");
        assert!(down.score < 0.0);
        assert!(found.iter().all(|a| a.score.abs() >= 3.5));
    }

    #[test]
    fn anomalies_are_ranked_by_the_size_of_their_score() {
        let mut panel = Vec::new();
        for (unit, jump) in [(0, 10.0), (1, -40.0), (2, 25.0)] {
            let mut v = wiggle(30);
            for x in &mut v[15..] {
                *x += jump;
            }
            panel.extend(unit_series(unit, &v));
        }
        let found = detect(&panel, day(0), DEFAULT_THRESHOLD);
        let units: Vec<usize> = found.iter().map(|a| a.unit).collect();
        assert_eq!(units, vec![1, 2, 0]);
        assert!(
            found
                .windows(2)
                .all(|w| w[0].score.abs() >= w[1].score.abs())
        );
    }

    #[test]
    fn days_before_the_window_are_baseline_only() {
        let mut v = wiggle(40);
        v[5] += 30.0;
        v[30] += 30.0;
        let found = detect(&unit_series(0, &v), day(25), DEFAULT_THRESHOLD);
        assert!(!found.is_empty());
        assert!(found.iter().all(|a| a.day >= day(25)), "{found:?}");
    }

    #[test]
    fn an_employee_with_fewer_than_ten_changes_is_not_judged() {
        let mut v = wiggle(10);
        v[8] += 100.0;
        assert!(detect(&unit_series(0, &v), day(0), DEFAULT_THRESHOLD).is_empty());
        let mut v = wiggle(11);
        v[8] += 100.0;
        assert!(!detect(&unit_series(0, &v), day(0), DEFAULT_THRESHOLD).is_empty());
    }

    #[test]
    fn changes_across_a_missing_day_are_not_day_over_day_changes() {
        let mut panel = unit_series(0, &wiggle(30));
        // Day 15 is missing and the level is 20 higher after it.
        panel.retain(|v| v.day != day(15));
        for v in panel.iter_mut().filter(|v| v.day > day(15)) {
            v.value += 20.0;
        }
        assert!(detect(&panel, day(0), DEFAULT_THRESHOLD).is_empty());
    }

    #[test]
    fn with_a_zero_mad_the_mean_absolute_deviation_sets_the_scale() {
        let mut v = vec![40.0; 30];
        for x in &mut v[20..] {
            *x = 45.0;
        }
        let found = detect(&unit_series(0, &v), day(0), DEFAULT_THRESHOLD);
        assert_eq!(found.len(), 1, "{found:?}");
        // 29 changes, all 0 but one of 5: MeanAD = 5/29.
        let expected = 5.0 / (1.253314 * 5.0 / 29.0);
        assert!((found[0].score - expected).abs() < 1e-9, "{found:?}");
        assert_eq!(found[0].day, day(20));
    }

    #[test]
    fn a_weekly_rhythm_is_not_an_anomaly_but_a_step_on_top_of_it_is() {
        // Fourteen weeks of 50 on weekdays and 40 at weekends (2026-01-01
        // is a Thursday: days 2 and 3 are the first weekend), with the
        // aperiodic wiggle; then a step of +15 on day 90.
        use chrono::Datelike;
        let wiggle = wiggle(100);
        let v: Vec<f64> = (0..100)
            .map(|i| {
                let weekend = day(i as u64).weekday().num_days_from_monday() >= 5;
                let step = if i >= 90 { 15.0 } else { 0.0 };
                wiggle[i] - if weekend { 10.0 } else { 0.0 } + step
            })
            .collect();
        let found = detect(&unit_series(0, &v), day(0), DEFAULT_THRESHOLD);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].day, day(90));
        // Judged as they are, the weekend changes would all be flagged.
        let pairs = changes(&unit_series(0, &v));
        let raw: Vec<f64> = pairs.iter().map(|(b, a)| a.value - b.value).collect();
        let (centre, scale) = centre_and_scale(&raw, 1e-9).expect("a spread");
        let flagged = raw
            .iter()
            .filter(|c| ((*c - centre) / scale).abs() >= DEFAULT_THRESHOLD)
            .count();
        assert!(flagged >= 26, "{flagged}");
    }

    #[test]
    fn a_constant_series_has_no_anomalies() {
        assert!(detect(&unit_series(0, &[3.0; 30]), day(0), DEFAULT_THRESHOLD).is_empty());
    }
}
