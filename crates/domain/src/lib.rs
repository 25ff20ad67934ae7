//! Domain types of Organism Trends.
//!
//! Every value that crosses the edge of the service (an HTTP parameter, a row
//! of a metrics file, a graph-builder output) is parsed into one of these
//! types, whose only constructors check the rules of DESIGN.md §2. Past the
//! edge, code takes these types and never re-checks: a bad value cannot reach
//! SQL. This crate does no I/O.

mod employee_id;
mod error;
mod intervention;
mod metric;
mod role;
mod sample;
mod team_name;
mod window;

pub use employee_id::EmployeeId;
pub use error::{RowError, ValidationError};
pub use intervention::{Actor, AuditAction, InterventionId, InterventionKind, InterventionStatus};
pub use metric::{MetricName, MetricValues};
pub use role::{MinGroupSize, Role};
pub use sample::{MAX_FUTURE_SKEW, MetricSample, RawSample};
pub use team_name::TeamName;
pub use window::{AlertDays, Days, StatsDays, Threshold, TimeRange, TrendDays, parse_instant};
