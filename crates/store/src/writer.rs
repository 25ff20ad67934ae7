//! Writing metric samples.
//!
//! A batch of new samples in one piece (the usual one) goes by binary `COPY`
//! straight into `employee_metrics` under a savepoint. Any other batch, and
//! one whose copy meets a stored sample, goes by binary `COPY` into a
//! per-connection temporary staging table, then one `INSERT … SELECT … ON
//! CONFLICT (employee_id, time) DO UPDATE` moves it into `employee_metrics`
//! (a staged batch without repeats by a plain `INSERT` under a savepoint
//! first), all in one transaction: the batch is written whole or not at
//! all, and writing the same batch again replaces rows instead of
//! duplicating them. Within a batch, the last sample for an
//! (employee, time) wins, as it would if the samples had been sent one by
//! one. Rows whose values did not change are not rewritten, so a retried
//! batch costs reads, not dead tuples. On the portable engine a write into
//! a compressed (employee, day) first unpacks it (see compression.rs).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use futures_util::stream;
use futures_util::{Stream, StreamExt, pin_mut};
use organism_domain::{MetricSample, MetricValues};
use serde::Serialize;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use crate::engines::Held;
use crate::{Result, Store, StoreError};

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct WriteSummary {
    /// Samples received.
    pub received: usize,
    /// Distinct (employee, time) samples now stored: received less the
    /// repeats within the batch.
    pub stored: usize,
    /// Rows inserted or changed; 0 when the same batch is written again.
    pub changed: u64,
}

const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS metrics_staging (
    ord bigint NOT NULL,
    time timestamptz NOT NULL,
    employee_id text NOT NULL,
    team text,
    degree_centrality double precision NOT NULL,
    betweenness_centrality double precision NOT NULL,
    clustering_coeff double precision NOT NULL,
    burnout_score double precision NOT NULL
) ON COMMIT DELETE ROWS";

const COPY: &str = "COPY metrics_staging (ord, time, employee_id, team, degree_centrality,
    betweenness_centrality, clustering_coeff, burnout_score) FROM STDIN (FORMAT binary)";

/// The staging row's types: `ord`, then the columns of a sample.
const COPY_TYPES: [Type; 8] = [
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
];

/// The column list and the replace rule shared by both inserts: a sample
/// for an (employee, time) already stored replaces its values, and a row
/// whose values are unchanged is not rewritten.
macro_rules! upsert {
    ($source:literal) => {
        concat!(
            "INSERT INTO employee_metrics AS m (time, employee_id, team, degree_centrality,
                betweenness_centrality, clustering_coeff, burnout_score) ",
            $source,
            " ON CONFLICT (employee_id, time) DO UPDATE SET
                team = EXCLUDED.team,
                degree_centrality = EXCLUDED.degree_centrality,
                betweenness_centrality = EXCLUDED.betweenness_centrality,
                clustering_coeff = EXCLUDED.clustering_coeff,
                burnout_score = EXCLUDED.burnout_score
            WHERE (m.team, m.degree_centrality, m.betweenness_centrality, m.clustering_coeff, m.burnout_score)
                IS DISTINCT FROM (EXCLUDED.team, EXCLUDED.degree_centrality, EXCLUDED.betweenness_centrality,
                                  EXCLUDED.clustering_coeff, EXCLUDED.burnout_score)"
        )
    };
}

const MERGE: &str = upsert!(
    "SELECT DISTINCT ON (employee_id, time) time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score
    FROM metrics_staging
    ORDER BY employee_id, time, ord DESC"
);

/// The merge of a batch known to hold each (employee, time) once: no
/// sort to keep the last of repeated samples.
const MERGE_DISTINCT: &str = upsert!(
    "SELECT time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score
    FROM metrics_staging"
);

/// Keeps `employee_latest` (common migration 0004): each employee's latest sample,
/// replaced only by one at the same or a later time. Rows are taken in
/// employee order, so concurrent writers lock them in the same order.
/// A batch of new samples only (the usual one), as a plain insert: about
/// half the work of the upsert's speculative insertion. A batch with a
/// sample already stored fails it with a unique violation, and is upserted
/// instead.
const INSERT_NEW: &str = "INSERT INTO employee_metrics (time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score)
    SELECT time, employee_id, team, degree_centrality, betweenness_centrality, clustering_coeff,
        burnout_score
    FROM metrics_staging";

const UPDATE_LATEST: &str = "INSERT INTO employee_latest AS l (employee_id, time, team,
        degree_centrality, betweenness_centrality, clustering_coeff, burnout_score)
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::float8[], $5::float8[],
                         $6::float8[], $7::float8[])
    ON CONFLICT (employee_id) DO UPDATE SET
        time = EXCLUDED.time, team = EXCLUDED.team,
        degree_centrality = EXCLUDED.degree_centrality,
        betweenness_centrality = EXCLUDED.betweenness_centrality,
        clustering_coeff = EXCLUDED.clustering_coeff,
        burnout_score = EXCLUDED.burnout_score
    WHERE EXCLUDED.time >= l.time
        AND (l.time, l.team, l.degree_centrality, l.betweenness_centrality, l.clustering_coeff,
             l.burnout_score)
            IS DISTINCT FROM (EXCLUDED.time, EXCLUDED.team, EXCLUDED.degree_centrality,
                              EXCLUDED.betweenness_centrality, EXCLUDED.clustering_coeff,
                              EXCLUDED.burnout_score)";

/// Each employee's latest sample in a batch (for its latest time, the last
/// one given, as in the batch's merge), in employee order.
#[derive(Debug, Default)]
struct LatestSamples {
    by_employee: BTreeMap<String, (DateTime<Utc>, Option<String>, MetricValues)>,
}

impl LatestSamples {
    fn add(&mut self, sample: &MetricSample) {
        let team = sample.team.as_ref().map(|t| t.as_str());
        match self.by_employee.get_mut(sample.employee_id.as_str()) {
            Some(latest) if sample.time >= latest.0 => {
                latest.0 = sample.time;
                latest.2 = sample.values;
                if latest.1.as_deref() != team {
                    latest.1 = team.map(str::to_string);
                }
            }
            Some(_) => {}
            None => {
                self.by_employee.insert(
                    sample.employee_id.as_str().to_string(),
                    (sample.time, team.map(str::to_string), sample.values),
                );
            }
        }
    }

    async fn store(&self, tx: &impl GenericClient) -> Result<()> {
        let ids: Vec<&str> = self.by_employee.keys().map(String::as_str).collect();
        let latest: Vec<_> = self.by_employee.values().collect();
        let times: Vec<DateTime<Utc>> = latest.iter().map(|v| v.0).collect();
        let teams: Vec<Option<&str>> = latest.iter().map(|v| v.1.as_deref()).collect();
        let column =
            |f: fn(&MetricValues) -> f64| latest.iter().map(|v| f(&v.2)).collect::<Vec<f64>>();
        let degree = column(|v| v.degree_centrality);
        let betweenness = column(|v| v.betweenness_centrality);
        let clustering = column(|v| v.clustering_coeff);
        let burnout = column(|v| v.burnout_score);
        let statement = tx.prepare_cached(UPDATE_LATEST).await?;
        tx.execute(
            &statement,
            &[
                &ids,
                &times,
                &teams,
                &degree,
                &betweenness,
                &clustering,
                &burnout,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Tells whether a batch may repeat an (employee, time), from a 64-bit hash
/// of the employee id and the time: no allocation per sample. A hash
/// collision only sends a batch down the general path (which counts and
/// keeps the last of repeated samples in SQL), never the other way.
#[derive(Debug, Default)]
struct RepeatCheck {
    seen: HashSet<(u64, i64)>,
    maybe_repeats: bool,
}

impl RepeatCheck {
    fn add(&mut self, sample: &MetricSample) {
        if self.maybe_repeats {
            return;
        }
        let mut h = DefaultHasher::new();
        sample.employee_id.as_str().hash(&mut h);
        let key = (h.finish(), sample.time.timestamp_micros());
        if !self.seen.insert(key) {
            self.maybe_repeats = true;
            self.seen = HashSet::new();
        }
    }
}

const INSERT_ONE: &str = upsert!("VALUES ($1, $2, $3, $4, $5, $6, $7)");

/// The samples of this transaction into the real-time inbox (common
/// migration 20), while an alert rule or a live stream wants them: the
/// condition is evaluated once per statement, so without either the
/// statement reads nothing.
const INBOX_ONE: &str = "INSERT INTO realtime_inbox (time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score)
    SELECT $1::timestamptz, $2::text, $3::text, $4::float8, $5::float8, $6::float8, $7::float8
    WHERE realtime_wanted()";
const INBOX_BATCH: &str = "INSERT INTO realtime_inbox (time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score)
    SELECT DISTINCT ON (employee_id, time) time, employee_id, team, degree_centrality,
        betweenness_centrality, clustering_coeff, burnout_score
    FROM metrics_staging WHERE realtime_wanted()
    ORDER BY employee_id, time, ord DESC";

impl Store {
    /// Writes one sample (replacing an earlier one for the same employee and
    /// time).
    pub async fn write_sample(&self, sample: &MetricSample) -> Result<WriteSummary> {
        // A sample that may be backfill (older than the raw rows kept by
        // the last retention run) takes the batch path, which rolls it up.
        let raw_days = i64::from(self.settings().retention.raw_days);
        if sample.time < Utc::now() - chrono::Duration::days(raw_days - 1) {
            return self.write_batch(std::slice::from_ref(sample)).await;
        }
        let day = sample.time.date_naive();
        let changed = match self.write_one(sample).await {
            // The day's partition does not exist yet (the scheduler makes
            // them ahead, so rarely): make it, then write again.
            Err(StoreError::Database(_)) if self.ops().repair_single_write(self, day).await? => {
                self.write_one(sample).await?
            }
            other => other?,
        };
        self.note_change();
        self.ops().after_write(self, sample.time, sample.time).await;
        Ok(WriteSummary {
            received: 1,
            stored: 1,
            changed,
        })
    }

    /// One sample in one transaction of three round trips: BEGIN with the
    /// engine's first statement (the day's partition lock on portable),
    /// then every statement pipelined, then COMMIT: the engine's statement
    /// before the upsert (portable: unpack the (employee, day)), the
    /// upsert, the employee's latest sample, the engine's statement after
    /// (portable: record the hour as invalidated when it is materialised).
    async fn write_one(&self, sample: &MetricSample) -> Result<u64> {
        let mut client = self.client().await?;
        let v = &sample.values;
        let team = sample.team.as_ref().map(|t| t.as_str());
        let day = sample.time.date_naive();
        let employee = sample.employee_id.as_str();
        let hooks = self.ops().single_write(day);
        let tx = client.transaction().await?;
        if let Some(first) = &hooks.first {
            tx.batch_execute(first).await?;
        }
        let tx_ref = &tx;
        let optional = |sql: Option<&'static str>| async move {
            match sql {
                Some(sql) => tx_ref.prepare_cached(sql).await.map(Some),
                None => Ok(None),
            }
        };
        let (insert, latest, unpack, invalidate, team_day, bump, inbox) = futures_util::try_join!(
            tx.prepare_cached(INSERT_ONE),
            tx.prepare_cached(UPDATE_LATEST),
            optional(hooks.before),
            optional(hooks.after),
            optional(self.ops().team_days_sql().filter(|_| team.is_some())),
            tx.prepare_cached(crate::analytics::BUMP_GENERATION),
            tx.prepare_cached(INBOX_ONE),
        )?;
        let unpacked = async {
            if let Some(unpack) = &unpack {
                tx.execute(unpack, &[&employee, &day]).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        let row: [&(dyn ToSql + Sync); 7] = [
            &sample.time,
            &employee,
            &team,
            &v.degree_centrality,
            &v.betweenness_centrality,
            &v.clustering_coeff,
            &v.burnout_score,
        ];
        let upserted = tx.execute(&insert, &row);
        let queued = tx.execute(&inbox, &row);
        let ids = [employee];
        let times = [sample.time];
        let teams = [team];
        let (degree, betweenness, clustering, burnout) = (
            [v.degree_centrality],
            [v.betweenness_centrality],
            [v.clustering_coeff],
            [v.burnout_score],
        );
        let (ids, times, teams) = (&ids[..], &times[..], &teams[..]);
        let (degree, betweenness, clustering, burnout) =
            (&degree[..], &betweenness[..], &clustering[..], &burnout[..]);
        let latest_row: [&(dyn ToSql + Sync); 7] = [
            &ids,
            &times,
            &teams,
            &degree,
            &betweenness,
            &clustering,
            &burnout,
        ];
        let latest = tx.execute(&latest, &latest_row);
        let invalidated = async {
            if let Some(invalidate) = &invalidate {
                tx.execute(invalidate, &[&sample.time]).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        let days = [day];
        let days = &days[..];
        let team_day_row: [&(dyn ToSql + Sync); 3] = [&teams, &days, &ids];
        let team_recorded = async {
            if let Some(team_day) = &team_day {
                tx.execute(team_day, &team_day_row).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        // Last before the commit (pipelined after the others, which the
        // server runs in order).
        let day_param: [&(dyn ToSql + Sync); 1] = [&day];
        let bumped = tx.execute(&bump, &day_param);
        let ((), changed, _, _, (), (), _) = futures_util::try_join!(
            unpacked,
            upserted,
            queued,
            latest,
            invalidated,
            team_recorded,
            bumped
        )?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Writes a batch, all or nothing.
    pub async fn write_batch(&self, samples: &[MetricSample]) -> Result<WriteSummary> {
        self.write_batch_owned(samples.to_vec()).await
    }

    /// [`Store::write_batch`] of a batch the caller no longer needs: no copy
    /// of it is made (a 64 MiB request body is about 400,000 samples).
    pub async fn write_batch_owned(&self, samples: Vec<MetricSample>) -> Result<WriteSummary> {
        let chunks = futures_util::stream::iter([Ok(samples)]);
        self.write_chunks(chunks).await
    }

    /// Writes a stream of chunks (a large file read piece by piece) in one
    /// transaction: an error in any chunk, from the stream or the database,
    /// leaves nothing written.
    ///
    /// A batch of one chunk without repeated samples (what the API and
    /// the bulk loaders send) is first copied straight into the raw table
    /// under a savepoint: one copy and one index insertion per sample, as
    /// PostgreSQL's own COPY costs. Its hours that the rollup has
    /// materialised then get the batch's sums from the engine
    /// (`keep_new_hours`) instead of a recomputation. A sample already stored fails that copy
    /// with a unique violation, and the batch takes the general path
    /// (staging table, then upsert), so a retried batch still replaces
    /// instead of duplicating. So do a stream of several chunks, a batch
    /// with repeats, backfill, and a batch into days with packed samples.
    pub async fn write_chunks<S>(&self, chunks: S) -> Result<WriteSummary>
    where
        S: Stream<Item = Result<Vec<MetricSample>>>,
    {
        let mut client = self.client().await?;
        let mut tx = client.transaction().await?;
        pin_mut!(chunks);
        let Some(first) = next_chunk(&mut chunks).await? else {
            return Ok(WriteSummary::default());
        };
        let second = next_chunk(&mut chunks).await?;
        let (staged, held, written) = match second {
            None => {
                let mut staged = Staged::default();
                staged.note_all(&first);
                let (held, written) = self.write_one_chunk(&mut tx, &staged, first).await?;
                (staged, held, written)
            }
            Some(second) => {
                let all = stream::iter([Ok(first), Ok(second)]).chain(chunks);
                let staged = stage(&mut tx, all).await?;
                let hold = self.hold_batch(&tx, &staged).await?;
                let written = self.merge_staged(&mut tx, &staged, hold, false).await?;
                (staged, hold.0, written)
            }
        };
        let Some((lo, hi)) = staged.span else {
            return Ok(WriteSummary::default());
        };
        staged.latest.store(&tx).await?;
        if !written.rollup_kept {
            self.ops()
                .record_late_hours(&tx, held, &staged.hours)
                .await?;
        }
        if let Some(sql) = self.ops().team_days_sql() {
            staged.team_days.store(&tx, sql).await?;
        }
        // Samples older than the kept raw rows are backfill (migration 11),
        // which only the general path writes.
        if let Some(kept) = held.raw_kept_from.filter(|kept| lo < *kept) {
            tx.execute(
                "SELECT backfill_rollup(ARRAY(
                     SELECT DISTINCT date_trunc('hour', time) FROM metrics_staging WHERE time < $1))",
                &[&kept],
            )
            .await?;
        }
        // Last before the commit: kept analytics answers of past days (and,
        // pipelined with it, the batch into the real-time inbox when it was
        // staged; a batch copied straight in was copied into the inbox too).
        let lo_day = lo.date_naive();
        let bump: [&(dyn ToSql + Sync); 1] = [&lo_day];
        let inbox = async {
            if written.staged {
                tx.execute(INBOX_BATCH, &[]).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        futures_util::try_join!(inbox, tx.execute(crate::analytics::BUMP_GENERATION, &bump))?;
        tx.commit().await?;
        self.note_change();
        self.ops().after_write(self, lo, hi).await;
        Ok(WriteSummary {
            received: staged.received,
            stored: written.stored,
            changed: written.changed,
        })
    }

    /// What every batch takes before its samples go in: the engine's hold
    /// on the days written, with whether they may hold packed samples, and
    /// the rollup's state.
    async fn hold_batch(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        staged: &Staged,
    ) -> Result<(Held, bool)> {
        let packed = self.ops().prepare_batch(self, tx, &staged.days).await?;
        let held = self.ops().hold(tx).await?;
        Ok((held, packed))
    }

    /// The general way of a batch in the staging table: backfill into
    /// summarised hours refused, packed samples of its (employee, day)s
    /// unpacked, then the merge (the upsert at once when `meets_stored`:
    /// the batch's copy met a stored sample).
    async fn merge_staged(
        &self,
        tx: &mut deadpool_postgres::Transaction<'_>,
        staged: &Staged,
        (held, packed): (Held, bool),
        meets_stored: bool,
    ) -> Result<Written> {
        if let Some(kept) = held
            .raw_kept_from
            .filter(|kept| staged.starts_before(*kept))
        {
            refuse_summarised_hours(tx, kept).await?;
        }
        let unpacked = packed && self.ops().unpack_staged(tx).await?;
        merge(tx, staged, unpacked || meets_stored).await
    }

    /// A batch of one chunk, noted in `staged`: copied straight in when it
    /// can be (see [`Store::write_chunks`]), else staged and merged.
    /// Returns what the rollup holds, and what was written.
    async fn write_one_chunk(
        &self,
        tx: &mut deadpool_postgres::Transaction<'_>,
        staged: &Staged,
        chunk: Vec<MetricSample>,
    ) -> Result<(Held, Written)> {
        let (held, packed) = self.hold_batch(tx, staged).await?;
        let backfill = held
            .raw_kept_from
            .is_some_and(|kept| staged.starts_before(kept));
        let direct = !staged.repeats.maybe_repeats && !packed && !backfill;
        if direct
            && let Some(copied) = copy_new(tx, &chunk, self.ops().copies_hour_by_hour()).await?
        {
            let rollup_kept = self.ops().keep_new_hours(tx, held, &chunk).await?;
            let written = Written {
                stored: staged.received,
                changed: copied,
                staged: false,
                rollup_kept,
            };
            return Ok((held, written));
        }
        stage_chunk(tx, &chunk, 0).await?;
        let written = self
            .merge_staged(tx, staged, (held, packed), direct)
            .await?;
        Ok((held, written))
    }
}

/// What a batch's samples did.
struct Written {
    /// Distinct (employee, time) samples stored.
    stored: usize,
    /// Rows inserted or changed.
    changed: u64,
    /// Whether the batch is in the staging table (and the real-time inbox
    /// still to be filled from it).
    staged: bool,
    /// Whether the engine added the batch's hours to the materialised
    /// rollup (then none is recorded as late).
    rollup_kept: bool,
}

/// The next chunk of a stream that holds samples (`None`: the stream ended).
async fn next_chunk<S>(chunks: &mut std::pin::Pin<&mut S>) -> Result<Option<Vec<MetricSample>>>
where
    S: Stream<Item = Result<Vec<MetricSample>>>,
{
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if !chunk.is_empty() {
            return Ok(Some(chunk));
        }
    }
    Ok(None)
}

const COPY_DIRECT: &str = "COPY employee_metrics (time, employee_id, team, degree_centrality,
    betweenness_centrality, clustering_coeff, burnout_score) FROM STDIN (FORMAT binary)";

const COPY_INBOX: &str = "COPY realtime_inbox (time, employee_id, team, degree_centrality,
    betweenness_centrality, clustering_coeff, burnout_score) FROM STDIN (FORMAT binary)";

/// Binary COPY of a batch without repeats straight into the raw table,
/// under a savepoint, and into the real-time inbox while an alert rule or
/// a live stream wants samples: the rows copied, or `None` when a sample
/// was already stored (nothing of the attempt is left).
async fn copy_new(
    tx: &mut deadpool_postgres::Transaction<'_>,
    chunk: &[MetricSample],
    hour_by_hour: bool,
) -> Result<Option<u64>> {
    // Where the engine asks for it (timescale), hour by hour, each hour's
    // samples employee by employee: a batch of history arrives employee by
    // employee, and a day's pages would then each hold every hour of it,
    // so the raw rows' BRIN index on time could not find an hour (the
    // hours after the watermark that the statistics read) without reading
    // the whole day. Within an hour, the employee order keeps the unique
    // index's insertions together (in plain time order they cost a quarter
    // of the ingest's speed).
    let mut in_time_order: Vec<&MetricSample> = chunk.iter().collect();
    if hour_by_hour {
        in_time_order.sort_by(|a, b| {
            let hour = |s: &MetricSample| s.time.timestamp().div_euclid(3600);
            (hour(a), a.employee_id.as_str(), a.time).cmp(&(
                hour(b),
                b.employee_id.as_str(),
                b.time,
            ))
        });
    }
    let attempt = tx.savepoint("copy_new").await?;
    match copy_samples(&attempt, COPY_DIRECT, &in_time_order).await {
        Ok(copied) => {
            let wanted: bool = attempt
                .query_one("SELECT realtime_wanted()", &[])
                .await?
                .get(0);
            if wanted {
                copy_samples(&attempt, COPY_INBOX, &in_time_order).await?;
            }
            attempt.commit().await?;
            Ok(Some(copied))
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            attempt.rollback().await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Binary COPY of samples by `copy` (the seven columns of a sample); the
/// benchmark's COPY baseline writes its rows with it too.
pub(crate) async fn copy_samples(
    tx: &deadpool_postgres::Transaction<'_>,
    copy: &str,
    chunk: &[&MetricSample],
) -> std::result::Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in(copy).await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES[1..]);
    pin_mut!(writer);
    for sample in chunk {
        let v = &sample.values;
        let team = sample.team.as_ref().map(|t| t.as_str());
        let row: [&(dyn ToSql + Sync); 7] = [
            &sample.time,
            &sample.employee_id.as_str(),
            &team,
            &v.degree_centrality,
            &v.betweenness_centrality,
            &v.clustering_coeff,
            &v.burnout_score,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await
}

/// What a batch holds, noted in memory as its samples go by.
#[derive(Default)]
struct Staged {
    received: usize,
    repeats: RepeatCheck,
    latest: LatestSamples,
    /// The days the batch writes into, in order.
    days: Vec<NaiveDate>,
    day_set: BTreeSet<NaiveDate>,
    /// Each hour written into, with its latest sample time.
    hours: BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    team_days: TeamDays,
    /// The earliest and latest sample time (`None`: nothing received).
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Staged {
    fn note(&mut self, sample: &MetricSample) {
        self.received += 1;
        self.repeats.add(sample);
        self.latest.add(sample);
        let day = sample.time.date_naive();
        if self.day_set.insert(day) {
            self.days = self.day_set.iter().copied().collect();
        }
        let hour = crate::rollup::hour_start(sample.time);
        let latest = self.hours.entry(hour).or_insert(sample.time);
        *latest = (*latest).max(sample.time);
        self.team_days.add(sample, day);
        self.span = Some(match self.span {
            None => (sample.time, sample.time),
            Some((lo, hi)) => (lo.min(sample.time), hi.max(sample.time)),
        });
    }

    /// Whether a sample of the batch is older than `t`.
    fn starts_before(&self, t: DateTime<Utc>) -> bool {
        self.span.is_some_and(|(lo, _)| lo < t)
    }

    fn note_all(&mut self, chunk: &[MetricSample]) {
        for sample in chunk {
            self.note(sample);
        }
    }
}

/// The (team, UTC day, employee)s of a batch, for the engines that keep
/// them (portable migration 26). An employee's samples usually come in
/// runs, so a sample like the one before costs a comparison.
#[derive(Debug, Default)]
struct TeamDays {
    seen: BTreeSet<(String, NaiveDate, String)>,
    last: Option<(String, NaiveDate, String)>,
}

impl TeamDays {
    fn add(&mut self, sample: &MetricSample, day: NaiveDate) {
        let Some(team) = &sample.team else { return };
        let employee = sample.employee_id.as_str();
        if let Some((t, d, e)) = &self.last
            && t == team.as_str()
            && *d == day
            && e == employee
        {
            return;
        }
        let key = (team.as_str().to_string(), day, employee.to_string());
        self.seen.insert(key.clone());
        self.last = Some(key);
    }

    async fn store(&self, tx: &impl GenericClient, sql: &str) -> Result<()> {
        if self.seen.is_empty() {
            return Ok(());
        }
        let teams: Vec<&str> = self.seen.iter().map(|k| k.0.as_str()).collect();
        let days: Vec<NaiveDate> = self.seen.iter().map(|k| k.1).collect();
        let employees: Vec<&str> = self.seen.iter().map(|k| k.2.as_str()).collect();
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&teams, &days, &employees]).await?;
        Ok(())
    }
}

/// The staging phase of a batch of several chunks: every chunk by binary
/// COPY into the (emptied) staging table, numbering the rows and noting
/// what the later phases need.
async fn stage<S>(tx: &mut deadpool_postgres::Transaction<'_>, chunks: S) -> Result<Staged>
where
    S: Stream<Item = Result<Vec<MetricSample>>>,
{
    let mut staged = Staged::default();
    pin_mut!(chunks);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if chunk.is_empty() {
            continue;
        }
        let ord = staged.received as i64;
        staged.note_all(&chunk);
        stage_chunk(tx, &chunk, ord).await?;
    }
    Ok(staged)
}

/// One chunk by binary COPY into the staging table, its rows numbered from
/// `first_ord` on. The first chunk of a batch makes the table when the
/// connection has none yet (a batch copied straight in never needs it),
/// and empties it: one left with rows by an interrupted transaction was
/// emptied by its rollback, but be explicit.
async fn stage_chunk(
    tx: &deadpool_postgres::Transaction<'_>,
    chunk: &[MetricSample],
    first_ord: i64,
) -> Result<()> {
    if first_ord == 0 {
        tx.batch_execute(STAGING).await?;
        tx.batch_execute("TRUNCATE metrics_staging").await?;
    }
    let sink = tx.copy_in(COPY).await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    pin_mut!(writer);
    for (i, sample) in chunk.iter().enumerate() {
        let ord = first_ord + i as i64;
        let v = &sample.values;
        let team = sample.team.as_ref().map(|t| t.as_str());
        let row: [&(dyn ToSql + Sync); 8] = [
            &ord,
            &sample.time,
            &sample.employee_id.as_str(),
            &team,
            &v.degree_centrality,
            &v.betweenness_centrality,
            &v.clustering_coeff,
            &v.burnout_score,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// The merge phase: the staged rows into `employee_metrics`; returns the
/// distinct samples stored and the rows inserted or changed. Counting
/// distinct samples and keeping the last of repeats cost a sort each; a
/// batch without repeats (the usual one) needs neither, and goes by a plain
/// INSERT under a savepoint first, by the upsert when that meets a stored
/// sample, or at once when `upsert` (the engine unpacked stored samples, or
/// the batch's copy met one).
async fn merge(
    tx: &mut deadpool_postgres::Transaction<'_>,
    staged: &Staged,
    upsert: bool,
) -> Result<Written> {
    let (stored, merge) = if staged.repeats.maybe_repeats {
        let stored: i64 = tx
            .query_one(
                "SELECT count(*) FROM (SELECT DISTINCT employee_id, time FROM metrics_staging) d",
                &[],
            )
            .await?
            .get(0);
        (stored as usize, MERGE)
    } else {
        (staged.received, MERGE_DISTINCT)
    };
    // Prepared statements: one round trip each instead of two.
    let merge = tx.prepare_cached(merge).await?;
    let changed = if staged.repeats.maybe_repeats || upsert {
        tx.execute(&merge, &[]).await?
    } else {
        let insert_new = tx.prepare_cached(INSERT_NEW).await?;
        let attempt = tx.savepoint("insert_new").await?;
        match attempt.execute(&insert_new, &[]).await {
            Ok(inserted) => {
                attempt.commit().await?;
                inserted
            }
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                attempt.rollback().await?;
                tx.execute(&merge, &[]).await?
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(Written {
        stored,
        changed,
        staged: true,
        rollup_kept: false,
    })
}

/// Refuses a staged sample older than the kept raw rows (`kept`) for an
/// (employee, hour) that the rollup holds while no raw row of it is left:
/// that hour was summarised before retention dropped its samples, and a
/// sample added to it now could only replace the summary by itself or be
/// counted twice if it was one of them. 422 naming the row and `time`.
async fn refuse_summarised_hours(
    tx: &deadpool_postgres::Transaction<'_>,
    kept: DateTime<Utc>,
) -> Result<()> {
    let row = tx
        .query_opt(
            "SELECT s.ord, s.employee_id, date_trunc('hour', s.time)
             FROM metrics_staging s
             WHERE s.time < $1
               AND EXISTS (SELECT 1 FROM employee_metrics_hourly h
                           WHERE h.employee_id = s.employee_id
                             AND h.bucket = date_trunc('hour', s.time))
               AND NOT EXISTS (SELECT 1 FROM metrics_between(date_trunc('hour', s.time),
                                                             date_trunc('hour', s.time) + INTERVAL '1 hour') m
                               WHERE m.employee_id = s.employee_id)
             ORDER BY s.ord LIMIT 1",
            &[&kept],
        )
        .await?;
    match row {
        None => Ok(()),
        Some(row) => {
            let ord: i64 = row.get(0);
            let employee: String = row.get(1);
            let hour: DateTime<Utc> = row.get(2);
            Err(StoreError::InvalidRow(organism_domain::RowError::new(
                usize::try_from(ord).unwrap_or(0) + 1,
                organism_domain::ValidationError::new(
                    "time",
                    format!(
                        "the hour {} of {employee} was summarised and its samples dropped by retention; it cannot take new samples",
                        hour.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                ),
            )))
        }
    }
}
