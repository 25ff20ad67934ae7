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

use chrono::{NaiveDate, NaiveTime};

use crate::partitions::{self, Family};
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
    let statement = tx
        .prepare_cached(
            "SELECT CASE WHEN isfinite(r.watermark) THEN r.watermark END,
                    CASE WHEN isfinite(l.raw_kept_from) THEN l.raw_kept_from END
             FROM rollup_state r, lifecycle_state l FOR SHARE OF r",
        )
        .await?;
    let row = tx.query_one(&statement, &[]).await?;
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

/// The continuous aggregates, in refresh order: the hourly one first, since
/// `employee_team_daily` is built on it.
const CAGGS: [Cagg; 3] = [Cagg::Hourly, Cagg::Org, Cagg::TeamDaily];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cagg {
    Hourly,
    Org,
    TeamDaily,
}

impl Cagg {
    fn name(self) -> &'static str {
        match self {
            Cagg::Hourly => "employee_metrics_hourly",
            Cagg::Org => "metrics_hourly_org",
            Cagg::TeamDaily => "employee_team_daily",
        }
    }

    /// Refreshed only over whole buckets before this: a bucket materialised
    /// while still filling would hide the real-time part of its later rows.
    fn complete_before(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Cagg::Hourly | Cagg::Org => hour_start(t),
            Cagg::TeamDaily => day_start(t),
        }
    }

    /// The smallest range of whole buckets covering [lo, hi).
    fn cover(self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let floor = |t| match self {
            Cagg::Hourly | Cagg::Org => hour_start(t),
            Cagg::TeamDaily => day_start(t),
        };
        let step = match self {
            Cagg::Hourly | Cagg::Org => Duration::hours(1),
            Cagg::TeamDaily => Duration::days(1),
        };
        let end = if floor(hi) == hi {
            hi
        } else {
            floor(hi) + step
        };
        (floor(lo), end)
    }
}

/// The start of the UTC day of `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

fn sql_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or("NULL".to_string(), |t| {
        format!("'{}'::timestamptz", t.to_rfc3339())
    })
}

/// Refreshes a continuous aggregate over [from, to) (`None`: unbounded). A
/// procedure takes no bind parameters for its "any" arguments, so the
/// (computed, never user-supplied) times are inlined. TimescaleDB refuses a
/// refresh while another one (its own policy job, another instance) runs on
/// the same aggregate, with SQLSTATE 55P03: wait half a second and try
/// again, up to `attempts` times.
async fn refresh_cagg(
    client: &deadpool_postgres::Object,
    cagg: Cagg,
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
    attempts: u32,
) -> Result<()> {
    if from.is_some_and(|from| from >= to) {
        return Ok(());
    }
    let sql = format!(
        "CALL refresh_continuous_aggregate('{}', {}, {})",
        cagg.name(),
        sql_time(from),
        sql_time(Some(to))
    );
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

/// Materialises the hourly rollup's hours in [lo, hi) (portable), with the
/// organisation's hours and, when `days` is not empty, the member-days of
/// the days in [days.0, days.1), which must lie wholly before `hi`.
async fn materialise(
    tx: &deadpool_postgres::Transaction<'_>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    days: (DateTime<Utc>, DateTime<Utc>),
) -> Result<u64> {
    // Hours at or after the watermark are never stored (each step moves the
    // watermark with the rows it writes), so this deletes nothing unless
    // something went wrong; it lets a plain INSERT replace the upsert, whose
    // speculative insertion cost 40% more.
    tx.execute(
        "DELETE FROM employee_metrics_hourly_store WHERE bucket >= $1 AND bucket < $2",
        &[&lo, &hi],
    )
    .await?;
    let rows = tx
        .execute(
            "INSERT INTO employee_metrics_hourly_store SELECT * FROM hourly_from_raw($1, $2)",
            &[&lo, &hi],
        )
        .await?;
    tx.execute(
        "DELETE FROM metrics_hourly_org_store WHERE bucket >= $1 AND bucket < $2",
        &[&lo, &hi],
    )
    .await?;
    tx.execute(
        "INSERT INTO metrics_hourly_org_store SELECT * FROM org_hours_from_store($1, $2)",
        &[&lo, &hi],
    )
    .await?;
    if days.0 < days.1 {
        tx.execute(
            "DELETE FROM employee_team_daily_store WHERE bucket >= $1 AND bucket < $2",
            &[&days.0, &days.1],
        )
        .await?;
        tx.execute(
            "INSERT INTO employee_team_daily_store SELECT * FROM team_days_from_store($1, $2)",
            &[&days.0, &days.1],
        )
        .await?;
    }
    Ok(rows)
}

impl Store {
    /// Brings the hourly rollup up to the start of the hour of `now`.
    pub async fn refresh_rollup(&self, now: DateTime<Utc>) -> Result<RefreshReport> {
        let upto = hour_start(now);
        match self.engine() {
            Engine::Timescale => {
                let client = self.maintenance_client().await?;
                // Never before the kept raw rows (see raw_kept_from).
                let from = raw_kept_from(&client).await?;
                // A job: wait out a concurrent refresh for up to a minute.
                for cagg in CAGGS {
                    refresh_cagg(&client, cagg, from, cagg.complete_before(upto), 120).await?;
                }
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
            // A writer waits at most 5 s per aggregate; past that the
            // hourly refresh catches up.
            for cagg in CAGGS {
                let (lo, hi) = cagg.cover(start, end);
                let hi = hi.min(cagg.complete_before(Utc::now()));
                refresh_cagg(&client, cagg, Some(lo), hi, 10).await?;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %lo, %hi, "could not refresh the hourly rollup after a late write; the next refresh will");
        }
    }

    /// The portable refresh: first the invalidated hours, in one
    /// transaction; then the hours since the watermark, a UTC day per
    /// transaction, so that a refresh over months of history sorts a day of
    /// rows at a time and keeps what it did when interrupted. Each step
    /// writes the organisation's hours and the member-days of the days it
    /// completes from the hours it wrote.
    async fn refresh_portable(&self, upto: DateTime<Utc>) -> Result<RefreshReport> {
        let mut client = self.maintenance_client().await?;
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
            tx.execute(
                "DELETE FROM metrics_hourly_org_store WHERE bucket = ANY($1)",
                &[&invalid],
            )
            .await?;
            tx.execute(
                "INSERT INTO metrics_hourly_org_store
                 SELECT r.* FROM unnest($1::timestamptz[]) AS b(bucket)
                 CROSS JOIN LATERAL org_hours_from_store(b.bucket, b.bucket + INTERVAL '1 hour') r",
                &[&invalid],
            )
            .await?;
            // The stored days among the invalidated hours' days.
            let mut days: Vec<DateTime<Utc>> = invalid
                .iter()
                .map(|t| day_start(*t))
                .filter(|d| old.is_some_and(|old| *d < day_start(old)))
                .collect();
            days.sort();
            days.dedup();
            if !days.is_empty() {
                tx.execute(
                    "DELETE FROM employee_team_daily_store WHERE bucket = ANY($1)",
                    &[&days],
                )
                .await?;
                tx.execute(
                    "INSERT INTO employee_team_daily_store
                     SELECT r.* FROM unnest($1::timestamptz[]) AS d(day)
                     CROSS JOIN LATERAL team_days_from_store(d.day, d.day + INTERVAL '1 day') r",
                    &[&days],
                )
                .await?;
            }
        }
        tx.commit().await?;

        // The first hour to materialise: the watermark, or before the first
        // refresh the first day holding samples.
        let mut next = match old {
            Some(old) => old,
            None => {
                let mut first = None::<NaiveDate>;
                for family in [Family::Raw, Family::Packed] {
                    let days = partitions::list_family(&**client, family).await?;
                    first = first.into_iter().chain(days.first().copied()).min();
                }
                first.map_or(upto, |d| d.and_time(NaiveTime::MIN).and_utc())
            }
        };
        let mut watermark = old.unwrap_or(upto);
        while next < upto || old.is_none() {
            let tx = client.transaction().await?;
            let current: Option<DateTime<Utc>> = tx
                .query_one(
                    "SELECT CASE WHEN isfinite(watermark) THEN watermark END FROM rollup_state FOR UPDATE",
                    &[],
                )
                .await?
                .get(0);
            if current != old && current != Some(next) {
                // Another refresh moved the watermark meanwhile.
                watermark = current.unwrap_or(upto);
                break;
            }
            let lo = next.min(upto);
            let hi = (day_start(lo) + Duration::days(1)).min(upto);
            // Sorting a day of rows in memory beats spilling it to disk.
            tx.batch_execute("SET LOCAL work_mem = '256MB'").await?;
            rows_written += materialise(&tx, lo, hi, (day_start(lo), day_start(hi))).await?;
            tx.execute("UPDATE rollup_state SET watermark = $1", &[&hi])
                .await?;
            tx.commit().await?;
            watermark = hi;
            next = hi;
            if hi >= upto {
                break;
            }
        }
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
