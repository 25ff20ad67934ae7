//! The two storage engines.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Which engine keeps the data (DESIGN.md §4). Both give the same answers;
/// they differ in who does the lifecycle work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// TimescaleDB hypertables, continuous aggregate, native policies.
    Timescale,
    /// Plain PostgreSQL: daily partitions and the service's own jobs.
    Portable,
}

impl Engine {
    pub const fn as_str(self) -> &'static str {
        match self {
            Engine::Timescale => "timescale",
            Engine::Portable => "portable",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "timescale" => Ok(Engine::Timescale),
            "portable" => Ok(Engine::Portable),
            other => Err(format!(
                "unknown engine {other:?}: expected timescale or portable"
            )),
        }
    }
}
