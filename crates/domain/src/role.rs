//! The role an API key grants, and the minimum group size of team aggregates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// What an API key may do. Roles are not a ladder: a writer (a back-end job
/// pushing metrics) cannot read trends, a reader cannot write, a manager sees
/// only noisy aggregates of its own teams. Only an admin can do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Trends, burnout alerts, team trends and statistics.
    Reader,
    /// Writing metrics and graph snapshots.
    Writer,
    /// Team aggregates of its own teams only (always restricted to teams):
    /// never an individual's values, never an order statistic, the minimum
    /// group size applied and differential-privacy noise on every average.
    Manager,
    /// Everything, including interventions and the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Writer, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Whether this role's keys may, must or must not be restricted to
    /// teams (checked where keys are created).
    pub fn teams_rule(self) -> TeamsRule {
        match self {
            Role::Reader => TeamsRule::Optional,
            Role::Manager => TeamsRule::Required,
            Role::Writer | Role::Admin => TeamsRule::Forbidden,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    format!("must be reader, writer, manager or admin, got {s:?}"),
                )
            })
    }
}

/// Whether a key of a role carries a list of teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamsRule {
    Optional,
    Required,
    Forbidden,
}

/// The fewest distinct employees a team aggregate may be computed from
/// before it is suppressed (default 5). At least 1; a manager's aggregates
/// never use less than [`MinGroupSize::MANAGER_FLOOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinGroupSize(u32);

impl MinGroupSize {
    pub const DEFAULT: MinGroupSize = MinGroupSize(5);

    /// The least minimum group size a manager's answers use, whatever the
    /// setting (Viva Insights' floor): readers may see individuals anyway,
    /// so a smaller setting weakens nothing for them, but a manager's
    /// guarantee must not depend on it.
    pub const MANAGER_FLOOR: MinGroupSize = MinGroupSize(5);

    pub fn new(value: u32) -> Result<Self, ValidationError> {
        if value == 0 {
            return Err(ValidationError::new("min_group_size", "must be at least 1"));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The size a manager's aggregates use: this one, at least the floor.
    pub fn for_managers(self) -> Self {
        Self(self.0.max(Self::MANAGER_FLOOR.0))
    }

    /// Whether an aggregate over `members` distinct employees must be hidden.
    pub fn suppresses(self, members: i64) -> bool {
        members < i64::from(self.0)
    }
}

impl Default for MinGroupSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let err = "Admin".parse::<Role>().unwrap_err();
        assert_eq!(err.field, "role");
    }

    #[test]
    fn a_group_below_the_minimum_is_suppressed() {
        let min = MinGroupSize::new(5).unwrap();
        assert!(min.suppresses(4));
        assert!(min.suppresses(0));
        assert!(!min.suppresses(5));
        assert!(MinGroupSize::new(0).is_err());
    }
}
