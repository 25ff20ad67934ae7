//! Opening the store: on a configured server, or on the embedded cluster,
//! which is started here and stopped when the returned guard is dropped.

use organism_pgcluster::{ClusterOptions, EmbeddedCluster};
use organism_store::{DbSettings, Store};

use crate::config::{DatabaseTarget, GlobalArgs};
use crate::connect::{self, Source};

/// The database in use; keeps the embedded cluster alive while held.
#[derive(Debug)]
pub struct Database {
    pub store: Store,
    cluster: Option<EmbeddedCluster>,
}

/// The database the embedded cluster keeps our data in.
const EMBEDDED_DB: &str = "organism";

/// The database and schema the benchmark re-creates.
pub const BENCH_NAME: &str = "organism_bench";

impl Database {
    /// A fresh, empty store for `organism bench`: the database
    /// `organism_bench`, dropped and created again, in the embedded cluster
    /// in `dir`; or, on a configured server, the schema `organism_bench`,
    /// dropped and created again (the configured schema is left alone).
    pub async fn open_for_bench(args: &GlobalArgs, dir: &std::path::Path) -> anyhow::Result<Self> {
        match checked_target(args, dir).await? {
            DatabaseTarget::External(settings) => {
                let settings = settings.with_schema(BENCH_NAME);
                let store = Store::open(settings.clone()).await?;
                store.drop_schema().await?;
                store.close();
                let store = Store::open(settings).await?;
                Ok(Self {
                    store,
                    cluster: None,
                })
            }
            DatabaseTarget::Embedded(_) => {
                let cluster = start_cluster(args, dir).await?;
                let (client, connection) = tokio_postgres::connect(
                    &cluster.connection_string("postgres"),
                    tokio_postgres::NoTls,
                )
                .await?;
                let driver = tokio::spawn(connection);
                // Two statements: neither may run in a transaction block.
                client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {BENCH_NAME} WITH (FORCE)"
                    ))
                    .await?;
                client
                    .batch_execute(&format!("CREATE DATABASE {BENCH_NAME}"))
                    .await?;
                drop(client);
                let _ = driver.await;
                let settings = args.tune(DbSettings::from_url(
                    &cluster.connection_string(BENCH_NAME),
                )?)?;
                let store = Store::open(settings).await?;
                Ok(Self {
                    store,
                    cluster: Some(cluster),
                })
            }
        }
    }

    pub async fn open(args: &GlobalArgs) -> anyhow::Result<Self> {
        match checked_target(args, &args.data_dir).await? {
            DatabaseTarget::External(settings) => {
                let store = Store::open(*settings).await?;
                Ok(Self {
                    store,
                    cluster: None,
                })
            }
            DatabaseTarget::Embedded(dir) => {
                let cluster = start_cluster(args, &dir).await?;
                create_database_if_missing(&cluster).await?;
                let settings = args.tune(DbSettings::from_url(
                    &cluster.connection_string(EMBEDDED_DB),
                )?)?;
                let store = Store::open(settings).await?;
                Ok(Self {
                    store,
                    cluster: Some(cluster),
                })
            }
        }
    }

    /// Closes the pool, then stops the embedded cluster, if any.
    pub async fn close(mut self) {
        if let Err(e) = self.store.settle_rollup().await {
            tracing::warn!(error = %e, "could not refresh the hours written late; the next refresh job will");
        }
        self.store.close();
        if let Some(mut cluster) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}

/// The target, with every setting checked before anything starts: the
/// pool, schema and retention settings (the embedded cluster is not started
/// for a mistake in them), the embedded cluster's directory, and a
/// configured server, which is connected to once so that a failure says
/// where it went, why, and which setting to change.
async fn checked_target(
    args: &GlobalArgs,
    embedded_dir: &std::path::Path,
) -> anyhow::Result<DatabaseTarget> {
    let target = args.target()?;
    match &target {
        DatabaseTarget::External(settings) => {
            let source = if args.database_url.is_some() {
                Source::Url
            } else {
                Source::Parts
            };
            connect::probe(settings, source).await?;
        }
        DatabaseTarget::Embedded(_) => {
            args.tune(DbSettings::new(tokio_postgres::Config::new()))?;
            crate::check::usable_dir("--data-dir", embedded_dir)?;
        }
    }
    Ok(target)
}

async fn start_cluster(
    args: &GlobalArgs,
    dir: &std::path::Path,
) -> anyhow::Result<EmbeddedCluster> {
    let mut options = ClusterOptions::new(dir).for_service();
    options.bin_dir = args.pg_bin_dir.clone();
    options.search_path = args.search_path.clone();
    tracing::info!(dir = %dir.display(), "no database configured: using the embedded PostgreSQL cluster");
    Ok(tokio::task::spawn_blocking(move || EmbeddedCluster::start(options)).await??)
}

async fn create_database_if_missing(cluster: &EmbeddedCluster) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(
        &cluster.connection_string("postgres"),
        tokio_postgres::NoTls,
    )
    .await?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&EMBEDDED_DB],
        )
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {EMBEDDED_DB}"))
            .await?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
