//! The benchmark's yardstick: PostgreSQL's own binary `COPY` of samples
//! into a plain table with the same columns and the same unique index as
//! `employee_metrics`, with no validation, idempotency or rollup. The batch
//! writer's ingest is reported as a ratio of it (issue 15).

use organism_domain::MetricSample;

use crate::{Result, Store};

const TABLE: &str = "copy_baseline";

impl Store {
    /// Creates the empty baseline table (dropping a left-over one).
    pub async fn copy_baseline_create(&self) -> Result<()> {
        let client = self.maintenance_client().await?;
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {TABLE};
                 CREATE TABLE {TABLE} (
                     time timestamptz NOT NULL,
                     employee_id text NOT NULL,
                     team text,
                     degree_centrality double precision NOT NULL,
                     betweenness_centrality double precision NOT NULL,
                     clustering_coeff double precision NOT NULL,
                     burnout_score double precision NOT NULL);
                 CREATE UNIQUE INDEX {TABLE}_employee_time ON {TABLE} (employee_id, time);"
            ))
            .await?;
        Ok(())
    }

    /// One batch into the baseline table: one transaction, one binary COPY.
    pub async fn copy_baseline_batch(&self, samples: &[MetricSample]) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let samples: Vec<&MetricSample> = samples.iter().collect();
        let rows = crate::writer::copy_samples(
            &tx,
            &format!(
                "COPY {TABLE} (time, employee_id, team, degree_centrality, betweenness_centrality,
                     clustering_coeff, burnout_score) FROM STDIN (FORMAT binary)"
            ),
            &samples,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Drops the baseline table.
    pub async fn copy_baseline_drop(&self) -> Result<()> {
        let client = self.maintenance_client().await?;
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {TABLE}"))
            .await?;
        Ok(())
    }
}
