//! The hourly rollup's refresh, on both engines.
//!
//! * portable: `employee_metrics_hourly_store` holds the hours before the
//!   watermark (`rollup_state`). A write that touches an hour before the
//!   watermark records that hour in `rollup_invalidations` in its own
//!   transaction, holding the watermark row `FOR SHARE` meanwhile; the
//!   refresh takes the row `FOR UPDATE`, so a refresh and a write never
//!   interleave: either the write's hours are recorded as invalid and
//!   recomputed, or the refresh sees the write. The refresh recomputes the
//!   invalidated hours, materialises the complete hours since the old
//!   watermark, and moves the watermark to the start of the current hour.
//! * timescale: `refresh_continuous_aggregate` up to the start of the current
//!   hour (TimescaleDB tracks invalidations itself).
//!
//! Queries never depend on a refresh having run: the view the queries read
//! computes whatever is not materialised from raw rows.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

use deadpool_postgres::GenericClient;

use crate::{Engine, Result, Store, StoreError};

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

/// What a portable write needs to know to record the hours it invalidates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    /// Hours before it are materialised.
    pub watermark: DateTime<Utc>,
    /// Hours before it are never recomputed (their raw rows were dropped).
    pub raw_kept_from: Option<DateTime<Utc>>,
}

/// On the portable engine, takes the watermark row `FOR SHARE` for the rest
/// of the transaction and returns it (`None` before the first refresh:
/// nothing is materialised, so nothing needs invalidating).
pub(crate) async fn hold_watermark(
    tx: &deadpool_postgres::Transaction<'_>,
    engine: Engine,
) -> Result<Option<Held>> {
    if engine != Engine::Portable {
        return Ok(None);
    }
    let row = tx
        .query_one(
            "SELECT CASE WHEN isfinite(r.watermark) THEN r.watermark END,
                    CASE WHEN isfinite(l.raw_kept_from) THEN l.raw_kept_from END
             FROM rollup_state r, lifecycle_state l FOR SHARE OF r",
            &[],
        )
        .await?;
    let watermark: Option<DateTime<Utc>> = row.get(0);
    Ok(watermark.map(|watermark| Held {
        watermark,
        raw_kept_from: row.get(1),
    }))
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

/// Refreshes the continuous aggregate over [from, to) (SQL literals). A
/// procedure takes no bind parameters for its "any" arguments, so the
/// (computed, never user-supplied) times are inlined. TimescaleDB refuses a
/// refresh while another one (its own policy job, another instance) runs on
/// the same aggregate, with SQLSTATE 55P03: wait half a second and try
/// again, up to `attempts` times.
async fn refresh_cagg(
    client: &deadpool_postgres::Object,
    from: &str,
    to: &str,
    attempts: u32,
) -> Result<()> {
    let sql = format!("CALL refresh_continuous_aggregate('employee_metrics_hourly', {from}, {to})");
    let mut attempt = 0u32;
    loop {
        match client.batch_execute(&sql).await {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt + 1 < attempts
                    && e.as_db_error().map(|d| d.code().code()) == Some("55P03") =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Brings the hourly rollup up to the start of the hour of `now`.
    pub async fn refresh_rollup(&self, now: DateTime<Utc>) -> Result<RefreshReport> {
        let upto = hour_start(now);
        match self.engine() {
            Engine::Timescale => {
                let client = self.client().await?;
                // Never before the kept raw rows (see raw_kept_from).
                let from = raw_kept_from(&client)
                    .await?
                    .map_or("NULL".to_string(), |t| {
                        format!("'{}'::timestamptz", t.to_rfc3339())
                    });
                // A job: wait out a concurrent refresh for up to a minute.
                refresh_cagg(
                    &client,
                    &from,
                    &format!("'{}'::timestamptz", upto.to_rfc3339()),
                    120,
                )
                .await?;
                Ok(RefreshReport {
                    hours_recomputed: 0,
                    rows_written: 0,
                    watermark: upto,
                })
            }
            Engine::Portable => self.refresh_portable(upto).await,
        }
    }

    /// After a committed write on the timescale engine: TimescaleDB's
    /// real-time aggregation adds only the hours after its watermark, so a
    /// write into an hour already materialised would stay invisible in the
    /// rollup until the next refresh. Refresh those hours now. (The portable
    /// view reads invalidated hours from raw rows, so it needs nothing.) A
    /// failure is logged, not returned: the write is committed, and the
    /// hourly refresh will catch up.
    pub(crate) async fn rollup_late_hours(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) {
        if self.engine() != Engine::Timescale {
            return;
        }
        let current = hour_start(Utc::now());
        let end = (hour_start(hi) + Duration::hours(1)).min(current);
        if hour_start(lo) >= end {
            // Only the current hour: real-time aggregation already shows it.
            return;
        }
        let result = async {
            let client = self.client().await?;
            // Hours whose raw rows retention dropped are left as they are.
            let start = match raw_kept_from(&client).await? {
                Some(kept) => hour_start(lo).max(kept),
                None => hour_start(lo),
            };
            if start >= end {
                return Ok(());
            }
            // A writer waits at most 5 s; past that the hourly refresh
            // catches up.
            refresh_cagg(
                &client,
                &format!("'{}'::timestamptz", start.to_rfc3339()),
                &format!("'{}'::timestamptz", end.to_rfc3339()),
                10,
            )
            .await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %lo, %hi, "could not refresh the hourly rollup after a late write; the next refresh will");
        }
    }

    async fn refresh_portable(&self, upto: DateTime<Utc>) -> Result<RefreshReport> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let old: Option<DateTime<Utc>> = tx
            .query_one(
                "SELECT CASE WHEN isfinite(watermark) THEN watermark END FROM rollup_state FOR UPDATE",
                &[],
            )
            .await?
            .get(0);
        let invalid: Vec<DateTime<Utc>> = tx
            .query("DELETE FROM rollup_invalidations RETURNING bucket", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut rows_written = 0;
        if !invalid.is_empty() {
            tx.execute(
                "DELETE FROM employee_metrics_hourly_store WHERE bucket = ANY($1)",
                &[&invalid],
            )
            .await?;
            rows_written += tx
                .execute(
                    "INSERT INTO employee_metrics_hourly_store
                     SELECT r.* FROM unnest($1::timestamptz[]) AS b(bucket)
                     CROSS JOIN LATERAL hourly_from_raw(b.bucket, b.bucket + INTERVAL '1 hour') r",
                    &[&invalid],
                )
                .await?;
        }
        let watermark = match old {
            Some(old) if old >= upto => old,
            _ => {
                rows_written += tx
                    .execute(
                        "INSERT INTO employee_metrics_hourly_store
                         SELECT * FROM hourly_from_raw(coalesce($1, '-infinity'::timestamptz), $2)
                         ON CONFLICT (employee_id, bucket) DO UPDATE SET
                             team = EXCLUDED.team, samples = EXCLUDED.samples,
                             degree_centrality_sum = EXCLUDED.degree_centrality_sum,
                             degree_centrality_sumsq = EXCLUDED.degree_centrality_sumsq,
                             degree_centrality_min = EXCLUDED.degree_centrality_min,
                             degree_centrality_max = EXCLUDED.degree_centrality_max,
                             betweenness_centrality_sum = EXCLUDED.betweenness_centrality_sum,
                             betweenness_centrality_sumsq = EXCLUDED.betweenness_centrality_sumsq,
                             betweenness_centrality_min = EXCLUDED.betweenness_centrality_min,
                             betweenness_centrality_max = EXCLUDED.betweenness_centrality_max,
                             clustering_coeff_sum = EXCLUDED.clustering_coeff_sum,
                             clustering_coeff_sumsq = EXCLUDED.clustering_coeff_sumsq,
                             clustering_coeff_min = EXCLUDED.clustering_coeff_min,
                             clustering_coeff_max = EXCLUDED.clustering_coeff_max,
                             burnout_score_sum = EXCLUDED.burnout_score_sum,
                             burnout_score_sumsq = EXCLUDED.burnout_score_sumsq,
                             burnout_score_min = EXCLUDED.burnout_score_min,
                             burnout_score_max = EXCLUDED.burnout_score_max",
                        &[&old, &upto],
                    )
                    .await?;
                tx.execute("UPDATE rollup_state SET watermark = $1", &[&upto])
                    .await?;
                upto
            }
        };
        tx.commit().await?;
        Ok(RefreshReport {
            hours_recomputed: invalid.len(),
            rows_written,
            watermark,
        })
    }

    /// The rollup's watermark: hours before it are materialised.
    pub async fn rollup_watermark(&self) -> Result<Option<DateTime<Utc>>> {
        let client = self.client().await?;
        let sql = match self.engine() {
            Engine::Portable => {
                "SELECT CASE WHEN isfinite(watermark) THEN watermark END FROM rollup_state"
            }
            Engine::Timescale => {
                "SELECT _timescaledb_functions.to_timestamp(
                     _timescaledb_functions.cagg_watermark(mat_hypertable_id))
                 FROM _timescaledb_catalog.continuous_agg
                 WHERE user_view_name = 'employee_metrics_hourly' AND user_view_schema = current_schema()"
            }
        };
        let row = client
            .query_opt(sql, &[])
            .await?
            .ok_or_else(|| StoreError::Schema("the hourly rollup is missing".into()))?;
        let t: Option<DateTime<Utc>> = row.get(0);
        Ok(t.filter(|t| t.timestamp() > -200_000_000_000))
    }
}
