//! Did an intervention work? Two estimates of its effect on a metric:
//!
//! - [`interrupted_time_series`]: the target's own daily means before and
//!   after the start, a line for each segment, the jump and the change of
//!   slope at the start, with Newey–West standard errors (daily means are
//!   autocorrelated: ordinary standard errors would be too small).
//! - [`difference_in_differences`]: the change of the treated employees
//!   against the change of a comparison group over the same days, on the
//!   employee-day panel, with standard errors clustered by employee (an
//!   employee's days are not independent observations).
//!
//! Both are ordinary least squares ([`crate::regression`]) and match
//! statsmodels with its defaults (`tests/reference.rs`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::regression::{Estimate, Ols, newey_west_lags};
use crate::{AnalyticsError, DayValue, PanelValue, Result};

/// The interrupted time-series model, as reported in [`Its::model`].
pub const ITS_MODEL: &str = "y = b0 + b1·t + b2·post + b3·(t − t0)·post; t = days since the \
     first day, t0 = days from the first day to the start, post = 1 from the start on; OLS \
     with Newey–West (HAC, Bartlett kernel) standard errors";

/// Each segment needs this many days: a line through two points has no
/// residual, so nothing would measure its noise.
pub const MIN_SEGMENT_DAYS: usize = 3;

/// Days in all: twice the model's four coefficients, so at least as many
/// residual degrees of freedom as coefficients feed the HAC estimate.
pub const MIN_ITS_DAYS: usize = 8;

/// Difference in differences needs this many comparison employees: with
/// one, "the comparison group" is one person's noise, and a
/// cluster-robust standard error needs at least two clusters per group to
/// say anything.
pub const MIN_COMPARISON_UNITS: usize = 2;

/// Which side of the start a day is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    Before,
    After,
}

/// A point of a segment's fitted line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FittedDay {
    pub day: NaiveDate,
    pub value: f64,
    pub segment: Segment,
}

/// An interrupted time series: the pre-start line, and how the level and
/// the slope changed at the start.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Its {
    /// The model fitted, in words ([`ITS_MODEL`]).
    pub model: String,
    /// Days with a value before the start.
    pub days_before: usize,
    /// Days with a value from the start on.
    pub days_after: usize,
    /// Lags of the Newey–West estimator: the caller's, or
    /// `floor(4 · (n/100)^(2/9))` for `n` days.
    pub hac_lags: usize,
    /// `b0`: the pre-start line's value on the first day.
    pub baseline_level: Estimate,
    /// `b1`: the pre-start line's change per day.
    pub baseline_slope: Estimate,
    /// `b2`: the jump at the start (after minus the pre-start line's
    /// projection, on the start day).
    pub level_change: Estimate,
    /// `b3`: the change of the slope per day from the start on.
    pub slope_change: Estimate,
    /// Both segments' fitted lines, one point per day of the series.
    pub fitted: Vec<FittedDay>,
}

/// Fits the interrupted time-series model to a daily series (values of the
/// same day are averaged; values that are not finite are dropped). `start`
/// is the first day of the "after" segment; `hac_lags` defaults to the
/// Newey–West (1994) rule. Days missing from the series are simply absent:
/// `t` counts calendar days, and the HAC lags count observations, as in
/// statsmodels.
pub fn interrupted_time_series(
    series: &[DayValue],
    start: NaiveDate,
    hac_lags: Option<usize>,
) -> Result<Its> {
    let days = daily_means(series.iter().map(|d| (d.day, d.value)));
    let days_before = days.iter().filter(|d| d.day < start).count();
    let days_after = days.len() - days_before;
    if days_before < MIN_SEGMENT_DAYS || days_after < MIN_SEGMENT_DAYS {
        return Err(AnalyticsError::NotEnoughData(format!(
            "an interrupted time series needs at least {MIN_SEGMENT_DAYS} days with a value \
             before the start and {MIN_SEGMENT_DAYS} from the start on, got {days_before} \
             before and {days_after} after"
        )));
    }
    if days.len() < MIN_ITS_DAYS {
        return Err(AnalyticsError::NotEnoughData(format!(
            "an interrupted time series needs at least {MIN_ITS_DAYS} days with a value, got {}",
            days.len()
        )));
    }
    let first = days[0].day;
    let t0 = (start - first).num_days() as f64;
    let x = DMatrix::from_fn(days.len(), 4, |i, j| {
        let t = (days[i].day - first).num_days() as f64;
        let post = if days[i].day >= start { 1.0 } else { 0.0 };
        match j {
            0 => 1.0,
            1 => t,
            2 => post,
            _ => (t - t0) * post,
        }
    });
    let y = DVector::from_iterator(days.len(), days.iter().map(|d| d.value));
    let fit = Ols::fit(x, &y)?;
    let lags = hac_lags.unwrap_or_else(|| newey_west_lags(days.len()));
    let [baseline_level, baseline_slope, level_change, slope_change] =
        four(fit.estimates(&fit.hac_covariance(lags))?)?;
    let fitted = days
        .iter()
        .zip(fit.fitted().iter())
        .map(|(d, &value)| FittedDay {
            day: d.day,
            value,
            segment: if d.day < start {
                Segment::Before
            } else {
                Segment::After
            },
        })
        .collect();
    Ok(Its {
        model: ITS_MODEL.to_owned(),
        days_before,
        days_after,
        hac_lags: lags,
        baseline_level,
        baseline_slope,
        level_change,
        slope_change,
        fitted,
    })
}

/// A difference-in-differences estimate of the treated employees' change
/// against the comparison group's.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Did {
    /// `d` of `y = a + b·treated + c·post + d·treated·post`, with a
    /// standard error clustered by employee.
    pub estimate: Estimate,
    /// Treated employees with at least one value.
    pub treated_units: usize,
    /// Comparison employees with at least one value.
    pub comparison_units: usize,
    /// Employee-days in the regression.
    pub observations: usize,
    pub comparison_daily_means: Vec<DayValue>,
    pub treated_daily_means: Vec<DayValue>,
}

/// Difference in differences on an employee-day panel: every unit in
/// `treated` is treated, every other unit of the panel is the comparison
/// group, and `start` is the first "post" day. Values that are not finite
/// are dropped. Needs a treated unit with days before and after the start,
/// and at least [`MIN_COMPARISON_UNITS`] comparison units with days before
/// and after between them.
pub fn difference_in_differences(
    panel: &[PanelValue],
    treated: &[usize],
    start: NaiveDate,
) -> Result<Did> {
    let treated: BTreeSet<usize> = treated.iter().copied().collect();
    let rows: Vec<&PanelValue> = panel.iter().filter(|p| p.value.is_finite()).collect();
    check_did_groups(&rows, &treated, start)?;

    let is_treated = |p: &PanelValue| treated.contains(&p.unit);
    let x = DMatrix::from_fn(rows.len(), 4, |i, j| {
        let tr = if is_treated(rows[i]) { 1.0 } else { 0.0 };
        let post = if rows[i].day >= start { 1.0 } else { 0.0 };
        match j {
            0 => 1.0,
            1 => tr,
            2 => post,
            _ => tr * post,
        }
    });
    let y = DVector::from_iterator(rows.len(), rows.iter().map(|p| p.value));
    let groups: Vec<usize> = rows.iter().map(|p| p.unit).collect();
    let fit = Ols::fit(x, &y)?;
    let [_, _, _, estimate] = four(fit.estimates(&fit.cluster_covariance(&groups)?)?)?;

    let units = |want: bool| {
        rows.iter()
            .filter(|p| is_treated(p) == want)
            .map(|p| p.unit)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let means = |want: bool| {
        daily_means(
            rows.iter()
                .filter(|p| is_treated(p) == want)
                .map(|p| (p.day, p.value)),
        )
    };
    Ok(Did {
        estimate,
        treated_units: units(true),
        comparison_units: units(false),
        observations: rows.len(),
        comparison_daily_means: means(false),
        treated_daily_means: means(true),
    })
}

/// The data requirements of [`difference_in_differences`], each with its
/// own message.
fn check_did_groups(
    rows: &[&PanelValue],
    treated: &BTreeSet<usize>,
    start: NaiveDate,
) -> Result<()> {
    // unit -> (has a day before, has a day after)
    let mut sides: BTreeMap<usize, (bool, bool)> = BTreeMap::new();
    for p in rows {
        let side = sides.entry(p.unit).or_default();
        if p.day < start {
            side.0 = true;
        } else {
            side.1 = true;
        }
    }
    let treated_both = sides
        .iter()
        .filter(|(u, s)| treated.contains(u) && s.0 && s.1)
        .count();
    if treated_both == 0 {
        return Err(AnalyticsError::NotEnoughData(
            "difference in differences needs a treated employee with values both before and \
             after the start, there is none"
                .into(),
        ));
    }
    let comparison: Vec<(bool, bool)> = sides
        .iter()
        .filter(|(u, _)| !treated.contains(u))
        .map(|(_, s)| *s)
        .collect();
    if comparison.len() < MIN_COMPARISON_UNITS {
        return Err(AnalyticsError::NotEnoughData(format!(
            "difference in differences needs at least {MIN_COMPARISON_UNITS} comparison \
             employees with values, got {}",
            comparison.len()
        )));
    }
    if !comparison.iter().any(|s| s.0) || !comparison.iter().any(|s| s.1) {
        return Err(AnalyticsError::NotEnoughData(
            "difference in differences needs comparison values both before and after the start"
                .into(),
        ));
    }
    Ok(())
}

/// The mean of each day's finite values, in day order.
fn daily_means(values: impl Iterator<Item = (NaiveDate, f64)>) -> Vec<DayValue> {
    let mut sums: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for (day, value) in values.filter(|(_, v)| v.is_finite()) {
        let s = sums.entry(day).or_default();
        s.0 += value;
        s.1 += 1;
    }
    sums.into_iter()
        .map(|(day, (sum, count))| DayValue {
            day,
            value: sum / count as f64,
        })
        .collect()
}

/// The four coefficients of a four-column design.
fn four(estimates: Vec<Estimate>) -> Result<[Estimate; 4]> {
    estimates.try_into().map_err(|v: Vec<Estimate>| {
        AnalyticsError::Degenerate(format!("expected 4 coefficients, got {}", v.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date") + chrono::Duration::days(i)
    }

    /// Deterministic noise in [-0.5, 0.5) (xorshift), so tests need no RNG
    /// crate and never change.
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed.max(1);
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    fn series(n: i64, f: impl Fn(i64) -> f64, sigma: f64) -> Vec<DayValue> {
        let mut e = noise(42);
        (0..n)
            .map(|i| DayValue {
                day: day(i),
                value: f(i) + sigma * e(),
            })
            .collect()
    }

    #[test]
    fn a_step_injected_in_a_series_is_found_as_the_level_change_within_its_ci() {
        let step = -0.08;
        let s = series(
            56,
            |i| 0.5 + 0.001 * i as f64 + if i >= 28 { step } else { 0.0 },
            0.02,
        );
        let its = interrupted_time_series(&s, day(28), None).expect("enough data");
        let l = its.level_change;
        assert!(l.ci95[0] <= step && step <= l.ci95[1], "{l:?}");
        assert!(l.p_value < 0.01, "{l:?}");
        let b = its.slope_change;
        assert!(b.ci95[0] <= 0.0 && 0.0 <= b.ci95[1], "{b:?}");
        assert_eq!((its.days_before, its.days_after, its.hac_lags), (28, 28, 3));
    }

    #[test]
    fn a_slope_change_is_found_as_the_slope_change() {
        let s = series(
            60,
            |i| 0.3 + if i >= 30 { 0.01 * (i - 30) as f64 } else { 0.0 },
            0.01,
        );
        let its = interrupted_time_series(&s, day(30), Some(5)).expect("enough data");
        let b = its.slope_change;
        assert!(b.ci95[0] <= 0.01 && 0.01 <= b.ci95[1], "{b:?}");
        assert!(b.p_value < 1e-6, "{b:?}");
        assert_eq!(its.hac_lags, 5);
    }

    #[test]
    fn the_fitted_lines_have_one_point_per_day_in_their_segment() {
        let mut s = series(20, |i| i as f64 * 0.1, 0.05);
        s.remove(4); // a missing day
        let its = interrupted_time_series(&s, day(10), Some(1)).expect("enough data");
        assert_eq!(its.fitted.len(), 19);
        assert!(
            its.fitted
                .iter()
                .all(|f| (f.day < day(10)) == (f.segment == Segment::Before))
        );
        assert_eq!(its.days_before, 9);
        // Each segment's fitted values lie on a line in calendar days.
        let before: Vec<&FittedDay> = its
            .fitted
            .iter()
            .filter(|f| f.segment == Segment::Before)
            .collect();
        let slope = its.baseline_slope.estimate;
        for w in before.windows(2) {
            let dt = (w[1].day - w[0].day).num_days() as f64;
            assert!((w[1].value - w[0].value - slope * dt).abs() < 1e-12);
        }
    }

    #[test]
    fn values_of_the_same_day_are_averaged_and_non_finite_ones_dropped() {
        let mut s = series(12, |i| i as f64, 0.3);
        s.push(DayValue {
            day: day(3),
            value: s[3].value + 1.0,
        });
        s.push(DayValue {
            day: day(4),
            value: f64::NAN,
        });
        let mut reference = series(12, |i| i as f64, 0.3);
        reference[3].value += 0.5;
        let a = interrupted_time_series(&s, day(6), Some(2)).expect("enough data");
        let b = interrupted_time_series(&reference, day(6), Some(2)).expect("enough data");
        assert_eq!(a.fitted.len(), 12);
        assert!((a.level_change.estimate - b.level_change.estimate).abs() < 1e-12);
    }

    #[test]
    fn a_segment_of_two_days_is_not_enough_data_and_says_what_is_needed() {
        let s = series(20, |i| i as f64, 0.1);
        match interrupted_time_series(&s, day(18), None) {
            Err(AnalyticsError::NotEnoughData(m)) => {
                assert!(m.contains("at least 3 days"), "{m}");
                assert!(m.contains("2 after"), "{m}");
            }
            other => panic!("expected NotEnoughData, got {other:?}"),
        }
    }

    #[test]
    fn seven_days_in_all_is_not_enough_data() {
        let s = series(7, |i| i as f64, 0.1);
        assert!(matches!(
            interrupted_time_series(&s, day(3), None),
            Err(AnalyticsError::NotEnoughData(m)) if m.contains("at least 8 days")
        ));
    }

    #[test]
    fn a_constant_series_is_degenerate() {
        let s = series(30, |_| 0.4, 0.0);
        assert!(matches!(
            interrupted_time_series(&s, day(15), None),
            Err(AnalyticsError::Degenerate(_))
        ));
    }

    #[test]
    fn the_model_serialises_with_lowercase_segments() {
        let s = series(10, |i| i as f64 * 0.2, 0.1);
        let its = interrupted_time_series(&s, day(5), Some(1)).expect("enough data");
        let json = serde_json::to_value(&its).expect("serialisable");
        assert_eq!(json["fitted"][0]["segment"], "before");
        assert_eq!(json["fitted"][9]["segment"], "after");
        assert_eq!(
            json["level_change"]["ci95"].as_array().map(Vec::len),
            Some(2)
        );
    }

    fn panel(
        units: usize,
        days: i64,
        start: i64,
        treated: &[usize],
        effect: f64,
    ) -> Vec<PanelValue> {
        let mut e = noise(7);
        let mut rows = Vec::new();
        for unit in 0..units {
            let level = 0.4 + 0.02 * unit as f64;
            for i in 0..days {
                let post = i >= start;
                let treat = if post && treated.contains(&unit) {
                    effect
                } else {
                    0.0
                };
                let common = if post { 0.03 } else { 0.0 };
                rows.push(PanelValue {
                    unit,
                    day: day(i),
                    value: level + common + treat + 0.04 * e(),
                });
            }
        }
        rows
    }

    #[test]
    fn an_injected_treatment_effect_is_found_within_its_ci() {
        let p = panel(12, 40, 20, &[1, 5, 8], -0.06);
        let did = difference_in_differences(&p, &[1, 5, 8], day(20)).expect("enough data");
        let e = did.estimate;
        assert!(e.ci95[0] <= -0.06 && -0.06 <= e.ci95[1], "{e:?}");
        assert!(e.p_value < 0.01, "{e:?}");
        assert_eq!(
            (did.treated_units, did.comparison_units, did.observations),
            (3, 9, 480)
        );
        assert_eq!(did.treated_daily_means.len(), 40);
        let first: f64 = [1, 5, 8].iter().map(|u| p[u * 40].value).sum::<f64>() / 3.0;
        assert!((did.treated_daily_means[0].value - first).abs() < 1e-12);
    }

    #[test]
    fn one_comparison_employee_is_not_enough_data() {
        let p = panel(3, 20, 10, &[0, 1], -0.05);
        assert!(matches!(
            difference_in_differences(&p, &[0, 1], day(10)),
            Err(AnalyticsError::NotEnoughData(m)) if m.contains("at least 2 comparison")
        ));
    }

    #[test]
    fn a_treated_employee_without_days_after_the_start_is_not_enough_data() {
        let p: Vec<PanelValue> = panel(6, 20, 10, &[0], -0.05)
            .into_iter()
            .filter(|r| r.unit != 0 || r.day < day(10))
            .collect();
        assert!(matches!(
            difference_in_differences(&p, &[0], day(10)),
            Err(AnalyticsError::NotEnoughData(m)) if m.contains("treated employee")
        ));
    }

    #[test]
    fn a_comparison_group_with_no_days_after_the_start_is_not_enough_data() {
        let p: Vec<PanelValue> = panel(6, 20, 10, &[0], -0.05)
            .into_iter()
            .filter(|r| r.unit == 0 || r.day < day(10))
            .collect();
        assert!(matches!(
            difference_in_differences(&p, &[0], day(10)),
            Err(AnalyticsError::NotEnoughData(m)) if m.contains("comparison values")
        ));
    }
}
