//! The burnout score is bounded, never falls when a signal rises, and reads
//! the signals in each employee's local time.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use organism_graph::burnout::work_signals;
use organism_graph::{
    BurnoutConfig, Channel, ConfigError, DirectoryEntry, Interaction, Signals, Window, build_graph,
};

/// Values from 0 to well past every default cap, plus the odd ones.
fn grid(cap: f64) -> Vec<f64> {
    let mut values: Vec<f64> = (0..=40).map(|i| cap * f64::from(i) / 20.0).collect();
    values.extend([1e-12, cap * 1e6, f64::INFINITY]);
    values.sort_by(f64::total_cmp);
    values
}

fn with(base: Signals, which: usize, value: f64) -> Signals {
    let mut s = base;
    match which {
        0 => s.after_hours_share = value,
        1 => s.weekend_share = value,
        2 => s.meeting_hours_per_week = value,
        _ => s.collaboration_per_week = value,
    }
    s
}

fn configs() -> Vec<BurnoutConfig> {
    let custom = BurnoutConfig::new(
        Signals {
            after_hours_share: 0.9,
            weekend_share: 0.9,
            meeting_hours_per_week: 0.0,
            collaboration_per_week: 0.5,
        },
        Signals {
            after_hours_share: 0.1,
            weekend_share: 1.0,
            meeting_hours_per_week: 1.0,
            collaboration_per_week: 1000.0,
        },
    )
    .unwrap();
    vec![BurnoutConfig::default(), custom]
}

#[test]
fn the_score_is_non_decreasing_in_each_signal_and_stays_within_0_and_100() {
    let caps = BurnoutConfig::DEFAULT_CAPS;
    let bases = [
        Signals::default(),
        Signals {
            after_hours_share: 0.2,
            weekend_share: 0.1,
            meeting_hours_per_week: 8.0,
            collaboration_per_week: 60.0,
        },
        Signals {
            after_hours_share: 1.0,
            weekend_share: 1.0,
            meeting_hours_per_week: 100.0,
            collaboration_per_week: 1000.0,
        },
    ];
    let cap_of = [
        caps.after_hours_share,
        caps.weekend_share,
        caps.meeting_hours_per_week,
        caps.collaboration_per_week,
    ];
    for config in configs() {
        for base in bases {
            for (which, cap) in cap_of.iter().enumerate() {
                let mut previous = f64::NEG_INFINITY;
                for value in grid(*cap) {
                    let score = config.score(&with(base, which, value));
                    assert!(score.is_finite() && (0.0..=100.0).contains(&score));
                    assert!(
                        score >= previous,
                        "signal {which} at {value}: {score} < {previous}"
                    );
                    previous = score;
                }
            }
        }
    }
}

#[test]
fn every_signal_at_its_cap_scores_100_and_none_scores_0() {
    let config = BurnoutConfig::default();
    assert_eq!(config.score(&Signals::default()), 0.0);
    let at_caps = config.score(&BurnoutConfig::DEFAULT_CAPS);
    assert!((at_caps - 100.0).abs() < 1e-9);
}

#[test]
fn nan_and_negative_signals_count_as_zero() {
    let config = BurnoutConfig::default();
    let odd = Signals {
        after_hours_share: f64::NAN,
        weekend_share: -3.0,
        meeting_hours_per_week: f64::NEG_INFINITY,
        collaboration_per_week: f64::NAN,
    };
    assert_eq!(config.score(&odd), 0.0);
}

#[test]
fn weights_summing_past_one_saturate_at_100() {
    let config = BurnoutConfig::new(
        Signals {
            after_hours_share: 5.0,
            weekend_share: 5.0,
            meeting_hours_per_week: 5.0,
            collaboration_per_week: 5.0,
        },
        BurnoutConfig::DEFAULT_CAPS,
    )
    .unwrap();
    assert_eq!(config.score(&BurnoutConfig::DEFAULT_CAPS), 100.0);
}

#[test]
fn negative_weights_and_non_positive_caps_are_rejected() {
    let mut weights = BurnoutConfig::DEFAULT_WEIGHTS;
    weights.weekend_share = -0.1;
    assert!(matches!(
        BurnoutConfig::new(weights, BurnoutConfig::DEFAULT_CAPS),
        Err(ConfigError::Burnout {
            what: "weight",
            signal: "weekend_share",
            ..
        })
    ));
    let mut caps = BurnoutConfig::DEFAULT_CAPS;
    caps.meeting_hours_per_week = 0.0;
    assert!(BurnoutConfig::new(BurnoutConfig::DEFAULT_WEIGHTS, caps).is_err());
    caps.meeting_hours_per_week = f64::NAN;
    assert!(BurnoutConfig::new(BurnoutConfig::DEFAULT_WEIGHTS, caps).is_err());
}

fn utc(day: u32, hour: u32) -> DateTime<Utc> {
    // March 2024: the 4th is a Monday, the 9th a Saturday.
    Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap()
}

#[test]
fn signals_use_each_employees_local_time_and_working_hours() {
    let london = DirectoryEntry::new("london", None);
    let mut tokyo = DirectoryEntry::new("tokyo", None);
    tokyo.utc_offset_minutes = 9 * 60;
    let directory = vec![london, tokyo];
    let mut meeting = Interaction::new("london", "tokyo", utc(5, 10), Channel::Meeting);
    meeting.duration_minutes = 120.0;
    meeting.weight = 3.0;
    let interactions = vec![
        // Tuesday 10:00 UTC: working hours in London, 19:00 in Tokyo.
        meeting,
        // Saturday 10:00 UTC: weekend for both.
        Interaction::new("tokyo", "london", utc(9, 10), Channel::Chat),
        // Monday 01:00 UTC: after hours in London, 10:00 in Tokyo.
        Interaction::new("london", "tokyo", utc(4, 1), Channel::Email),
        // Sunday 20:00 UTC is Monday 05:00 in Tokyo: weekend for London only.
        Interaction::new("london", "tokyo", utc(10, 20), Channel::Email),
    ];
    let window = Window::ending_at(utc(15, 0), 14).unwrap();
    let graph = build_graph(&directory, &interactions, window);
    let signals = work_signals(&graph, &interactions);

    let (london, tokyo) = (signals[0], signals[1]);
    assert_eq!(london.weekend_share, 0.5);
    assert_eq!(london.after_hours_share, 0.25);
    assert_eq!(tokyo.weekend_share, 0.25);
    assert_eq!(tokyo.after_hours_share, 0.5);
    // Two hours of meetings over a two-week window.
    assert_eq!(london.meeting_hours_per_week, 1.0);
    assert_eq!(tokyo.meeting_hours_per_week, 1.0);
    // Weight 3 + 1 + 1 + 1 over two weeks.
    assert_eq!(london.collaboration_per_week, 3.0);
}

#[test]
fn an_employee_without_interactions_has_no_signals() {
    let directory = vec![DirectoryEntry::new("quiet", None)];
    let window = Window::ending_at(utc(15, 0), 14).unwrap();
    let graph = build_graph(&directory, &[], window);
    assert_eq!(work_signals(&graph, &[]), vec![Signals::default()]);
}
