//! Ordinary least squares with the two robust covariance estimators the
//! effect analyses need: Newey–West (HAC) for one time series, and
//! cluster-robust for a panel of employees.
//!
//! The numbers match statsmodels' `OLS(y, X).fit(cov_type=...)` with its
//! defaults (checked to 1e-6 by `tests/reference.rs`):
//!
//! - `cov_type="HAC"`: Bartlett kernel, **no** small-sample correction
//!   (`fit` passes `use_correction=False` unless told otherwise, although
//!   `sandwich_covariance.cov_hac_simple` on its own defaults to `True`).
//! - `cov_type="cluster"`: CR1, the correction `G/(G−1) · (n−1)/(n−k)`
//!   (`use_correction=True`).
//! - Both: `use_t=False`, so p-values and 95% intervals come from the
//!   standard normal distribution, not Student's t.
//!
//! The fit is a Householder QR of `X` (never the normal equations, whose
//! condition number is the square of `X`'s): `R b = Qᵀ y`, and
//! `(XᵀX)⁻¹ = R⁻¹ R⁻ᵀ` for the sandwich. A diagonal element of `R` that is
//! negligible against its column's norm means `X` is rank-deficient, and the
//! fit refuses rather than return one of infinitely many answers.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma;

use crate::{AnalyticsError, Result};

/// Below this, a diagonal element of `R`, relative to the norm of its
/// column of `X`, counts as zero: the column is (numerically) a linear
/// combination of the columns before it. Far above rounding (≈1e-16) and
/// far below any real design's conditioning.
const RANK_TOLERANCE: f64 = 1e-10;

/// Residuals whose norm is below this fraction of `‖y‖` are rounding
/// noise around an exact fit (a constant series, a perfect line): their
/// "standard errors" would be rounding noise too, so there is no answer.
const EXACT_FIT_TOLERANCE: f64 = 1e-10;

fn exact_fit() -> AnalyticsError {
    AnalyticsError::Degenerate(
        "the model fits the data exactly: there is no residual variation to \
         estimate a standard error from"
            .into(),
    )
}

/// One coefficient with its robust standard error, two-sided 95% interval
/// and two-sided p-value (normal distribution, as statsmodels uses for
/// its robust covariance types).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    pub estimate: f64,
    pub std_error: f64,
    /// `estimate ∓ z₀.₉₇₅ · std_error`.
    pub ci95: [f64; 2],
    /// `2 · P(Z > |estimate / std_error|)`.
    pub p_value: f64,
}

impl Estimate {
    /// Inference from the standard normal distribution. `std_error` must be
    /// positive and finite (the callers check it).
    fn normal(estimate: f64, std_error: f64) -> Estimate {
        let z = Normal::standard();
        let q = z.inverse_cdf(0.975);
        Estimate {
            estimate,
            std_error,
            ci95: [estimate - q * std_error, estimate + q * std_error],
            p_value: two_sided_normal_p(estimate / std_error),
        }
    }
}

/// `2 · P(Z > |z|) = erfc(|z|/√2) = Q(1/2, z²/2)`, the regularised upper
/// incomplete gamma function. Not statrs' `Normal::sf`: its `erfc` is off
/// by up to ~1e-10 relative (2·sf(2) = 0.045500263894325 against scipy's
/// 0.045500263896358), while its `gamma_ur` agrees with scipy to ~1e-15,
/// also far in the tail. Neither is `1 − cdf`, which would lose tiny
/// p-values entirely.
fn two_sided_normal_p(z: f64) -> f64 {
    let x = z * z / 2.0;
    if x == 0.0 {
        1.0
    } else {
        // Err only for x infinite (|z| > 1e154): the tail is 0.
        gamma::checked_gamma_ur(0.5, x).unwrap_or(0.0)
    }
}

/// The Newey–West (1994) rule for the number of lags of the Bartlett
/// kernel: `floor(4 · (n / 100)^(2/9))`. The same rule as statsmodels'
/// `S_hac_simple(nlags=None)`: 3 lags for 56 days, 4 for 100 to 272 days.
pub fn newey_west_lags(n: usize) -> usize {
    // Non-negative and far below usize::MAX for any n: the cast is exact.
    (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize
}

/// A least-squares fit of `y` on the columns of `X`.
#[derive(Debug, Clone)]
pub struct Ols {
    x: DMatrix<f64>,
    coefficients: DVector<f64>,
    residuals: DVector<f64>,
    /// `(XᵀX)⁻¹`, the bread of every sandwich.
    xtx_inv: DMatrix<f64>,
}

impl Ols {
    /// Fits `y = X b + u`. Errors when there are fewer observations than
    /// coefficients, or when `X` is rank-deficient.
    pub fn fit(x: DMatrix<f64>, y: &DVector<f64>) -> Result<Ols> {
        let (n, k) = x.shape();
        if y.len() != n {
            return Err(AnalyticsError::Degenerate(format!(
                "the design has {n} rows but there are {} observations",
                y.len()
            )));
        }
        if k == 0 || n <= k {
            return Err(AnalyticsError::NotEnoughData(format!(
                "least squares with {k} coefficients needs more than {k} observations, got {n}"
            )));
        }
        if x.iter().chain(y.iter()).any(|v| !v.is_finite()) {
            return Err(AnalyticsError::Degenerate(
                "the regression data contain a value that is not finite".into(),
            ));
        }
        let qr = x.clone().qr();
        let r = qr.r();
        for j in 0..k {
            let column = x.column(j).norm();
            if column == 0.0 || r[(j, j)].abs() <= RANK_TOLERANCE * column {
                return Err(AnalyticsError::Degenerate(format!(
                    "regressor {j} is a linear combination of the others (or constant zero): \
                     the data cannot tell their effects apart"
                )));
            }
        }
        let qty = qr.q().transpose() * y;
        let coefficients = r
            .solve_upper_triangular(&qty)
            .ok_or_else(|| AnalyticsError::Degenerate("R is singular".into()))?;
        let r_inv = r
            .solve_upper_triangular(&DMatrix::identity(k, k))
            .ok_or_else(|| AnalyticsError::Degenerate("R is singular".into()))?;
        let xtx_inv = &r_inv * r_inv.transpose();
        let residuals = y - &x * &coefficients;
        Ok(Ols {
            x,
            coefficients,
            residuals,
            xtx_inv,
        })
    }

    pub fn coefficients(&self) -> &DVector<f64> {
        &self.coefficients
    }

    pub fn residuals(&self) -> &DVector<f64> {
        &self.residuals
    }

    /// `X b`.
    pub fn fitted(&self) -> DVector<f64> {
        &self.x * &self.coefficients
    }

    pub fn nobs(&self) -> usize {
        self.x.nrows()
    }

    /// The Newey–West covariance of the coefficients, rows taken as
    /// consecutive periods: `(XᵀX)⁻¹ S (XᵀX)⁻¹` with
    /// `S = Σₜ sₜsₜᵀ + Σ_{l=1..L} (1 − l/(L+1)) Σₜ (sₜsₜ₋ₗᵀ + sₜ₋ₗsₜᵀ)`,
    /// `sₜ = xₜ uₜ`. No small-sample correction (statsmodels' `fit`
    /// default). Lags at or beyond the series' length add nothing, but `L`
    /// still sets the weights of the others, as in statsmodels.
    pub fn hac_covariance(&self, maxlags: usize) -> DMatrix<f64> {
        let scores = self.scores();
        let n = scores.nrows();
        let mut meat = scores.transpose() * &scores;
        for lag in 1..=maxlags.min(n.saturating_sub(1)) {
            let weight = 1.0 - lag as f64 / (maxlags as f64 + 1.0);
            let s = scores.rows(lag, n - lag).transpose() * scores.rows(0, n - lag);
            meat += (&s + s.transpose()) * weight;
        }
        self.sandwich(&meat)
    }

    /// The cluster-robust (CR1) covariance with `groups[i]` the cluster of
    /// row `i`: `c · (XᵀX)⁻¹ (Σ_g S_g S_gᵀ) (XᵀX)⁻¹`, `S_g` the sum of the
    /// scores of cluster `g`, `c = G/(G−1) · (n−1)/(n−k)` (statsmodels'
    /// default `use_correction=True`). Needs at least two clusters.
    pub fn cluster_covariance(&self, groups: &[usize]) -> Result<DMatrix<f64>> {
        let (n, k) = self.x.shape();
        if groups.len() != n {
            return Err(AnalyticsError::Degenerate(format!(
                "{} cluster labels for {n} observations",
                groups.len()
            )));
        }
        let scores = self.scores();
        let mut sums: std::collections::BTreeMap<usize, DVector<f64>> = Default::default();
        for (i, g) in groups.iter().enumerate() {
            *sums.entry(*g).or_insert_with(|| DVector::zeros(k)) += scores.row(i).transpose();
        }
        let clusters = sums.len();
        if clusters < 2 {
            return Err(AnalyticsError::NotEnoughData(format!(
                "cluster-robust standard errors need at least 2 clusters, got {clusters}"
            )));
        }
        let mut meat = DMatrix::zeros(k, k);
        for s in sums.values() {
            meat += s * s.transpose();
        }
        let g = clusters as f64;
        let correction = g / (g - 1.0) * ((n as f64 - 1.0) / (n - k) as f64);
        Ok(self.sandwich(&meat) * correction)
    }

    /// Each coefficient with its standard error from `covariance`, its 95%
    /// interval and p-value (normal). A standard error that is zero or not
    /// finite (an exact fit: no noise to measure uncertainty against) is an
    /// error, not a p-value of 0/0.
    pub fn estimates(&self, covariance: &DMatrix<f64>) -> Result<Vec<Estimate>> {
        let scale = (self.fitted() + &self.residuals).norm();
        if self.residuals.norm() <= EXACT_FIT_TOLERANCE * scale {
            return Err(exact_fit());
        }
        self.coefficients
            .iter()
            .enumerate()
            .map(|(j, &b)| {
                let se = covariance[(j, j)].sqrt();
                if se.is_finite() && se > 0.0 {
                    Ok(Estimate::normal(b, se))
                } else {
                    Err(exact_fit())
                }
            })
            .collect()
    }

    /// Rows `xₜ uₜ`.
    fn scores(&self) -> DMatrix<f64> {
        let mut scores = self.x.clone();
        for (mut row, u) in scores.row_iter_mut().zip(self.residuals.iter()) {
            row *= *u;
        }
        scores
    }

    fn sandwich(&self, meat: &DMatrix<f64>) -> DMatrix<f64> {
        &self.xtx_inv * meat * &self.xtx_inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_design(n: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n, 2, |i, j| if j == 0 { 1.0 } else { i as f64 })
    }

    #[test]
    fn a_perfect_line_gives_its_coefficients_with_zero_residuals() {
        let x = line_design(10);
        let y = DVector::from_fn(10, |i, _| 3.0 - 0.5 * i as f64);
        let fit = Ols::fit(x, &y).expect("full rank");
        assert!((fit.coefficients()[0] - 3.0).abs() < 1e-12);
        assert!((fit.coefficients()[1] + 0.5).abs() < 1e-12);
        assert!(fit.residuals().amax() < 1e-12);
    }

    #[test]
    fn an_exact_fit_has_no_standard_error_and_says_so() {
        let x = line_design(10);
        let y = DVector::from_fn(10, |i, _| 1.0 + i as f64);
        let fit = Ols::fit(x, &y).expect("full rank");
        let error = fit
            .estimates(&fit.hac_covariance(2))
            .expect_err("exact fit");
        assert!(matches!(error, AnalyticsError::Degenerate(_)));
    }

    #[test]
    fn collinear_regressors_are_degenerate() {
        let x = DMatrix::from_fn(8, 3, |i, j| match j {
            0 => 1.0,
            1 => i as f64,
            _ => 2.0 * i as f64 + 1.0,
        });
        let y = DVector::from_fn(8, |i, _| (i * i) as f64);
        assert!(matches!(
            Ols::fit(x, &y),
            Err(AnalyticsError::Degenerate(_))
        ));
    }

    #[test]
    fn fewer_observations_than_coefficients_is_not_enough_data() {
        let x = line_design(2);
        let y = DVector::from_vec(vec![1.0, 2.0]);
        assert!(matches!(
            Ols::fit(x, &y),
            Err(AnalyticsError::NotEnoughData(_))
        ));
    }

    #[test]
    fn hac_with_zero_lags_is_white_hc0() {
        let x = line_design(12);
        let y = DVector::from_fn(12, |i, _| ((i * 7919) % 13) as f64);
        let fit = Ols::fit(x.clone(), &y).expect("full rank");
        let mut meat = DMatrix::zeros(2, 2);
        for i in 0..12 {
            let xi = x.row(i).transpose();
            meat += &xi * xi.transpose() * fit.residuals()[i].powi(2);
        }
        let white = &fit.xtx_inv * meat * &fit.xtx_inv;
        assert!((fit.hac_covariance(0) - white).amax() < 1e-12);
    }

    #[test]
    fn one_observation_per_cluster_is_hc1() {
        let n = 15;
        let x = line_design(n);
        let y = DVector::from_fn(n, |i, _| ((i * 31) % 7) as f64);
        let fit = Ols::fit(x, &y).expect("full rank");
        let groups: Vec<usize> = (0..n).collect();
        let cluster = fit.cluster_covariance(&groups).expect("15 clusters");
        // HC1 = n/(n−k) · HC0; CR1 with G = n gives n/(n−1) · (n−1)/(n−k).
        let hc1 = fit.hac_covariance(0) * (n as f64 / (n - 2) as f64);
        assert!((cluster - hc1).amax() < 1e-12);
    }

    #[test]
    fn one_cluster_is_not_enough() {
        let fit = Ols::fit(
            line_design(6),
            &DVector::from_vec(vec![1., 3., 2., 5., 4., 6.]),
        )
        .expect("full rank");
        assert!(matches!(
            fit.cluster_covariance(&[7; 6]),
            Err(AnalyticsError::NotEnoughData(_))
        ));
    }

    #[test]
    fn the_lag_rule_follows_newey_west_1994() {
        assert_eq!(newey_west_lags(10), 2);
        assert_eq!(newey_west_lags(56), 3);
        assert_eq!(newey_west_lags(100), 4);
        assert_eq!(newey_west_lags(272), 4);
        assert_eq!(newey_west_lags(273), 5);
    }

    #[test]
    fn an_estimate_two_standard_errors_away_has_scipys_normal_p_value() {
        let e = Estimate::normal(2.0, 1.0);
        // scipy.stats.norm: 2 * sf(2) and ppf(0.975).
        assert!(
            (e.p_value - 0.045_500_263_896_358_39).abs() < 1e-15,
            "{e:?}"
        );
        assert!((e.ci95[0] - (2.0 - 1.959_963_984_540_054)).abs() < 1e-15);
        assert!((e.ci95[1] - (2.0 + 1.959_963_984_540_054)).abs() < 1e-15);
        assert_eq!(two_sided_normal_p(0.0), 1.0);
        assert_eq!(two_sided_normal_p(f64::MAX), 0.0);
        let far = two_sided_normal_p(-20.0);
        assert!(
            (far - 5.507_248_237_212_311e-89).abs() < 1e-12 * far,
            "{far:e}"
        );
    }
}
