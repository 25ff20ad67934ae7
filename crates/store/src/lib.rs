//! Storage of Organism Trends.
//!
//! Everything that touches PostgreSQL lives here, and nothing here knows
//! about HTTP. The [`Store`] is a cheap, cloneable handle (a connection pool,
//! the engine in use and its settings); each concern has its own module with
//! its SQL next to the function that runs it:
//!
//! * [`config`]: connection and pool settings;
//! * [`schema`]: versioned, idempotent migrations for both engines;
//! * [`partitions`]: daily partitions of the portable engine;
//! * [`writer`]: single samples and all-or-nothing batches (binary COPY);
//! * [`interventions`] and [`audit`]: the state machine and its hash-chained log;
//! * [`rollup`], [`retention`] and [`compression`]: the lifecycle jobs;
//! * `engines`: what differs by engine, behind one trait chosen at open;
//! * [`jobs`] and [`scheduler`]: running them, and when;
//! * [`queries`]: trends, team trends, burnout alerts, statistics;
//! * [`keys`]: API keys, stored as hashes.
//! * [`sizes`]: on-disk size of raw samples (benchmark, compression).

pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod baseline;
mod batch_hours;
pub mod compression;
pub mod config;
mod engine;
mod engines;
mod error;
pub mod interventions;
pub mod jobs;
pub mod keys;
pub mod partitions;
mod pool;
pub mod queries;
pub mod replica;
pub mod retention;
pub mod rollup;
pub mod scheduler;
pub mod schema;
pub mod sizes;
pub mod writer;

use std::sync::Arc;

pub use config::{DbSettings, EngineChoice, Retention};
pub use engine::Engine;
pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database: clone it freely.
#[derive(Clone, Debug)]
pub struct Store {
    pool: deadpool_postgres::Pool,
    /// Jobs and migrations: sessions without the request bounds (pool.rs).
    maintenance: deadpool_postgres::Pool,
    /// The engine's implementation, chosen once at open (engines/).
    ops: Arc<dyn engines::StorageEngine>,
    settings: Arc<DbSettings>,
    /// Writes and job runs committed through this store (all its clones):
    /// what a figure read earlier may not count yet ([`Store::changes`]).
    changes: Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Connects, creates or upgrades the schema (idempotent), and settles the
    /// engine: the one recorded in the database, or the one `auto` picks.
    pub async fn open(settings: DbSettings) -> Result<Self> {
        let pool = pool::build(&settings)?;
        let maintenance = pool::build_maintenance(&settings)?;
        let engine = {
            let mut client = pool::get(&maintenance).await?;
            schema::migrate(&mut client, &settings.schema, settings.engine).await?
        };
        let store = Self {
            pool,
            maintenance,
            ops: engines::for_engine(engine),
            settings: Arc::new(settings),
            changes: Arc::default(),
        };
        store.ops.configure(&store).await?;
        Ok(store)
    }

    pub fn engine(&self) -> Engine {
        self.ops.kind()
    }

    /// What differs by engine (engines/).
    pub(crate) fn ops(&self) -> &dyn engines::StorageEngine {
        &*self.ops
    }

    /// How many writes of samples and lifecycle job runs this store (and
    /// its clones) has committed. A figure read from the database while
    /// this stayed the same counts every one of them; the service's health
    /// keeps its stored figures on that condition (and for a second).
    pub fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// After a commit that [`Store::changes`] counts.
    pub(crate) fn note_change(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn settings(&self) -> &DbSettings {
        &self.settings
    }

    /// The times a sample written as of `now` may have: no older than the
    /// rollup's retention, no later than the allowed clock skew. Computed
    /// once per request or file and handed to the parsers, so that nothing
    /// this store would only drop again (or cannot represent) reaches it,
    /// and no partition or chunk is made for it.
    pub fn sample_window(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> organism_domain::SampleWindow {
        organism_domain::SampleWindow::new(now, self.settings.retention.rollup_days)
    }

    /// A pooled connection, with pool exhaustion and an unreachable database
    /// told apart.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        pool::get(&self.pool).await
    }

    /// A connection for lifecycle jobs: no statement or lock timeout of the
    /// request sessions.
    pub(crate) async fn maintenance_client(&self) -> Result<deadpool_postgres::Object> {
        pool::get(&self.maintenance).await
    }

    /// Pool occupancy, for health and metrics.
    pub fn pool_status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<i32> {
        let client = self.client().await?;
        schema::recorded_version(&client).await
    }

    /// Drops the schema and everything in it (tests and troubleshooting).
    pub async fn drop_schema(&self) -> Result<()> {
        let client = self.maintenance_client().await?;
        // TimescaleDB's background jobs may hold the same objects.
        error::retry_on_contention("drop_schema", || {
            schema::drop(&client, &self.settings.schema)
        })
        .await
    }

    /// Waits for the rollup work this store's writes left to run in the
    /// background (on timescale, the refreshes of hours written late,
    /// which reads meanwhile take from raw rows): for a process about to
    /// end, so that the next one finds the rollups materialised.
    pub async fn settle_rollup(&self) -> Result<()> {
        self.ops().settle(self).await
    }

    pub fn close(&self) {
        self.pool.close();
        self.maintenance.close();
    }
}
