//! The portable engine (plain PostgreSQL): daily partitions, the rollup
//! kept in tables by the service's own refresh, retention by dropping
//! partitions, compression by packing days (DESIGN.md §4).
//!
//! * Refresh: `employee_metrics_hourly_store` holds the hours before the
//!   watermark (`rollup_state`). A batch of new samples into (employee,
//!   hour)s before the watermark that the store has no row for adds its
//!   sums to the stored levels itself ("rollups kept by the writer",
//!   below). Any other write that touches an hour before the watermark
//!   records that hour in `rollup_invalidations` in its own
//!   transaction, holding the watermark row `FOR SHARE` meanwhile; the
//!   refresh takes the row `FOR UPDATE`, so a refresh and a write never
//!   interleave: either the write's hours are recorded as invalid and
//!   recomputed, or the refresh sees the write. The refresh recomputes the
//!   invalidated hours, materialises the complete hours since the old
//!   watermark, and moves the watermark to the start of the current hour.
//!   Queries never depend on a refresh having run: the views compute
//!   whatever is not materialised from raw rows.
//! * Compression: each daily raw partition wholly older than the threshold
//!   is packed into one row per (employee, day) of `employee_metrics_packed`
//!   (the codec is described in migration 5: evenly spaced times stored as
//!   a first time and a step, values run-length encoded), and the raw
//!   partition is emptied, in one transaction that holds the partition
//!   exclusively (readers go on; writers of that day wait). Every query
//!   reads packed samples through `metrics_between`, and a writer unpacks
//!   an (employee, day) before it writes into it, so a late sample is
//!   stored and visible at once and packed again at the next run.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use deadpool_postgres::Transaction;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use organism_domain::MetricSample;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::{Cutoffs, Fut, Held, RECORD_TEAM_DAYS, SingleWrite, StorageEngine};
use crate::batch_hours::{BatchHours, EmployeeHour, Moments};
use crate::compression::CompressionReport;
use crate::partitions::{self, Family};
use crate::rollup::{RefreshReport, day_start};
use crate::sizes::{RawSize, days_before};
use crate::{Engine, Result, Store};

#[derive(Debug)]
pub(crate) struct Portable;

impl StorageEngine for Portable {
    fn kind(&self) -> Engine {
        Engine::Portable
    }

    fn configure<'a>(&'a self, _store: &'a Store) -> Fut<'a, ()> {
        // Every setting is read by the service's own jobs when they run.
        async { Ok(()) }.boxed()
    }

    fn refresh<'a>(&'a self, store: &'a Store, upto: DateTime<Utc>) -> Fut<'a, RefreshReport> {
        refresh(store, upto).boxed()
    }

    fn after_write<'a>(
        &'a self,
        _store: &'a Store,
        _lo: DateTime<Utc>,
        _hi: DateTime<Utc>,
    ) -> BoxFuture<'a, ()> {
        // The views read invalidated hours from raw rows: nothing to do.
        async {}.boxed()
    }

    fn watermark_sql(&self) -> &'static str {
        "SELECT CASE WHEN isfinite(watermark) THEN watermark END FROM rollup_state"
    }

    fn single_write(&self, day: NaiveDate) -> SingleWrite {
        SingleWrite {
            // The day's raw partition held in ROW EXCLUSIVE mode:
            // compression cannot pack the day meanwhile.
            first: Some(format!(
                "LOCK TABLE {} IN ROW EXCLUSIVE MODE",
                partitions::partition_name(day)
            )),
            before: Some(UNPACK_ONE),
            after: Some(INVALIDATE_ONE),
        }
    }

    fn repair_single_write<'a>(&'a self, store: &'a Store, day: NaiveDate) -> Fut<'a, bool> {
        async move {
            let mut client = store.client().await?;
            if partitions::missing(&**client, &[day]).await?.is_empty() {
                return Ok(false);
            }
            partitions::ensure(&mut client, &[day]).await?;
            Ok(true)
        }
        .boxed()
    }

    fn prepare_batch<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a Transaction<'a>,
        days: &'a [NaiveDate],
    ) -> Fut<'a, bool> {
        async move {
            // Missing partitions are made on a short-lived connection of
            // their own, so that the strong lock of CREATE TABLE is never
            // held for the rest of this write (see partitions.rs), and so
            // that concurrent writers never wait on the pool for a second
            // connection while holding one. Usually every day has its
            // partition already (the scheduler makes them ahead).
            if !partitions::missing(&**tx, days).await?.is_empty() {
                let mut other = crate::pool::dedicated(store.settings()).await?;
                partitions::ensure(&mut other, days).await?;
            }
            hold_days(tx, days).await
        }
        .boxed()
    }

    fn unpack_staged<'a>(&'a self, tx: &'a Transaction<'a>) -> Fut<'a, bool> {
        async move { Ok(tx.execute(UNPACK_STAGED, &[]).await? > 0) }.boxed()
    }

    fn team_days_sql(&self) -> Option<&'static str> {
        Some(RECORD_TEAM_DAYS)
    }

    fn hold<'a>(&'a self, tx: &'a Transaction<'a>) -> Fut<'a, Held> {
        async move {
            let statement = tx
                .prepare_cached(
                    "SELECT CASE WHEN isfinite(r.watermark) THEN r.watermark END,
                            CASE WHEN isfinite(l.raw_kept_from) THEN l.raw_kept_from END
                     FROM rollup_state r, lifecycle_state l FOR SHARE OF r",
                )
                .await?;
            let row = tx.query_one(&statement, &[]).await?;
            Ok(Held {
                watermark: row.get(0),
                raw_kept_from: row.get(1),
            })
        }
        .boxed()
    }

    fn record_late_hours<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        held: Held,
        hours: &'a BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    ) -> Fut<'a, ()> {
        async move {
            // Before the first refresh nothing is materialised, so nothing
            // needs invalidating; backfill hours are rolled up by the writer.
            // The watermark is the start of an hour: an hour before it has
            // every sample before it, and is late unless all its samples
            // are backfill (before the kept raw rows).
            let Some(watermark) = held.watermark else {
                return Ok(());
            };
            let late: Vec<DateTime<Utc>> = hours
                .range(..watermark)
                .filter(|(_, latest)| held.raw_kept_from.is_none_or(|kept| **latest >= kept))
                .map(|(hour, _)| *hour)
                .collect();
            invalidate(tx, &late).await
        }
        .boxed()
    }

    fn keep_new_hours<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        held: Held,
        samples: &'a [MetricSample],
    ) -> Fut<'a, bool> {
        keep_new_hours(tx, held, samples).boxed()
    }

    fn drop_expired<'a>(&'a self, tx: &'a Transaction<'a>, cut: Cutoffs) -> Fut<'a, (u64, u64)> {
        async move {
            // Writers record invalidations under FOR SHARE of this row.
            tx.execute("SELECT 1 FROM rollup_state FOR UPDATE", &[])
                .await?;
            tx.execute(
                "DELETE FROM rollup_invalidations WHERE bucket < $1",
                &[&cut.raw_kept_from],
            )
            .await?;
            partitions::lock(&**tx).await?;
            tx.execute(
                "DELETE FROM raw_team_days WHERE day < $1",
                &[&cut.raw_kept_from.date_naive()],
            )
            .await?;
            let mut dropped = 0;
            for family in [Family::Raw, Family::Packed] {
                for day in partitions::list_family(&**tx, family).await? {
                    if day < cut.raw_kept_from.date_naive() {
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
                    &[&cut.rollup_kept_from],
                )
                .await?;
            for table in ["metrics_hourly_org_store", "employee_team_daily_store"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE bucket < $1"),
                    &[&cut.rollup_kept_from],
                )
                .await?;
            }
            Ok((dropped, rollup))
        }
        .boxed()
    }

    fn compress<'a>(
        &'a self,
        store: &'a Store,
        older_than: DateTime<Utc>,
    ) -> Fut<'a, CompressionReport> {
        compress(store, older_than).boxed()
    }

    fn raw_size<'a>(&'a self, store: &'a Store, older_than: DateTime<Utc>) -> Fut<'a, RawSize> {
        async move {
            let client = store.maintenance_client().await?;
            let days = days_before(&partitions::list(&**client).await?, older_than);
            // Each day's raw partition and, once compressed, its packed one.
            let names: Vec<String> = days
                .iter()
                .flat_map(|d| [Family::Raw.name(*d), Family::Packed.name(*d)])
                .collect();
            let row = client
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(to_regclass(n))), 0)::bigint
                     FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL",
                    &[&names],
                )
                .await?;
            Ok(RawSize {
                parts: days.len() as i64,
                bytes: row.get(0),
            })
        }
        .boxed()
    }

    fn job_errors<'a>(&'a self, _store: &'a Store) -> Fut<'a, Option<i64>> {
        async { Ok(None) }.boxed()
    }

    fn partitions_ahead<'a>(&'a self, store: &'a Store, days: &'a [NaiveDate]) -> Fut<'a, usize> {
        async move {
            let mut client = crate::pool::dedicated(store.settings()).await?;
            partitions::ensure(&mut client, days).await
        }
        .boxed()
    }

    fn partition_days<'a>(&'a self, store: &'a Store) -> Fut<'a, Vec<NaiveDate>> {
        async move {
            let client = store.client().await?;
            partitions::list(&**client).await
        }
        .boxed()
    }
}

/// Records the hour of a sample as invalidated when the rollup has
/// materialised it and retention has not dropped its raw rows. The
/// watermark row is held `FOR SHARE` whatever the sample's time (in the
/// materialised CTE, before the filter): a refresh holding it `FOR UPDATE`
/// is waited for, and the decision is taken on the watermark it leaves
/// (see rollup.rs).
const INVALIDATE_ONE: &str = "WITH held AS MATERIALIZED (
        SELECT r.watermark, l.raw_kept_from FROM rollup_state r, lifecycle_state l FOR SHARE OF r)
    INSERT INTO rollup_invalidations (bucket)
    SELECT date_trunc('hour', $1::timestamptz) FROM held
    WHERE $1 < held.watermark AND $1 >= held.raw_kept_from
    ON CONFLICT (bucket) DO NOTHING";

/// Rollups kept by the writer: a batch of new samples (none stored before,
/// none backfill) into hours before the watermark adds its sums to the
/// materialised hours instead of recording them as invalidated, so that a
/// bulk load of history into a running service leaves the refresh nothing
/// to recompute.
///
/// * Hourly store: the batch's (employee, hour)s by binary COPY, under a
///   savepoint. When one has a row already (its hour had samples before
///   the batch), the copy fails on the key and is rolled back, and every
///   (employee, hour) goes by one upsert instead: new ones are inserted,
///   and for stored ones the counts, sums and extremes add up exactly
///   (no sample of the batch replaced a stored one), but the hour's team
///   is its latest sample's and the row does not say when that was, so a
///   row is added to only when the batch's team is its team; the hours of
///   the others are recorded as invalidated. An (employee, hour) with a
///   sample but no row is one whose hour is invalidated already (every
///   write into a materialised hour either adds its row here or
///   invalidates the hour), and the refresh replaces that hour whole.
/// * Organisation's hours: the batch's sums added to each hour's row.
/// * Daily store: the batch's (employee, day, team) sums added to their
///   rows (key of migration 28), for the days the daily store holds
///   (before the watermark's day).
///
/// The writer holds the watermark `FOR SHARE` throughout (`hold`), so no
/// refresh moves it or replaces hours meanwhile; concurrent writers add to
/// the same organisation hour and team-day rows in key order.
async fn keep_new_hours(
    tx: &Transaction<'_>,
    held: Held,
    samples: &[MetricSample],
) -> Result<bool> {
    let Some(watermark) = held.watermark else {
        // Nothing is materialised: the refresh will roll the samples up.
        return Ok(true);
    };
    // Retention keeps raw rows from the start of a day and the stored
    // hours from an hour, which with equal periods is later on that day:
    // an hour of that first day may have raw samples and no row. Such
    // hours are recomputed from raw rows, as before the writer kept any.
    if held.raw_kept_from.is_some_and(|kept| {
        let first_day_end = kept + Duration::days(1);
        samples.iter().any(|s| s.time < first_day_end)
    }) {
        return Ok(false);
    }
    let hours = BatchHours::before(samples, watermark);
    if hours.is_empty() {
        return Ok(true);
    }
    if !copied(tx, &hours.hours).await? {
        // Some (employee, hour)s have samples from before the batch (a
        // day of history that starts within an hour, say).
        let mixed = add_hours(tx, &hours.hours).await?;
        invalidate(tx, &mixed).await?;
    }
    add_org_hours(tx, &hours).await?;
    add_team_days(tx, &hours, day_start(watermark)).await?;
    Ok(true)
}

/// Records `hours` as invalidated: the refresh recomputes them from raw
/// rows, and reads them from raw rows until it has.
async fn invalidate(tx: &Transaction<'_>, hours: &[DateTime<Utc>]) -> Result<()> {
    if !hours.is_empty() {
        tx.execute(
            "INSERT INTO rollup_invalidations (bucket)
             SELECT unnest($1::timestamptz[]) ON CONFLICT (bucket) DO NOTHING",
            &[&hours],
        )
        .await?;
    }
    Ok(())
}

/// The columns of the hourly store after `bucket, employee_id, team,
/// samples`, in table order.
fn hour_sum_columns() -> String {
    crate::queries::per_metric(|c| format!("{c}_sum, {c}_sumsq, {c}_min, {c}_max"))
}

/// `{c}_sum = a.{c}_sum + EXCLUDED.{c}_sum, …` for every metric: the
/// sums of an upsert into a row of alias `a`, added.
fn added_sums(a: &str) -> String {
    crate::queries::per_metric(|c| {
        format!(
            "{c}_sum = {a}.{c}_sum + EXCLUDED.{c}_sum, {c}_sumsq = {a}.{c}_sumsq + EXCLUDED.{c}_sumsq,
             {c}_min = least({a}.{c}_min, EXCLUDED.{c}_min), {c}_max = greatest({a}.{c}_max, EXCLUDED.{c}_max)"
        )
    })
}

/// The sum, sum of squares, minimum and maximum of every metric, as 16
/// arrays in the hourly store's column order.
fn moment_arrays<'a>(metrics: impl Iterator<Item = &'a [Moments; 4]> + Clone) -> Vec<Vec<f64>> {
    let column =
        |f: fn(&Moments) -> f64, m: usize| metrics.clone().map(|x| f(&x[m])).collect::<Vec<f64>>();
    (0..4)
        .flat_map(|m| {
            [
                column(|x| x.sum, m),
                column(|x| x.sumsq, m),
                column(|x| x.min, m),
                column(|x| x.max, m),
            ]
        })
        .collect()
}

/// The batch's (employee, hour)s into the hourly store when some of them
/// have a row already: a new one is inserted; one whose row has the same
/// team has its sums added (exact: no sample of the batch was stored
/// before, and the hour's team is that team whichever sample is its
/// latest). Returns the hours of the others, whose team the batch may
/// change (it is the team of the hour's latest sample, and the row does
/// not say when that was): the caller invalidates them.
async fn add_hours(tx: &Transaction<'_>, hs: &[EmployeeHour]) -> Result<Vec<DateTime<Utc>>> {
    let buckets: Vec<DateTime<Utc>> = hs.iter().map(|h| h.bucket).collect();
    let employees: Vec<&str> = hs.iter().map(|h| h.employee.as_str()).collect();
    let teams: Vec<Option<&str>> = hs.iter().map(|h| h.team.as_deref()).collect();
    let samples: Vec<i64> = hs.iter().map(|h| h.samples).collect();
    let sums = moment_arrays(hs.iter().map(|h| &h.metrics));
    let columns = hour_sum_columns();
    let arrays: Vec<String> = (5..=20).map(|i| format!("${i}::float8[]")).collect();
    let sql = format!(
        "WITH b AS (
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[], {arrays})
                 AS b(bucket, employee_id, team, samples, {columns})),
         kept AS (
             INSERT INTO employee_metrics_hourly_store AS h (bucket, employee_id, team, samples, {columns})
             SELECT * FROM b
             ON CONFLICT (employee_id, bucket) DO UPDATE SET
                 samples = h.samples + EXCLUDED.samples, {added}
             WHERE h.team IS NOT DISTINCT FROM EXCLUDED.team
             RETURNING h.employee_id, h.bucket)
         SELECT DISTINCT b.bucket FROM b
         WHERE NOT EXISTS (SELECT 1 FROM kept k
                           WHERE k.employee_id = b.employee_id AND k.bucket = b.bucket)",
        arrays = arrays.join(", "),
        added = added_sums("h"),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&buckets, &employees, &teams, &samples];
    params.extend(sums.iter().map(|c| c as &(dyn ToSql + Sync)));
    let statement = tx.prepare_cached(&sql).await?;
    Ok(tx
        .query(&statement, &params)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Copies (employee, hour)s into the hourly store under a savepoint:
/// `false`, with nothing of the attempt left, when one has a row already.
async fn copied(tx: &Transaction<'_>, hours: &[EmployeeHour]) -> Result<bool> {
    tx.batch_execute("SAVEPOINT keep_new_hours").await?;
    match copy_hours(tx, hours).await {
        Ok(()) => {
            tx.batch_execute("RELEASE SAVEPOINT keep_new_hours").await?;
            Ok(true)
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            tx.batch_execute(
                "ROLLBACK TO SAVEPOINT keep_new_hours; RELEASE SAVEPOINT keep_new_hours",
            )
            .await?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Binary COPY of (employee, hour)s into the hourly store.
async fn copy_hours(
    tx: &Transaction<'_>,
    hours: &[EmployeeHour],
) -> std::result::Result<(), tokio_postgres::Error> {
    let sql = format!(
        "COPY employee_metrics_hourly_store (bucket, employee_id, team, samples, {})
         FROM STDIN (FORMAT binary)",
        hour_sum_columns()
    );
    let mut types = vec![Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT, Type::INT8];
    types.extend([Type::FLOAT8; 16]);
    let sink = tx.copy_in(&sql).await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures_util::pin_mut!(writer);
    for h in hours {
        let sums: Vec<f64> = h
            .metrics
            .iter()
            .flat_map(|m| [m.sum, m.sumsq, m.min, m.max])
            .collect();
        let mut row: Vec<&(dyn ToSql + Sync)> = vec![&h.bucket, &h.employee, &h.team, &h.samples];
        row.extend(sums.iter().map(|v| v as &(dyn ToSql + Sync)));
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Adds the batch's sums to the organisation's hours, in hour order.
async fn add_org_hours(tx: &Transaction<'_>, hours: &BatchHours) -> Result<()> {
    let org = hours.org_hours();
    let buckets: Vec<DateTime<Utc>> = org.iter().map(|o| o.bucket).collect();
    let samples: Vec<i64> = org.iter().map(|o| o.samples).collect();
    let columns = moment_arrays(org.iter().map(|o| &o.metrics));
    let arrays: Vec<String> = (3..=18).map(|i| format!("${i}::float8[]")).collect();
    let sql = format!(
        "INSERT INTO metrics_hourly_org_store AS o (bucket, samples, {columns})
         SELECT * FROM unnest($1::timestamptz[], $2::bigint[], {arrays})
         ON CONFLICT (bucket) DO UPDATE SET samples = o.samples + EXCLUDED.samples, {added}",
        columns = hour_sum_columns(),
        arrays = arrays.join(", "),
        added = added_sums("o"),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&buckets, &samples];
    params.extend(columns.iter().map(|c| c as &(dyn ToSql + Sync)));
    let statement = tx.prepare_cached(&sql).await?;
    tx.execute(&statement, &params).await?;
    Ok(())
}

/// Adds the batch's hours of the days before `stored_until` to the daily
/// store's (employee, day, team) rows, in key order.
async fn add_team_days(
    tx: &Transaction<'_>,
    hours: &BatchHours,
    stored_until: DateTime<Utc>,
) -> Result<()> {
    let days = hours.team_days(stored_until);
    if days.is_empty() {
        return Ok(());
    }
    let buckets: Vec<DateTime<Utc>> = days.iter().map(|d| d.bucket).collect();
    let employees: Vec<&str> = days.iter().map(|d| d.employee.as_str()).collect();
    let teams: Vec<Option<&str>> = days.iter().map(|d| d.team.as_deref()).collect();
    let samples: Vec<i64> = days.iter().map(|d| d.samples).collect();
    let sums: Vec<Vec<f64>> = (0..4)
        .map(|m| days.iter().map(|d| d.sums[m]).collect())
        .collect();
    let burnout_max: Vec<f64> = days.iter().map(|d| d.burnout_max).collect();
    let statement = tx
        .prepare_cached(
            "INSERT INTO employee_team_daily_store AS d (bucket, employee_id, team, samples,
                 degree_centrality_sum, betweenness_centrality_sum, clustering_coeff_sum,
                 burnout_score_sum, burnout_score_max)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[],
                                  $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
             ON CONFLICT (employee_id, bucket, team) DO UPDATE SET
                 samples = d.samples + EXCLUDED.samples,
                 degree_centrality_sum = d.degree_centrality_sum + EXCLUDED.degree_centrality_sum,
                 betweenness_centrality_sum = d.betweenness_centrality_sum + EXCLUDED.betweenness_centrality_sum,
                 clustering_coeff_sum = d.clustering_coeff_sum + EXCLUDED.clustering_coeff_sum,
                 burnout_score_sum = d.burnout_score_sum + EXCLUDED.burnout_score_sum,
                 burnout_score_max = greatest(d.burnout_score_max, EXCLUDED.burnout_score_max)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &buckets,
            &employees,
            &teams,
            &samples,
            &sums[0],
            &sums[1],
            &sums[2],
            &sums[3],
            &burnout_max,
        ],
    )
    .await?;
    Ok(())
}

/// Moves the packed samples of the (employee, day)s listed by `$keys` back
/// to raw rows (portable engine; see compression.rs), so that the write
/// replaces or joins them like any raw sample.
macro_rules! unpack {
    ($keys:literal) => {
        concat!(
            "WITH keys AS (",
            $keys,
            "), gone AS (
                DELETE FROM employee_metrics_packed p USING keys k
                WHERE p.employee_id = k.employee_id AND p.day = k.day
                RETURNING p.*)
            INSERT INTO employee_metrics (time, employee_id, team, degree_centrality,
                betweenness_centrality, clustering_coeff, burnout_score)
            SELECT s.time, g.employee_id, s.team, s.degree_centrality, s.betweenness_centrality,
                   s.clustering_coeff, s.burnout_score
            FROM gone g
            CROSS JOIN LATERAL packed_samples(g.first_time, g.step, g.times, g.run_end, g.team,
                g.degree_centrality, g.betweenness_centrality, g.clustering_coeff, g.burnout_score) s"
        )
    };
}

const UNPACK_STAGED: &str = unpack!(
    "SELECT DISTINCT employee_id, (time AT TIME ZONE 'UTC')::date AS day FROM metrics_staging"
);

const UNPACK_ONE: &str = unpack!("SELECT $1::text AS employee_id, $2::date AS day");

/// Before a write into `days` on the portable engine: holds each day's raw
/// partition (the compression job packs a day while holding it exclusively,
/// so from here on no day of the batch is packed behind our back), then
/// tells whether any of them has packed samples that may need unpacking.
async fn hold_days(tx: &deadpool_postgres::Transaction<'_>, days: &[NaiveDate]) -> Result<bool> {
    if days.is_empty() {
        return Ok(false);
    }
    let names: Vec<String> = days
        .iter()
        .map(|d| partitions::partition_name(*d))
        .collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN ROW EXCLUSIVE MODE",
        names.join(", ")
    ))
    .await?;
    // Packed rows of these days, looked for in these days' packed
    // partitions by name: `day = ANY($1)` is not pruned at execution, and
    // probed every packed partition (113 ms with 60 compressed days of
    // 10,000 employees).
    let names: Vec<String> = days
        .iter()
        .map(|d| partitions::Family::Packed.name(*d))
        .collect();
    let statement = tx
        .prepare_cached("SELECT n FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL")
        .await?;
    let existing: Vec<String> = tx
        .query(&statement, &[&names])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if existing.is_empty() {
        return Ok(false);
    }
    let probes: Vec<String> = existing
        .iter()
        .map(|n| format!("SELECT 1 FROM {n}"))
        .collect();
    let packed: bool = tx
        .query_one(
            &format!("SELECT EXISTS ({})", probes.join(" UNION ALL ")),
            &[],
        )
        .await?
        .get(0);
    Ok(packed)
}

/// One level of the rollup: a store and the function that computes its
/// buckets from the level below (raw rows, or the hourly store).
struct Level {
    store: &'static str,
    from: &'static str,
    bucket: &'static str,
}

const HOURS: Level = Level {
    store: "employee_metrics_hourly_store",
    from: "hourly_from_raw",
    bucket: "1 hour",
};
const ORG_HOURS: Level = Level {
    store: "metrics_hourly_org_store",
    from: "org_hours_from_store",
    bucket: "1 hour",
};
const TEAM_DAYS: Level = Level {
    store: "employee_team_daily_store",
    from: "team_days_from_store",
    bucket: "1 day",
};

impl Level {
    /// Replaces the level's buckets in [lo, hi); returns the rows written.
    async fn replace_range(
        &self,
        tx: &Transaction<'_>,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> Result<u64> {
        let Level { store, from, .. } = self;
        tx.execute(
            &format!("DELETE FROM {store} WHERE bucket >= $1 AND bucket < $2"),
            &[&lo, &hi],
        )
        .await?;
        Ok(tx
            .execute(
                &format!("INSERT INTO {store} SELECT * FROM {from}($1, $2)"),
                &[&lo, &hi],
            )
            .await?)
    }

    /// Replaces the level's buckets starting at each of `buckets`.
    async fn replace_buckets(
        &self,
        tx: &Transaction<'_>,
        buckets: &[DateTime<Utc>],
    ) -> Result<u64> {
        let Level {
            store,
            from,
            bucket,
        } = self;
        tx.execute(
            &format!("DELETE FROM {store} WHERE bucket = ANY($1)"),
            &[&buckets],
        )
        .await?;
        Ok(tx
            .execute(
                &format!(
                    "INSERT INTO {store}
                     SELECT r.* FROM unnest($1::timestamptz[]) AS b(bucket)
                     CROSS JOIN LATERAL {from}(b.bucket, b.bucket + INTERVAL '{bucket}') r"
                ),
                &[&buckets],
            )
            .await?)
    }
}

/// Materialises the hourly rollup's hours in [lo, hi), with the
/// organisation's hours and, when `days` is not empty, the member-days of
/// the days in [days.0, days.1), which must lie wholly before `hi`.
///
/// Hours at or after the watermark are never stored (each step moves the
/// watermark with the rows it writes), so the deletes find nothing unless
/// something went wrong; they let a plain INSERT replace the upsert, whose
/// speculative insertion cost 40% more.
async fn materialise(
    tx: &Transaction<'_>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    days: (DateTime<Utc>, DateTime<Utc>),
) -> Result<u64> {
    let rows = HOURS.replace_range(tx, lo, hi).await?;
    ORG_HOURS.replace_range(tx, lo, hi).await?;
    if days.0 < days.1 {
        TEAM_DAYS.replace_range(tx, days.0, days.1).await?;
    }
    Ok(rows)
}

/// The portable refresh: first the invalidated hours, in one
/// transaction; then the hours since the watermark, a UTC day per
/// transaction, so that a refresh over months of history sorts a day of
/// rows at a time and keeps what it did when interrupted. Each step
/// writes the organisation's hours and the member-days of the days it
/// completes from the hours it wrote.
async fn refresh(store: &Store, upto: DateTime<Utc>) -> Result<RefreshReport> {
    let mut client = store.maintenance_client().await?;
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
        rows_written += HOURS.replace_buckets(&tx, &invalid).await?;
        ORG_HOURS.replace_buckets(&tx, &invalid).await?;
        // The stored days among the invalidated hours' days.
        let mut days: Vec<DateTime<Utc>> = invalid
            .iter()
            .map(|t| day_start(*t))
            .filter(|d| old.is_some_and(|old| *d < day_start(old)))
            .collect();
        days.sort();
        days.dedup();
        if !days.is_empty() {
            TEAM_DAYS.replace_buckets(&tx, &days).await?;
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
    {
        // Team reads and an employee's hours are index-only scans of the
        // daily and hourly stores (migrations 16 and 27): the pages this
        // refresh and the batch writer (keep_new_hours) wrote are marked
        // all-visible now rather than at autovacuum's next turn (for
        // inserts, after a fifth of the table is new: weeks of hours).
        // VACUUM skips the pages already marked, so this costs what was
        // written since the last one. Not SKIP_LOCKED: an autovacuum worker
        // already on the store (after a bulk load) does not cover the pages
        // written after it started, and skipping left half the hourly
        // store's pages not all-visible (1,405 heap fetches for an
        // employee's 2,159 hours). Waiting costs at most deadlock_timeout:
        // PostgreSQL then cancels the autovacuum worker that blocks us.
        client
            .batch_execute("VACUUM employee_metrics_hourly_store, employee_team_daily_store")
            .await?;
    }
    Ok(RefreshReport {
        hours_recomputed: invalid.len(),
        rows_written,
        watermark,
    })
}

/// Packs every raw partition wholly before the threshold that still
/// holds rows (a partition packed before holds rows again only when late
/// samples were written into it). The sizes are those of the days packed
/// by this run: raw and packed partitions (tables, indexes, TOAST)
/// before, and after.
async fn compress(store: &Store, older_than: DateTime<Utc>) -> Result<CompressionReport> {
    // Whole days: a partition is packed once its day ends by the threshold.
    let older_than = day_start(older_than);
    let cutoff = older_than.date_naive();
    let days: Vec<NaiveDate> = {
        let client = store.maintenance_client().await?;
        partitions::list(&**client)
            .await?
            .into_iter()
            .filter(|d| *d < cutoff)
            .collect()
    };
    let mut report = CompressionReport {
        older_than,
        chunks_compressed: 0,
        bytes_before: 0,
        bytes_after: 0,
    };
    for day in days {
        if let Some((before, after)) = pack_day(store, day).await? {
            report.chunks_compressed += 1;
            report.bytes_before += before;
            report.bytes_after += after;
        }
    }
    Ok(report)
}

/// Packs one day's raw partition; None when it holds no rows (or was
/// dropped by retention meanwhile).
async fn pack_day(store: &Store, day: NaiveDate) -> Result<Option<(i64, i64)>> {
    let raw = Family::Raw.name(day);
    let packed = Family::Packed.name(day);
    {
        let client = store.maintenance_client().await?;
        let has_rows = match client
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {raw})"), &[])
            .await
        {
            Ok(row) => row.get::<_, bool>(0),
            Err(e) if undefined_table(&e) => false,
            Err(e) => return Err(e.into()),
        };
        if !has_rows {
            return Ok(None);
        }
    }
    // The packed partition is made on a connection of its own, before
    // the raw partition is locked (creating it locks the packed parent).
    let mut other = crate::pool::dedicated(store.settings()).await?;
    partitions::ensure_family(&mut other, Family::Packed, &[day]).await?;
    drop(other);

    let mut client = store.maintenance_client().await?;
    let size =
        format!("SELECT pg_total_relation_size('{raw}') + pg_total_relation_size('{packed}')");
    let tx = client.transaction().await?;
    match tx
        .batch_execute(&format!("LOCK TABLE {raw} IN EXCLUSIVE MODE"))
        .await
    {
        Err(e) if undefined_table(&e) => return Ok(None),
        other => other?,
    }
    let before: i64 = tx.query_one(&size, &[]).await?.get(0);
    let packed_rows = tx.execute(&pack_sql(&raw), &[&day]).await?;
    if packed_rows == 0 {
        return Ok(None);
    }
    tx.batch_execute(&format!("TRUNCATE {raw}")).await?;
    tx.commit().await?;
    let after: i64 = client.query_one(&size, &[]).await?.get(0);
    tracing::debug!(%day, employees = packed_rows, before, after, "packed a day of raw samples");
    Ok(Some((before, after)))
}

fn undefined_table(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
}

/// Packs a raw partition: one row per employee, runs of equal (team, values)
/// closed where the next sample differs or none follows.
fn pack_sql(raw: &str) -> String {
    format!(
        "INSERT INTO employee_metrics_packed (day, employee_id, samples, first_time, last_time, step,
            times, run_end, team, degree_centrality, betweenness_centrality, clustering_coeff,
            burnout_score, last_team, last_burnout)
         SELECT $1::date, employee_id, count(*)::integer, min(time), max(time),
                CASE WHEN count(*) = 1 THEN INTERVAL '0'
                     WHEN min(delta) = max(delta) THEN min(delta) END,
                CASE WHEN count(*) > 1 AND min(delta) <> max(delta)
                     THEN array_agg(time ORDER BY time) END,
                array_agg(k::integer ORDER BY time) FILTER (WHERE run_ends),
                array_agg(team ORDER BY time) FILTER (WHERE run_ends),
                array_agg(degree_centrality ORDER BY time) FILTER (WHERE run_ends),
                array_agg(betweenness_centrality ORDER BY time) FILTER (WHERE run_ends),
                array_agg(clustering_coeff ORDER BY time) FILTER (WHERE run_ends),
                array_agg(burnout_score ORDER BY time) FILTER (WHERE run_ends),
                (array_agg(team ORDER BY time DESC))[1],
                (array_agg(burnout_score ORDER BY time DESC))[1]
         FROM (
             SELECT time, employee_id, team, degree_centrality, betweenness_centrality,
                    clustering_coeff, burnout_score,
                    time - lag(time) OVER w AS delta,
                    row_number() OVER w AS k,
                    lead(time) OVER w IS NULL
                      OR (lead(team) OVER w, lead(degree_centrality) OVER w,
                          lead(betweenness_centrality) OVER w, lead(clustering_coeff) OVER w,
                          lead(burnout_score) OVER w)
                         IS DISTINCT FROM (team, degree_centrality, betweenness_centrality,
                                           clustering_coeff, burnout_score) AS run_ends
             FROM {raw}
             WINDOW w AS (PARTITION BY employee_id ORDER BY time)
         ) s
         GROUP BY employee_id"
    )
}
