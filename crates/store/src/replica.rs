//! Reads from a streaming replica (issue 15, docs/DECISIONS.md "Reads from
//! a replica"): a [`Store`] over a hot standby of the primary's database,
//! and the two WAL positions its lag is measured from.
//!
//! A replica store is never migrated (a standby is read-only; the schema
//! arrives by replication) and is used for the read endpoints only: writes,
//! jobs, the audit log, keys and the live feed stay on the primary.

use std::sync::Arc;

use crate::{Result, Store, StoreError, pool, schema};

/// Where a replica stands, read from the replica itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayPosition {
    /// `false`: the server is not a standby (promoted, or a primary given
    /// by mistake): its data is not the primary's, so it serves nothing.
    pub in_recovery: bool,
    /// The WAL position replayed so far, in bytes from 0/0.
    pub replayed: i64,
}

impl Store {
    /// A store reading from the replica at `connection`: the same engine,
    /// schema and session settings as this one. Checks that the replica
    /// answers and holds this build's schema.
    pub async fn replica(&self, connection: tokio_postgres::Config) -> Result<Store> {
        let mut settings = (*self.settings).clone();
        settings.connection = connection;
        let store = Store {
            pool: pool::build(&settings)?,
            maintenance: pool::build_maintenance(&settings)?,
            ops: self.ops.clone(),
            settings: Arc::new(settings),
            changes: Arc::default(),
        };
        let client = store.client().await?;
        let found = schema::recorded_version(&client).await?;
        let ours = schema::current_version(self.engine());
        if found != ours {
            return Err(StoreError::Schema(format!(
                "the read replica holds schema version {found}, this build needs {ours}; \
                 migrate the primary and let the replica catch up"
            )));
        }
        Ok(store)
    }

    /// The primary's current WAL position, in bytes from 0/0.
    pub async fn wal_position(&self) -> Result<i64> {
        let client = self.client().await?;
        Ok(client
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
                &[],
            )
            .await?
            .try_get(0)?)
    }

    /// This (replica) server's replay position.
    pub async fn replay_position(&self) -> Result<ReplayPosition> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT pg_is_in_recovery(),
                        coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint",
                &[],
            )
            .await?;
        Ok(ReplayPosition {
            in_recovery: row.try_get(0)?,
            replayed: row.try_get(1)?,
        })
    }
}
