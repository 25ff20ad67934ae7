//! The one seam between the two engines (DESIGN.md §4).
//!
//! Reads need no seam: each engine's migrations define the same read
//! interface in SQL (migration 11 lists it), so `queries.rs` runs the same
//! statements on both. What differs is how the data is kept: who refreshes
//! the rollup, how old data is dropped and compressed, what a write must
//! hold or unpack first. That is this trait, with one implementation per
//! engine ([`portable`], [`timescale`]), chosen once when the store opens
//! ([`for_engine`]). Outside this module and the choice of migrations
//! (`schema.rs`), no code asks which engine it runs on.

mod portable;
mod timescale;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use organism_domain::MetricSample;

use crate::compression::CompressionReport;
use crate::rollup::RefreshReport;
use crate::sizes::RawSize;
use crate::{Engine, Result, Store};

/// A boxed future of a store result: the trait is used as `dyn`.
pub(crate) type Fut<'a, T> = BoxFuture<'a, Result<T>>;

/// What a write must know of the rollup, read once in its transaction.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Held {
    /// Hours before it are materialised (portable; `None` on timescale,
    /// whose aggregates track their own invalidations, or before the first
    /// refresh).
    pub watermark: Option<DateTime<Utc>>,
    /// Hours before it have had their raw rows dropped by retention: a
    /// sample there is backfill (`None` before the first retention run).
    pub raw_kept_from: Option<DateTime<Utc>>,
}

/// Records (team, UTC day, employee)s of raw samples (portable migration
/// 26, timescale 29): `$1` teams, `$2` days, `$3` employees.
pub(crate) const RECORD_TEAM_DAYS: &str = "INSERT INTO raw_team_days (team, day, employee_id)
    SELECT * FROM unnest($1::text[], $2::date[], $3::text[])
    ON CONFLICT DO NOTHING";

/// The extra statements of a one-sample write, run in its pipeline.
#[derive(Debug, Default)]
pub(crate) struct SingleWrite {
    /// Run first, alone (a lock).
    pub first: Option<String>,
    /// `$1` employee, `$2` day: before the upsert.
    pub before: Option<&'static str>,
    /// `$1` time: anywhere in the transaction.
    pub after: Option<&'static str>,
}

/// What a retention run drops, computed by the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cutoffs {
    pub raw_kept_from: DateTime<Utc>,
    pub rollup_kept_from: DateTime<Utc>,
}

pub(crate) trait StorageEngine: Send + Sync + fmt::Debug {
    fn kind(&self) -> Engine;

    /// Applies the settings the engine keeps in the database itself (at
    /// open, after the migrations): TimescaleDB's compression policy.
    fn configure<'a>(&'a self, store: &'a Store) -> Fut<'a, ()>;

    /// Materialises the rollup's complete hours before `upto` (the start of
    /// an hour), never before the kept raw rows.
    fn refresh<'a>(&'a self, store: &'a Store, upto: DateTime<Utc>) -> Fut<'a, RefreshReport>;

    /// After a committed write of samples in [lo, hi]: what the engine must
    /// do for the rollup to show them at once. Failures are logged: the
    /// write is committed and the next refresh catches up.
    fn after_write<'a>(
        &'a self,
        store: &'a Store,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> BoxFuture<'a, ()>;

    /// Whether a batch copied straight into the raw rows goes hour by hour
    /// (writer.rs, `copy_new`): timescale, whose raw rows' BRIN index then
    /// finds an hour of a bulk load. (On portable it measured 0.37x →
    /// 0.32x COPY at 2,000 × 15 with no read faster.)
    fn copies_hour_by_hour(&self) -> bool {
        false
    }

    /// Runs now what `after_write` left for later (timescale: the
    /// refreshes of late hours), for a process about to end.
    fn settle<'a>(&'a self, _store: &'a Store) -> Fut<'a, ()> {
        async { Ok(()) }.boxed()
    }

    /// One row, one `timestamptz` (or NULL): hours before it are
    /// materialised.
    fn watermark_sql(&self) -> &'static str;

    /// The extra statements of a one-sample write into `day`.
    fn single_write(&self, day: NaiveDate) -> SingleWrite;

    /// After a one-sample write into `day` failed: makes what was missing
    /// (the day's partition) and says whether trying again may succeed.
    fn repair_single_write<'a>(&'a self, store: &'a Store, day: NaiveDate) -> Fut<'a, bool>;

    /// Before a batch into `days` goes in: makes and holds what the days
    /// need; returns whether they may hold packed samples, which the batch
    /// must then be staged to unpack ([`StorageEngine::unpack_staged`]).
    fn prepare_batch<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a Transaction<'a>,
        days: &'a [NaiveDate],
    ) -> Fut<'a, bool>;

    /// Unpacks the packed samples of the staged batch's (employee, day)s;
    /// returns whether it unpacked any (the merge must then be an upsert).
    fn unpack_staged<'a>(&'a self, tx: &'a Transaction<'a>) -> Fut<'a, bool>;

    /// The statement that records a batch's (team, UTC day, employee)s,
    /// `$1` teams, `$2` days, `$3` employees, for an engine that keeps them
    /// (portable migration 26).
    fn team_days_sql(&self) -> Option<&'static str>;

    /// Reads (and on portable holds `FOR SHARE` until commit) what a write
    /// must know of the rollup.
    fn hold<'a>(&'a self, tx: &'a Transaction<'a>) -> Fut<'a, Held>;

    /// Records the hours of a batch that the rollup must recompute
    /// (portable: those before the watermark and not backfill). `hours`:
    /// each hour the batch wrote into, with its latest sample time.
    fn record_late_hours<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        held: Held,
        hours: &'a BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    ) -> Fut<'a, ()>;

    /// After the samples of a batch of new samples went in (each
    /// (employee, time) once, none stored before: their copy met no stored
    /// sample, and none is backfill): adds their hours before the
    /// watermark to the materialised rollup, so that no refresh needs to
    /// recompute them. Returns whether it did; `false` leaves the hours to
    /// [`StorageEngine::record_late_hours`].
    fn keep_new_hours<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        held: Held,
        samples: &'a [MetricSample],
    ) -> Fut<'a, bool>;

    /// Drops raw data before `raw_kept_from` and rollup data before
    /// `rollup_kept_from`, in the retention's transaction; returns the raw
    /// partitions or chunks and the rollup rows or chunks dropped.
    fn drop_expired<'a>(&'a self, tx: &'a Transaction<'a>, cut: Cutoffs) -> Fut<'a, (u64, u64)>;

    /// Compresses raw samples older than `older_than`.
    fn compress<'a>(
        &'a self,
        store: &'a Store,
        older_than: DateTime<Utc>,
    ) -> Fut<'a, CompressionReport>;

    /// On-disk size of the raw data wholly before `older_than`.
    fn raw_size<'a>(&'a self, store: &'a Store, older_than: DateTime<Utc>) -> Fut<'a, RawSize>;

    /// Failures of the engine's own background jobs in the last day
    /// (`None`: the engine runs none).
    fn job_errors<'a>(&'a self, store: &'a Store) -> Fut<'a, Option<i64>>;

    /// Makes the raw partitions of `days` (portable); returns how many it
    /// made.
    fn partitions_ahead<'a>(&'a self, store: &'a Store, days: &'a [NaiveDate]) -> Fut<'a, usize>;

    /// The days that have a raw partition (portable; empty on timescale).
    fn partition_days<'a>(&'a self, store: &'a Store) -> Fut<'a, Vec<NaiveDate>>;
}

/// The implementation of `engine`: the one place that chooses.
pub(crate) fn for_engine(engine: Engine) -> Arc<dyn StorageEngine> {
    match engine {
        Engine::Portable => Arc::new(portable::Portable),
        Engine::Timescale => Arc::new(timescale::Timescale::default()),
    }
}

/// The (computed, never user-supplied) time as an SQL literal, for the
/// TimescaleDB functions that take "any" and no bind parameter.
pub(crate) fn sql_time(t: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", t.to_rfc3339())
}
