//! The regressions and correlations against the reference implementations.
//!
//! The fixtures `tests/reference/regression.json` and
//! `tests/reference/correlation.json` were written by
//! `tests/reference/generate.py`, run as
//!
//! ```text
//! python3 -m venv /tmp/refvenv
//! /tmp/refvenv/bin/pip install statsmodels scipy numpy pandas
//! /tmp/refvenv/bin/python crates/analytics/tests/reference/generate.py
//! ```
//!
//! with Python 3.11.7, statsmodels 0.15.0, scipy 1.17.1, numpy 2.4.6 and
//! pandas 3.1.1 (each file's `produced_by` records them). The script draws
//! seeded synthetic data (AR(1) noise for the time series, employee effects
//! for the clustered panels, rounded values for ties) and stores the inputs
//! beside what the reference computes from them:
//!
//! - `statsmodels.api.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": L})`
//!   with a given `L` and with `L = floor(4 (n/100)^(2/9))` (the script
//!   checks that statsmodels' own default rule, `cov_hac_simple(nlags=None)`,
//!   gives the same matrix), and `fit(cov_type="cluster",
//!   cov_kwds={"groups": g})`, other arguments at their defaults: `params`,
//!   `bse`, `conf_int(0.05)`, `pvalues`;
//! - the interrupted time series and the difference in differences, with the
//!   design built in Python from the dates, fitted the same way;
//! - `scipy.stats.pearsonr` and `scipy.stats.spearmanr` (with ties), and a
//!   small employee-day panel whose correlation matrix and lagged
//!   correlations pandas assembles (rows with a NaN left out, a merge on
//!   employee and day + k) before scipy computes them.
//!
//! Agreement: regression values to 1e-6 (absolute, relative above 1);
//! correlation coefficients to 1e-9 absolute and p-values to 1e-9 relative
//! (so that p = 1e-143 is checked as tightly as p = 0.5).

use chrono::NaiveDate;
use nalgebra::{DMatrix, DVector};
use organism_analytics::correlation::{self, Correlation};
use organism_analytics::effect::{difference_in_differences, interrupted_time_series};
use organism_analytics::regression::{Estimate, Ols, newey_west_lags};
use organism_analytics::{DayValue, PanelDay, PanelValue};
use serde::Deserialize;

const REGRESSION_TOLERANCE: f64 = 1e-6;
const CORRELATION_TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Expected {
    params: Vec<f64>,
    bse: Vec<f64>,
    ci_low: Vec<f64>,
    ci_high: Vec<f64>,
    pvalues: Vec<f64>,
    use_t: bool,
}

#[derive(Deserialize)]
struct RegressionFixture {
    ols_hac: Vec<HacCase>,
    ols_cluster: Vec<ClusterCase>,
    its: Vec<ItsCase>,
    did: Vec<DidCase>,
}

#[derive(Deserialize)]
struct HacCase {
    name: String,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    maxlags: Option<usize>,
    maxlags_used: usize,
    expected: Expected,
}

#[derive(Deserialize)]
struct ClusterCase {
    name: String,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    groups: Vec<usize>,
    expected: Expected,
}

#[derive(Deserialize)]
struct ItsCase {
    name: String,
    days: Vec<NaiveDate>,
    values: Vec<f64>,
    start: NaiveDate,
    hac_lags: Option<usize>,
    hac_lags_used: usize,
    fitted: Vec<f64>,
    expected: Expected,
}

#[derive(Deserialize)]
struct DidCase {
    name: String,
    panel: Vec<PanelRow>,
    treated: Vec<usize>,
    start: NaiveDate,
    expected: Expected,
    treated_daily_means: Vec<DayRow>,
    comparison_daily_means: Vec<DayRow>,
}

#[derive(Deserialize)]
struct PanelRow {
    unit: usize,
    day: NaiveDate,
    value: f64,
}

#[derive(Deserialize)]
struct DayRow {
    day: NaiveDate,
    value: f64,
}

fn regression_fixture() -> RegressionFixture {
    serde_json::from_str(include_str!("reference/regression.json")).expect("valid fixture")
}

fn design(rows: &[Vec<f64>]) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = REGRESSION_TOLERANCE * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} against statsmodels' {expected}"
    );
}

/// The estimates of `indices` against statsmodels' values of the same
/// coefficients; statsmodels used the normal distribution (use_t=False).
fn assert_estimates(case: &str, actual: &[Estimate], expected: &Expected, indices: &[usize]) {
    assert!(
        !expected.use_t,
        "{case}: statsmodels' default for a robust cov_type is the normal"
    );
    assert_eq!(actual.len(), indices.len(), "{case}");
    for (e, &j) in actual.iter().zip(indices) {
        assert_close(e.estimate, expected.params[j], &format!("{case} b{j}"));
        assert_close(e.std_error, expected.bse[j], &format!("{case} se{j}"));
        assert_close(e.ci95[0], expected.ci_low[j], &format!("{case} ci_low{j}"));
        assert_close(
            e.ci95[1],
            expected.ci_high[j],
            &format!("{case} ci_high{j}"),
        );
        assert_close(e.p_value, expected.pvalues[j], &format!("{case} p{j}"));
    }
}

#[test]
fn newey_west_standard_errors_match_statsmodels_hac() {
    for case in regression_fixture().ols_hac {
        let fit = Ols::fit(design(&case.x), &DVector::from_vec(case.y)).expect(&case.name);
        let lags = case.maxlags.unwrap_or_else(|| newey_west_lags(fit.nobs()));
        assert_eq!(lags, case.maxlags_used, "{}", case.name);
        let estimates = fit.estimates(&fit.hac_covariance(lags)).expect(&case.name);
        let all: Vec<usize> = (0..estimates.len()).collect();
        assert_estimates(&case.name, &estimates, &case.expected, &all);
    }
}

#[test]
fn cluster_robust_standard_errors_match_statsmodels_cluster() {
    for case in regression_fixture().ols_cluster {
        let fit = Ols::fit(design(&case.x), &DVector::from_vec(case.y)).expect(&case.name);
        let covariance = fit.cluster_covariance(&case.groups).expect(&case.name);
        let estimates = fit.estimates(&covariance).expect(&case.name);
        let all: Vec<usize> = (0..estimates.len()).collect();
        assert_estimates(&case.name, &estimates, &case.expected, &all);
    }
}

#[test]
fn the_interrupted_time_series_matches_statsmodels() {
    for case in regression_fixture().its {
        let series: Vec<DayValue> = case
            .days
            .iter()
            .zip(&case.values)
            .map(|(&day, &value)| DayValue { day, value })
            .collect();
        let its = interrupted_time_series(&series, case.start, case.hac_lags).expect(&case.name);
        assert_eq!(its.hac_lags, case.hac_lags_used, "{}", case.name);
        assert_eq!(
            its.days_before + its.days_after,
            case.days.len(),
            "{}",
            case.name
        );
        let estimates = [
            its.baseline_level,
            its.baseline_slope,
            its.level_change,
            its.slope_change,
        ];
        assert_estimates(&case.name, &estimates, &case.expected, &[0, 1, 2, 3]);
        assert_eq!(its.fitted.len(), case.fitted.len(), "{}", case.name);
        for (f, &expected) in its.fitted.iter().zip(&case.fitted) {
            assert_close(
                f.value,
                expected,
                &format!("{} fitted {}", case.name, f.day),
            );
        }
    }
}

#[test]
fn difference_in_differences_matches_statsmodels_cluster_by_employee() {
    for case in regression_fixture().did {
        let panel: Vec<PanelValue> = case
            .panel
            .iter()
            .map(|r| PanelValue {
                unit: r.unit,
                day: r.day,
                value: r.value,
            })
            .collect();
        let did = difference_in_differences(&panel, &case.treated, case.start).expect(&case.name);
        assert_estimates(&case.name, &[did.estimate], &case.expected, &[3]);
        assert_eq!(did.observations, case.panel.len(), "{}", case.name);
        assert_eq!(did.treated_units, case.treated.len(), "{}", case.name);
        for (actual, expected) in [
            (&did.treated_daily_means, &case.treated_daily_means),
            (&did.comparison_daily_means, &case.comparison_daily_means),
        ] {
            assert_eq!(actual.len(), expected.len(), "{}", case.name);
            for (a, e) in actual.iter().zip(expected) {
                assert_eq!(a.day, e.day, "{}", case.name);
                assert_close(a.value, e.value, &format!("{} mean {}", case.name, e.day));
            }
        }
    }
}

#[derive(Deserialize)]
struct CorrelationFixture {
    pairs: Vec<CorrelationCase>,
    panel: PanelCase,
}

#[derive(Deserialize)]
struct CorrelationCase {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    pearson: ScipyResult,
    spearman: ScipyResult,
}

#[derive(Deserialize)]
struct ScipyResult {
    coefficient: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct PanelCase {
    panel: Vec<PanelDayRow>,
    max_lag: u32,
    pairs: Vec<PairCase>,
    lagged: Vec<LaggedCase>,
}

#[derive(Deserialize)]
struct PanelDayRow {
    unit: usize,
    day: NaiveDate,
    /// JSON has no NaN: null stands for a value that is not finite.
    values: [Option<f64>; 4],
}

#[derive(Deserialize)]
struct PairCase {
    x: String,
    y: String,
    n: usize,
    pearson: ScipyResult,
    spearman: ScipyResult,
}

#[derive(Deserialize)]
struct LaggedCase {
    metric: String,
    lag_days: u32,
    n: usize,
    coefficient: f64,
    p_value: f64,
}

fn correlation_fixture() -> CorrelationFixture {
    serde_json::from_str(include_str!("reference/correlation.json")).expect("valid fixture")
}

fn assert_scipy(what: &str, coefficient: f64, p_value: f64, expected: &ScipyResult) {
    assert!(
        (coefficient - expected.coefficient).abs() <= CORRELATION_TOLERANCE,
        "{what}: r = {coefficient} against scipy's {}",
        expected.coefficient
    );
    assert!(
        (p_value - expected.p_value).abs() <= CORRELATION_TOLERANCE * expected.p_value,
        "{what}: p = {p_value:e} against scipy's {:e}",
        expected.p_value
    );
}

fn defined(what: &str, c: Option<Correlation>) -> Correlation {
    c.unwrap_or_else(|| panic!("{what}: scipy defines this correlation"))
}

#[test]
fn pearson_and_spearman_match_scipy() {
    for case in correlation_fixture().pairs {
        let p = defined(&case.name, correlation::pearson(&case.x, &case.y));
        assert_eq!(p.n, case.x.len());
        assert_scipy(
            &format!("{} pearson", case.name),
            p.coefficient,
            p.p_value,
            &case.pearson,
        );
        let s = defined(&case.name, correlation::spearman(&case.x, &case.y));
        assert_scipy(
            &format!("{} spearman", case.name),
            s.coefficient,
            s.p_value,
            &case.spearman,
        );
    }
}

#[test]
fn the_panel_matrix_and_lagged_correlations_match_pandas_and_scipy() {
    let case = correlation_fixture().panel;
    let panel: Vec<PanelDay> = case
        .panel
        .iter()
        .map(|r| PanelDay {
            unit: r.unit,
            day: r.day,
            values: r.values.map(|v| v.unwrap_or(f64::NAN)),
        })
        .collect();

    let pairs = correlation::matrix(&panel);
    assert_eq!(pairs.len(), case.pairs.len());
    for (actual, expected) in pairs.iter().zip(&case.pairs) {
        let what = format!("{} × {}", expected.x, expected.y);
        assert_eq!(
            (actual.x, actual.y),
            (expected.x.as_str(), expected.y.as_str())
        );
        assert_eq!(actual.n, expected.n, "{what}");
        let p = defined(&what, actual.pearson);
        assert_scipy(
            &format!("{what} pearson"),
            p.coefficient,
            p.p_value,
            &expected.pearson,
        );
        let s = defined(&what, actual.spearman);
        assert_scipy(
            &format!("{what} spearman"),
            s.coefficient,
            s.p_value,
            &expected.spearman,
        );
    }

    let lagged = correlation::lagged(&panel, case.max_lag);
    assert_eq!(lagged.len(), case.lagged.len());
    for (actual, expected) in lagged.iter().zip(&case.lagged) {
        let what = format!("{} lag {}", expected.metric, expected.lag_days);
        assert_eq!(
            (actual.metric, actual.lag_days),
            (expected.metric.as_str(), expected.lag_days)
        );
        assert_eq!(actual.n, expected.n, "{what}");
        let (Some(r), Some(p)) = (actual.coefficient, actual.p_value) else {
            panic!("{what}: scipy defines this correlation");
        };
        let scipy = ScipyResult {
            coefficient: expected.coefficient,
            p_value: expected.p_value,
        };
        assert_scipy(&what, r, p, &scipy);
    }
}
