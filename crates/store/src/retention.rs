//! Retention: raw samples for `raw_days` whole UTC days, the hourly rollup
//! for `rollup_days` (DESIGN.md §3). The audit log is never deleted.
//!
//! The job first refreshes the rollup, so that no hour is dropped from raw
//! rows before it is materialised. It then records `raw_kept_from` (the
//! first kept day) and drops what is older: whole daily partitions on the
//! portable engine, raw and packed alike (never a row-by-row DELETE), whole
//! chunks on timescale (`drop_chunks`). From then on an hour before
//! `raw_kept_from` is never refreshed from raw rows: a sample written there
//! later is backfill, rolled up by the writer into the (employee, hour) it
//! belongs to without touching the other employees' rows of that hour
//! (writer.rs, migration 11), and shown in raw trends until the next run
//! drops it.
//!
//! The rollup of the portable engine is one table, trimmed by a DELETE on
//! its `bucket` index once a day (about 1/4 of the raw volume, so a day's
//! worth of rows); the timescale rollup drops chunks.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::engines::Cutoffs;
use crate::rollup::{RefreshReport, hour_start};
use crate::{Result, Store};

/// What a retention run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionReport {
    /// The refresh that ran first.
    pub refresh: RefreshReport,
    /// Raw rows before this instant were dropped (the start of a UTC day).
    pub raw_kept_from: DateTime<Utc>,
    /// Daily partitions (portable) or chunks (timescale) of raw rows dropped.
    pub raw_parts_dropped: u64,
    /// Rollup hours before this instant were dropped.
    pub rollup_kept_from: DateTime<Utc>,
    /// Rollup rows (portable) or chunks (timescale) dropped.
    pub rollup_dropped: u64,
}

impl Store {
    /// Applies retention as of `now`, again after a pause when concurrent
    /// work (TimescaleDB's compression or refresh jobs on the same chunks)
    /// made the database give up on it.
    pub async fn apply_retention(&self, now: DateTime<Utc>) -> Result<RetentionReport> {
        crate::error::retry_on_contention("retention", || self.apply_retention_once(now)).await
    }

    async fn apply_retention_once(&self, now: DateTime<Utc>) -> Result<RetentionReport> {
        let refresh = self.refresh_rollup(now).await?;
        let retention = self.settings().retention;
        let raw_kept_from = (now - Duration::days(i64::from(retention.raw_days)))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(now, |d| d.and_utc());
        let rollup_kept_from = hour_start(now - Duration::days(i64::from(retention.rollup_days)));
        let mut client = self.maintenance_client().await?;
        let tx = client.transaction().await?;
        let (raw_parts_dropped, rollup_dropped) = self
            .ops()
            .drop_expired(
                &tx,
                Cutoffs {
                    raw_kept_from,
                    rollup_kept_from,
                },
            )
            .await?;
        tx.execute(
            "UPDATE lifecycle_state SET raw_kept_from = greatest(raw_kept_from, $1)",
            &[&raw_kept_from],
        )
        .await?;
        // Kept analytics answers may have read what was dropped.
        tx.execute(
            "UPDATE analytics_generation SET generation = generation + 1 WHERE $1",
            &[&(raw_parts_dropped > 0 || rollup_dropped > 0)],
        )
        .await?;
        // The latest sample of an employee whose samples were all dropped.
        tx.execute(
            "DELETE FROM employee_latest WHERE time < $1",
            &[&raw_kept_from],
        )
        .await?;
        tx.commit().await?;
        Ok(RetentionReport {
            refresh,
            raw_kept_from,
            raw_parts_dropped,
            rollup_kept_from,
            rollup_dropped,
        })
    }
}
