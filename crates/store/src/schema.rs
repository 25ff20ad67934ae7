//! Versioned, idempotent schema migrations for both engines.
//!
//! Migrations are numbered SQL files per engine (`migrations/`), applied in
//! order, each in its own transaction, and recorded in `schema_migrations`.
//! An advisory lock makes concurrent start-ups of several replicas wait for
//! each other instead of racing. The engine a database was set up with is
//! recorded in `organism_meta` and kept: asking for the other one is an
//! error, never a silent switch.

use deadpool_postgres::GenericClient;
use deadpool_postgres::Object;

use crate::{Engine, EngineChoice, StoreError};

/// One migration: a version, a name, and its SQL.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

const COMMON_0001: Migration = Migration {
    version: 1,
    name: "interventions_audit",
    sql: include_str!("../migrations/common/0001_interventions_audit.sql"),
};

const COMMON_JOBS: &str = include_str!("../migrations/common/0002_lifecycle_jobs.sql");

/// Version 6 on both engines (portable 5 is its compression).
const COMMON_API_KEYS: Migration = Migration {
    version: 6,
    name: "api_keys",
    sql: include_str!("../migrations/common/0003_api_keys.sql"),
};

/// Version 7 on both engines.
const COMMON_LATEST: Migration = Migration {
    version: 7,
    name: "employee_latest",
    sql: include_str!("../migrations/common/0004_employee_latest.sql"),
};

/// Version 9 on both engines.
const COMMON_TRUST: Migration = Migration {
    version: 9,
    name: "trust",
    sql: include_str!("../migrations/common/0009_trust.sql"),
};

const PORTABLE: &[Migration] = &[
    COMMON_0001,
    Migration {
        version: 2,
        name: "metrics",
        sql: include_str!("../migrations/portable/0002_metrics.sql"),
    },
    Migration {
        version: 3,
        name: "hourly_rollup",
        sql: include_str!("../migrations/portable/0003_hourly_rollup.sql"),
    },
    Migration {
        version: 4,
        name: "lifecycle_jobs",
        sql: COMMON_JOBS,
    },
    Migration {
        version: 5,
        name: "compression",
        sql: include_str!("../migrations/portable/0005_compression.sql"),
    },
    COMMON_API_KEYS,
    COMMON_LATEST,
    Migration {
        version: 8,
        name: "rollup_levels",
        sql: include_str!("../migrations/portable/0008_rollup_levels.sql"),
    },
    COMMON_TRUST,
];

const TIMESCALE: &[Migration] = &[
    COMMON_0001,
    Migration {
        version: 2,
        name: "metrics",
        sql: include_str!("../migrations/timescale/0002_metrics.sql"),
    },
    Migration {
        version: 3,
        name: "hourly_rollup",
        sql: include_str!("../migrations/timescale/0003_hourly_rollup.sql"),
    },
    Migration {
        version: 4,
        name: "compression",
        sql: include_str!("../migrations/timescale/0004_compression.sql"),
    },
    Migration {
        version: 5,
        name: "lifecycle_jobs",
        sql: COMMON_JOBS,
    },
    COMMON_API_KEYS,
    COMMON_LATEST,
    Migration {
        version: 8,
        name: "rollup_levels",
        sql: include_str!("../migrations/timescale/0008_rollup_levels.sql"),
    },
    COMMON_TRUST,
];

/// The migrations of an engine, in order.
pub fn migrations(engine: Engine) -> &'static [Migration] {
    match engine {
        Engine::Portable => PORTABLE,
        Engine::Timescale => TIMESCALE,
    }
}

/// The schema version this build creates.
pub fn current_version(engine: Engine) -> i32 {
    migrations(engine).last().map_or(0, |m| m.version)
}

/// Lock key for migrations: "organism" in ASCII, so it is recognisable in
/// `pg_locks`.
const MIGRATION_LOCK: i64 = 0x6f72_6761_6e69_736d;

/// Creates or upgrades the schema and returns the engine in use.
pub async fn migrate(
    client: &mut Object,
    schema: &str,
    choice: EngineChoice,
) -> Result<Engine, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client, schema, choice).await;
    // Unlock even after a failure, so the pooled connection holds no lock.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn migrate_locked(
    client: &mut Object,
    schema: &str,
    choice: EngineChoice,
) -> Result<Engine, StoreError> {
    // `schema` was checked to be a plain identifier (DbSettings::validate).
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.organism_meta (key text PRIMARY KEY, value text NOT NULL);
             CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                 version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
        ))
        .await?;
    let recorded: Option<String> = client
        .query_opt(
            &format!("SELECT value FROM {schema}.organism_meta WHERE key = 'engine'"),
            &[],
        )
        .await?
        .map(|r| r.get(0));
    let engine = match (recorded.as_deref(), choice) {
        (Some(e), choice) => {
            let engine: Engine = e.parse().map_err(StoreError::Schema)?;
            let conflicts = matches!(
                (engine, choice),
                (Engine::Portable, EngineChoice::Timescale)
                    | (Engine::Timescale, EngineChoice::Portable)
            );
            if conflicts {
                return Err(StoreError::Schema(format!(
                    "schema {schema} was set up with the {engine} engine; it cannot be opened as {}",
                    if engine == Engine::Portable {
                        "timescale"
                    } else {
                        "portable"
                    }
                )));
            }
            engine
        }
        (None, EngineChoice::Portable) => Engine::Portable,
        (None, EngineChoice::Timescale) => {
            timescale_usable(client)
                .await?
                .map_err(StoreError::Schema)?;
            Engine::Timescale
        }
        (None, EngineChoice::Auto) => match timescale_usable(client).await? {
            Ok(()) => Engine::Timescale,
            Err(why) => {
                tracing::info!("using the portable engine: {why}");
                Engine::Portable
            }
        },
    };
    if engine == Engine::Timescale {
        // The extension may be missing in a database restored elsewhere.
        timescale_usable(client)
            .await?
            .map_err(StoreError::Schema)?;
    }

    let applied: Vec<i32> = client
        .query(
            &format!("SELECT version FROM {schema}.schema_migrations"),
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for m in migrations(engine)
        .iter()
        .filter(|m| !applied.contains(&m.version))
    {
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL search_path = {schema}, public"))
            .await?;
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Schema(format!(
                "migration {} ({}) failed: {}",
                m.version,
                m.name,
                describe(&e)
            ))
        })?;
        tx.execute(
            &format!("INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)"),
            &[&m.version, &m.name],
        )
        .await?;
        tx.execute(
            &format!(
                "INSERT INTO {schema}.organism_meta (key, value) VALUES ('engine', $1)
                 ON CONFLICT (key) DO NOTHING"
            ),
            &[&engine.as_str()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, %engine, "applied migration");
    }
    Ok(engine)
}

/// `Ok(Ok(()))` when TimescaleDB can be used with its full (Timescale
/// License) feature set; `Ok(Err(why))` when it cannot.
async fn timescale_usable(client: &impl GenericClient) -> Result<Result<(), String>, StoreError> {
    let available = client
        .query_opt(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'",
            &[],
        )
        .await?;
    if available.is_none() {
        return Ok(Err(
            "the TimescaleDB extension is not installed on the server".into(),
        ));
    }
    if let Err(e) = client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA public")
        .await
    {
        return Ok(Err(format!(
            "CREATE EXTENSION timescaledb failed: {}",
            describe(&e)
        )));
    }
    let license: Option<String> = client
        .query_one("SELECT current_setting('timescaledb.license', true)", &[])
        .await?
        .get(0);
    match license.as_deref() {
        Some("timescale") => Ok(Ok(())),
        other => Ok(Err(format!(
            "TimescaleDB is installed with licence {other:?}: compression and continuous aggregates need the Timescale License build"
        ))),
    }
}

/// The server's message for an error, with its SQLSTATE.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Drops the schema and all it holds.
pub async fn drop(client: &Object, schema: &str) -> Result<(), StoreError> {
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    Ok(())
}

/// The schema version recorded in the database.
pub async fn recorded_version(client: &impl GenericClient) -> Result<i32, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.get(0))
}
