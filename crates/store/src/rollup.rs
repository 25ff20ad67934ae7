//! The hourly rollup's refresh, on both engines: what it reports, and the
//! entry points. How each engine keeps its rollup is in `engines/`.
//!
//! Queries never depend on a refresh having run: the read interface
//! computes whatever is not materialised from raw rows.

use chrono::{DateTime, Duration, DurationRound, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;

use crate::{Result, Store, StoreError};

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshReport {
    /// Invalidated hours recomputed (portable).
    pub hours_recomputed: usize,
    /// Rollup rows written (portable).
    pub rows_written: u64,
    /// Hours before this are materialised.
    pub watermark: DateTime<Utc>,
}

/// The start of the hour of `t`.
pub fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// The start of the UTC day of `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

/// The first instant whose raw rows are kept, once retention has run.
pub(crate) async fn raw_kept_from(client: &impl GenericClient) -> Result<Option<DateTime<Utc>>> {
    let row = client
        .query_one(
            "SELECT CASE WHEN isfinite(raw_kept_from) THEN raw_kept_from END FROM lifecycle_state",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

impl Store {
    /// Brings the hourly rollup up to the start of the hour of `now`.
    pub async fn refresh_rollup(&self, now: DateTime<Utc>) -> Result<RefreshReport> {
        self.ops().refresh(self, hour_start(now)).await
    }

    /// The rollup's watermark: hours before it are materialised.
    pub async fn rollup_watermark(&self) -> Result<Option<DateTime<Utc>>> {
        let client = self.client().await?;
        let row = client
            .query_opt(self.ops().watermark_sql(), &[])
            .await?
            .ok_or_else(|| StoreError::Schema("the hourly rollup is missing".into()))?;
        let t: Option<DateTime<Utc>> = row.get(0);
        Ok(t.filter(|t| t.timestamp() > -200_000_000_000))
    }
}
