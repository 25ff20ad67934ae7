//! Domain types of Organism Trends.
//!
//! Every value that crosses the edge of the service (an HTTP parameter, a row
//! of a metrics file, a graph-builder output) is parsed into one of these
//! types, whose only constructors check the rules of DESIGN.md §2. Past the
//! edge, code takes these types and never re-checks: a bad value cannot reach
//! SQL. This crate does no I/O.

pub mod alert;
mod employee_id;
mod error;
mod intervention;
mod metric;
pub mod privacy;
mod role;
mod sample;
pub mod schema;
mod team_name;
mod text;
pub mod time;
mod window;

pub use employee_id::EmployeeId;
pub use error::{RowError, ValidationError};
pub use intervention::{
    ALERT_SUBJECT_PREFIX, Actor, AuditAction, InterventionId, InterventionKind, InterventionStatus,
};
pub use metric::{FLUSH_TO_ZERO_BELOW, MetricName, MetricValues};
pub use role::{MinGroupSize, Role, TeamsRule};
pub use sample::{MAX_FUTURE_SKEW, MetricSample, RawSample, SampleWindow};
pub use team_name::TeamName;
pub use text::{MAX_JSON_NUMBER, check_storable_json, check_storable_text};
pub use time::{
    INSTANT_FORMS, INSTANT_PATTERN, TIMESTAMP_PATTERN, TimestampError, TimestampProblem, YEARS,
    check_representable, parse_instant, parse_timestamp,
};
pub use window::{AlertDays, Days, StatsDays, Threshold, TimeRange, TrendDays};
