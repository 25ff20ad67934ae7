//! Writing metric samples.
//!
//! A batch goes by binary `COPY` into a per-connection temporary staging
//! table, then one `INSERT … SELECT … ON CONFLICT (employee_id, time) DO
//! UPDATE` moves it into `employee_metrics` (a batch of new samples only, the
//! usual one, goes by a plain `INSERT` under a savepoint first, and by the
//! upsert when that meets a stored sample), all in one transaction: the batch
//! is written whole or not at all, and writing the same batch again replaces
//! rows instead of duplicating them. Within a batch, the last sample for an
//! (employee, time) wins, as it would if the samples had been sent one by
//! one. Rows whose values did not change are not rewritten, so a retried
//! batch costs reads, not dead tuples. On the portable engine a write into
//! a compressed (employee, day) first unpacks it (see compression.rs).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use futures_util::{Stream, StreamExt, pin_mut};
use organism_domain::{MetricSample, MetricValues};
use serde::Serialize;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use crate::{Engine, Result, Store, StoreError, partitions, rollup};

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

impl Store {
    /// Writes one sample (replacing an earlier one for the same employee and
    /// time).
    pub async fn write_sample(&self, sample: &MetricSample) -> Result<WriteSummary> {
        let mut client = self.client().await?;
        let changed = match self.write_one(&mut client, sample).await {
            // The day's partition does not exist yet (the scheduler makes
            // them ahead, so rarely): make it, then write again.
            Err(StoreError::Database(_))
                if self.engine() == Engine::Portable
                    && !partitions::missing(&**client, &[sample.time.date_naive()])
                        .await?
                        .is_empty() =>
            {
                partitions::ensure(&mut client, &[sample.time.date_naive()]).await?;
                self.write_one(&mut client, sample).await?
            }
            other => other?,
        };
        self.rollup_late_hours(sample.time, sample.time).await;
        Ok(WriteSummary {
            received: 1,
            stored: 1,
            changed,
        })
    }

    /// One sample in one transaction of three round trips: BEGIN with the
    /// day's partition lock (portable), then every statement pipelined, then
    /// COMMIT. On portable, in this order: the day's raw partition held in
    /// ROW EXCLUSIVE mode (compression cannot pack the day meanwhile); the
    /// (employee, day) unpacked if it was packed (nothing when it was not);
    /// the upsert; the employee's latest sample; the hour recorded as
    /// invalidated when it is already materialised (deciding on the
    /// watermark row held `FOR SHARE`, see rollup.rs).
    async fn write_one(
        &self,
        client: &mut deadpool_postgres::Object,
        sample: &MetricSample,
    ) -> Result<u64> {
        let v = &sample.values;
        let team = sample.team.as_ref().map(|t| t.as_str());
        let day = sample.time.date_naive();
        let employee = sample.employee_id.as_str();
        let portable = self.engine() == Engine::Portable;
        let tx = client.transaction().await?;
        if portable {
            tx.batch_execute(&format!(
                "LOCK TABLE {} IN ROW EXCLUSIVE MODE",
                partitions::partition_name(day)
            ))
            .await?;
        }
        // The statements of the portable engine's tables, on it only.
        let tx_ref = &tx;
        let portable_only = |sql| async move {
            match portable {
                true => tx_ref.prepare_cached(sql).await.map(Some),
                false => Ok(None),
            }
        };
        let (insert, latest, unpack, invalidate) = futures_util::try_join!(
            tx.prepare_cached(INSERT_ONE),
            tx.prepare_cached(UPDATE_LATEST),
            portable_only(UNPACK_ONE),
            portable_only(INVALIDATE_ONE),
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
        let ((), changed, _, ()) =
            futures_util::try_join!(unpacked, upserted, latest, invalidated)?;
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
    pub async fn write_chunks<S>(&self, chunks: S) -> Result<WriteSummary>
    where
        S: Stream<Item = Result<Vec<MetricSample>>>,
    {
        let mut client = self.client().await?;
        client.batch_execute(STAGING).await?;
        let mut tx = client.transaction().await?;
        // Start clean: a staging table left with rows by an interrupted
        // transaction was emptied by its rollback, but be explicit.
        tx.batch_execute("TRUNCATE metrics_staging").await?;
        let mut received = 0usize;
        let mut repeats = RepeatCheck::default();
        let mut latest = LatestSamples::default();
        let mut days = BTreeSet::<NaiveDate>::new();
        let mut span: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        pin_mut!(chunks);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if chunk.is_empty() {
                continue;
            }
            let sink = tx.copy_in(COPY).await?;
            let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
            pin_mut!(writer);
            for sample in &chunk {
                let ord = received as i64;
                received += 1;
                repeats.add(sample);
                latest.add(sample);
                days.insert(sample.time.date_naive());
                span = Some(match span {
                    None => (sample.time, sample.time),
                    Some((lo, hi)) => (lo.min(sample.time), hi.max(sample.time)),
                });
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
        }
        if received == 0 {
            return Ok(WriteSummary::default());
        }
        let mut unpacked = false;
        if self.engine() == Engine::Portable {
            // Missing partitions are made on a short-lived connection of
            // their own, so that the strong lock of CREATE TABLE is never
            // held for the rest of this write (see partitions.rs), and so
            // that concurrent writers never wait on the pool for a second
            // connection while holding one. Usually every day has its
            // partition already (the scheduler makes them ahead).
            let days: Vec<NaiveDate> = days.into_iter().collect();
            if !partitions::missing(&*tx, &days).await?.is_empty() {
                let mut other = crate::pool::dedicated(self.settings()).await?;
                partitions::ensure(&mut other, &days).await?;
            }
            if hold_days(&tx, &days).await? {
                unpacked = tx.execute(UNPACK_STAGED, &[]).await? > 0;
            }
        }
        // Counting distinct samples and keeping the last of repeats cost a
        // sort each; a batch without repeats (the usual one) needs neither.
        let (stored, merge) = if repeats.maybe_repeats {
            let stored: i64 = tx
                .query_one(
                    "SELECT count(*) FROM (SELECT DISTINCT employee_id, time FROM metrics_staging) d",
                    &[],
                )
                .await?
                .get(0);
            (stored as usize, MERGE)
        } else {
            (received, MERGE_DISTINCT)
        };
        let watermark = rollup::hold_watermark(&tx, self.engine()).await?;
        // Prepared statements: one round trip each instead of two.
        let merge = tx.prepare_cached(merge).await?;
        let changed = if repeats.maybe_repeats || unpacked {
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
        latest.store(&tx).await?;
        if let Some(held) = watermark {
            tx.execute(
                "INSERT INTO rollup_invalidations (bucket)
                 SELECT DISTINCT date_trunc('hour', time) FROM metrics_staging
                 WHERE time < $1 AND ($2::timestamptz IS NULL OR time >= $2)
                 ON CONFLICT (bucket) DO NOTHING",
                &[&held.watermark, &held.raw_kept_from],
            )
            .await?;
        }
        tx.commit().await?;
        if let Some((lo, hi)) = span {
            self.rollup_late_hours(lo, hi).await;
        }
        Ok(WriteSummary {
            received,
            stored,
            changed,
        })
    }
}
