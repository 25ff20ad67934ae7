//! The anomaly rule on synthetic organisations: injected steps are found,
//! and on stationary Gaussian noise the false-positive rate is the one the
//! rule implies.

use chrono::{Days, NaiveDate};
use organism_analytics::PanelValue;
use organism_analytics::anomaly::{DEFAULT_THRESHOLD, detect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, Normal};

fn day(i: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date") + Days::new(i)
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// 200 employees × 60 days of burnout-like daily means (a base in 20..70,
/// Gaussian noise of σ = 2); 50 of them get a step of 8σ to 12σ, up or
/// down, on a day of the 30-day window. Steps of that size are the ones the
/// rule is meant to catch: the change is then 8σ..12σ against a change
/// scale of √2·σ, z ≈ 5.7..8.5.
#[test]
fn steps_injected_into_a_synthetic_organisation_are_found() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (employees, days, window_start, sigma) = (200, 60, 30, 2.0);
    let mut panel = Vec::new();
    let mut injected = Vec::new();
    for unit in 0..employees {
        let base: f64 = rng.random_range(20.0..70.0);
        let step = (unit < 50).then(|| {
            let size = rng.random_range(8.0..12.0) * sigma;
            let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            (rng.random_range(window_start..days), sign * size)
        });
        if let Some((on, _)) = step {
            injected.push((unit, day(on)));
        }
        for d in 0..days {
            let shift = match step {
                Some((on, size)) if d >= on => size,
                _ => 0.0,
            };
            panel.push(PanelValue {
                unit,
                day: day(d),
                value: base + shift + sigma * gaussian(&mut rng),
            });
        }
    }
    let found = detect(&panel, day(window_start), DEFAULT_THRESHOLD);
    let hits = injected
        .iter()
        .filter(|(unit, on)| found.iter().any(|a| a.unit == *unit && a.day == *on))
        .count();
    let recall = hits as f64 / injected.len() as f64;
    let false_flags = found.len() - hits;
    println!("recall {recall:.3} ({hits}/50), other flags {false_flags}");
    assert!(recall >= 0.9, "recall {recall}");
    // 150 clean employees × 30 window days at a rate of about 1e-3 give a
    // handful of other flags; many more would mean the steps spill over.
    assert!(false_flags <= 25, "{false_flags} flags besides the steps");
}

/// Stationary noise: 400 employees × 1,001 days of N(0, 1), every change
/// judged. The changes are N(0, 2), the sample median and MAD of 1,000 of
/// them are within a few per cent of 0 and 0.6745·√2, so z is N(0, 1) to
/// that precision and the expected rate is p = 2·(1 − Φ(3.5)) ≈ 4.65e-4:
/// about 186 of the 400,000 changes. The count is not binomial (neighbouring
/// changes share a day, so flags come in pairs more often) and the sample
/// MAD's noise adds about 5% to the mean; a tolerance of 8 binomial
/// standard deviations (±109) still fails an implementation with the wrong
/// constant: without the factor 0.6745 the rule flags |Z| ≥ 2.36, a rate of
/// 1.8%; multiplying the MAD by 0.6745 instead of dividing flags |Z| ≥ 7.7,
/// a rate of about 0.
#[test]
fn on_stationary_gaussian_noise_false_positives_stay_at_the_documented_rate() {
    let mut rng = ChaCha8Rng::seed_from_u64(4242);
    let (employees, days) = (400, 1001);
    let panel: Vec<PanelValue> = (0..employees)
        .flat_map(|unit| (0..days).map(move |d| (unit, d)))
        .map(|(unit, d)| PanelValue {
            unit,
            day: day(d),
            value: 50.0 + gaussian(&mut rng),
        })
        .collect();
    let found = detect(&panel, day(0), DEFAULT_THRESHOLD);
    let changes = (employees * (days as usize - 1)) as f64;
    let normal = Normal::standard();
    let p = 2.0 * (1.0 - normal.cdf(3.5));
    let expected = changes * p;
    let sd = (changes * p * (1.0 - p)).sqrt();
    let measured = found.len() as f64;
    println!(
        "false positives {measured} of {changes} ({:.3e}), expected {expected:.1} ({p:.3e})",
        measured / changes
    );
    assert!(
        (measured - expected).abs() <= 8.0 * sd,
        "{measured} flags, expected {expected:.1} ± {:.1}",
        8.0 * sd
    );
}
