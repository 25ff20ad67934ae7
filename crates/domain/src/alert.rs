//! Alert rules: what a rule says, checked field by field, and the state
//! each (rule, employee) pair walks as its samples arrive.
//!
//! A rule watches one metric of every employee (or of one team's): it is
//! *past* its threshold when the value is at or beyond it in the rule's
//! direction (`>=` for `above`, as the burnout alerts' threshold), and
//! *back* when the value is beyond `threshold − hysteresis` the other way
//! (`threshold + hysteresis` for `below`). A pair starts `ok`; it fires
//! once `min_samples` samples in a row were past, and stays firing until
//! one sample is back, when it resolves. Samples in the band between the
//! two lines change nothing while firing and break a run while not. A
//! firing pair is one *episode*: notified once when it fires and once when
//! it resolves, however many samples it lasts.
//!
//! A rule's [`RuleKind`] says what its values are. A `threshold` rule
//! steps with each sample's value of the metric. A `forecast` rule steps
//! once a day with the furthest point forecast over its next
//! `within_days` days (the highest for `above`, the lowest for `below`):
//! it fires when the forecast reaches the threshold within them. An
//! `anomaly` rule steps once a day with the robust z-score of the change
//! from the day before to the day just ended; its threshold is a score (a
//! number of standard deviations), and `above` watches rises, `below`
//! drops.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{MetricName, TeamName, ValidationError, check_storable_text};

/// Which side of the threshold is the alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Past when the value is at or above the threshold.
    Above,
    /// Past when the value is at or below the threshold.
    Below,
}

impl Direction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }
}

impl FromStr for Direction {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "above" => Ok(Direction::Above),
            "below" => Ok(Direction::Below),
            _ => Err(ValidationError::new(
                "direction",
                format!("must be \"above\" or \"below\", got {s:?}"),
            )),
        }
    }
}

/// What a rule's values are (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Each sample's value, as it is committed.
    Threshold,
    /// Once a day: the furthest point forecast over the next `within_days`.
    Forecast,
    /// Once a day: the robust z-score of the last day's change.
    Anomaly,
}

impl RuleKind {
    /// The longest forecast a rule looks at (the forecast endpoint's
    /// longest horizon).
    pub const MAX_WITHIN_DAYS: u32 = 30;
    /// The highest anomaly score a rule may ask for.
    pub const MAX_SCORE: f64 = 100.0;

    pub const fn as_str(self) -> &'static str {
        match self {
            RuleKind::Threshold => "threshold",
            RuleKind::Forecast => "forecast",
            RuleKind::Anomaly => "anomaly",
        }
    }

    /// Evaluated once a day from the daily means, not sample by sample.
    pub const fn is_daily(self) -> bool {
        !matches!(self, RuleKind::Threshold)
    }

    /// `within_days`, which a forecast rule needs and no other takes.
    pub fn check_within_days(
        self,
        within_days: Option<u32>,
    ) -> Result<Option<u32>, ValidationError> {
        match (self, within_days) {
            (RuleKind::Forecast, None) => Err(ValidationError::new(
                "within_days",
                format!("a forecast rule needs it (1 to {})", Self::MAX_WITHIN_DAYS),
            )),
            (RuleKind::Forecast, Some(days)) if !(1..=Self::MAX_WITHIN_DAYS).contains(&days) => {
                Err(ValidationError::new(
                    "within_days",
                    format!(
                        "must be a whole number from 1 to {}, got {days}",
                        Self::MAX_WITHIN_DAYS
                    ),
                ))
            }
            (RuleKind::Forecast, days) => Ok(days),
            (kind, Some(_)) => Err(ValidationError::new(
                "within_days",
                format!(
                    "only a forecast rule takes it, not a {} rule",
                    kind.as_str()
                ),
            )),
            (_, None) => Ok(None),
        }
    }
}

impl FromStr for RuleKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [RuleKind::Threshold, RuleKind::Forecast, RuleKind::Anomaly]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "kind",
                    format!("must be \"threshold\", \"forecast\" or \"anomaly\", got {s:?}"),
                )
            })
    }
}

/// A rule's checked content (everything but its id and times).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub metric: MetricName,
    pub kind: RuleKind,
    /// A forecast rule's horizon, in days (only a forecast rule has one).
    pub within_days: Option<u32>,
    pub direction: Direction,
    /// In the metric's units, or a score for an anomaly rule.
    pub threshold: f64,
    pub hysteresis: f64,
    /// Only samples recorded with this team (the team at measurement time).
    pub team: Option<TeamName>,
    /// How many values in a row must be past before the rule fires:
    /// samples, or days for the daily kinds.
    pub min_samples: u32,
}

impl AlertRule {
    pub const MAX_NAME_CHARS: usize = 128;
    pub const MAX_MIN_SAMPLES: u32 = 1000;

    /// Checks each field; the error names the first one that is wrong.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        metric: MetricName,
        (kind, within_days): (RuleKind, Option<u32>),
        direction: Direction,
        threshold: f64,
        hysteresis: f64,
        team: Option<TeamName>,
        min_samples: u32,
    ) -> Result<Self, ValidationError> {
        let chars = name.chars().count();
        if chars == 0 || name.trim().is_empty() || chars > Self::MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "name",
                format!(
                    "must be 1 to {} characters and not blank, got {chars}",
                    Self::MAX_NAME_CHARS
                ),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "must not contain control characters",
            ));
        }
        check_storable_text("name", &name)?;
        let within_days = kind.check_within_days(within_days)?;
        let (threshold, hysteresis) = if kind == RuleKind::Anomaly {
            let score = |field: &str, v: f64, least: f64| {
                if v.is_finite() && v >= least && v <= RuleKind::MAX_SCORE {
                    Ok(v)
                } else {
                    Err(ValidationError::new(
                        field,
                        format!(
                            "an anomaly rule's {field} is a z-score from {least} to {}, got {v}",
                            RuleKind::MAX_SCORE
                        ),
                    ))
                }
            };
            let threshold = score("threshold", threshold, 0.5)?;
            (threshold, score("hysteresis", hysteresis, 0.0)?)
        } else {
            let threshold = metric
                .check(threshold)
                .map_err(|e| ValidationError::new("threshold", e.message))?;
            let hysteresis = metric
                .check(hysteresis)
                .map_err(|e| ValidationError::new("hysteresis", e.message))?;
            (threshold, hysteresis)
        };
        if !(1..=Self::MAX_MIN_SAMPLES).contains(&min_samples) {
            return Err(ValidationError::new(
                "min_samples",
                format!(
                    "must be a whole number from 1 to {}, got {min_samples}",
                    Self::MAX_MIN_SAMPLES
                ),
            ));
        }
        Ok(Self {
            name,
            metric,
            kind,
            within_days,
            direction,
            threshold,
            hysteresis,
            team,
            min_samples,
        })
    }

    /// The value as the thresholds see it: an anomaly rule's score turned
    /// so that its direction is up (a drop of `below` scores positive), and
    /// compared with the threshold `above`.
    fn oriented(&self, value: f64) -> (Direction, f64) {
        match (self.kind, self.direction) {
            (RuleKind::Anomaly, Direction::Below) => (Direction::Above, -value),
            (_, direction) => (direction, value),
        }
    }

    /// At or beyond the threshold, in the rule's direction.
    pub fn past(&self, value: f64) -> bool {
        match self.oriented(value) {
            (Direction::Above, v) => v >= self.threshold,
            (Direction::Below, v) => v <= self.threshold,
        }
    }

    /// Beyond the hysteresis band on the other side: a firing pair resolves.
    pub fn back(&self, value: f64) -> bool {
        match self.oriented(value) {
            (Direction::Above, v) => v < self.threshold - self.hysteresis,
            (Direction::Below, v) => v > self.threshold + self.hysteresis,
        }
    }

    /// One sample's step of a pair's state.
    pub fn step(&self, tracked: Tracked, value: f64) -> (Tracked, Option<Change>) {
        match tracked.state {
            AlertState::Firing if self.back(value) => (
                Tracked {
                    state: AlertState::Resolved,
                    streak: 0,
                },
                Some(Change::Resolved),
            ),
            AlertState::Firing => (tracked, None),
            AlertState::Ok | AlertState::Resolved if self.past(value) => {
                let streak = tracked.streak.saturating_add(1);
                if streak >= self.min_samples {
                    (
                        Tracked {
                            state: AlertState::Firing,
                            streak,
                        },
                        Some(Change::Fired),
                    )
                } else {
                    (
                        Tracked {
                            state: tracked.state,
                            streak,
                        },
                        None,
                    )
                }
            }
            AlertState::Ok | AlertState::Resolved => (
                Tracked {
                    state: tracked.state,
                    streak: 0,
                },
                None,
            ),
        }
    }
}

/// Where a (rule, employee) pair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Never fired.
    Ok,
    Firing,
    /// Fired and came back; may fire again (a new episode).
    Resolved,
}

impl AlertState {
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertState {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [AlertState::Ok, AlertState::Firing, AlertState::Resolved]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ValidationError::new("state", format!("unknown state {s:?}")))
    }
}

/// A pair's state and its run of samples past the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub state: AlertState,
    pub streak: u32,
}

impl Tracked {
    pub const NEW: Tracked = Tracked {
        state: AlertState::Ok,
        streak: 0,
    };
}

/// A change that is notified: an episode's start or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Fired,
    Resolved,
}

impl Change {
    /// The state it enters, as notified.
    pub const fn state(self) -> AlertState {
        match self {
            Change::Fired => AlertState::Firing,
            Change::Resolved => AlertState::Resolved,
        }
    }
}

/// A rule's id: chosen by the client (so a create can be retried safely)
/// or generated; 1–128 letters, digits and `_ . : @ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

impl RuleId {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        crate::employee_id::check_identifier("rule_id", value.into(), 128).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}
impl From<RuleId> for String {
    fn from(value: RuleId) -> Self {
        value.0
    }
}
impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a delivery's body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestinationFormat {
    /// The alert event itself (schema `organism.alert.v1`).
    Json,
    /// What a Slack incoming webhook takes: `{"text": …}`.
    Slack,
}

impl DestinationFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            DestinationFormat::Json => "json",
            DestinationFormat::Slack => "slack",
        }
    }
}

impl FromStr for DestinationFormat {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(DestinationFormat::Json),
            "slack" => Ok(DestinationFormat::Slack),
            _ => Err(ValidationError::new(
                "format",
                format!("must be \"json\" or \"slack\", got {s:?}"),
            )),
        }
    }
}

/// A webhook's address: `http://` or `https://`, a host (and port) of
/// letters, digits and `. : [ ] -` (no user name or password: they would
/// be shown wherever the rule is), then optionally a path or query of
/// printable ASCII; at most 2048 characters. The OpenAPI pattern is
/// [`WebhookUrl::PATTERN`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const PATTERN: &'static str = r"^https?://[A-Za-z0-9.:\[\]-]{1,255}([/?][!-~]*)?$";
    pub const MAX_LEN: usize = 2048;

    pub fn parse(field: &str, value: String) -> Result<Self, ValidationError> {
        let bad = |why: &str| ValidationError::new(field, why.to_string());
        if value.len() > Self::MAX_LEN {
            return Err(bad("must be at most 2048 characters"));
        }
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or_else(|| bad("must start with http:// or https://"))?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']' | '-');
        if authority.is_empty() || authority.len() > 255 || !authority.chars().all(host_char) {
            return Err(bad(
                "must name a host (and port) of letters, digits and . : [ ] - (no user name or password)",
            ));
        }
        if !tail.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(bad(
                "its path and query must be printable ASCII without spaces",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: Direction, threshold: f64, hysteresis: f64, min: u32) -> AlertRule {
        AlertRule::new(
            "r".into(),
            MetricName::BurnoutScore,
            (RuleKind::Threshold, None),
            direction,
            threshold,
            hysteresis,
            None,
            min,
        )
        .expect("valid rule")
    }

    fn walk(rule: &AlertRule, values: &[f64]) -> Vec<(AlertState, Option<Change>)> {
        let mut t = Tracked::NEW;
        values
            .iter()
            .map(|v| {
                let (next, change) = rule.step(t, *v);
                t = next;
                (t.state, change)
            })
            .collect()
    }

    #[test]
    fn fires_once_per_episode_and_resolves_past_the_band() {
        let r = rule(Direction::Above, 80.0, 5.0, 1);
        let got = walk(&r, &[79.0, 80.0, 90.0, 76.0, 75.0, 74.9, 81.0]);
        let changes: Vec<_> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            changes,
            [
                None,
                Some(Change::Fired),
                None,
                None, // in the band: still firing
                None, // exactly threshold − hysteresis: not back yet
                Some(Change::Resolved),
                Some(Change::Fired),
            ]
        );
        assert_eq!(got[4].0, AlertState::Firing);
    }

    #[test]
    fn a_run_must_be_unbroken() {
        let r = rule(Direction::Above, 80.0, 0.0, 3);
        let changes: Vec<_> = walk(&r, &[85.0, 85.0, 79.0, 85.0, 85.0, 85.0])
            .into_iter()
            .map(|g| g.1)
            .collect();
        assert_eq!(changes, [None, None, None, None, None, Some(Change::Fired)]);
    }

    #[test]
    fn below_mirrors_above() {
        let r = rule(Direction::Below, 20.0, 5.0, 1);
        let changes: Vec<_> = walk(&r, &[21.0, 20.0, 25.0, 25.1])
            .into_iter()
            .map(|g| g.1)
            .collect();
        assert_eq!(
            changes,
            [None, Some(Change::Fired), None, Some(Change::Resolved)]
        );
    }

    #[test]
    fn each_field_is_checked_by_name() {
        let make = |name: &str, t: f64, h: f64, min: u32| {
            AlertRule::new(
                name.into(),
                MetricName::ClusteringCoeff,
                (RuleKind::Threshold, None),
                Direction::Above,
                t,
                h,
                None,
                min,
            )
            .map_err(|e| e.field)
        };
        assert_eq!(make("", 0.5, 0.0, 1), Err("name".into()));
        assert_eq!(make("a\u{7}", 0.5, 0.0, 1), Err("name".into()));
        assert_eq!(make("ok", 1.5, 0.0, 1), Err("threshold".into()));
        assert_eq!(make("ok", f64::NAN, 0.0, 1), Err("threshold".into()));
        assert_eq!(make("ok", 0.5, -0.1, 1), Err("hysteresis".into()));
        assert_eq!(make("ok", 0.5, 0.0, 0), Err("min_samples".into()));
        assert_eq!(make("ok", 0.5, 0.0, 1001), Err("min_samples".into()));
        assert!(make("ok", 0.5, 0.1, 3).is_ok());
    }

    #[test]
    fn only_a_forecast_takes_days() {
        let days = |k: RuleKind, d: Option<u32>| k.check_within_days(d).map_err(|e| e.field);
        assert_eq!(days(RuleKind::Forecast, Some(14)), Ok(Some(14)));
        assert_eq!(days(RuleKind::Threshold, None), Ok(None));
        assert_eq!(days(RuleKind::Forecast, None), Err("within_days".into()));
        assert_eq!(days(RuleKind::Forecast, Some(0)), Err("within_days".into()));
        assert_eq!(
            days(RuleKind::Forecast, Some(31)),
            Err("within_days".into())
        );
        assert_eq!(days(RuleKind::Anomaly, Some(3)), Err("within_days".into()));
        assert_eq!(
            days(RuleKind::Threshold, Some(3)),
            Err("within_days".into())
        );
        assert_eq!(
            "trend".parse::<RuleKind>().map_err(|e| e.field),
            Err("kind".into())
        );
        assert_eq!("anomaly".parse::<RuleKind>(), Ok(RuleKind::Anomaly));
    }

    #[test]
    fn an_anomaly_rule_takes_a_score_and_watches_its_direction() {
        let make = |direction, t: f64, h: f64| {
            AlertRule::new(
                "a".into(),
                MetricName::ClusteringCoeff,
                (RuleKind::Anomaly, None),
                direction,
                t,
                h,
                None,
                1,
            )
        };
        // A score is not in the metric's range (0 to 1 here), and is checked as one.
        let rise = make(Direction::Above, 3.5, 1.0).expect("a score of 3.5");
        assert_eq!(
            make(Direction::Above, 0.0, 0.0).unwrap_err().field,
            "threshold"
        );
        assert_eq!(
            make(Direction::Above, 101.0, 0.0).unwrap_err().field,
            "threshold"
        );
        assert_eq!(
            make(Direction::Above, 3.5, -1.0).unwrap_err().field,
            "hysteresis"
        );
        let rises: Vec<_> = walk(&rise, &[1.0, -9.0, 3.5, 2.6, 2.4])
            .into_iter()
            .map(|g| g.1)
            .collect();
        // A sharp drop is no rise; 2.6 is in the band; 2.4 is back.
        assert_eq!(
            rises,
            [
                None,
                None,
                Some(Change::Fired),
                None,
                Some(Change::Resolved)
            ]
        );
        let drop = make(Direction::Below, 3.5, 1.0).expect("a score of 3.5");
        let drops: Vec<_> = walk(&drop, &[9.0, -3.6, -2.4])
            .into_iter()
            .map(|g| g.1)
            .collect();
        assert_eq!(drops, [None, Some(Change::Fired), Some(Change::Resolved)]);
    }

    #[test]
    fn a_forecast_rule_keeps_the_metrics_range() {
        let make = |t: f64| {
            AlertRule::new(
                "f".into(),
                MetricName::BurnoutScore,
                (RuleKind::Forecast, Some(7)),
                Direction::Above,
                t,
                0.0,
                None,
                1,
            )
            .map_err(|e| e.field)
        };
        assert!(make(80.0).is_ok());
        assert_eq!(make(120.0), Err("threshold".into()));
    }

    #[test]
    fn webhook_urls_are_checked_as_the_pattern_says() {
        let ok = |u: &str| WebhookUrl::parse("url", u.into()).is_ok();
        assert!(ok("http://127.0.0.1:9000/hook"));
        assert!(ok("https://hooks.slack.com/services/T0/B0/x?y=1"));
        assert!(ok("http://[::1]:80"));
        assert!(!ok("ftp://example.com/"));
        assert!(!ok("http://user:pw@example.com/"));
        assert!(!ok("http:///path"));
        assert!(!ok("http://example.com/a b"));
        assert!(!ok(&format!("http://e.com/{}", "a".repeat(2048))));
    }
}
