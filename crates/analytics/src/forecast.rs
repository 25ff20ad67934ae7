//! Daily forecasts of one series by automatic exponential smoothing.
//!
//! Additive-error state-space models (Hyndman, Koehler, Ord & Snyder,
//! "Forecasting with Exponential Smoothing", 2008, class 1) are fitted by
//! maximum likelihood; of the candidates ETS(A,N,N) and ETS(A,Ad,N) the one
//! with the smallest BIC is kept (ETS(A,A,N) is implemented but not a
//! candidate, see **Selection**):
//!
//! | model       | forecast `ŷ(t)`        | level `l(t)`            | trend `b(t)`       |
//! |-------------|------------------------|-------------------------|--------------------|
//! | ETS(A,N,N)  | `l(t−1)`               | `l(t−1) + α·e(t)`       | —                  |
//! | ETS(A,A,N)  | `l(t−1) + b(t−1)`      | `ŷ(t) + α·e(t)`         | `b(t−1) + β·e(t)`  |
//! | ETS(A,Ad,N) | `l(t−1) + φ·b(t−1)`    | `ŷ(t) + α·e(t)`         | `φ·b(t−1) + β·e(t)`|
//!
//! with `e(t) = y(t) − ŷ(t)` and `e ~ N(0, σ²)` independent. The parameters
//! (α, β, φ and the initial states `l(0)`, `b(0)`) minimise
//! `n·ln(SSE/n)` (−2·log-likelihood with σ² concentrated out) by
//! Nelder–Mead within the usual bounds `0.0001 ≤ α ≤ 0.9999`,
//! `0.0001 ≤ β ≤ α`, `0.8 ≤ φ ≤ 0.98` (the defaults of R's `forecast::ets`).
//! The bounds are imposed by a logistic reparametrisation rather than by a
//! penalty, so the simplex never steps into a region where the objective is
//! flat.
//!
//! Why by hand and not `augurs-ets`: it builds offline and does this search
//! (it is a port of statsforecast's AutoETS), but its fitted model exposes
//! neither α, β, φ nor σ, which the answer must report; it has no notion of
//! a missing day; and it brings a second `rand` (0.8) and four more crates
//! for about 200 lines of arithmetic. See docs/ANALYTICS.md.
//!
//! **Selection.** The backtest (`crate::backtest`) on synthetic
//! organisations with trends showed that choosing among all three models by
//! AICc gives intervals that are too narrow: 95% intervals covered 88% of
//! held-out days, because AICc picks a trend in about half of the series
//! (also in trendless random walks, where a trend appears by chance) and a
//! trend extrapolated from noise misses. The undamped trend covered worst
//! and BIC's heavier penalty keeps chance trends out; with ETS(A,N,N) and
//! ETS(A,Ad,N) by BIC the 95% coverage is 0.90–0.93 on every organisation
//! tried, at a small cost in MAE on strongly trending data (figures in
//! docs/ANALYTICS.md). AICc is still reported.
//!
//! **Gaps.** The series may skip days (a day with no sample has no daily
//! mean). A skipped day is a *missing step* of the model: the state is
//! carried forward by the forecast equations without an error correction
//! (`l(t) = ŷ(t)`, `b(t) = φ·b(t−1)`) and the day adds nothing to the
//! likelihood. Nothing is interpolated. Non-finite values are treated the
//! same way.
//!
//! **Intervals.** For these models the `h`-step forecast error is
//! `e(n+h) + Σ_{j=1}^{h−1} c_j·e(n+h−j)` with `c_j = α + β·(φ + φ² + … + φ^j)`
//! (φ = 1 without damping, β = 0 without trend), so its variance is
//! `v_h = σ²·(1 + Σ_{j=1}^{h−1} c_j²)` (Hyndman et al. 2008, §6.3, class 1)
//! and the interval is `ŷ ± z·√v_h` with z the normal quantile. σ² is
//! estimated by `SSE/(n − p)`, p the number of estimated parameters and
//! initial states (as R's `ets` does). To that is added the uncertainty of
//! the estimated initial states carried to the last state (exact given α,
//! β, φ; see `Fit::final_state_covariance`); the uncertainty of α, β, φ
//! themselves is not counted, which is why coverage falls a little short of
//! nominal at long horizons.
//!
//! The model's variance assumes independent errors and the right model. A
//! series with a slower cycle than the model knows breaks both (the demo's
//! 95% intervals covered 76% of held-out days). So wherever there are at
//! least 20 in-sample `h`-step errors (the fitted model's forecast `h` days
//! on from every origin after the first seven observed days), the interval
//! is their 80% or 95% absolute quantile, widened by `√(n/(n − p))` for the
//! parameters, states and profile offsets estimated (Williams & Goodman's
//! empirical intervals); elsewhere it is the model's. It never narrows as
//! `h` grows. The point forecast is unchanged.
//!
//! **Profiles.** From 21 observed days a weekly profile, and the strongest
//! other cycle the autocorrelation proposes (8 days to a third of the
//! history), may be taken off the series before the fit and added back to
//! its forecasts (classical decomposition; kept when the BIC, profiles'
//! offsets counted, says so). See [`fit_with_profiles`].

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::{AnalyticsError, DayValue, Result};

/// The fewest observed days a forecast is made from: with fewer, even the
/// trend model has almost no residual degrees of freedom. The damped model
/// needs one more (8), so it is only a candidate from 8 days on.
pub const MIN_HISTORY_DAYS: usize = 7;

/// The fewest in-sample errors at a horizon for their quantiles to be the
/// interval there (see `Fit::empirical_errors`).
const MIN_EMPIRICAL_ERRORS: usize = 20;

/// Standard normal quantiles for the two-sided 80% and 95% intervals
/// (Φ⁻¹(0.9) and Φ⁻¹(0.975)).
const Z_80: f64 = 1.281_551_565_544_600_4;
const Z_95: f64 = 1.959_963_984_540_054;

/// The usual bounds of the smoothing parameters (R `forecast::ets`).
const ALPHA_BOUNDS: (f64, f64) = (1e-4, 0.9999);
const BETA_LOWER: f64 = 1e-4;
const PHI_BOUNDS: (f64, f64) = (0.8, 0.98);

/// A daily forecast with the model that made it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub model: ModelInfo,
    /// One point per day after the last observed day, `horizon` of them.
    pub points: Vec<ForecastPoint>,
    pub threshold: Option<f64>,
    /// The first forecast day whose point forecast is at or above the
    /// threshold; only forecast days are considered, never the observed
    /// history (a series already above the threshold answers with its
    /// first forecast day if the forecast stays there).
    pub threshold_reached_on: Option<NaiveDate>,
}

/// The model chosen by BIC and its fitted parameters.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// `ETS(A,N,N)`, `ETS(A,A,N)` or `ETS(A,Ad,N)`.
    pub name: String,
    /// Smoothing parameter of the level.
    pub alpha: f64,
    /// Smoothing parameter of the trend (trend models only).
    pub beta: Option<f64>,
    /// Damping parameter (damped model only).
    pub phi: Option<f64>,
    /// Standard deviation of the one-step errors.
    pub sigma: f64,
    /// Corrected Akaike information criterion of the chosen model.
    pub aicc: f64,
    /// Bayesian information criterion of the chosen model (the criterion
    /// the candidates were compared on).
    pub bic: f64,
    /// The weekly profile taken off the series before the model was fitted
    /// and added back to its forecasts: each weekday's offset, Monday to
    /// Sunday (they sum to 0); absent when the series is forecast as it is.
    pub weekly_profile: Option<[f64; 7]>,
    /// A cycle other than the week taken off the same way (absent when
    /// none is).
    pub cycle: Option<Cycle>,
    /// Observed days the model was fitted on (gaps excluded).
    pub observations: usize,
}

/// A cycle of the series other than the week, found by its
/// autocorrelation and kept because the BIC says so.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cycle {
    /// Its length in days.
    pub period_days: usize,
    /// The offset of each phase, `period_days` of them summing to 0: the
    /// first is that of the first forecast day, and it repeats every
    /// `period_days` days.
    pub offsets: Vec<f64>,
}

/// One forecast day: the point forecast and its 80% and 95% intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ForecastPoint {
    pub day: NaiveDate,
    pub value: f64,
    pub lower_80: f64,
    pub upper_80: f64,
    pub lower_95: f64,
    pub upper_95: f64,
}

/// Forecasts `horizon` days after the last day of `series`.
///
/// `series` holds at most one value per day, in any order; missing days are
/// missing steps of the model (see the module documentation). `bounds`, the
/// metric's range (0..100 for burnout, 0..1 for the others), clamps the
/// point forecasts and the intervals.
pub fn forecast(
    series: &[DayValue],
    horizon: u32,
    threshold: Option<f64>,
    bounds: Option<(f64, f64)>,
) -> Result<Forecast> {
    let daily = DailySeries::new(series)?;
    let (fit, profiles, values) = fit_with_profiles(&daily)?;
    let mut points = Vec::with_capacity(horizon as usize);
    let empirical = fit.empirical_errors(&values, horizon as usize);
    // Half-widths of the 80% and 95% intervals: the in-sample errors'
    // quantiles where there are enough of them, the model's otherwise;
    // never narrowing with the horizon.
    let (mut half_80, mut half_95) = (0.0_f64, 0.0_f64);
    // In-sample errors are smaller than those to come by about the share of
    // the data the estimated parameters, states and profile offsets used
    // up, as residuals are in least squares: widths × √(n / (n − p)).
    let estimated = fit.trend.n_params() + profiles.n_params();
    let inflation =
        (fit.run.observed as f64 / fit.run.observed.saturating_sub(estimated).max(1) as f64).sqrt();
    for ((h, (mean, model_variance)), errors) in (1..=u64::from(horizon))
        .zip(fit.forecast(&values, horizon as usize))
        .zip(empirical)
    {
        let (w80, w95) = if errors.len() >= MIN_EMPIRICAL_ERRORS {
            (
                inflation * quantile(&errors, 0.80),
                inflation * quantile(&errors, 0.95),
            )
        } else {
            let sd = model_variance.sqrt();
            (Z_80 * sd, Z_95 * sd)
        };
        half_80 = half_80.max(w80);
        half_95 = half_95.max(w95).max(half_80);
        let day = daily.last.checked_add_days(Days::new(h)).ok_or_else(|| {
            AnalyticsError::Degenerate(format!(
                "forecast day {h} after {} is out of range",
                daily.last
            ))
        })?;
        let mean = mean + profiles.offset(values.len() - 1 + h as usize, day);
        let clamp = |x: f64| match bounds {
            Some((lo, hi)) => x.clamp(lo, hi),
            None => x,
        };
        points.push(ForecastPoint {
            day,
            value: clamp(mean),
            lower_80: clamp(mean - half_80),
            upper_80: clamp(mean + half_80),
            lower_95: clamp(mean - half_95),
            upper_95: clamp(mean + half_95),
        });
    }
    let threshold_reached_on =
        threshold.and_then(|t| points.iter().find(|p| p.value >= t).map(|p| p.day));
    let mut model = fit.info();
    match (&profiles.weekly, &profiles.cycle) {
        (Some(_), Some((m, _))) => {
            model.name = format!(
                "{} on the series net of its weekly profile and a {m}-day cycle",
                model.name
            );
        }
        (Some(_), None) => {
            model.name = format!("{} on the series net of its weekly profile", model.name);
        }
        (None, Some((m, _))) => {
            model.name = format!("{} on the series net of a {m}-day cycle", model.name);
        }
        (None, None) => {}
    }
    model.weekly_profile = profiles.weekly;
    model.cycle = profiles.cycle.as_ref().map(|(m, offsets)| Cycle {
        period_days: *m,
        offsets: (0..*m).map(|k| offsets[(values.len() + k) % m]).collect(),
    });
    Ok(Forecast {
        model,
        points,
        threshold,
        threshold_reached_on,
    })
}

/// Days of history from which a weekly profile is tried: three weeks.
const MIN_WEEKLY_DAYS: usize = 21;

/// Monday = 0 … Sunday = 6.
fn weekday(day: NaiveDate) -> usize {
    use chrono::Datelike;
    day.weekday().num_days_from_monday() as usize
}

/// The profile of a day-slotted series over a period of `period` days
/// (classical additive decomposition): each day's deviation from the
/// centred moving average of one period around it (a 2×`period` average
/// when `period` is even; days whose window is all observed), each phase's
/// (day index mod `period`) median deviation, centred to sum to 0. `None`
/// when a phase has fewer than two such deviations.
fn phase_profile(values: &[f64], period: usize) -> Option<Vec<f64>> {
    let half = period / 2;
    let mut deviations: Vec<Vec<f64>> = vec![Vec::new(); period];
    for i in half..values.len().saturating_sub(half) {
        let window = &values[i - half..=i + half];
        if !window.iter().all(|v| v.is_finite()) {
            continue;
        }
        let sum: f64 = window.iter().sum();
        let mean = if period % 2 == 1 {
            sum / period as f64
        } else {
            (sum - 0.5 * (window[0] + window[period])) / period as f64
        };
        deviations[i % period].push(values[i] - mean);
    }
    if deviations.iter().any(|d| d.len() < 2) {
        return None;
    }
    let mut profile: Vec<f64> = deviations
        .into_iter()
        .map(|mut d| {
            d.sort_unstable_by(f64::total_cmp);
            let n = d.len();
            if n % 2 == 1 {
                d[n / 2]
            } else {
                0.5 * (d[n / 2 - 1] + d[n / 2])
            }
        })
        .collect();
    let centre = profile.iter().sum::<f64>() / period as f64;
    for o in &mut profile {
        *o -= centre;
    }
    Some(profile)
}

/// The weekly profile Monday to Sunday (see [`phase_profile`]).
fn weekly_profile(values: &[f64], first: NaiveDate) -> Option<[f64; 7]> {
    let by_phase = phase_profile(values, 7)?;
    let mut profile = [0.0; 7];
    for (phase, offset) in by_phase.into_iter().enumerate() {
        let day = first.checked_add_days(Days::new(phase as u64))?;
        profile[weekday(day)] = offset;
    }
    Some(profile)
}

/// The shortest cycle tried besides the week.
const MIN_CYCLE_DAYS: usize = 8;

/// The period of the strongest cycle of the series other than the week:
/// the lag from [`MIN_CYCLE_DAYS`] to a third of the series (so at least
/// three cycles are seen), not a multiple of 7, where the autocorrelation
/// has a positive local maximum, the highest such. Only a proposal: the
/// cycle is kept when the BIC says so (see [`fit_with_profiles`]).
fn dominant_cycle(values: &[f64]) -> Option<usize> {
    let max_lag = values.len() / 3;
    if max_lag <= MIN_CYCLE_DAYS {
        return None;
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let variance: f64 = finite.iter().map(|v| (v - mean).powi(2)).sum();
    if variance <= 0.0 || !variance.is_finite() {
        return None;
    }
    let acf = |k: usize| -> f64 {
        values
            .iter()
            .zip(&values[k..])
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (a - mean) * (b - mean))
            .sum::<f64>()
            / variance
    };
    let r: Vec<f64> = (0..=max_lag + 1).map(acf).collect();
    (MIN_CYCLE_DAYS..=max_lag)
        .filter(|&k| k % 7 != 0 && r[k] > 0.0 && r[k] > r[k - 1] && r[k] >= r[k + 1])
        .max_by(|&a, &b| r[a].total_cmp(&r[b]))
}

/// What is taken off the series before the model is fitted, and added
/// back to its forecasts.
#[derive(Debug, Clone, Default, PartialEq)]
struct Profiles {
    /// Monday to Sunday.
    weekly: Option<[f64; 7]>,
    /// The period and each phase's offset (phase = day index mod period).
    cycle: Option<(usize, Vec<f64>)>,
}

impl Profiles {
    /// The offset of the day at `index` (from the first day of the history),
    /// which is `day`.
    fn offset(&self, index: usize, day: NaiveDate) -> f64 {
        self.weekly.map_or(0.0, |w| w[weekday(day)])
            + self.cycle.as_ref().map_or(0.0, |(m, c)| c[index % m])
    }

    /// Free offsets counted as parameters in the BIC.
    fn n_params(&self) -> usize {
        // A cycle's m − 1 free offsets and its period.
        self.weekly.map_or(0, |_| 6) + self.cycle.as_ref().map_or(0, |(m, _)| *m)
    }
}

/// The best fit of the series as it is, or net of its weekly profile, of
/// its strongest other cycle, or of both (the cycle looked for after the
/// weekly profile is taken off): the smallest BIC with the profiles' free
/// offsets counted as parameters. The one-step errors, hence the SSE, are
/// those of the original series either way (an offset is added back to
/// each one-step forecast). Returns the fit, the profiles and the values
/// the fit was made on.
fn fit_with_profiles(daily: &DailySeries) -> Result<(Fit, Profiles, Vec<f64>)> {
    let plain = fit_best(&daily.values)?;
    let observed = daily.values.iter().filter(|v| v.is_finite()).count();
    let first = daily
        .last
        .checked_sub_days(Days::new(daily.values.len() as u64 - 1))
        .unwrap_or(daily.last);
    let ln_n = (observed as f64).ln();
    let mut best = (plain.bic, plain, Profiles::default(), daily.values.clone());
    if observed < MIN_WEEKLY_DAYS {
        let (_, fit, profiles, values) = best;
        return Ok((fit, profiles, values));
    }
    let adjust = |values: &[f64], profiles: &Profiles| -> Vec<f64> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let day = first.checked_add_days(Days::new(i as u64)).unwrap_or(first);
                v - profiles.offset(i, day)
            })
            .collect()
    };
    let mut consider = |profiles: Profiles, trends: &[Trend]| {
        let adjusted = adjust(&daily.values, &profiles);
        if let Ok(fit) = fit_best_of(&adjusted, trends) {
            let score = fit.bic + profiles.n_params() as f64 * ln_n;
            if score < best.0 {
                best = (score, fit, profiles, adjusted);
            }
        }
    };
    let weekly = weekly_profile(&daily.values, first);
    // Net of the weekly profile, without a trend: on the demo's
    // organisation (a weekly swing and a slower cycle) the damped trend
    // fitted to the adjusted series followed the cycle's last slope and
    // lost to the naive forecast (MAE 5.51 against 4.70 in `organism
    // analyze backtest`).
    if let Some(w) = weekly {
        consider(
            Profiles {
                weekly: Some(w),
                cycle: None,
            },
            &[Trend::None],
        );
    }
    // The strongest other cycle, of the series net of its weekly profile
    // when it has one (both kept), and of the series as it is.
    let mut tries = vec![None];
    if weekly.is_some() {
        tries.push(weekly);
    }
    for w in tries {
        let base = Profiles {
            weekly: w,
            cycle: None,
        };
        let net = adjust(&daily.values, &base);
        let Some(m) = dominant_cycle(&net) else {
            continue;
        };
        let Some(c) = phase_profile(&net, m) else {
            continue;
        };
        consider(
            Profiles {
                weekly: w,
                cycle: Some((m, c)),
            },
            &Trend::CANDIDATES,
        );
    }
    let (_, fit, profiles, values) = best;
    Ok((fit, profiles, values))
}

/// The `p` quantile of sorted, non-empty `values`, interpolated linearly
/// between order statistics (Hyndman & Fan's type 7, numpy's default).
fn quantile(values: &[f64], p: f64) -> f64 {
    let position = p * (values.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    values[below] + (position - below as f64) * (values[above] - values[below])
}

/// The series laid out one slot per calendar day from its first to its last
/// day, NaN on the days it skips.
struct DailySeries {
    values: Vec<f64>,
    last: NaiveDate,
}

impl DailySeries {
    fn new(series: &[DayValue]) -> Result<Self> {
        let observed = series.iter().filter(|v| v.value.is_finite()).count();
        if observed < MIN_HISTORY_DAYS {
            return Err(AnalyticsError::NotEnoughData(format!(
                "a forecast needs at least {MIN_HISTORY_DAYS} days with a value, got {observed}"
            )));
        }
        let first = series
            .iter()
            .map(|v| v.day)
            .min()
            .expect("the series has values");
        let last = series
            .iter()
            .map(|v| v.day)
            .max()
            .expect("the series has values");
        let span = usize::try_from((last - first).num_days()).expect("last >= first") + 1;
        let mut values = vec![f64::NAN; span];
        let mut seen = vec![false; span];
        for v in series {
            let i = usize::try_from((v.day - first).num_days()).expect("day >= first");
            if std::mem::replace(&mut seen[i], true) {
                return Err(AnalyticsError::Degenerate(format!(
                    "the series has two values for {}",
                    v.day
                )));
            }
            values[i] = v.value;
        }
        Ok(Self { values, last })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trend {
    None,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "fitted in the tests only: not a candidate, see Selection"
        )
    )]
    Additive,
    Damped,
}

impl Trend {
    /// The models compared (see **Selection** in the module documentation
    /// for why the undamped trend is not one).
    const CANDIDATES: [Trend; 2] = [Trend::None, Trend::Damped];

    fn name(self) -> &'static str {
        match self {
            Trend::None => "ETS(A,N,N)",
            Trend::Additive => "ETS(A,A,N)",
            Trend::Damped => "ETS(A,Ad,N)",
        }
    }

    /// Estimated parameters and initial states: α and l(0); β and b(0)
    /// with a trend; φ when damped.
    fn n_params(self) -> usize {
        match self {
            Trend::None => 2,
            Trend::Additive => 4,
            Trend::Damped => 5,
        }
    }
}

/// Parameters and initial states of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    alpha: f64,
    beta: f64,
    phi: f64,
    l0: f64,
    b0: f64,
}

/// The result of running the model's equations over the series.
#[derive(Debug, Clone, Copy)]
struct Run {
    sse: f64,
    observed: usize,
    level: f64,
    slope: f64,
}

/// Runs the state equations from the initial states over `y`; NaN days
/// are missing steps (no correction, no residual).
fn run(y: &[f64], p: &Params) -> Run {
    let (mut level, mut slope) = (p.l0, p.b0);
    let (mut sse, mut observed) = (0.0, 0);
    for &obs in y {
        let damped_slope = p.phi * slope;
        let predicted = level + damped_slope;
        if obs.is_finite() {
            let e = obs - predicted;
            sse += e * e;
            observed += 1;
            level = predicted + p.alpha * e;
            slope = damped_slope + p.beta * e;
        } else {
            level = predicted;
            slope = damped_slope;
        }
    }
    Run {
        sse,
        observed,
        level,
        slope,
    }
}

/// A fitted model.
#[derive(Debug, Clone, Copy)]
struct Fit {
    trend: Trend,
    params: Params,
    run: Run,
    aicc: f64,
    bic: f64,
}

impl Fit {
    fn sigma2(&self) -> f64 {
        self.run.sse / (self.run.observed - self.trend.n_params()) as f64
    }

    /// Mean and variance of the forecasts 1..=horizon steps ahead: the
    /// class-1 variance of the model plus the uncertainty of the estimated
    /// initial states carried to the last state.
    fn forecast(&self, y: &[f64], horizon: usize) -> impl Iterator<Item = (f64, f64)> + '_ {
        let Params {
            alpha, beta, phi, ..
        } = self.params;
        let sigma2 = self.sigma2();
        let cov = self.final_state_covariance(y);
        let mut phi_power = 1.0;
        // Σ_{i=1}^{h} φ^i, for the mean at step h.
        let mut phi_sum = 0.0;
        // Σ_{j=1}^{h−1} c_j², for the variance at step h.
        let mut c_squares = 0.0;
        let mut previous_phi_sum = 0.0;
        (1..=horizon).map(move |h| {
            if h > 1 {
                let c = alpha + beta * previous_phi_sum;
                c_squares += c * c;
            }
            phi_power *= phi;
            phi_sum += phi_power;
            previous_phi_sum = phi_sum;
            let mean = self.run.level + phi_sum * self.run.slope;
            let estimation = cov[0][0] + 2.0 * phi_sum * cov[0][1] + phi_sum * phi_sum * cov[1][1];
            (mean, sigma2 * (1.0 + c_squares) + estimation)
        })
    }

    /// The absolute in-sample `h`-step errors for h = 1..=horizon, each
    /// horizon's sorted ascending: from every origin after the first
    /// [`MIN_HISTORY_DAYS`] observed days, the fitted model's forecast `h`
    /// days on against the value observed there (a missing day gives no
    /// error). Their quantiles are the "empirical" intervals of Williams &
    /// Goodman (1971): they keep what the model leaves out (a slow cycle,
    /// errors that are not independent), which the class-1 variance
    /// assumes away.
    fn empirical_errors(&self, y: &[f64], horizon: usize) -> Vec<Vec<f64>> {
        let Params {
            alpha, beta, phi, ..
        } = self.params;
        // Σ_{i=1}^{h} φ^i for h = 1..=horizon.
        let phi_sums: Vec<f64> = (1..=horizon)
            .scan((0.0, 1.0), |(sum, power), _| {
                *power *= phi;
                *sum += *power;
                Some(*sum)
            })
            .collect();
        let mut errors = vec![Vec::new(); horizon];
        let (mut level, mut slope) = (self.params.l0, self.params.b0);
        let mut observed = 0;
        for (t, &obs) in y.iter().enumerate() {
            let damped_slope = phi * slope;
            let predicted = level + damped_slope;
            if obs.is_finite() {
                let e = obs - predicted;
                level = predicted + alpha * e;
                slope = damped_slope + beta * e;
                observed += 1;
            } else {
                level = predicted;
                slope = damped_slope;
            }
            if observed < MIN_HISTORY_DAYS {
                continue;
            }
            for (h, at_h) in errors.iter_mut().enumerate() {
                let Some(&actual) = y.get(t + h + 1) else {
                    break;
                };
                if actual.is_finite() {
                    at_h.push((actual - (level + phi_sums[h] * slope)).abs());
                }
            }
        }
        for at_h in &mut errors {
            at_h.sort_unstable_by(f64::total_cmp);
        }
        errors
    }

    /// The class-1 variance alone (no estimation term), for tests.
    #[cfg(test)]
    fn model_variance(&self, horizon: usize) -> Vec<f64> {
        let zero = Fit {
            trend: self.trend,
            ..*self
        };
        let mut out = Vec::new();
        let (mut c_squares, mut phi_sum, mut phi_power) = (0.0, 0.0, 1.0);
        for h in 1..=horizon {
            if h > 1 {
                let c = zero.params.alpha + zero.params.beta * phi_sum;
                c_squares += c * c;
            }
            phi_power *= zero.params.phi;
            phi_sum += phi_power;
            out.push(zero.sigma2() * (1.0 + c_squares));
        }
        out
    }

    /// The covariance of the last state `(l(n), b(n))` due to the
    /// estimation of the initial states. Given α, β and φ the one-step
    /// errors are linear in `x(0) = (l(0), b(0))`: `e = e₀ − G·x(0)`, where
    /// row t of G is `∂ŷ(t)/∂x(0) = w'·S(t−1)`, `S(t) = ∂x(t)/∂x(0)` follows
    /// `S(t) = (F − g·w')·S(t−1)` on observed days and `F·S(t−1)` on missing
    /// ones (`F = [[1, φ], [0, φ]]`, `g = (α, β)`, `w = (1, φ)`). So, as in
    /// least squares, `Cov(x̂(0)) = σ²·(G'G)⁻¹` and
    /// `Cov(x̂(n)) = S(n)·Cov(x̂(0))·S(n)'`. Without a trend only `l` is
    /// estimated and the matrices are 1×1.
    fn final_state_covariance(&self, y: &[f64]) -> [[f64; 2]; 2] {
        let Params {
            alpha, beta, phi, ..
        } = self.params;
        let has_trend = self.trend != Trend::None;
        // S as [[s_ll, s_lb], [s_bl, s_bb]].
        let mut s = [[1.0, 0.0], [0.0, if has_trend { 1.0 } else { 0.0 }]];
        let mut info = [[0.0; 2]; 2];
        for &obs in y {
            // w'S and F·S.
            let ws = [s[0][0] + phi * s[1][0], s[0][1] + phi * s[1][1]];
            let fs = [ws, [phi * s[1][0], phi * s[1][1]]];
            if obs.is_finite() {
                for i in 0..2 {
                    for j in 0..2 {
                        info[i][j] += ws[i] * ws[j];
                    }
                }
                s = [
                    [fs[0][0] - alpha * ws[0], fs[0][1] - alpha * ws[1]],
                    [fs[1][0] - beta * ws[0], fs[1][1] - beta * ws[1]],
                ];
            } else {
                s = fs;
            }
        }
        let sigma2 = self.sigma2();
        let cov0 = if has_trend {
            let det = info[0][0] * info[1][1] - info[0][1] * info[1][0];
            if det <= 0.0 || !det.is_finite() {
                return [[0.0; 2]; 2];
            }
            [
                [sigma2 * info[1][1] / det, -sigma2 * info[0][1] / det],
                [-sigma2 * info[1][0] / det, sigma2 * info[0][0] / det],
            ]
        } else if info[0][0] > 0.0 {
            [[sigma2 / info[0][0], 0.0], [0.0, 0.0]]
        } else {
            return [[0.0; 2]; 2];
        };
        // S·Cov·S'.
        let mut sc = [[0.0; 2]; 2];
        for i in 0..2 {
            for j in 0..2 {
                sc[i][j] = s[i][0] * cov0[0][j] + s[i][1] * cov0[1][j];
            }
        }
        let mut out = [[0.0; 2]; 2];
        for i in 0..2 {
            for j in 0..2 {
                out[i][j] = sc[i][0] * s[j][0] + sc[i][1] * s[j][1];
            }
        }
        out
    }

    fn info(&self) -> ModelInfo {
        let has_trend = self.trend != Trend::None;
        ModelInfo {
            name: self.trend.name().to_owned(),
            alpha: self.params.alpha,
            beta: has_trend.then_some(self.params.beta),
            phi: (self.trend == Trend::Damped).then_some(self.params.phi),
            sigma: self.sigma2().sqrt(),
            aicc: self.aicc,
            bic: self.bic,
            weekly_profile: None,
            cycle: None,
            observations: self.run.observed,
        }
    }
}

/// Fits every candidate the history can support and keeps the smallest
/// BIC.
fn fit_best(y: &[f64]) -> Result<Fit> {
    fit_best_of(y, &Trend::CANDIDATES)
}

/// [`fit_best`] among `candidates`.
fn fit_best_of(y: &[f64], candidates: &[Trend]) -> Result<Fit> {
    let start = Start::new(y);
    candidates
        .iter()
        .copied()
        .filter(|t| start.observed >= t.n_params() + 3)
        .map(|t| fit_model(y, t, &start))
        .min_by(|a, b| a.bic.total_cmp(&b.bic))
        .ok_or_else(|| {
            AnalyticsError::NotEnoughData(format!(
                "a forecast needs at least {MIN_HISTORY_DAYS} days with a value, got {}",
                start.observed
            ))
        })
}

/// Starting values and scales of the search, from the first observations.
#[derive(Debug, Clone, Copy)]
struct Start {
    observed: usize,
    /// Intercept and slope of the least-squares line through the first
    /// (up to) ten observations, against the day index (the first day is 1,
    /// so the intercept is the state before it).
    l0: f64,
    b0: f64,
    /// Mean of the first (up to) ten observations, the level start without
    /// trend.
    mean0: f64,
    /// Standard deviation of the observations: the step of the initial
    /// simplex in the initial states.
    scale: f64,
    /// The smallest SSE per observation that counts: a constant series
    /// would otherwise have a log-likelihood of +∞.
    sse_floor_per_obs: f64,
}

impl Start {
    fn new(y: &[f64]) -> Self {
        let obs: Vec<(f64, f64)> = y
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| ((i + 1) as f64, v))
            .collect();
        let observed = obs.len();
        let head = &obs[..observed.min(10)];
        let m = head.len() as f64;
        let (tx, vx) = head
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, v)| (a + t, b + v));
        let (t_mean, mean0) = (tx / m, vx / m);
        let stt: f64 = head.iter().map(|(t, _)| (t - t_mean).powi(2)).sum();
        let stv: f64 = head.iter().map(|(t, v)| (t - t_mean) * (v - mean0)).sum();
        let b0 = if stt > 0.0 { stv / stt } else { 0.0 };
        let l0 = mean0 - b0 * t_mean;
        let all_mean = obs.iter().map(|(_, v)| v).sum::<f64>() / observed as f64;
        let mean_square = obs.iter().map(|(_, v)| v * v).sum::<f64>() / observed as f64;
        let var = obs.iter().map(|(_, v)| (v - all_mean).powi(2)).sum::<f64>() / observed as f64;
        let sse_floor_per_obs = 1e-20 * (1.0 + mean_square);
        Start {
            observed,
            l0,
            b0,
            mean0,
            scale: var.sqrt().max(sse_floor_per_obs.sqrt()),
            sse_floor_per_obs,
        }
    }
}

fn logistic(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Maps the unconstrained search vector to parameters inside the usual
/// bounds: `u = [α, l0]`, `[α, β, l0, b0]` or `[α, β, φ, l0, b0]`.
fn decode(trend: Trend, start: &Start, u: &[f64]) -> Params {
    let alpha = ALPHA_BOUNDS.0 + (ALPHA_BOUNDS.1 - ALPHA_BOUNDS.0) * logistic(u[0]);
    match trend {
        Trend::None => Params {
            alpha,
            beta: 0.0,
            phi: 1.0,
            l0: start.mean0 + start.scale * u[1],
            b0: 0.0,
        },
        Trend::Additive | Trend::Damped => {
            let beta = BETA_LOWER + (alpha - BETA_LOWER) * logistic(u[1]);
            let (phi, rest) = if trend == Trend::Damped {
                (
                    PHI_BOUNDS.0 + (PHI_BOUNDS.1 - PHI_BOUNDS.0) * logistic(u[2]),
                    &u[3..],
                )
            } else {
                (1.0, &u[2..])
            };
            Params {
                alpha,
                beta,
                phi,
                l0: start.l0 + start.scale * rest[0],
                b0: start.b0 + 0.1 * start.scale * rest[1],
            }
        }
    }
}

/// The search's starting points: the likelihood of the trend models often
/// has two basins (a smooth level with a stiff trend, and a level and trend
/// that both follow the data closely, β near α), so the search starts from
/// (α, β/α) = (0.3, 0.1), (0.2, 0.9) and (0.7, 0.5), φ = 0.95, and the
/// initial states from the first observations; without trend from α = 0.2
/// and 0.7.
fn initial_points(trend: Trend) -> Vec<Vec<f64>> {
    let alpha = |a: f64| logit((a - ALPHA_BOUNDS.0) / (ALPHA_BOUNDS.1 - ALPHA_BOUNDS.0));
    let beta = |a: f64, ratio: f64| logit((ratio * a - BETA_LOWER) / (a - BETA_LOWER));
    let phi = logit((0.95 - PHI_BOUNDS.0) / (PHI_BOUNDS.1 - PHI_BOUNDS.0));
    let trend_starts = [(0.3, 0.1), (0.2, 0.9), (0.7, 0.5)];
    match trend {
        Trend::None => vec![vec![alpha(0.2), 0.0], vec![alpha(0.7), 0.0]],
        Trend::Additive => trend_starts
            .iter()
            .map(|&(a, r)| vec![alpha(a), beta(a, r), 0.0, 0.0])
            .collect(),
        Trend::Damped => trend_starts
            .iter()
            .map(|&(a, r)| vec![alpha(a), beta(a, r), phi, 0.0, 0.0])
            .collect(),
    }
}

fn fit_model(y: &[f64], trend: Trend, start: &Start) -> Fit {
    let objective = |u: &[f64]| {
        let r = run(y, &decode(trend, start, u));
        let n = r.observed as f64;
        n * (r.sse / n).max(start.sse_floor_per_obs).ln()
    };
    // From each start, one restart from the optimum: Nelder–Mead's simplex
    // can collapse before a minimum; a fresh simplex there costs little.
    let best = initial_points(trend)
        .into_iter()
        .map(|x0| {
            let x = nelder_mead(&objective, &x0, 1.0, 400);
            let x = nelder_mead(&objective, &x, 0.5, 200);
            let fx = objective(&x);
            (x, fx)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(x, _)| x)
        .expect("every model has starting points");
    let params = decode(trend, start, &best);
    let run = run(y, &params);
    let n = run.observed as f64;
    let minus_2_loglik =
        n * ((2.0 * std::f64::consts::PI * (run.sse / n).max(start.sse_floor_per_obs)).ln() + 1.0);
    // k counts σ too.
    let k = (trend.n_params() + 1) as f64;
    let aicc = minus_2_loglik + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0);
    let bic = minus_2_loglik + k * n.ln();
    Fit {
        trend,
        params,
        run,
        aicc,
        bic,
    }
}

/// Minimises `f` from `x0` by the Nelder–Mead simplex method (reflection
/// 1, expansion 2, contraction ½, shrink ½), with an initial simplex of
/// `step` along each axis, until the simplex's values agree to 1e-10 or
/// `max_evals` evaluations.
fn nelder_mead(f: &impl Fn(&[f64]) -> f64, x0: &[f64], step: f64, max_evals: usize) -> Vec<f64> {
    let d = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=d)
        .map(|i| {
            let mut x = x0.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let fx = f(&x);
            (x, fx)
        })
        .collect();
    let mut evals = d + 1;
    let point = |centroid: &[f64], worst: &[f64], t: f64| -> Vec<f64> {
        centroid
            .iter()
            .zip(worst)
            .map(|(c, w)| c + t * (w - c))
            .collect()
    };
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (f_best, f_worst) = (simplex[0].1, simplex[d].1);
        if (f_worst - f_best).abs() <= 1e-8 * (1.0 + f_best.abs()) {
            break;
        }
        let mut centroid = vec![0.0; d];
        for (x, _) in &simplex[..d] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / d as f64;
            }
        }
        let worst = simplex[d].0.clone();
        let reflected = point(&centroid, &worst, -1.0);
        let f_reflected = f(&reflected);
        evals += 1;
        if f_reflected < f_best {
            let expanded = point(&centroid, &worst, -2.0);
            let f_expanded = f(&expanded);
            evals += 1;
            simplex[d] = if f_expanded < f_reflected {
                (expanded, f_expanded)
            } else {
                (reflected, f_reflected)
            };
        } else if f_reflected < simplex[d - 1].1 {
            simplex[d] = (reflected, f_reflected);
        } else {
            let (toward, f_toward) = if f_reflected < f_worst {
                (reflected.clone(), f_reflected)
            } else {
                (worst.clone(), f_worst)
            };
            let contracted = point(&centroid, &toward, 0.5);
            let f_contracted = f(&contracted);
            evals += 1;
            if f_contracted < f_toward {
                simplex[d] = (contracted, f_contracted);
            } else {
                let best = simplex[0].0.clone();
                for (x, fx) in simplex.iter_mut().skip(1) {
                    *x = point(&best, x, 0.5);
                    *fx = f(x);
                }
                evals += d;
            }
        }
    }
    simplex
        .into_iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(x, _)| x)
        .expect("the simplex has d + 1 points")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series of `reference_series.py` (below), rounded to 3 decimals.
    const Y: [f64; 30] = [
        39.487, 42.887, 44.494, 40.486, 38.658, 39.824, 38.503, 38.604, 36.849, 39.464, 37.419,
        34.402, 36.163, 38.732, 40.221, 37.983, 38.858, 39.745, 42.984, 41.291, 42.819, 47.042,
        43.54, 43.059, 44.913, 45.438, 44.712, 44.162, 41.254, 41.641,
    ];

    fn day(i: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date") + Days::new(i)
    }

    fn series(values: &[f64]) -> Vec<DayValue> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| DayValue {
                day: day(i as u64),
                value,
            })
            .collect()
    }

    fn fixed(trend: Trend, params: Params) -> Fit {
        let run = run(&Y, &params);
        Fit {
            trend,
            params,
            run,
            aicc: 0.0,
            bic: 0.0,
        }
    }

    fn loglik(fit: &Fit) -> f64 {
        let n = fit.run.observed as f64;
        -0.5 * n * ((2.0 * std::f64::consts::PI * fit.run.sse / n).ln() + 1.0)
    }

    /// Reference values from statsmodels 0.15.0, produced by
    ///
    /// ```python
    /// rng = np.random.default_rng(17)
    /// y = 40 + np.cumsum(0.3 + rng.normal(0, 1, 30)) + rng.normal(0, 1.5, 30)
    /// ys = pd.Series(np.round(y, 3), index=pd.date_range("2026-01-01", periods=30))
    /// r = ETSModel(ys, error="add", trend="add", damped_trend=True).smooth([0.35, 0.05, 0.9, 39.5, 0.4])
    /// p = r.get_prediction(start=30, end=39)
    /// r.llf, p.predicted_mean, p.forecast_variance / r.mse
    /// ```
    /// (and the same without damping, `[0.35, 0.05, 39.5, 0.4]`, and
    /// without trend, `[0.35, 39.5]`). statsmodels scales the variance by
    /// SSE/n where this module uses SSE/(n − p), hence the ratio.
    #[test]
    fn likelihood_forecasts_and_variances_match_statsmodels_at_fixed_parameters() {
        let cases = [
            (
                Trend::Damped,
                Params {
                    alpha: 0.35,
                    beta: 0.05,
                    phi: 0.9,
                    l0: 39.5,
                    b0: 0.4,
                },
                -67.67535849517068,
                [42.903174705302305, 42.80219054648863, 42.28456643905403],
                [1.0, 1.156025, 3.524199123695841],
            ),
            (
                Trend::Additive,
                Params {
                    alpha: 0.35,
                    beta: 0.05,
                    phi: 1.0,
                    l0: 39.5,
                    b0: 0.4,
                },
                -69.7848098098494,
                [43.407894790674895, 43.43859249167492, 43.6841740996751],
                [1.0, 1.16, 4.39],
            ),
            (
                Trend::None,
                Params {
                    alpha: 0.35,
                    beta: 0.0,
                    phi: 1.0,
                    l0: 39.5,
                    b0: 0.0,
                },
                -66.90062903001598,
                [42.71674161352671, 42.71674161352671, 42.71674161352671],
                [1.0, 1.1225, 2.1025],
            ),
        ];
        for (trend, params, llf, means, ratios) in cases {
            let fit = fixed(trend, params);
            assert!(
                (loglik(&fit) - llf).abs() < 1e-9,
                "{trend:?} llf {}",
                loglik(&fit)
            );
            let out: Vec<(f64, f64)> = fit.forecast(&Y, 10).collect();
            let model_variance = fit.model_variance(10);
            let sm_mse = fit.run.sse / 30.0;
            for (k, h) in [0, 1, 9].into_iter().enumerate() {
                assert!(
                    (out[h].0 - means[k]).abs() < 1e-9,
                    "{trend:?} mean h={}",
                    h + 1
                );
                let ratio = model_variance[h] / sm_mse * (30 - trend.n_params()) as f64 / 30.0;
                assert!(
                    (ratio - ratios[k]).abs() < 1e-9,
                    "{trend:?} var h={}: {ratio}",
                    h + 1
                );
            }
        }
    }

    /// statsmodels' own maximum-likelihood fits of `Y`
    /// (`ETSModel(ys, error="add", ...).fit(disp=False, maxiter=10000).llf`,
    /// usual bounds): the search here must reach at least as high a
    /// likelihood, within the bounds.
    #[test]
    fn maximum_likelihood_search_is_at_least_as_good_as_statsmodels() {
        let start = Start::new(&Y);
        for (trend, sm_llf) in [
            (Trend::None, -64.7366019398029),
            (Trend::Additive, -64.57766640594042),
            (Trend::Damped, -64.3858532556874),
        ] {
            let fit = fit_model(&Y, trend, &start);
            assert!(
                loglik(&fit) > sm_llf - 1e-6,
                "{trend:?}: {} < {sm_llf}",
                loglik(&fit)
            );
            let p = fit.params;
            assert!((ALPHA_BOUNDS.0..=ALPHA_BOUNDS.1).contains(&p.alpha));
            if trend != Trend::None {
                assert!(p.beta >= BETA_LOWER && p.beta <= p.alpha);
            }
            if trend == Trend::Damped {
                assert!((PHI_BOUNDS.0..=PHI_BOUNDS.1).contains(&p.phi));
            }
        }
    }

    /// Deterministic noise in [-1, 1) (a linear congruential generator).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    #[test]
    fn a_weekly_rhythm_is_taken_off_and_added_back_to_the_forecast() {
        // 84 days of 50 on weekdays and 43 at weekends, with noise of ±1.
        let values: Vec<f64> = noise(84, 7)
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let weekend = weekday(day(i as u64)) >= 5;
                50.0 - if weekend { 7.0 } else { 0.0 } + e
            })
            .collect();
        let f = forecast(&series(&values), 14, None, None).expect("forecast");
        let profile = f.model.weekly_profile.expect("a weekly profile");
        assert!((profile[5] - profile[2] + 7.0).abs() < 1.0, "{profile:?}");
        assert!(profile.iter().sum::<f64>().abs() < 1e-9);
        assert!(f.model.name.contains("weekly profile"), "{}", f.model.name);
        for p in &f.points {
            let expected = if weekday(p.day) >= 5 { 43.0 } else { 50.0 };
            assert!((p.value - expected).abs() < 1.5, "{p:?}");
            assert!(p.lower_95 < expected && expected < p.upper_95, "{p:?}");
        }
    }

    /// The half-width of the 95% interval at each horizon, as a variance.
    fn interval_variances(f: &Forecast) -> Vec<f64> {
        f.points
            .iter()
            .map(|p| ((p.upper_95 - p.lower_95) / (2.0 * Z_95)).powi(2))
            .collect()
    }

    #[test]
    fn the_in_sample_errors_of_a_cycle_the_model_lacks_exceed_its_variance() {
        // A 17-day cycle of amplitude 6 smoothed by ETS(A,N,N) with α = 0.3:
        // the one-step errors are small, the errors a week out are about
        // the cycle's swing, which the class-1 variance (independent
        // errors) does not foresee.
        let y: Vec<f64> = (0..90)
            .map(|i| 50.0 + 6.0 * (i as f64 * std::f64::consts::TAU / 17.0).sin())
            .collect();
        let params = Params {
            alpha: 0.3,
            beta: 0.0,
            phi: 1.0,
            l0: 50.0,
            b0: 0.0,
        };
        let fit = Fit {
            trend: Trend::None,
            params,
            run: run(&y, &params),
            aicc: 0.0,
            bic: 0.0,
        };
        let model: Vec<f64> = fit.forecast(&y, 14).map(|(_, v)| v).collect();
        let errors = fit.empirical_errors(&y, 14);
        assert!(errors.iter().all(|e| e.len() >= MIN_EMPIRICAL_ERRORS));
        let q95_at_8 = quantile(&errors[7], 0.95);
        assert!(
            q95_at_8 > 1.05 * Z_95 * model[7].sqrt(),
            "{q95_at_8} against {}",
            Z_95 * model[7].sqrt()
        );
        // By hand at h = 1: the one-step errors from the seventh observation's
        // state on, sorted.
        let mut level = 50.0;
        let mut by_hand = Vec::new();
        for (t, &v) in y.iter().enumerate() {
            if t >= MIN_HISTORY_DAYS {
                by_hand.push((v - level).abs());
            }
            level += 0.3 * (v - level);
        }
        by_hand.sort_unstable_by(f64::total_cmp);
        assert_eq!(errors[0].len(), by_hand.len());
        for (a, b) in errors[0].iter().zip(&by_hand) {
            assert!((a - b).abs() < 1e-9, "{a} against {b}");
        }
    }

    #[test]
    fn a_cycle_is_found_taken_off_and_added_back_to_the_forecast() {
        // The demo's shape: a weekend dip and a 17-day cycle under noise.
        let truth = |i: usize| {
            let weekend = weekday(day(i as u64)) >= 5;
            50.0 + 5.0 * (i as f64 * std::f64::consts::TAU / 17.0).sin()
                - if weekend { 6.0 } else { 0.0 }
        };
        let values: Vec<f64> = noise(90, 5)
            .into_iter()
            .enumerate()
            .map(|(i, e)| truth(i) + 0.5 * e)
            .collect();
        let f = forecast(&series(&values), 14, None, None).expect("forecast");
        let cycle = f.model.cycle.as_ref().expect("a cycle");
        assert_eq!(cycle.period_days, 17, "{:?}", f.model);
        assert!(cycle.offsets.iter().sum::<f64>().abs() < 1e-9);
        assert!(f.model.weekly_profile.is_some(), "{:?}", f.model);
        assert!(f.model.name.contains("17-day cycle"), "{}", f.model.name);
        for (h, p) in f.points.iter().enumerate() {
            assert!((p.value - truth(90 + h)).abs() < 1.5, "h={}: {p:?}", h + 1);
            assert!(p.lower_95 <= p.lower_80 && p.upper_80 <= p.upper_95);
            assert!(
                h == 0 || {
                    let before = &f.points[h - 1];
                    p.upper_95 - p.value >= before.upper_95 - before.value - 1e-9
                }
            );
        }
    }

    #[test]
    fn a_random_walk_has_no_cycle() {
        let mut level = 50.0;
        let values: Vec<f64> = noise(90, 21)
            .into_iter()
            .map(|e| {
                level += e;
                level
            })
            .collect();
        let f = forecast(&series(&values), 14, None, None).expect("forecast");
        assert_eq!(f.model.cycle, None, "{:?}", f.model);
    }

    #[test]
    fn the_empirical_errors_of_the_right_model_leave_its_intervals_near_nominal() {
        // White noise around a level: ETS(A,N,N) is the right model, and
        // its in-sample errors are about its own variance.
        let values: Vec<f64> = noise(90, 13).into_iter().map(|e| 50.0 + 2.0 * e).collect();
        let daily = DailySeries::new(&series(&values)).expect("series");
        let (fit, _, adjusted) = fit_with_profiles(&daily).expect("fit");
        let model: Vec<f64> = fit.forecast(&adjusted, 14).map(|(_, v)| v).collect();
        let shown = interval_variances(&forecast(&series(&values), 14, None, None).expect("f"));
        for h in 0..14 {
            assert!(
                shown[h] < 1.6 * model[h],
                "h={}: {} against {}",
                h + 1,
                shown[h],
                model[h]
            );
        }
    }

    #[test]
    fn a_series_without_a_weekly_rhythm_is_forecast_as_it_is() {
        let values: Vec<f64> = noise(84, 11).into_iter().map(|e| 50.0 + 2.0 * e).collect();
        let f = forecast(&series(&values), 14, None, None).expect("forecast");
        assert_eq!(f.model.weekly_profile, None, "{:?}", f.model);
    }

    #[test]
    fn fewer_than_seven_observed_days_is_not_enough_data() {
        let err = forecast(&series(&Y[..6]), 14, None, None).expect_err("too short");
        let AnalyticsError::NotEnoughData(message) = err else {
            panic!("wrong error {err:?}");
        };
        assert!(message.contains("at least 7 days"), "{message}");
        assert!(message.contains("got 6"), "{message}");
        assert!(forecast(&series(&Y[..7]), 14, None, None).is_ok());
    }

    #[test]
    fn a_steady_linear_rise_is_forecast_by_a_trend_model() {
        let values: Vec<f64> = (0..60)
            .map(|t| 20.0 + 0.5 * t as f64 + if t % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let f = forecast(&series(&values), 14, None, None).expect("forecast");
        assert!(f.model.beta.is_some(), "{:?}", f.model);
        let last = f.points.last().expect("14 points");
        assert_eq!(last.day, day(59 + 14));
        // The line would give 20 + 0.5·73 = 56.5; damping may hold it back a little.
        assert!((last.value - 56.5).abs() < 2.5, "{last:?}");
        assert!(last.lower_95 < 56.5 && 56.5 < last.upper_95, "{last:?}");
    }

    #[test]
    fn intervals_nest_and_widen_with_the_horizon() {
        // 25 days: 18 one-step errors from the seventh day on, too few for
        // the empirical interval, so these are the model's.
        let f = forecast(&series(&Y[..25]), 14, None, None).expect("forecast");
        assert_eq!(f.points.len(), 14);
        for p in &f.points {
            assert!(p.lower_95 < p.lower_80 && p.lower_80 < p.value);
            assert!(p.value < p.upper_80 && p.upper_80 < p.upper_95);
        }
        for w in f.points.windows(2) {
            assert!(w[1].upper_95 - w[1].lower_95 >= w[0].upper_95 - w[0].lower_95);
        }
        let first = f.points[0];
        // ±1.96 σ, widened a little by the estimation of the initial states.
        let z = (first.upper_95 - first.value) / f.model.sigma;
        assert!(
            (1.959963984540054 - 1e-9..1.959963984540054 * 1.1).contains(&z),
            "one step ahead is about ±1.96σ: {z}"
        );
    }

    #[test]
    fn missing_days_are_skipped_steps_and_the_forecast_starts_after_the_last_day() {
        let mut s = series(&Y);
        s.retain(|v| ![3, 4, 17].contains(&(v.day - day(0)).num_days()));
        s.reverse();
        let f = forecast(&s, 3, None, None).expect("forecast");
        assert_eq!(f.model.observations, 27);
        let days: Vec<NaiveDate> = f.points.iter().map(|p| p.day).collect();
        assert_eq!(days, vec![day(30), day(31), day(32)]);
        // The same as fitting the day-indexed series with the gaps as NaN.
        let mut y = Y.to_vec();
        for i in [3, 4, 17] {
            y[i] = f64::NAN;
        }
        let best = fit_best(&y).expect("fit");
        assert_eq!(f.model, best.info());
    }

    #[test]
    fn two_values_for_one_day_are_rejected() {
        let mut s = series(&Y);
        s.push(DayValue {
            day: day(5),
            value: 1.0,
        });
        assert!(matches!(
            forecast(&s, 3, None, None),
            Err(AnalyticsError::Degenerate(_))
        ));
    }

    #[test]
    fn the_threshold_is_reached_on_the_first_forecast_day_at_or_above_it() {
        let values: Vec<f64> = (0..30)
            .map(|t| 50.0 + t as f64 + if t % 2 == 0 { 0.2 } else { -0.2 })
            .collect();
        let f = forecast(&series(&values), 14, Some(85.0), Some((0.0, 100.0))).expect("forecast");
        let reached = f.threshold_reached_on.expect("a rise of 1 a day passes 85");
        let first = f
            .points
            .iter()
            .position(|p| p.value >= 85.0)
            .expect("some point");
        assert_eq!(reached, f.points[first].day);
        assert!(first > 0 && f.points[first - 1].value < 85.0);
        let never =
            forecast(&series(&values), 14, Some(99.5), Some((0.0, 100.0))).expect("forecast");
        assert_eq!(never.threshold, Some(99.5));
        assert!(never.points.iter().all(|p| p.value < 99.5));
        assert_eq!(never.threshold_reached_on, None);
    }

    #[test]
    fn bounds_clamp_the_forecast_and_its_intervals() {
        let values: Vec<f64> = (0..30)
            .map(|t| 0.9 + 0.003 * t as f64 + 0.02 * ((t * 7 % 5) as f64 - 2.0))
            .collect();
        let f = forecast(&series(&values), 30, None, Some((0.0, 1.0))).expect("forecast");
        assert!(f.points.iter().any(|p| p.upper_95 == 1.0));
        for p in &f.points {
            for x in [p.value, p.lower_80, p.upper_80, p.lower_95, p.upper_95] {
                assert!((0.0..=1.0).contains(&x), "{p:?}");
            }
        }
    }

    /// The residuals are linear in the initial states, so finite
    /// differences give G and S(n) exactly (up to rounding): the
    /// covariance of the last state must be S(n)·σ²(G'G)⁻¹·S(n)'.
    #[test]
    fn the_initial_state_covariance_matches_finite_differences() {
        let mut y = Y.to_vec();
        y[7] = f64::NAN;
        let params = Params {
            alpha: 0.35,
            beta: 0.05,
            phi: 0.9,
            l0: 39.5,
            b0: 0.4,
        };
        let fit = Fit {
            run: run(&y, &params),
            ..fixed(Trend::Damped, params)
        };
        let residuals = |p: &Params| -> Vec<f64> {
            let (mut l, mut b) = (p.l0, p.b0);
            let mut out = Vec::new();
            for &obs in &y {
                let predicted = l + p.phi * b;
                let e = if obs.is_finite() {
                    obs - predicted
                } else {
                    0.0
                };
                if obs.is_finite() {
                    out.push(e);
                }
                l = predicted + p.alpha * e;
                b = p.phi * b + p.beta * e;
            }
            out
        };
        let (base, base_run) = (residuals(&params), run(&y, &params));
        let shifted = [
            Params {
                l0: params.l0 + 1.0,
                ..params
            },
            Params {
                b0: params.b0 + 1.0,
                ..params
            },
        ];
        let g: Vec<Vec<f64>> = shifted
            .iter()
            .map(|p| residuals(p).iter().zip(&base).map(|(a, b)| b - a).collect())
            .collect();
        let s_n: Vec<[f64; 2]> = shifted
            .iter()
            .map(|p| {
                let r = run(&y, p);
                [r.level - base_run.level, r.slope - base_run.slope]
            })
            .collect();
        let gtg = |i: usize, j: usize| g[i].iter().zip(&g[j]).map(|(a, b)| a * b).sum::<f64>();
        let det = gtg(0, 0) * gtg(1, 1) - gtg(0, 1) * gtg(0, 1);
        let sigma2 = fit.sigma2();
        let inv = [
            [gtg(1, 1) / det, -gtg(0, 1) / det],
            [-gtg(0, 1) / det, gtg(0, 0) / det],
        ];
        let cov = fit.final_state_covariance(&y);
        for a in 0..2 {
            for b in 0..2 {
                // S(n)[a][k] = s_n[k][a] (column k is the response to x0[k]).
                let mut expected = 0.0;
                for k in 0..2 {
                    for m in 0..2 {
                        expected += s_n[k][a] * sigma2 * inv[k][m] * s_n[m][b];
                    }
                }
                assert!(
                    (cov[a][b] - expected).abs() < 1e-9 * (1.0 + expected.abs()),
                    "{a}{b}: {} vs {expected}",
                    cov[a][b]
                );
            }
        }
    }

    #[test]
    fn a_constant_series_is_forecast_flat_with_finite_figures() {
        let f = forecast(&series(&[42.0; 20]), 5, None, None).expect("forecast");
        for p in &f.points {
            assert!((p.value - 42.0).abs() < 1e-6, "{p:?}");
            assert!(p.upper_95 - p.lower_95 < 1e-6, "{p:?}");
        }
        assert!(f.model.aicc.is_finite() && f.model.sigma.is_finite());
        assert!(serde_json::to_value(&f).is_ok());
    }
}
