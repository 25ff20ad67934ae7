//! Every setting of the binary, read once from flags and environment
//! (DESIGN.md §6, §8), then passed down.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use organism_store::{DbSettings, EngineChoice};

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// PostgreSQL connection URL or key=value string; overrides TIMESCALE_*.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Database host; when neither this nor DATABASE_URL is set, the embedded cluster is used.
    #[arg(long, env = "TIMESCALE_HOST", global = true)]
    pub timescale_host: Option<String>,
    /// Database port (with --timescale-host).
    #[arg(long, env = "TIMESCALE_PORT", default_value_t = 5432, global = true)]
    pub timescale_port: u16,
    /// Database name (with --timescale-host).
    #[arg(long, env = "TIMESCALE_DB", default_value = "postgres", global = true)]
    pub timescale_db: String,
    /// Database user (with --timescale-host).
    #[arg(
        long,
        env = "TIMESCALE_USER",
        default_value = "postgres",
        global = true
    )]
    pub timescale_user: String,
    /// Database password (with --timescale-host); never printed.
    #[arg(
        long,
        env = "TIMESCALE_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub timescale_password: Option<String>,
    /// Storage engine: auto (TimescaleDB when it can be created, else
    /// portable; a database already set up keeps its engine), timescale or
    /// portable.
    #[arg(long, env = "ORGANISM_ENGINE", default_value = "auto", global = true)]
    pub engine: EngineChoice,
    /// Directory of the embedded PostgreSQL cluster, used (and created on
    /// first use) when no database is configured.
    #[arg(
        long,
        env = "ORGANISM_DATA_DIR",
        default_value = "./organism-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Schema holding every table.
    #[arg(
        long,
        env = "ORGANISM_SCHEMA",
        default_value = "organism",
        global = true
    )]
    pub schema: String,
    /// Largest number of pooled database connections.
    #[arg(long, env = "ORGANISM_POOL_SIZE", default_value_t = 20, global = true)]
    pub pool_size: usize,
    /// Seconds a request waits for a free connection before 503.
    #[arg(
        long,
        env = "ORGANISM_POOL_TIMEOUT",
        default_value_t = 5.0,
        global = true
    )]
    pub pool_timeout: f64,
    /// Milliseconds a request's database statement may run
    /// (statement_timeout; 0: no limit). Lifecycle jobs are not bound by it.
    #[arg(
        long,
        env = "ORGANISM_STATEMENT_TIMEOUT_MS",
        default_value_t = 60_000,
        global = true
    )]
    pub statement_timeout_ms: u64,
    /// Milliseconds a request's statement may wait for a lock (lock_timeout;
    /// 0: no limit).
    #[arg(
        long,
        env = "ORGANISM_LOCK_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub lock_timeout_ms: u64,
    /// Milliseconds a lifecycle job's or migration's statement may run
    /// (0: no limit).
    #[arg(
        long,
        env = "ORGANISM_JOB_STATEMENT_TIMEOUT_MS",
        default_value_t = 0,
        global = true
    )]
    pub job_statement_timeout_ms: u64,
    /// Whole UTC days of raw samples kept by the retention job.
    #[arg(
        long,
        env = "ORGANISM_RAW_RETENTION_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub raw_retention_days: u32,
    /// Days of the hourly rollup kept by the retention job.
    #[arg(
        long,
        env = "ORGANISM_ROLLUP_RETENTION_DAYS",
        default_value_t = 730,
        global = true
    )]
    pub rollup_retention_days: u32,
    /// Days after which raw samples are compressed (both engines).
    #[arg(
        long,
        env = "ORGANISM_COMPRESS_AFTER_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub compress_after_days: u32,
    /// Directory of the PostgreSQL server binaries for the embedded cluster
    /// (default: found on PATH or under /usr/lib/postgresql/*/bin).
    #[arg(long, env = "ORGANISM_PG_BIN_DIR", global = true)]
    pub pg_bin_dir: Option<PathBuf>,
    /// Log filter (tracing's EnvFilter syntax).
    #[arg(
        long,
        env = "ORGANISM_LOG",
        default_value = "info,tower_http=warn",
        global = true
    )]
    pub log: String,
    /// PATH, to find the server binaries.
    #[arg(long, env = "PATH", hide = true, global = true)]
    pub search_path: Option<String>,
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A server given by DATABASE_URL or TIMESCALE_HOST.
    External(Box<DbSettings>),
    /// The embedded cluster in this directory.
    Embedded(PathBuf),
}

impl GlobalArgs {
    pub fn target(&self) -> anyhow::Result<DatabaseTarget> {
        let settings = if let Some(url) = &self.database_url {
            DbSettings::from_url(url)?
        } else if let Some(host) = &self.timescale_host {
            DbSettings::from_parts(
                host,
                self.timescale_port,
                &self.timescale_db,
                &self.timescale_user,
                self.timescale_password.as_deref(),
            )
        } else {
            return Ok(DatabaseTarget::Embedded(self.data_dir.clone()));
        };
        Ok(DatabaseTarget::External(Box::new(self.tune(settings)?)))
    }

    /// Applies pool, schema and engine settings.
    pub fn tune(&self, mut settings: DbSettings) -> anyhow::Result<DbSettings> {
        if !(self.pool_timeout.is_finite() && self.pool_timeout > 0.0) {
            anyhow::bail!("--pool-timeout must be a positive number of seconds");
        }
        settings.pool_size = self.pool_size;
        settings.acquire_timeout = Duration::from_secs_f64(self.pool_timeout);
        settings.statement_timeout = Duration::from_millis(self.statement_timeout_ms);
        settings.lock_timeout = Duration::from_millis(self.lock_timeout_ms);
        settings.maintenance_statement_timeout =
            Duration::from_millis(self.job_statement_timeout_ms);
        settings.schema = self.schema.clone();
        settings.engine = self.engine;
        settings.retention = organism_store::Retention {
            raw_days: self.raw_retention_days,
            rollup_days: self.rollup_retention_days,
            compress_after_days: self.compress_after_days,
        };
        settings.validate()?;
        Ok(settings)
    }
}
