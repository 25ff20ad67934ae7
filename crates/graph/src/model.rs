//! The two inputs of the graph builder: who talked to whom and when
//! ([`Interaction`]), and who works here, in which team and at which hours
//! ([`DirectoryEntry`]); plus the [`Window`] a snapshot covers.
//!
//! Employee ids are plain `String`s here on purpose: this crate is pure
//! computation over whatever ids the caller hands it and never writes them
//! anywhere; the callers that persist results validate ids at their edge.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// How two employees interacted. Only meetings carry a duration that feeds
/// the burnout score's meeting load; all channels count towards the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Chat,
    Meeting,
}

impl Channel {
    /// Case-insensitive, surrounding whitespace ignored.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "email" => Some(Self::Email),
            "chat" => Some(Self::Chat),
            "meeting" => Some(Self::Meeting),
            _ => None,
        }
    }
}

/// One interaction between two employees. Direction (`from` → `to`) is kept
/// for the record, but the graph is undirected: a reply and its message are
/// the same tie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub from: String,
    pub to: String,
    pub time: DateTime<Utc>,
    pub channel: Channel,
    /// Strength of the tie this interaction adds; finite and non-negative.
    pub weight: f64,
    /// Minutes spent, meaningful for meetings; finite and non-negative.
    pub duration_minutes: f64,
}

impl Interaction {
    pub const DEFAULT_WEIGHT: f64 = 1.0;
    pub const DEFAULT_DURATION_MINUTES: f64 = 0.0;

    /// An interaction with the default weight (1) and duration (0).
    pub fn new(
        from: impl Into<String>,
        to: impl Into<String>,
        time: DateTime<Utc>,
        channel: Channel,
    ) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            time,
            channel,
            weight: Self::DEFAULT_WEIGHT,
            duration_minutes: Self::DEFAULT_DURATION_MINUTES,
        }
    }
}

/// One employee of the directory. The directory decides who is a node: an
/// interaction naming anyone else is dropped and counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub employee_id: String,
    pub team: Option<String>,
    /// First working hour in local time, 0..=23.
    pub work_start_hour: u8,
    /// Hour at which work ends in local time, 1..=24, exclusive. When it is
    /// not after `work_start_hour` the shift wraps past midnight (22 → 6).
    pub work_end_hour: u8,
    /// Fixed offset of local time from UTC. Daylight saving is not modelled:
    /// an hour's error twice a year moves the after-hours share very little.
    pub utc_offset_minutes: i32,
}

impl DirectoryEntry {
    pub const DEFAULT_WORK_START_HOUR: u8 = 9;
    pub const DEFAULT_WORK_END_HOUR: u8 = 18;
    /// UTC−14:00 to UTC+14:00 covers every zone in use.
    pub const MAX_UTC_OFFSET_MINUTES: i32 = 14 * 60;

    /// An entry with the default working hours (9 to 18, UTC).
    pub fn new(employee_id: impl Into<String>, team: Option<String>) -> Self {
        Self {
            employee_id: employee_id.into(),
            team,
            work_start_hour: Self::DEFAULT_WORK_START_HOUR,
            work_end_hour: Self::DEFAULT_WORK_END_HOUR,
            utc_offset_minutes: 0,
        }
    }

    /// Whether `hour` (0..=23, local time) is inside this employee's working
    /// hours. Equal start and end would mean "never at work"; the parser
    /// rejects that, and here it counts every hour as after hours.
    pub fn is_working_hour(&self, hour: u32) -> bool {
        let (start, end) = (
            u32::from(self.work_start_hour),
            u32::from(self.work_end_hour),
        );
        if start < end {
            (start..end).contains(&hour)
        } else if start > end {
            hour >= start || hour < end
        } else {
            false
        }
    }
}

/// The half-open time range `[end − days, end)` a snapshot covers.
///
/// Half-open so that consecutive windows tile time: an interaction exactly at
/// `end` belongs to the next window, never to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    days: u32,
}

impl Window {
    pub const DEFAULT_DAYS: u32 = 28;
    /// Ten years; longer windows are almost certainly a unit mistake.
    pub const MAX_DAYS: u32 = 3660;

    pub fn ending_at(end: DateTime<Utc>, days: u32) -> Result<Self, ConfigError> {
        if days == 0 || days > Self::MAX_DAYS {
            return Err(ConfigError::WindowDays {
                days,
                max: Self::MAX_DAYS,
            });
        }
        let start = end
            .checked_sub_signed(Duration::days(i64::from(days)))
            .ok_or(ConfigError::WindowRange)?;
        Ok(Self { start, end, days })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub fn days(&self) -> u32 {
        self.days
    }

    /// Length in weeks, the denominator of every per-week signal.
    pub fn weeks(&self) -> f64 {
        f64::from(self.days) / 7.0
    }

    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_of_zero_days_is_rejected() {
        assert!(Window::ending_at(Utc::now(), 0).is_err());
    }

    #[test]
    fn a_window_contains_its_start_but_not_its_end() {
        let end = Utc::now();
        let window = Window::ending_at(end, 28).unwrap();
        assert!(window.contains(window.start()));
        assert!(!window.contains(end));
    }

    #[test]
    fn a_night_shift_wraps_past_midnight() {
        let mut entry = DirectoryEntry::new("a", None);
        entry.work_start_hour = 22;
        entry.work_end_hour = 6;
        assert!(entry.is_working_hour(23));
        assert!(entry.is_working_hour(2));
        assert!(!entry.is_working_hour(12));
    }
}
