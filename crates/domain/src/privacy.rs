//! Differential privacy for the aggregates a `manager` key sees.
//!
//! A manager sees a team's daily averages, never an individual. The minimum
//! group size alone does not stop arithmetic: two overlapping answers (a team
//! day before and after a late sample, or one team day of five people and
//! what the manager knows of four of them) can still single one person out.
//! So every average a manager sees carries Laplace noise calibrated to one
//! member's influence on it:
//!
//! * **Unit of privacy**: one member's measurements of one UTC day (a
//!   "member-day"). Neighbouring data sets differ in the values of one
//!   member-day; membership itself (who was measured) is not hidden from the
//!   team's manager, who knows the team, so the member count of a shown day
//!   is exact.
//! * **Query**: the mean over the day's `n` members of each member's own
//!   daily mean of the metric. Every member weighs the same whatever their
//!   number of samples, and each member's daily mean lies in the metric's
//!   range `[0, R]`, so replacing one member-day moves the answer by at most
//!   `R / n` (the sensitivity).
//! * **Mechanism**: Laplace with scale `R / (n · ε)` added to that mean,
//!   then clamped to `[0, R]` and rounded to 1e-6 (post-processing, which
//!   costs no privacy). Each released value spends `ε`; a day row of four
//!   metrics spends `4ε` on each member-day it contains.
//! * **Consistent noise**: the noise is drawn from an HMAC-SHA256 of a
//!   secret kept in the database and of exactly what is being released (the
//!   team, the day, the metric, `n` and the exact bits of the true mean). The
//!   same data always gives the same answer, so asking again, or with
//!   another window that overlaps, averages nothing away; a change of the
//!   data gives a fresh draw (a new release, with its own `ε`).
//!
//! Not covered: floating-point attacks on the Laplace sampler (Mironov,
//! 2012) are only blunted by the clamping and rounding, not ruled out; the
//! budget of a person over many days composes (`4ε` per day shown).

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::ValidationError;

/// The privacy budget spent on each noisy value a manager sees. Smaller is
/// more private and noisier. Finite and in `(0, 10]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Epsilon(f64);

impl Epsilon {
    /// The default budget per released value.
    pub const DEFAULT: Epsilon = Epsilon(1.0);

    pub fn new(value: f64) -> Result<Self, ValidationError> {
        if !(value.is_finite() && value > 0.0 && value <= 10.0) {
            return Err(ValidationError::new(
                "manager_epsilon",
                format!("must be a number in (0, 10], got {value}"),
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Epsilon {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The secret the noise is derived from (kept in the database, so that every
/// replica draws the same noise for the same data).
#[derive(Clone)]
pub struct NoiseSecret(Vec<u8>);

impl std::fmt::Debug for NoiseSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseSecret(..)")
    }
}

impl NoiseSecret {
    /// At least 16 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ValidationError> {
        if bytes.len() < 16 {
            return Err(ValidationError::new(
                "noise_secret",
                "must be at least 16 bytes",
            ));
        }
        Ok(Self(bytes))
    }

    /// A uniform number in the open interval (0, 1), determined by `parts`.
    fn uniform(&self, parts: &[&[u8]]) -> f64 {
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for part in parts {
            // Length-prefixed, so that no two different lists of parts give
            // the same message.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut word = [0u8; 8];
        word.copy_from_slice(&digest[..8]);
        // 53 random bits, shifted by half a step: never 0, never 1.
        let bits = u64::from_be_bytes(word) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A Laplace(0, `scale`) draw determined by `parts`.
    pub fn laplace(&self, scale: f64, parts: &[&[u8]]) -> f64 {
        let centred = self.uniform(parts) - 0.5;
        -scale * centred.signum() * (1.0 - 2.0 * centred.abs()).ln()
    }
}

/// What a manager sees of one metric's daily average over `members` members.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoisyMean {
    /// Released value: the true mean plus noise, clamped and rounded.
    pub value: f64,
    /// The Laplace scale used (`range / (members · ε)`), shown so the reader
    /// knows how far to trust the value.
    pub scale: f64,
}

/// The noisy mean of `members` per-member values in `[0, range]` whose true
/// mean is `mean`. `context` names what is released (team, day, metric); it
/// and the exact true value select the noise.
pub fn noisy_mean(
    secret: &NoiseSecret,
    epsilon: Epsilon,
    context: &[&[u8]],
    mean: f64,
    members: u32,
    range: f64,
) -> NoisyMean {
    let scale = range / (f64::from(members.max(1)) * epsilon.get());
    let members_bytes = members.to_be_bytes();
    let mean_bytes = mean.to_bits().to_be_bytes();
    let mut parts: Vec<&[u8]> = context.to_vec();
    parts.push(&members_bytes);
    parts.push(&mean_bytes);
    let noisy = mean + secret.laplace(scale, &parts);
    let value = (noisy.clamp(0.0, range) * 1e6).round() / 1e6;
    NoisyMean { value, scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> NoiseSecret {
        NoiseSecret::new(b"0123456789abcdef-test-secret".to_vec()).unwrap()
    }

    #[test]
    fn epsilon_is_positive_and_bounded() {
        assert!(Epsilon::new(0.0).is_err());
        assert!(Epsilon::new(-1.0).is_err());
        assert!(Epsilon::new(f64::NAN).is_err());
        assert!(Epsilon::new(11.0).is_err());
        assert_eq!(Epsilon::new(0.5).unwrap().get(), 0.5);
        assert_eq!(Epsilon::new(20.0).unwrap_err().field, "manager_epsilon");
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert_eq!(
            NoiseSecret::new(vec![1; 15]).unwrap_err().field,
            "noise_secret"
        );
    }

    #[test]
    fn the_same_release_always_gets_the_same_noise() {
        let s = secret();
        let a = noisy_mean(&s, Epsilon::DEFAULT, &[b"T", b"2026-01-01"], 40.0, 6, 100.0);
        let b = noisy_mean(&s, Epsilon::DEFAULT, &[b"T", b"2026-01-01"], 40.0, 6, 100.0);
        assert_eq!(a, b);
        let other_day = noisy_mean(&s, Epsilon::DEFAULT, &[b"T", b"2026-01-02"], 40.0, 6, 100.0);
        assert_ne!(a.value, other_day.value);
        let other_data = noisy_mean(
            &s,
            Epsilon::DEFAULT,
            &[b"T", b"2026-01-01"],
            40.000001,
            6,
            100.0,
        );
        assert_ne!(a.value, other_data.value);
    }

    #[test]
    fn parts_are_length_prefixed() {
        let s = secret();
        assert_ne!(s.uniform(&[b"ab", b"c"]), s.uniform(&[b"a", b"bc"]));
    }

    #[test]
    fn the_noise_is_laplace_with_the_stated_scale() {
        // Over many independent releases, the mean absolute deviation of a
        // Laplace(0, b) draw is b, its median 0, and its variance 2b².
        let s = secret();
        let b = 3.0;
        let n = 200_000u32;
        let draws: Vec<f64> = (0..n)
            .map(|i| s.laplace(b, &[b"draw", &i.to_be_bytes()]))
            .collect();
        let mean = draws.iter().sum::<f64>() / f64::from(n);
        let mad = draws.iter().map(|x| x.abs()).sum::<f64>() / f64::from(n);
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((mad - b).abs() < 0.05, "mean absolute deviation {mad}");
        assert!(
            (var - 2.0 * b * b).abs() / (2.0 * b * b) < 0.03,
            "variance {var}"
        );
        // P(|X| > b·ln 20) = 1/20 for a Laplace draw.
        let tail = draws.iter().filter(|x| x.abs() > b * 20f64.ln()).count();
        let share = tail as f64 / f64::from(n);
        assert!((share - 0.05).abs() < 0.003, "tail share {share}");
    }

    #[test]
    fn the_scale_is_the_range_over_members_and_epsilon() {
        let s = secret();
        let eps = Epsilon::new(0.5).unwrap();
        let m = noisy_mean(&s, eps, &[b"T"], 50.0, 10, 100.0);
        assert_eq!(m.scale, 100.0 / (10.0 * 0.5));
        assert!((0.0..=100.0).contains(&m.value));
    }

    #[test]
    fn released_values_stay_in_the_metric_range() {
        let s = secret();
        for i in 0..2_000u32 {
            let m = noisy_mean(
                &s,
                Epsilon::new(0.01).unwrap(),
                &[&i.to_be_bytes()],
                0.5,
                5,
                1.0,
            );
            assert!((0.0..=1.0).contains(&m.value), "{}", m.value);
        }
    }
}
