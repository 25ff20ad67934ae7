//! What moves together: Pearson and Spearman correlations between the four
//! metrics over employee-days, and the lagged correlation of each network
//! metric with burnout `k` days later.
//!
//! The coefficients and two-sided p-values are those of
//! `scipy.stats.pearsonr` and `scipy.stats.spearmanr` (checked to 1e-9 by
//! `tests/reference.rs`). Under the null hypothesis of no correlation (and
//! normal data, for Pearson), `t = r · √((n − 2) / (1 − r²))` has Student's
//! t distribution with `n − 2` degrees of freedom; scipy's pearsonr writes
//! the same distribution as a beta distribution of `r` on (−1, 1) with
//! `a = b = n/2 − 1`, and spearmanr uses the t form on the ranks. The
//! p-value is `2 · P(T > |t|)`, computed from the upper tail directly
//! (statrs' `sf` is the regularised incomplete beta function, not
//! `1 − cdf`) so that tiny p-values keep their relative precision; `|r| = 1`
//! gives exactly 0, as scipy does.
//!
//! A correlation is undefined with fewer than 3 pairs (no degrees of
//! freedom) or when either side is constant: it is then absent (`None`,
//! `null` in JSON), never NaN.

use chrono::Datelike;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::PanelDay;

/// The metrics in `organism_domain::MetricName::ALL` order, as named in
/// the answers.
pub const METRICS: [&str; 4] = [
    "degree_centrality",
    "betweenness_centrality",
    "clustering_coeff",
    "burnout_score",
];

/// The index of burnout in [`METRICS`] and [`PanelDay::values`].
const BURNOUT: usize = 3;

/// A correlation coefficient with its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correlation {
    pub coefficient: f64,
    pub p_value: f64,
    /// Pairs the coefficient was computed from.
    pub n: usize,
}

/// Pearson's product-moment correlation of `x` and `y`, as
/// `scipy.stats.pearsonr`. `None` when undefined: lengths that differ,
/// fewer than 3 pairs, a value that is not finite, or a constant side.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<Correlation> {
    if x.len() != y.len() {
        return None;
    }
    pearson_of(|| x.iter().copied().zip(y.iter().copied()))
}

/// Spearman's rank correlation: Pearson's on the ranks, ties given their
/// average rank, as `scipy.stats.spearmanr`. `None` when undefined (as
/// [`pearson`]).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<Correlation> {
    if x.len() != y.len() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// 1-based ranks, ties sharing the mean of the ranks they span (scipy's
/// `rankdata(method="average")`).
pub fn ranks(values: &[f64]) -> Vec<f64> {
    // (value, position) pairs sorted in place: one contiguous array, not
    // positions sorted by looking values up (several times faster on the
    // organisation's 10⁶ employee-days).
    let mut order: Vec<(f64, usize)> = values.iter().copied().zip(0..).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && order[j].0 == order[i].0 {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j: their mean.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &(_, k) in &order[i..j] {
            ranks[k] = rank;
        }
        i = j;
    }
    ranks
}

/// Pearson's r of the pairs `pairs()` yields (called once per pass, so
/// the pairs need not be stored): `Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²)`,
/// two passes, clamped to [−1, 1] as scipy does. One square root of the
/// product (not a product of two roots): for `x` identical to `y`, `√(s·s)`
/// is exactly `s` and r is exactly 1.
fn pearson_of<I>(pairs: impl Fn() -> I) -> Option<Correlation>
where
    I: Iterator<Item = (f64, f64)>,
{
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    let mut first = None;
    let (mut x_varies, mut y_varies) = (false, false);
    for (x, y) in pairs() {
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        // scipy's test, before any arithmetic: a mean of equal values need
        // not equal them, and the tiny deviations would give a meaningless r.
        let (x0, y0) = *first.get_or_insert((x, y));
        x_varies |= x != x0;
        y_varies |= y != y0;
        n += 1;
        sx += x;
        sy += y;
    }
    if n < 3 || !x_varies || !y_varies {
        return None;
    }
    let (mx, my) = (sx / n as f64, sy / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs() {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let coefficient = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
    Some(Correlation {
        coefficient,
        p_value: two_sided_p(coefficient, n)?,
        n,
    })
}

/// `2 · P(T > |t|)`, `T` Student's t with `n − 2` degrees of freedom and
/// `t = r √((n−2)/((1−r)(1+r)))`.
fn two_sided_p(r: f64, n: usize) -> Option<f64> {
    if r.abs() == 1.0 {
        return Some(0.0);
    }
    let df = (n - 2) as f64;
    // (1−r)(1+r), not 1−r²: no cancellation for |r| near 1.
    let t = r.abs() * (df / ((1.0 - r) * (1.0 + r))).sqrt();
    // new() fails only for df ≤ 0, which n ≥ 3 rules out.
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t)).min(1.0))
}

/// The correlations of two metrics over the employee-days of a panel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Pair {
    pub x: &'static str,
    pub y: &'static str,
    /// Employee-days with all four values finite.
    pub n: usize,
    /// Absent (`null`) when undefined.
    pub pearson: Option<Correlation>,
    pub spearman: Option<Correlation>,
}

/// Every pair of the four metrics (6 pairs, in [`METRICS`] order:
/// (0,1), (0,2), (0,3), (1,2), (1,3), (2,3)), over the employee-days whose
/// four values are all finite. One set of rows for every pair (listwise,
/// not pairwise, deletion), so the coefficients form a proper correlation
/// matrix and each metric is ranked once.
pub fn matrix(panel: &[PanelDay]) -> Vec<Pair> {
    let complete: Vec<&PanelDay> = panel
        .iter()
        .filter(|p| p.values.iter().all(|v| v.is_finite()))
        .collect();
    let columns: Vec<Vec<f64>> = (0..METRICS.len())
        .map(|m| complete.iter().map(|p| p.values[m]).collect())
        .collect();
    let ranked: Vec<Vec<f64>> = columns.iter().map(|c| ranks(c)).collect();
    let mut pairs = Vec::with_capacity(6);
    for i in 0..METRICS.len() {
        for j in i + 1..METRICS.len() {
            pairs.push(Pair {
                x: METRICS[i],
                y: METRICS[j],
                n: complete.len(),
                pearson: pearson(&columns[i], &columns[j]),
                // Pearson on the ranks is spearman() without ranking again.
                spearman: pearson(&ranked[i], &ranked[j]),
            });
        }
    }
    pairs
}

/// The Pearson correlation of a network metric on day `d` with the same
/// employee's burnout on day `d + lag_days`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Lagged {
    pub metric: &'static str,
    pub lag_days: u32,
    /// Pairs of employee-days found (both days present and finite).
    pub n: usize,
    /// Absent (`null`) when undefined.
    pub coefficient: Option<f64>,
    pub p_value: Option<f64>,
}

/// For each of the three network metrics and `k = 0..=max_lag`, the
/// correlation of the metric on day `d` with burnout on day `d + k`, over
/// every employee and day where both exist and are finite. The panel holds
/// at most one row per employee-day. Ordered by metric, then lag.
pub fn lagged(panel: &[PanelDay], max_lag: u32) -> Vec<Lagged> {
    // Rows by employee, then day, each day as a number: one sort, and no
    // date arithmetic in the loops.
    let mut rows: Vec<(usize, i64, [f64; 4])> = panel
        .iter()
        .map(|p| (p.unit, i64::from(p.day.num_days_from_ce()), p.values))
        .collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let keys: Vec<(usize, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
    // Columns, not rows: each pass below reads two arrays of f64, which is
    // what makes 15 lags over 10⁶ employee-days fast (the passes are
    // memory-bound).
    let columns: Vec<Vec<f64>> = (0..METRICS.len())
        .map(|m| rows.iter().map(|r| r.2[m]).collect())
        .collect();

    let mut by_metric: Vec<Vec<Lagged>> = vec![Vec::new(); BURNOUT];
    let mut later = Vec::new();
    for k in 0..=max_lag {
        burnout_days_later(&keys, &columns[BURNOUT], i64::from(k), &mut later);
        for (m, answers) in by_metric.iter_mut().enumerate() {
            let pairs = || {
                columns[m]
                    .iter()
                    .zip(&later)
                    .filter(|(x, b)| x.is_finite() && b.is_finite())
                    .map(|(x, b)| (*x, *b))
            };
            let c = pearson_of(pairs);
            answers.push(Lagged {
                metric: METRICS[m],
                lag_days: k,
                n: c.map_or_else(|| pairs().count(), |c| c.n),
                coefficient: c.map(|c| c.coefficient),
                p_value: c.map(|c| c.p_value),
            });
        }
    }
    by_metric.into_iter().flatten().collect()
}

/// `later[i]` = the burnout of row `i`'s employee `k` days after row `i`'s
/// day, NaN if there is no such row. `keys` (employee, day) sorted; two
/// pointers, linear.
fn burnout_days_later(keys: &[(usize, i64)], burnout: &[f64], k: i64, later: &mut Vec<f64>) {
    later.clear();
    let mut j = 0;
    for &(unit, day) in keys {
        let target = (unit, day + k);
        while j < keys.len() && keys[j] < target {
            j += 1;
        }
        later.push(if keys.get(j) == Some(&target) {
            burnout[j]
        } else {
            f64::NAN
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date") + chrono::Duration::days(i)
    }

    #[test]
    fn swapping_x_and_y_keeps_r_and_p() {
        let x = [1.0, 2.0, 4.0, 3.0, 7.0, 5.5];
        let y = [0.3, 0.1, 0.9, 0.4, 0.8, 0.2];
        assert_eq!(pearson(&x, &y), pearson(&y, &x));
        assert_eq!(spearman(&x, &y), spearman(&y, &x));
    }

    #[test]
    fn a_perfect_line_has_r_one_and_p_zero() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let up: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let down: Vec<f64> = x.iter().map(|v| -0.5 * v).collect();
        let c = pearson(&x, &x).expect("defined");
        assert_eq!((c.coefficient, c.p_value, c.n), (1.0, 0.0, 10));
        assert!((pearson(&x, &up).expect("defined").coefficient - 1.0).abs() < 1e-15);
        assert!((pearson(&x, &down).expect("defined").coefficient + 1.0).abs() < 1e-15);
        let s = spearman(&x, &down).expect("defined");
        assert_eq!((s.coefficient, s.p_value), (-1.0, 0.0));
    }

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]), [4.0, 1.0, 4.0, 2.0, 4.0]);
        assert_eq!(ranks(&[0.5, 0.5, -1.0, 7.0]), [2.5, 2.5, 1.0, 4.0]);
        assert!(ranks(&[]).is_empty());
    }

    #[test]
    fn spearman_is_unchanged_by_a_monotone_transform() {
        let x = [0.1, 0.5, 0.2, 0.9, 0.7, 0.3, 0.3];
        let y = [1.0, 2.0, 2.0, 5.0, 3.0, 0.5, 0.4];
        let cubed: Vec<f64> = x.iter().map(|v: &f64| v.powi(3) + 10.0).collect();
        assert_eq!(spearman(&x, &y), spearman(&cubed, &y));
    }

    #[test]
    fn fewer_than_three_pairs_or_a_constant_side_is_undefined() {
        assert_eq!(pearson(&[1.0, 2.0], &[2.0, 1.0]), None);
        assert_eq!(pearson(&[0.1, 0.1, 0.1], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), None);
        assert_eq!(pearson(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn uncorrelated_data_has_r_zero_and_p_one() {
        let c = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, 3.0, 2.0, 1.0]).expect("defined");
        assert!(c.coefficient.abs() < 1e-15);
        assert!((c.p_value - 1.0).abs() < 1e-12);
    }

    fn row(unit: usize, d: i64, values: [f64; 4]) -> PanelDay {
        PanelDay {
            unit,
            day: day(d),
            values,
        }
    }

    #[test]
    fn the_matrix_has_six_pairs_and_skips_rows_with_a_non_finite_value() {
        let mut panel: Vec<PanelDay> = (0..10)
            .map(|i| {
                let v = i as f64;
                row(0, i, [v, v * v, 10.0 - v, (v * 7.0) % 5.0])
            })
            .collect();
        panel.push(row(1, 0, [1.0, f64::INFINITY, 2.0, 3.0]));
        let pairs = matrix(&panel);
        let names: Vec<(&str, &str)> = pairs.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[0], ("degree_centrality", "betweenness_centrality"));
        assert_eq!(names[5], ("clustering_coeff", "burnout_score"));
        assert!(pairs.iter().all(|p| p.n == 10));
        let degree_clustering = pairs[1].pearson.expect("defined");
        assert!((degree_clustering.coefficient + 1.0).abs() < 1e-15);
        assert_eq!(pairs[0].spearman.map(|s| s.coefficient), Some(1.0));
    }

    #[test]
    fn an_undefined_correlation_serialises_as_null() {
        let panel = [
            row(0, 0, [1.0, 2.0, 3.0, 4.0]),
            row(0, 1, [2.0, 2.0, 1.0, 0.0]),
        ];
        let json = serde_json::to_value(matrix(&panel)).expect("serialisable");
        assert!(json[0]["pearson"].is_null());
        assert_eq!(json[0]["n"], 2);
    }

    #[test]
    fn lagged_pairs_a_metric_with_the_same_employees_burnout_k_days_later() {
        // Burnout follows degree two days later, exactly; day 5 is missing.
        let degree = |d: i64| ((d * 37) % 11) as f64;
        let mut panel = Vec::new();
        for unit in 0..2 {
            for d in (0..20).filter(|&d| d != 5) {
                let burnout = if d >= 2 {
                    degree(d - 2) + unit as f64
                } else {
                    0.0
                };
                panel.push(row(unit, d, [degree(d) + unit as f64, 0.5, 0.5, burnout]));
            }
        }
        // Rows in any order.
        panel.reverse();
        let lags = lagged(&panel, 3);
        assert_eq!(lags.len(), 12);
        let at = |k: u32| {
            lags.iter()
                .find(|l| l.metric == "degree_centrality" && l.lag_days == k)
        };
        let two = at(2).expect("lag 2");
        assert_eq!(two.coefficient, Some(1.0));
        // Days 0..=17 with day + 2 present, without day 5 and day 3 (5 = 3 + 2).
        assert_eq!(two.n, 2 * 16);
        assert_eq!(at(0).expect("lag 0").n, 2 * 19);
        // A constant metric has no correlation.
        let constant = lags
            .iter()
            .find(|l| l.metric == "betweenness_centrality")
            .expect("row");
        assert_eq!((constant.coefficient, constant.p_value), (None, None));
    }
}
