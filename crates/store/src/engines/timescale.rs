//! The timescale engine: hypertables with 1-day chunks, continuous
//! aggregates with real-time aggregation, native compression, retention by
//! `drop_chunks` (DESIGN.md §4).
//!
//! * Refresh: the service is the only refresher (migration 11 removed
//!   TimescaleDB's refresh policies, which raced it): the refresh job, and
//!   after a write into hours already materialised, a refresh of those
//!   hours, each only over complete buckets, in one atomic pass, and never
//!   before the kept raw rows (a refresh there would replace an hour whose
//!   raw rows retention dropped with an aggregate of whatever was written
//!   since). TimescaleDB tracks invalidations itself.
//! * Backfill below the kept raw rows goes to plain tables beside the
//!   aggregates (migration 11, `backfill_rollup`), which the read interface
//!   adds in.
//! * Compression: native (segment by employee, order by time descending),
//!   by TimescaleDB's policy and by this engine's explicit calls, which are
//!   idempotent; TimescaleDB's scheduled jobs can fail silently, so health
//!   reports their errors.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use organism_domain::MetricSample;

use super::{Cutoffs, Fut, Held, SingleWrite, StorageEngine, sql_time};
use crate::compression::CompressionReport;
use crate::rollup::{RefreshReport, day_start, hour_start, raw_kept_from};
use crate::sizes::RawSize;
use crate::{Engine, Result, Store, StoreError};

#[derive(Debug, Default)]
pub(crate) struct Timescale {
    /// The extra arguments of every `refresh_continuous_aggregate` call,
    /// found once per store ([`Timescale::refresh_options`]).
    refresh_options: std::sync::OnceLock<&'static str>,
    /// The refreshes writes ask for ([`StorageEngine::after_write`]).
    late: LateRefreshes,
}

/// The refreshes after writes into materialised hours, run one at a time
/// per store and merged, as a database merges commits: a write queues its
/// hours, then waits for its turn; whoever gets the turn refreshes every
/// window queued so far, so a write whose window a refresh that started
/// after its queueing (so after its commit) already covered returns at
/// once. TimescaleDB refuses a second refresh of an aggregate while one
/// runs (SQLSTATE 55P03): two writers refreshing the same day each
/// retried every half second, and each refresh aggregated again every
/// employee's rows of the day, the other writer's slice included.
#[derive(Debug, Default)]
struct LateRefreshes {
    queue: std::sync::Mutex<RefreshQueue>,
    turn: tokio::sync::Mutex<()>,
}

/// Hours [start, end).
type Window = (DateTime<Utc>, DateTime<Utc>);

#[derive(Debug, Default)]
struct RefreshQueue {
    /// Hours queued for the next round.
    windows: Vec<Window>,
    /// Rounds taken so far: the windows queued now go into the next one.
    started: u64,
    /// Rounds up to this one have run.
    done: u64,
}

impl RefreshQueue {
    /// Queues [start, end); returns the round that will refresh it.
    fn add(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> u64 {
        self.windows.push((start, end));
        self.started + 1
    }

    /// The next round and its windows, merged where they overlap or touch,
    /// or `None` when `round` has run.
    fn take(&mut self, round: u64) -> Option<(u64, Vec<Window>)> {
        if self.done >= round {
            return None;
        }
        self.started += 1;
        Some((
            self.started,
            merge_windows(std::mem::take(&mut self.windows)),
        ))
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
            // Never before the kept raw rows (see the module docs).
            let from = raw_kept_from(&client).await?;
            // A job: wait out a concurrent refresh for up to a minute.
            let options = self.refresh_options(&client).await?;
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
    /// watermark, so a write into an hour already materialised would stay
    /// invisible in the rollup until the next refresh: refresh those hours
    /// now. (Leaving the hours from the watermark on to a background
    /// catch-up was tried: it made bulk loads 1.6× faster, but reads during
    /// its refreshes got partial answers; see DECISIONS.md, "Tried and
    /// taken out".)
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
                // Only the current hour: real-time aggregation already shows it.
                return;
            }
            let round = lock(&self.late.queue).add(hour_start(lo), end);
            let _turn = self.late.turn.lock().await;
            let Some((round, windows)) = lock(&self.late.queue).take(round) else {
                return;
            };
            let result = self.refresh_windows(store, &windows).await;
            lock(&self.late.queue).done = round;
            if let Err(e) = result {
                tracing::warn!(error = %e, %lo, %hi, "could not refresh the hourly rollup after a late write; the next refresh will");
            }
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
        SingleWrite::default()
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
        // The raw hypertable keeps its (team, time) index.
        None
    }

    fn record_late_hours<'a>(
        &'a self,
        _tx: &'a Transaction<'a>,
        _held: Held,
        _hours: &'a BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    ) -> Fut<'a, ()> {
        // TimescaleDB records invalidations itself; after_write refreshes.
        async { Ok(()) }.boxed()
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

impl Timescale {
    /// Refreshes the three aggregates over these hours (see
    /// [`LateRefreshes`]), each over its whole buckets.
    async fn refresh_windows(&self, store: &Store, windows: &[Window]) -> Result<()> {
        let client = store.client().await?;
        // Hours whose raw rows retention dropped are left as they are.
        let kept = raw_kept_from(&client).await?;
        // A writer waits at most 5 s per aggregate; past that the hourly
        // refresh catches up.
        let options = self.refresh_options(&client).await?;
        for cagg in CAGGS {
            let covered = windows
                .iter()
                .filter_map(|&(start, end)| {
                    let start = kept.map_or(start, |kept| start.max(kept));
                    let (lo, hi) = cagg.cover(start, end);
                    let hi = hi.min(cagg.complete_before(Utc::now()));
                    (start < end && lo < hi).then_some((lo, hi))
                })
                .collect();
            for (lo, hi) in merge_windows(covered) {
                refresh_cagg(&client, cagg, Some(lo), hi, options, 10).await?;
            }
        }
        Ok(())
    }

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

    /// Two writes queued while a refresh runs: the first of them to get the
    /// turn refreshes both, the second finds its round done; a write queued
    /// after that round was taken waits for the next.
    #[test]
    fn writes_queued_during_a_refresh_share_the_next_round() {
        let mut queue = RefreshQueue::default();
        let a = queue.add(h(1), h(2));
        let (round_a, windows) = queue.take(a).unwrap();
        assert_eq!(windows, vec![(h(1), h(2))]);
        let b = queue.add(h(5), h(6));
        let c = queue.add(h(4), h(5));
        assert_eq!((b, c), (round_a + 1, round_a + 1));
        queue.done = round_a;
        let (round_b, windows) = queue.take(b).unwrap();
        assert_eq!(round_b, b);
        assert_eq!(windows, vec![(h(4), h(6))]);
        let d = queue.add(h(8), h(9));
        assert_eq!(d, round_b + 1);
        queue.done = round_b;
        assert!(
            queue.take(c).is_none(),
            "c's hours were refreshed in b's round"
        );
        assert_eq!(queue.take(d), Some((d, vec![(h(8), h(9))])));
    }
}
