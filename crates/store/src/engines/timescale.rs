//! The timescale engine: hypertables with 1-day chunks, continuous
//! aggregates with real-time aggregation, native compression, retention by
//! `drop_chunks` (DESIGN.md §4).
//!
//! * Refresh: the service is the only refresher (migration 11 removed
//!   TimescaleDB's refresh policies, which raced it): the refresh job, and
//!   the store's refresher, which covers the hours writes recorded as late
//!   (migration 28) once they have been quiet for a moment. Each refreshes
//!   only complete buckets, in one atomic pass, and never before the kept
//!   raw rows (a refresh there would replace an hour whose raw rows
//!   retention dropped with an aggregate of whatever was written since).
//!   TimescaleDB tracks invalidations itself; until a refresh has covered a
//!   late hour, reads take it and the hours after it from raw rows.
//! * Backfill below the kept raw rows goes to plain tables beside the
//!   aggregates (migration 11, `backfill_rollup`), which the read interface
//!   adds in.
//! * Compression: native (segment by employee, order by time descending),
//!   by TimescaleDB's policy and by this engine's explicit calls, which are
//!   idempotent; TimescaleDB's scheduled jobs can fail silently, so health
//!   reports their errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use organism_domain::MetricSample;

use super::{Cutoffs, Fut, Held, RECORD_TEAM_DAYS, SingleWrite, StorageEngine, sql_time};
use crate::compression::CompressionReport;
use crate::rollup::{RefreshReport, day_start, hour_start, raw_kept_from};
use crate::sizes::RawSize;
use crate::{Engine, Result, Store, StoreError};

#[derive(Debug, Default)]
pub(crate) struct Timescale {
    /// What the store's refresher task shares with the engine.
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// The extra arguments of every `refresh_continuous_aggregate` call,
    /// found once per store ([`Shared::refresh_options`]).
    refresh_options: std::sync::OnceLock<&'static str>,
    /// The hours writes recorded as late, waiting for the refresher.
    pending: std::sync::Mutex<Pending>,
    /// Held by whoever refreshes the aggregates (the refresh job, the
    /// refresher): TimescaleDB refuses a second refresh of an aggregate
    /// while one runs (SQLSTATE 55P03).
    turn: tokio::sync::Mutex<()>,
}

/// Hours [start, end).
type Window = (DateTime<Utc>, DateTime<Utc>);

/// A window is refreshed once no write has touched it for this long, so a
/// load that writes a day in slices of the employees refreshes the day
/// once, after its last slice, instead of after each (a refresh aggregates
/// every employee's rows of its hours)...
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);
/// ...or once it has waited this long, under writes that never pause.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The late hours written since the refresher last took them (migration
/// 28): until a refresh covers them, reads take them from raw rows, so no
/// write waits for its refresh.
#[derive(Debug, Default)]
struct Pending {
    windows: Vec<Queued>,
    /// A refresher task is running; it clears this when it finds nothing
    /// queued, under the same lock as [`Pending::add`] checks it.
    running: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Queued {
    window: Window,
    /// When a write first queued these hours, and when one last did.
    first: Instant,
    last: Instant,
}

impl Pending {
    /// Queues [start, end), joined with the windows it overlaps or
    /// touches. True when no refresher is running: the caller starts one.
    fn add(&mut self, window: Window, now: Instant) -> bool {
        let mut joined = Queued {
            window,
            first: now,
            last: now,
        };
        self.windows.retain(|q| {
            let meets = q.window.0 <= joined.window.1 && joined.window.0 <= q.window.1;
            if meets {
                joined.window = (
                    joined.window.0.min(q.window.0),
                    joined.window.1.max(q.window.1),
                );
                joined.first = joined.first.min(q.first);
            }
            !meets
        });
        self.windows.push(joined);
        !std::mem::replace(&mut self.running, true)
    }

    /// Takes the windows ready at `now` (quiet for [`QUIET`] or queued
    /// [`MAX_WAIT`] ago), sorted and merged; with them, when the next of
    /// the others will be ready. Nothing and `None` when nothing is queued:
    /// the refresher ends.
    fn take_ready(&mut self, now: Instant) -> (Vec<Window>, Option<Instant>) {
        let ready_at = |q: &Queued| (q.last + QUIET).min(q.first + MAX_WAIT);
        let mut ready = Vec::new();
        self.windows.retain(|q| {
            let due = ready_at(q) <= now;
            if due {
                ready.push(q.window);
            }
            !due
        });
        let next = self.windows.iter().map(ready_at).min();
        if ready.is_empty() && next.is_none() {
            self.running = false;
        }
        (merge_windows(ready), next)
    }
}

/// A lock that a panicking holder left is still good: the queue holds no
/// half-made state.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sorted, with overlapping and touching windows joined.
fn merge_windows(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort();
    let mut merged: Vec<Window> = Vec::with_capacity(windows.len());
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

impl StorageEngine for Timescale {
    fn kind(&self) -> Engine {
        Engine::Timescale
    }

    /// TimescaleDB's compression policy compresses after
    /// `--compress-after-days`, like the service's own compression job.
    fn configure<'a>(&'a self, store: &'a Store) -> Fut<'a, ()> {
        async move {
            let days = store.settings().retention.compress_after_days;
            let client = store.maintenance_client().await?;
            let current: Option<String> = client
                .query_opt(
                    "SELECT config->>'compress_after' FROM timescaledb_information.jobs
                     WHERE proc_name = 'policy_compression' AND hypertable_name = 'employee_metrics'
                       AND hypertable_schema = current_schema()",
                    &[],
                )
                .await?
                .and_then(|r| r.get(0));
            let wanted = format!("{days} days");
            if current.as_deref() != Some(wanted.as_str()) {
                // The interval is a validated integer, never user text.
                client
                    .batch_execute(&format!(
                        "SELECT remove_compression_policy('employee_metrics', if_exists => true);
                         SELECT add_compression_policy('employee_metrics',
                             compress_after => INTERVAL '{days} days', if_not_exists => true);"
                    ))
                    .await?;
                tracing::info!(days, "compression policy set to compress after {days} days");
            }
            Ok(())
        }
        .boxed()
    }

    fn refresh<'a>(&'a self, store: &'a Store, upto: DateTime<Utc>) -> Fut<'a, RefreshReport> {
        async move {
            let client = store.maintenance_client().await?;
            let _turn = self.shared.turn.lock().await;
            // Never before the kept raw rows (see the module docs).
            let from = raw_kept_from(&client).await?;
            // The late hours this refresh covers, read before it begins.
            let late: Vec<i64> = client
                .query(
                    "SELECT id FROM late_hours WHERE bucket < $1",
                    &[&hour_start(upto)],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // A job: wait out a concurrent refresh (another instance's) for
            // up to a minute.
            let options = self.shared.refresh_options(&client).await?;
            for cagg in CAGGS {
                refresh_cagg(
                    &client,
                    cagg,
                    from,
                    cagg.complete_before(upto),
                    options,
                    120,
                )
                .await?;
            }
            forget_late(&client, &late, Cagg::TeamDaily.complete_before(upto)).await?;
            // An employee's hours and the alerts' stored hours are
            // index-only scans of the hourly aggregate's hypertable
            // (migration 27), a team's days read the daily one's: the pages
            // the refreshes rewrote are marked all-visible now, as portable
            // vacuums its stores, rather than at autovacuum's next turn.
            // VACUUM skips the pages already marked.
            let row = client
                .query_one(
                    "SELECT string_agg((cagg_materialised(v)).hypertable, ', ')
                     FROM unnest(ARRAY['employee_metrics_hourly_cagg', 'employee_team_daily']) v",
                    &[],
                )
                .await?;
            if let Some(hypertables) = row.get::<_, Option<String>>(0) {
                client
                    .batch_execute(&format!("VACUUM {hypertables}"))
                    .await?;
            }
            Ok(RefreshReport {
                hours_recomputed: 0,
                rows_written: 0,
                watermark: upto,
            })
        }
        .boxed()
    }

    /// Real-time aggregation adds only the hours after an aggregate's
    /// watermark. A write into hours already materialised recorded them as
    /// late (`record_late_hours`), so reads take them from raw rows until
    /// a refresh has covered them: hand them to the store's refresher and
    /// return. (Before migration 28 each write refreshed its hours before
    /// returning: a bulk load aggregated each day once per slice written.)
    fn after_write<'a>(
        &'a self,
        store: &'a Store,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> BoxFuture<'a, ()> {
        async move {
            let current = hour_start(Utc::now());
            let end = (hour_start(hi) + Duration::hours(1)).min(current);
            if hour_start(lo) >= end {
                // Only the current hour: real-time aggregation shows it.
                return;
            }
            let start = lock(&self.shared.pending).add((hour_start(lo), end), Instant::now());
            if start {
                tokio::spawn(refresher(self.shared.clone(), store.clone()));
            }
        }
        .boxed()
    }

    fn copies_hour_by_hour(&self) -> bool {
        true
    }

    /// The queued windows refreshed now, ready or not, after the round
    /// the refresher may be running.
    fn settle<'a>(&'a self, store: &'a Store) -> Fut<'a, ()> {
        async move {
            let windows: Vec<Window> = {
                let mut pending = lock(&self.shared.pending);
                pending.windows.drain(..).map(|q| q.window).collect()
            };
            let _turn = self.shared.turn.lock().await;
            if windows.is_empty() {
                return Ok(());
            }
            refresh_late(&self.shared, store, &merge_windows(windows)).await
        }
        .boxed()
    }

    fn watermark_sql(&self) -> &'static str {
        "SELECT _timescaledb_functions.to_timestamp(
             _timescaledb_functions.cagg_watermark(mat_hypertable_id))
         FROM _timescaledb_catalog.continuous_agg
         WHERE user_view_name = 'employee_metrics_hourly_cagg' AND user_view_schema = current_schema()"
    }

    fn single_write(&self, _day: NaiveDate) -> SingleWrite {
        SingleWrite {
            after: Some(RECORD_LATE_HOUR),
            ..SingleWrite::default()
        }
    }

    fn repair_single_write<'a>(&'a self, _store: &'a Store, _day: NaiveDate) -> Fut<'a, bool> {
        // TimescaleDB makes chunks itself: nothing can be missing.
        async { Ok(false) }.boxed()
    }

    fn prepare_batch<'a>(
        &'a self,
        _store: &'a Store,
        _tx: &'a Transaction<'a>,
        _days: &'a [NaiveDate],
    ) -> Fut<'a, bool> {
        // Writes into compressed chunks are TimescaleDB's business.
        async { Ok(false) }.boxed()
    }

    fn hold<'a>(&'a self, tx: &'a Transaction<'a>) -> Fut<'a, Held> {
        async move {
            Ok(Held {
                watermark: None,
                raw_kept_from: raw_kept_from(tx).await?,
            })
        }
        .boxed()
    }

    fn unpack_staged<'a>(&'a self, _tx: &'a Transaction<'a>) -> Fut<'a, bool> {
        async { Ok(false) }.boxed()
    }

    fn team_days_sql(&self) -> Option<&'static str> {
        Some(RECORD_TEAM_DAYS)
    }

    fn record_late_hours<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        held: Held,
        hours: &'a BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    ) -> Fut<'a, ()> {
        async move {
            // Backfill (every sample of the hour before the kept raw rows)
            // is rolled up by the writer into the backfill tables.
            let late: Vec<DateTime<Utc>> = hours
                .iter()
                .filter(|(_, latest)| held.raw_kept_from.is_none_or(|kept| **latest >= kept))
                .map(|(hour, _)| *hour)
                .collect();
            if !late.is_empty() {
                tx.execute(RECORD_LATE_HOURS, &[&late]).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn keep_new_hours<'a>(
        &'a self,
        _tx: &'a Transaction<'a>,
        _held: Held,
        _samples: &'a [MetricSample],
    ) -> Fut<'a, bool> {
        // The continuous aggregates are refreshed by after_write.
        async { Ok(false) }.boxed()
    }

    fn drop_expired<'a>(&'a self, tx: &'a Transaction<'a>, cut: Cutoffs) -> Fut<'a, (u64, u64)> {
        async move {
            let raw: i64 = tx
                .query_one(
                    &format!(
                        "SELECT count(*) FROM drop_chunks('employee_metrics', older_than => {})",
                        sql_time(cut.raw_kept_from)
                    ),
                    &[],
                )
                .await?
                .get(0);
            let mut rollup = 0i64;
            for cagg in CAGGS {
                let dropped: i64 = tx
                    .query_one(
                        &format!(
                            "SELECT count(*) FROM drop_chunks('{}', older_than => {})",
                            cagg.name(),
                            sql_time(cut.rollup_kept_from)
                        ),
                        &[],
                    )
                    .await?
                    .get(0);
                // Chunks of the hourly aggregate, as before the others.
                if cagg == Cagg::Hourly {
                    rollup = dropped;
                }
            }
            // Hours whose raw rows are gone are never refreshed again.
            tx.execute(
                "DELETE FROM late_hours WHERE bucket < $1",
                &[&cut.raw_kept_from],
            )
            .await?;
            tx.execute(
                "DELETE FROM raw_team_days WHERE day < $1",
                &[&cut.raw_kept_from.date_naive()],
            )
            .await?;
            for table in [
                "employee_metrics_hourly_backfill",
                "metrics_hourly_org_backfill",
                "employee_team_daily_backfill",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE bucket < $1"),
                    &[&cut.rollup_kept_from],
                )
                .await?;
            }
            Ok((raw as u64, rollup as u64))
        }
        .boxed()
    }

    fn compress<'a>(
        &'a self,
        store: &'a Store,
        older_than: DateTime<Utc>,
    ) -> Fut<'a, CompressionReport> {
        async move {
            let client = store.maintenance_client().await?;
            // show_chunks and compress_chunk take "any": the time is inlined.
            let compressed: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(compress_chunk(c, if_not_compressed => true))
                         FROM show_chunks('employee_metrics', older_than => {}) c",
                        sql_time(older_than)
                    ),
                    &[],
                )
                .await?
                .get(0);
            let sizes = client
                .query_one(
                    "SELECT coalesce(sum(before_compression_total_bytes), 0)::bigint,
                            coalesce(sum(after_compression_total_bytes), 0)::bigint
                     FROM hypertable_compression_stats('employee_metrics')",
                    &[],
                )
                .await?;
            Ok(CompressionReport {
                older_than,
                chunks_compressed: compressed,
                bytes_before: sizes.get(0),
                bytes_after: sizes.get(1),
            })
        }
        .boxed()
    }

    fn raw_size<'a>(&'a self, store: &'a Store, older_than: DateTime<Utc>) -> Fut<'a, RawSize> {
        async move {
            let client = store.maintenance_client().await?;
            let row = client
                .query_one(
                    &format!(
                        "WITH ch AS (
                             SELECT show_chunks('employee_metrics', older_than => {}) AS rel)
                         SELECT count(*),
                                coalesce(sum(pg_total_relation_size(ch.rel)
                                    + CASE WHEN cc.id IS NULL THEN 0 ELSE pg_total_relation_size(
                                          format('%I.%I', cc.schema_name, cc.table_name)::regclass) END), 0)::bigint
                         FROM ch
                         JOIN pg_class pc ON pc.oid = ch.rel
                         JOIN pg_namespace ns ON ns.oid = pc.relnamespace
                         JOIN _timescaledb_catalog.chunk c
                           ON c.schema_name = ns.nspname AND c.table_name = pc.relname
                         LEFT JOIN _timescaledb_catalog.chunk cc ON cc.id = c.compressed_chunk_id",
                        sql_time(older_than)
                    ),
                    &[],
                )
                .await?;
            Ok(RawSize {
                parts: row.get(0),
                bytes: row.get(1),
            })
        }
        .boxed()
    }

    fn job_errors<'a>(&'a self, store: &'a Store) -> Fut<'a, Option<i64>> {
        async move {
            let client = store.client().await?;
            let row = client
                .query_one(
                    "SELECT count(*) FROM timescaledb_information.job_errors
                     WHERE finish_time > now() - INTERVAL '1 day'",
                    &[],
                )
                .await
                .map_err(StoreError::from)?;
            Ok(Some(row.get(0)))
        }
        .boxed()
    }

    fn partitions_ahead<'a>(&'a self, _store: &'a Store, _days: &'a [NaiveDate]) -> Fut<'a, usize> {
        async { Ok(0) }.boxed()
    }

    fn partition_days<'a>(&'a self, _store: &'a Store) -> Fut<'a, Vec<NaiveDate>> {
        async { Ok(Vec::new()) }.boxed()
    }
}

/// The hours of a batch (`$1`, their starts) that have ended, or end
/// within a minute, as its transaction is about to commit (migration 28):
/// a refresh can only have materialised one of them without the batch if
/// it began before the commit, so after the hour ended.
const RECORD_LATE_HOURS: &str = "INSERT INTO late_hours (bucket)
    SELECT h FROM unnest($1::timestamptz[]) h
    WHERE h + INTERVAL '1 hour' <= clock_timestamp() + INTERVAL '1 minute'";
/// The same for one sample at `$1`.
const RECORD_LATE_HOUR: &str = "INSERT INTO late_hours (bucket)
    SELECT date_trunc('hour', $1::timestamptz, 'UTC')
    WHERE date_trunc('hour', $1::timestamptz, 'UTC') + INTERVAL '1 hour'
          <= clock_timestamp() + INTERVAL '1 minute'";

/// The store's refresher: refreshes the queued windows as they become
/// ready, one round at a time, until none is queued.
async fn refresher(shared: Arc<Shared>, store: Store) {
    loop {
        let (ready, next) = lock(&shared.pending).take_ready(Instant::now());
        if ready.is_empty() {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => return,
            }
            continue;
        }
        let _turn = shared.turn.lock().await;
        if let Err(e) = refresh_late(&shared, &store, &ready).await {
            // The hours stay in late_hours, read from raw rows, until the
            // refresh job covers them.
            tracing::warn!(error = %e, windows = ?ready, "could not refresh the rollups over hours written late; the next refresh job will");
        }
    }
}

/// Refreshes the three aggregates over these hours, each over its whole
/// buckets, then forgets the late hours in them that were recorded before
/// it began.
async fn refresh_late(shared: &Shared, store: &Store, windows: &[Window]) -> Result<()> {
    let client = store.maintenance_client().await?;
    // Hours whose raw rows retention dropped are left as they are.
    let kept = raw_kept_from(&client).await?;
    let windows: Vec<Window> = windows
        .iter()
        .map(|&(start, end)| (kept.map_or(start, |kept| start.max(kept)), end))
        .filter(|(start, end)| start < end)
        .collect();
    let late = late_ids(&client, &windows).await?;
    let options = shared.refresh_options(&client).await?;
    for cagg in CAGGS {
        let covered = windows
            .iter()
            .filter_map(|&(start, end)| {
                let (lo, hi) = cagg.cover(start, end);
                let hi = hi.min(cagg.complete_before(Utc::now()));
                (lo < hi).then_some((lo, hi))
            })
            .collect();
        for (lo, hi) in merge_windows(covered) {
            refresh_cagg(&client, cagg, Some(lo), hi, options, 120).await?;
        }
    }
    // A late hour of today is not in a refreshed day of the daily
    // aggregate; forget_late keeps it unless today is after that
    // aggregate's watermark (then it reads the hourly one, refreshed now).
    forget_late(&client, &late, Cagg::TeamDaily.complete_before(Utc::now())).await
}

/// The rows of late_hours in these windows, committed by now: a refresh
/// that begins after this covers their samples.
async fn late_ids(client: &deadpool_postgres::Object, windows: &[Window]) -> Result<Vec<i64>> {
    let (lo, hi): (Vec<_>, Vec<_>) = windows.iter().copied().unzip();
    let rows = client
        .query(
            "SELECT l.id FROM unnest($1::timestamptz[], $2::timestamptz[]) w(lo, hi)
             JOIN late_hours l ON l.bucket >= w.lo AND l.bucket < w.hi",
            &[&lo, &hi],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Deletes these rows of late_hours once the refreshes have covered them:
/// every one before `daily_until`, where the daily aggregate was refreshed
/// too, and the later ones whose day is after the daily aggregate's
/// watermark (it reads those days from the hourly one). A late hour of a
/// day materialised by a refresh that reached further (one run with a
/// later `--now`) stays for a refresh that covers its day.
async fn forget_late(
    client: &deadpool_postgres::Object,
    ids: &[i64],
    daily_until: DateTime<Utc>,
) -> Result<()> {
    if !ids.is_empty() {
        client
            .execute(
                "DELETE FROM late_hours l
                 WHERE l.id = ANY($1)
                   AND (l.bucket < $2
                        OR date_trunc('day', l.bucket, 'UTC') >= coalesce(
                               (SELECT watermark FROM cagg_own('employee_team_daily')),
                               '-infinity'))",
                &[&ids, &daily_until],
            )
            .await?;
    }
    Ok(())
}

impl Shared {
    /// Since 2.2x TimescaleDB refreshes a window in batches of 10 buckets
    /// by default, newest first, each committed on its own: the watermark
    /// moves to the window's end with the first, and until the last commits
    /// the older buckets are neither materialised nor read from raw rows
    /// (by TimescaleDB's real-time aggregation as by our reads: 30-40 team
    /// days of the backfill conformance test were missing from reads that
    /// ran during a refresh). One atomic pass where the procedure has the
    /// option (looked up once: the extension is not upgraded under a
    /// running store).
    async fn refresh_options(&self, client: &deadpool_postgres::Object) -> Result<&'static str> {
        if let Some(options) = self.refresh_options.get() {
            return Ok(options);
        }
        let batched: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_proc
                                WHERE proname = 'refresh_continuous_aggregate'
                                  AND 'options' = ANY(proargnames))",
                &[],
            )
            .await?
            .get(0);
        let options = if batched {
            ", options => '{\"buckets_per_batch\": 0}'"
        } else {
            ""
        };
        Ok(self.refresh_options.get_or_init(|| options))
    }
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
            Cagg::Hourly => "employee_metrics_hourly_cagg",
            Cagg::Org => "metrics_hourly_org_cagg",
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
    options: &str,
    attempts: u32,
) -> Result<()> {
    if from.is_some_and(|from| from >= to) {
        return Ok(());
    }
    let sql = format!(
        "CALL refresh_continuous_aggregate('{}', {}, {}{options})",
        cagg.name(),
        from.map_or("NULL".to_string(), sql_time),
        sql_time(to),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn h(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 10, hour, 0, 0).unwrap()
    }

    #[test]
    fn windows_merge_where_they_overlap_or_touch() {
        let merged = merge_windows(vec![
            (h(9), h(12)),
            (h(1), h(3)),
            (h(3), h(4)),
            (h(10), h(11)),
            (h(6), h(7)),
        ]);
        assert_eq!(merged, vec![(h(1), h(4)), (h(6), h(7)), (h(9), h(12))]);
        assert!(merge_windows(Vec::new()).is_empty());
    }

    fn at(base: Instant, ms: u64) -> Instant {
        base + std::time::Duration::from_millis(ms)
    }

    /// A load writing one day in slices: the day is refreshed once, a
    /// moment after its last slice; the next day waits for its own quiet.
    #[test]
    fn a_window_is_ready_once_its_writes_pause() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        assert!(
            pending.add((h(0), h(12)), t0),
            "the first write starts a refresher"
        );
        assert!(
            !pending.add((h(12), h(20)), at(t0, 400)),
            "one refresher per store"
        );
        assert_eq!(
            pending.take_ready(at(t0, 900)),
            (vec![], Some(at(t0, 1_400)))
        );
        pending.add((h(21), h(23)), at(t0, 1_300));
        let (ready, next) = pending.take_ready(at(t0, 1_400));
        assert_eq!(ready, vec![(h(0), h(20))], "touching windows were joined");
        assert_eq!(next, Some(at(t0, 2_300)));
        assert_eq!(
            pending.take_ready(at(t0, 2_300)),
            (vec![(h(21), h(23))], None)
        );
        assert!(pending.running, "the refresher looks again after its round");
        assert_eq!(pending.take_ready(at(t0, 2_400)), (vec![], None));
        assert!(!pending.running, "it ends when nothing is queued");
        assert!(
            pending.add((h(1), h(2)), at(t0, 3_000)),
            "the next write starts another"
        );
    }

    /// Writes that never pause still get their window refreshed.
    #[test]
    fn a_window_written_without_pause_waits_at_most_max_wait() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        let mut now = t0;
        while now < t0 + MAX_WAIT {
            pending.add((h(3), h(4)), now);
            assert_eq!(pending.take_ready(now).0, vec![]);
            now += std::time::Duration::from_millis(500);
        }
        assert_eq!(pending.take_ready(now).0, vec![(h(3), h(4))]);
    }
}
