//! Retention: raw samples for `raw_days` whole UTC days, the hourly rollup
//! for `rollup_days` (DESIGN.md §3). The audit log is never deleted.
//!
//! The job first refreshes the rollup, so that no hour is dropped from raw
//! rows before it is materialised. It then records `raw_kept_from` (the
//! first kept day) and drops what is older: whole daily partitions on the
//! portable engine, raw and packed alike (never a row-by-row DELETE), whole chunks on timescale
//! (`drop_chunks`). From then on an hour before `raw_kept_from` is never
//! recomputed from raw rows: a late sample written there is stored and shown
//! in raw trends until the next run drops it, but it cannot replace the
//! hour's materialised aggregate with an aggregate of itself alone.
//!
//! The rollup of the portable engine is one table, trimmed by a DELETE on
//! its `bucket` index once a day (about 1/4 of the raw volume, so a day's
//! worth of rows); the timescale rollup drops chunks.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::partitions::{self, Family};
use crate::rollup::{RefreshReport, hour_start};
use crate::{Engine, Result, Store};

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
        let (raw_parts_dropped, rollup_dropped) = match self.engine() {
            Engine::Portable => {
                // Writers record invalidations under FOR SHARE of this row.
                tx.execute("SELECT 1 FROM rollup_state FOR UPDATE", &[])
                    .await?;
                tx.execute(
                    "UPDATE lifecycle_state SET raw_kept_from = greatest(raw_kept_from, $1)",
                    &[&raw_kept_from],
                )
                .await?;
                tx.execute(
                    "DELETE FROM rollup_invalidations WHERE bucket < $1",
                    &[&raw_kept_from],
                )
                .await?;
                partitions::lock(&*tx).await?;
                let mut dropped = 0;
                for family in [Family::Raw, Family::Packed] {
                    for day in partitions::list_family(&*tx, family).await? {
                        if day < raw_kept_from.date_naive() {
                            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", family.name(day)))
                                .await?;
                            // A day counts once, raw or packed.
                            if family == Family::Raw {
                                dropped += 1;
                            }
                        }
                    }
                }
                let rollup = tx
                    .execute(
                        "DELETE FROM employee_metrics_hourly_store WHERE bucket < $1",
                        &[&rollup_kept_from],
                    )
                    .await?;
                for store in ["metrics_hourly_org_store", "employee_team_daily_store"] {
                    tx.execute(
                        &format!("DELETE FROM {store} WHERE bucket < $1"),
                        &[&rollup_kept_from],
                    )
                    .await?;
                }
                (dropped, rollup)
            }
            Engine::Timescale => {
                tx.execute(
                    "UPDATE lifecycle_state SET raw_kept_from = greatest(raw_kept_from, $1)",
                    &[&raw_kept_from],
                )
                .await?;
                // drop_chunks takes "any": the (computed) times are inlined.
                let raw: i64 = tx
                    .query_one(
                        &format!(
                            "SELECT count(*) FROM drop_chunks('employee_metrics', older_than => '{}'::timestamptz)",
                            raw_kept_from.to_rfc3339()
                        ),
                        &[],
                    )
                    .await?
                    .get(0);
                let mut rollup = 0i64;
                for cagg in [
                    "employee_metrics_hourly",
                    "metrics_hourly_org",
                    "employee_team_daily",
                ] {
                    let dropped: i64 = tx
                        .query_one(
                            &format!(
                                "SELECT count(*) FROM drop_chunks('{cagg}', older_than => '{}'::timestamptz)",
                                rollup_kept_from.to_rfc3339()
                            ),
                            &[],
                        )
                        .await?
                        .get(0);
                    // Chunks of the hourly aggregate, as before the others.
                    if cagg == "employee_metrics_hourly" {
                        rollup = dropped;
                    }
                }
                // The refresh policies of the aggregates over raw rows must
                // not reach before the kept raw rows.
                for cagg in ["employee_metrics_hourly", "metrics_hourly_org"] {
                    tx.batch_execute(&format!(
                        "SELECT remove_continuous_aggregate_policy('{cagg}', if_exists => true);
                         SELECT add_continuous_aggregate_policy('{cagg}',
                             start_offset => INTERVAL '{} days', end_offset => INTERVAL '1 hour',
                             schedule_interval => INTERVAL '1 hour');",
                        retention.raw_days
                    ))
                    .await?;
                }
                (raw as u64, rollup as u64)
            }
        };
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
