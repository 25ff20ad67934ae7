//! Connection and pool settings, built once at start-up by the binary (from
//! flags and environment) or by the test kit, then passed down.

use std::str::FromStr;
use std::time::Duration;

use crate::StoreError;

/// `ORGANISM_ENGINE`: which engine to use (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// TimescaleDB when the extension can be created with its full licence,
    /// else portable. A database already set up keeps its engine.
    #[default]
    Auto,
    Timescale,
    Portable,
}

impl FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "timescale" => Ok(Self::Timescale),
            "portable" => Ok(Self::Portable),
            other => Err(format!(
                "unknown engine {other:?}: expected auto, timescale or portable"
            )),
        }
    }
}

/// Where the database is and how to use it.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// Host, port, database, user, password and any other libpq setting.
    pub connection: tokio_postgres::Config,
    /// Largest number of pooled connections (requirements: 20).
    pub pool_size: usize,
    /// How long a request waits for a free connection before it is refused
    /// with "pool exhausted" (requirements: 5.0 s). Also bounds how long
    /// opening a new connection may take.
    pub acquire_timeout: Duration,
    /// The schema that holds every table (default `organism`).
    pub schema: String,
    pub engine: EngineChoice,
    /// How long raw samples and the hourly rollup are kept.
    pub retention: Retention,
    /// `statement_timeout` of the sessions that serve requests (default
    /// 60 s, room for the COPY of a 64 MiB batch; zero: none). A statement cancelled by it answers 503
    /// `database_unavailable`.
    pub statement_timeout: Duration,
    /// `lock_timeout` of those sessions (default 5 s): a request does not
    /// queue behind a job's lock for long; it answers 503 `database_busy`.
    pub lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of those sessions (default
    /// 60 s): a transaction its client stopped driving releases its locks.
    pub idle_in_transaction_timeout: Duration,
    /// `statement_timeout` of the lifecycle jobs, migrations and other
    /// maintenance sessions (default zero: none; they run for minutes at
    /// scale). They have no lock timeout: they wait for locks on purpose.
    pub maintenance_statement_timeout: Duration,
}

/// How many days of data the retention job keeps (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw samples: whole UTC days, the day `raw_days` ago included
    /// (requirements: 90).
    pub raw_days: u32,
    /// The hourly rollup (requirements: 2 years).
    pub rollup_days: u32,
    /// Raw samples older than this many days are compressed (requirements:
    /// 30), on both engines.
    pub compress_after_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw_days: 90,
            rollup_days: 730,
            compress_after_days: 30,
        }
    }
}

impl DbSettings {
    pub const DEFAULT_POOL_SIZE: usize = 20;
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(5000);
    pub const DEFAULT_SCHEMA: &'static str = "organism";
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

    pub fn new(connection: tokio_postgres::Config) -> Self {
        Self {
            connection,
            pool_size: Self::DEFAULT_POOL_SIZE,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            schema: Self::DEFAULT_SCHEMA.to_string(),
            engine: EngineChoice::Auto,
            retention: Retention::default(),
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            lock_timeout: Self::DEFAULT_LOCK_TIMEOUT,
            idle_in_transaction_timeout: Self::DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
            maintenance_statement_timeout: Duration::ZERO,
        }
    }

    /// From a `postgresql://` URL or a libpq `key=value` string.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let connection = tokio_postgres::Config::from_str(url).map_err(|e| {
            StoreError::Schema(format!(
                "--database-url (DATABASE_URL) is not a valid connection string: {e}"
            ))
        })?;
        Ok(Self::new(connection))
    }

    /// From the `TIMESCALE_*` settings of the requirements.
    pub fn from_parts(
        host: &str,
        port: u16,
        dbname: &str,
        user: &str,
        password: Option<&str>,
    ) -> Self {
        let mut connection = tokio_postgres::Config::new();
        connection.host(host).port(port).dbname(dbname).user(user);
        if let Some(password) = password {
            connection.password(password);
        }
        Self::new(connection)
    }

    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    pub fn with_engine(mut self, engine: EngineChoice) -> Self {
        self.engine = engine;
        self
    }

    /// Checks the schema name: it is spliced into SQL as an identifier, so it
    /// must be a plain lower-case one.
    pub fn validate(&self) -> Result<(), StoreError> {
        let s = &self.schema;
        let ok = (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(StoreError::Schema(format!(
                "schema name {s:?} must be 1-63 characters of a-z 0-9 _ starting with a letter or _"
            )));
        }
        if self.pool_size == 0 {
            return Err(StoreError::Schema("pool size must be at least 1".into()));
        }
        let r = self.retention;
        if r.raw_days == 0 || r.rollup_days < r.raw_days {
            return Err(StoreError::Schema(format!(
                "retention: raw samples must be kept at least 1 day and the rollup at least as long as raw samples (got {} and {} days)",
                r.raw_days, r.rollup_days
            )));
        }
        if r.compress_after_days == 0 {
            return Err(StoreError::Schema(
                "--compress-after-days: raw samples must stay uncompressed at least 1 day".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_those_of_the_requirements() {
        let s = DbSettings::from_parts("localhost", 5432, "postgres", "postgres", None);
        assert_eq!(s.pool_size, 20);
        assert_eq!(s.acquire_timeout, Duration::from_secs_f64(5.0));
        assert_eq!(s.schema, "organism");
        assert_eq!(s.engine, EngineChoice::Auto);
    }

    #[test]
    fn a_schema_name_that_is_not_a_plain_identifier_is_refused() {
        let base = DbSettings::from_parts("h", 1, "d", "u", None);
        assert!(base.clone().with_schema("organism_2").validate().is_ok());
        for bad in ["", "Organism", "a-b", "a;drop", "1abc", &"a".repeat(64)] {
            assert!(base.clone().with_schema(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_key_value_strings_both_parse() {
        assert!(DbSettings::from_url("postgresql://u:p@localhost:5433/db").is_ok());
        assert!(DbSettings::from_url("host=/tmp port=5432 user=postgres").is_ok());
        assert!(DbSettings::from_url("postgresql://[bad").is_err());
    }

    #[test]
    fn engine_choices_parse() {
        assert_eq!("auto".parse::<EngineChoice>().unwrap(), EngineChoice::Auto);
        assert!("mysql".parse::<EngineChoice>().is_err());
    }
}
