//! The burnout score: four work-pattern signals per employee, each squashed
//! to 0..1 against a cap, then a weighted sum scaled to 0..100.
//!
//! The formula is spelled out in the crate docs ([`crate`]); this module
//! computes the raw [`Signals`] from the interactions of a window and turns
//! them into a score with a validated [`BurnoutConfig`].
//!
//! Why caps rather than, say, z-scores across the organisation: a score that
//! depends only on the employee's own week keeps the same meaning in a team
//! of five and a company of fifty thousand, and does not rise for one person
//! because everyone else went on holiday.

use chrono::{Datelike, Duration, Timelike, Weekday};
use serde::Serialize;

use crate::error::ConfigError;
use crate::graph::{Classified, OrgGraph};
use crate::model::{Channel, DirectoryEntry, Interaction};

/// One value per work-pattern signal. Used for the raw signals of an
/// employee, for the weights of the score and for the caps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Signals {
    /// Share (0..1) of the employee's interactions on a working day but
    /// outside their working hours, in their local time.
    pub after_hours_share: f64,
    /// Share (0..1) of the employee's interactions on a Saturday or Sunday,
    /// local time. Disjoint from `after_hours_share`: Saturday 23:00 counts
    /// once, as weekend.
    pub weekend_share: f64,
    /// Hours of meetings per week: the meeting interactions' durations.
    pub meeting_hours_per_week: f64,
    /// Weighted degree per week: the summed weight of all the employee's
    /// interactions in the window, divided by the window's weeks.
    pub collaboration_per_week: f64,
}

impl Signals {
    fn as_array(&self) -> [f64; 4] {
        [
            self.after_hours_share,
            self.weekend_share,
            self.meeting_hours_per_week,
            self.collaboration_per_week,
        ]
    }

    const NAMES: [&'static str; 4] = [
        "after_hours_share",
        "weekend_share",
        "meeting_hours_per_week",
        "collaboration_per_week",
    ];
}

/// Weights and caps of the burnout score. Its only constructor checks them,
/// so a score computed with it is always within 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurnoutConfig {
    weights: Signals,
    caps: Signals,
}

impl BurnoutConfig {
    /// After-hours work weighs most: it is the signal most consistently
    /// linked to exhaustion; meetings and load next; weekends least, since
    /// some roles legitimately include weekend shifts.
    pub const DEFAULT_WEIGHTS: Signals = Signals {
        after_hours_share: 0.3,
        weekend_share: 0.2,
        meeting_hours_per_week: 0.25,
        collaboration_per_week: 0.25,
    };

    /// The value at which each signal counts in full: half of one's
    /// interactions after hours, a quarter on weekends, 20 hours of meetings
    /// a week (half a working week), 150 weighted interactions a week
    /// (30 a working day at the default weight of 1).
    pub const DEFAULT_CAPS: Signals = Signals {
        after_hours_share: 0.5,
        weekend_share: 0.25,
        meeting_hours_per_week: 20.0,
        collaboration_per_week: 150.0,
    };

    /// Weights must be finite and ≥ 0; caps finite and > 0. Weights need not
    /// sum to 1: the score is clamped to 100, so weights summing to more make
    /// the score saturate sooner.
    pub fn new(weights: Signals, caps: Signals) -> Result<Self, ConfigError> {
        for (&signal, value) in Signals::NAMES.iter().zip(weights.as_array()) {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::Burnout {
                    what: "weight",
                    signal,
                    rule: ">= 0",
                    value,
                });
            }
        }
        for (&signal, value) in Signals::NAMES.iter().zip(caps.as_array()) {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::Burnout {
                    what: "cap",
                    signal,
                    rule: "> 0",
                    value,
                });
            }
        }
        Ok(Self { weights, caps })
    }

    pub fn weights(&self) -> Signals {
        self.weights
    }

    pub fn caps(&self) -> Signals {
        self.caps
    }

    /// Each signal as `min(signal / cap, 1)`; negative or NaN signals count
    /// as 0, so the result is always in 0..=1 and never NaN.
    pub fn normalised(&self, signals: &Signals) -> Signals {
        let [a, b, c, d] = signals.as_array();
        let [ca, cb, cc, cd] = self.caps.as_array();
        Signals {
            after_hours_share: saturate(a, ca),
            weekend_share: saturate(b, cb),
            meeting_hours_per_week: saturate(c, cc),
            collaboration_per_week: saturate(d, cd),
        }
    }

    /// `100 × Σ weight × min(signal / cap, 1)`, clamped to 0..=100.
    /// Non-decreasing in every signal, because every weight is ≥ 0.
    pub fn score(&self, signals: &Signals) -> f64 {
        let normalised = self.normalised(signals).as_array();
        let weighted: f64 = self
            .weights
            .as_array()
            .iter()
            .zip(normalised)
            .map(|(w, x)| w * x)
            .sum();
        (100.0 * weighted).clamp(0.0, 100.0)
    }
}

impl Default for BurnoutConfig {
    fn default() -> Self {
        Self {
            weights: Self::DEFAULT_WEIGHTS,
            caps: Self::DEFAULT_CAPS,
        }
    }
}

fn saturate(value: f64, cap: f64) -> f64 {
    if value > 0.0 {
        (value / cap).min(1.0)
    } else {
        // Negative, zero and NaN.
        0.0
    }
}

/// Raw signals per node of `graph` (node order), from the interactions the
/// graph builder would use: in the window, not self-loops, both employees in
/// the directory. An interaction counts for both of its employees, each in
/// their own local time. An employee with no interactions has all signals 0.
pub fn work_signals(graph: &OrgGraph, interactions: &[Interaction]) -> Vec<Signals> {
    let employees = graph.employees();
    let mut tallies = vec![Tally::default(); employees.len()];
    for interaction in interactions {
        if let Classified::Used(a, b) = graph.classify(interaction) {
            for node in [a, b] {
                tallies[node.index()].add(&employees[node.index()], interaction);
            }
        }
    }
    let weeks = graph.window().weeks();
    tallies.iter().map(|tally| tally.signals(weeks)).collect()
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    interactions: usize,
    after_hours: usize,
    weekend: usize,
    meeting_minutes: f64,
    weight: f64,
}

impl Tally {
    fn add(&mut self, employee: &DirectoryEntry, interaction: &Interaction) {
        self.interactions += 1;
        self.weight += interaction.weight;
        if interaction.channel == Channel::Meeting {
            self.meeting_minutes += interaction.duration_minutes;
        }
        let utc = interaction.time.naive_utc();
        let local = utc
            .checked_add_signed(Duration::minutes(i64::from(employee.utc_offset_minutes)))
            .unwrap_or(utc);
        if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
            self.weekend += 1;
        } else if !employee.is_working_hour(local.hour()) {
            self.after_hours += 1;
        }
    }

    fn signals(&self, weeks: f64) -> Signals {
        let share = |count: usize| {
            if self.interactions == 0 {
                0.0
            } else {
                count as f64 / self.interactions as f64
            }
        };
        Signals {
            after_hours_share: share(self.after_hours),
            weekend_share: share(self.weekend),
            meeting_hours_per_week: self.meeting_minutes / 60.0 / weeks,
            collaboration_per_week: self.weight / weeks,
        }
    }
}
