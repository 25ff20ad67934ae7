//! Interventions: who did what to help whom, and the rules of their status.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::employee_id::check_identifier;

/// The intervention's key: same alphabet as employee ids, up to 128
/// characters, so a client can choose it and retry a create safely.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterventionId(String);

impl InterventionId {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        check_identifier("intervention_id", value.into(), 128).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InterventionId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}
impl From<InterventionId> for String {
    fn from(value: InterventionId) -> Self {
        value.0
    }
}
impl fmt::Display for InterventionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of help it is ("workload_rebalance", "one_on_one", …): 1–64
/// characters of lower-case letters, digits and `_`, so it groups cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterventionKind(String);

impl InterventionKind {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let ok = (1..=64).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(value))
        } else {
            Err(ValidationError::new(
                "kind",
                format!("must be 1-64 characters of a-z 0-9 _, got {value:?}"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InterventionKind {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}
impl From<InterventionKind> for String {
    fn from(value: InterventionKind) -> Self {
        value.0
    }
}

/// Who made a change: a user name or a service's name, 1–128 characters
/// without control characters. It is recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Actor(String);

impl Actor {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let n = value.chars().count();
        if n == 0 || n > 128 || value.trim().is_empty() || value.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "actor",
                "must be 1-128 characters without control characters",
            ));
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Actor {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}
impl From<Actor> for String {
    fn from(value: Actor) -> Self {
        value.0
    }
}

/// The status of an intervention. It moves only along
/// proposed → approved → active → completed; any open state → cancelled;
/// active → rolled_back (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterventionStatus {
    Proposed,
    Approved,
    Active,
    Completed,
    Cancelled,
    RolledBack,
}

impl InterventionStatus {
    pub const ALL: [InterventionStatus; 6] = [
        Self::Proposed,
        Self::Approved,
        Self::Active,
        Self::Completed,
        Self::Cancelled,
        Self::RolledBack,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Approved => "approved",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::RolledBack => "rolled_back",
        }
    }

    /// Open states can still change; the others are final.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Proposed | Self::Approved | Self::Active)
    }

    pub fn can_move_to(self, next: InterventionStatus) -> bool {
        use InterventionStatus::*;
        matches!(
            (self, next),
            (Proposed, Approved)
                | (Approved, Active)
                | (Active, Completed)
                | (Active, RolledBack)
                | (Proposed | Approved | Active, Cancelled)
        )
    }

    /// The audit action recorded when an intervention enters this status.
    pub const fn action(self) -> AuditAction {
        match self {
            Self::Proposed => AuditAction::Created,
            Self::Approved => AuditAction::Approved,
            Self::Active => AuditAction::Activated,
            Self::Completed => AuditAction::Completed,
            Self::Cancelled => AuditAction::Cancelled,
            Self::RolledBack => AuditAction::RolledBack,
        }
    }
}

impl fmt::Display for InterventionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InterventionStatus {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                "status",
                format!(
                    "must be one of proposed, approved, active, completed, cancelled, rolled_back; got {s:?}"
                ),
            )
        })
    }
}

/// What an audit event records: an intervention's creation and status
/// changes, and (in the same chain) an alert rule's creation, change and
/// deletion and each (rule, employee) episode's start and end. An alert
/// event's `intervention_id` is [`ALERT_SUBJECT_PREFIX`] and the rule's id,
/// which no intervention id can be (`/` is not allowed in one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Approved,
    Activated,
    Completed,
    Cancelled,
    RolledBack,
    AlertRuleCreated,
    AlertRuleChanged,
    AlertRuleDeleted,
    AlertFiring,
    AlertResolved,
}

/// The subject of an alert rule's audit events: this, then the rule's id.
pub const ALERT_SUBJECT_PREFIX: &str = "alert-rule/";

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        Self::Created,
        Self::Approved,
        Self::Activated,
        Self::Completed,
        Self::Cancelled,
        Self::RolledBack,
        Self::AlertRuleCreated,
        Self::AlertRuleChanged,
        Self::AlertRuleDeleted,
        Self::AlertFiring,
        Self::AlertResolved,
    ];

    /// An alert rule's event, not an intervention's.
    pub const fn is_alert(self) -> bool {
        matches!(
            self,
            Self::AlertRuleCreated
                | Self::AlertRuleChanged
                | Self::AlertRuleDeleted
                | Self::AlertFiring
                | Self::AlertResolved
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Approved => "approved",
            Self::Activated => "activated",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::RolledBack => "rolled_back",
            Self::AlertRuleCreated => "alert_rule_created",
            Self::AlertRuleChanged => "alert_rule_changed",
            Self::AlertRuleDeleted => "alert_rule_deleted",
            Self::AlertFiring => "alert_firing",
            Self::AlertResolved => "alert_resolved",
        }
    }
}

impl FromStr for AuditAction {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                "action",
                format!(
                    "must be one of created, approved, activated, completed, cancelled, rolled_back, alert_rule_created, alert_rule_changed, alert_rule_deleted, alert_firing, alert_resolved; got {s:?}"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::InterventionStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_is_allowed() {
        assert!(Proposed.can_move_to(Approved));
        assert!(Approved.can_move_to(Active));
        assert!(Active.can_move_to(Completed));
        assert!(Active.can_move_to(RolledBack));
    }

    #[test]
    fn every_open_state_can_be_cancelled_and_no_final_state_can() {
        for s in InterventionStatus::ALL {
            assert_eq!(s.can_move_to(Cancelled), s.is_open(), "{s}");
        }
    }

    #[test]
    fn skipping_a_step_or_leaving_a_final_state_is_refused() {
        assert!(!Proposed.can_move_to(Active));
        assert!(!Proposed.can_move_to(Completed));
        assert!(!Approved.can_move_to(RolledBack));
        assert!(!Completed.can_move_to(Active));
        assert!(!Cancelled.can_move_to(Proposed));
        assert!(!RolledBack.can_move_to(Active));
        for s in InterventionStatus::ALL {
            assert!(!s.can_move_to(s), "{s} -> {s}");
            assert!(!s.can_move_to(Proposed));
        }
    }

    #[test]
    fn statuses_and_actions_round_trip_through_their_names() {
        for s in InterventionStatus::ALL {
            assert_eq!(s.as_str().parse::<InterventionStatus>().unwrap(), s);
        }
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        assert_eq!(
            "open".parse::<InterventionStatus>().unwrap_err().field,
            "status"
        );
    }

    #[test]
    fn kinds_and_actors_are_checked() {
        assert!(InterventionKind::parse("workload_rebalance").is_ok());
        assert!(InterventionKind::parse("Drop Table").is_err());
        assert!(Actor::parse("manager@corp").is_ok());
        assert!(Actor::parse("").is_err());
        assert!(Actor::parse("a\nb").is_err());
        assert!(InterventionId::parse("iv-1").is_ok());
        assert_eq!(
            InterventionId::parse("iv 1").unwrap_err().field,
            "intervention_id"
        );
    }
}
