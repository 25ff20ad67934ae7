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

/// One migration: a version, a name, its file and its SQL.
///
/// A file's number is its version on every engine that applies it, and a
/// released file is never edited (the checksums in the tests below and in
/// `schema_migrations` hold it): a change ships as a new migration.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    /// Recorded in `schema_migrations` (the file name without its number).
    pub name: &'static str,
    /// Under `crates/store/migrations/`.
    pub file: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            file: $file,
            sql: include_str!(concat!("../migrations/", $file)),
        }
    };
}

// The same on both engines.
const COMMON_AUDIT: Migration = migration!(
    1,
    "interventions_audit",
    "common/0001_interventions_audit.sql"
);
const COMMON_API_KEYS: Migration = migration!(6, "api_keys", "common/0006_api_keys.sql");
const COMMON_LATEST: Migration =
    migration!(7, "employee_latest", "common/0007_employee_latest.sql");
const COMMON_TRUST: Migration = migration!(9, "trust", "common/0009_trust.sql");
const COMMON_ANSWERS: Migration =
    migration!(13, "analytics_answers", "common/0013_analytics_answers.sql");
const COMMON_REALTIME: Migration = migration!(20, "realtime", "common/0020_realtime.sql");
const COMMON_RULE_KINDS: Migration =
    migration!(21, "alert_rule_kinds", "common/0021_alert_rule_kinds.sql");
const COMMON_BOUNDED_RAW: Migration =
    migration!(22, "bounded_raw_reads", "common/0022_bounded_raw_reads.sql");

// The lifecycle jobs' table is version 4 on portable and 5 on timescale
// (each engine's compression took the other number), so each engine has
// its own copy of the same SQL under its own number.
const PORTABLE: &[Migration] = &[
    COMMON_AUDIT,
    migration!(2, "metrics", "portable/0002_metrics.sql"),
    migration!(3, "hourly_rollup", "portable/0003_hourly_rollup.sql"),
    migration!(4, "lifecycle_jobs", "portable/0004_lifecycle_jobs.sql"),
    migration!(5, "compression", "portable/0005_compression.sql"),
    COMMON_API_KEYS,
    COMMON_LATEST,
    migration!(8, "rollup_levels", "portable/0008_rollup_levels.sql"),
    COMMON_TRUST,
    migration!(
        10,
        "rollup_levels_revised",
        "portable/0010_rollup_levels_revised.sql"
    ),
    migration!(11, "read_interface", "portable/0011_read_interface.sql"),
    migration!(12, "analytics_read", "portable/0012_analytics_read.sql"),
    COMMON_ANSWERS,
    migration!(
        14,
        "team_member_days_store",
        "portable/0014_team_member_days_store.sql"
    ),
    migration!(15, "team_at", "portable/0015_team_at.sql"),
    migration!(
        16,
        "team_days_covering",
        "portable/0016_team_days_covering.sql"
    ),
    migration!(
        17,
        "bounded_hour_reads",
        "portable/0017_bounded_hour_reads.sql"
    ),
    migration!(19, "org_hours", "portable/0019_org_hours.sql"),
    COMMON_REALTIME,
    COMMON_RULE_KINDS,
    COMMON_BOUNDED_RAW,
    migration!(26, "raw_team_days", "portable/0026_raw_team_days.sql"),
    migration!(
        27,
        "hourly_store_covering_key",
        "portable/0027_hourly_store_covering_key.sql"
    ),
    migration!(28, "team_days_key", "portable/0028_team_days_key.sql"),
    migration!(29, "raw_time_brin", "portable/0029_raw_time_brin.sql"),
    migration!(
        30,
        "alerts_from_hours",
        "portable/0030_alerts_from_hours.sql"
    ),
];

// No version 10: timescale's 0008 was never edited, so it needs no revision.
const TIMESCALE: &[Migration] = &[
    COMMON_AUDIT,
    migration!(2, "metrics", "timescale/0002_metrics.sql"),
    migration!(3, "hourly_rollup", "timescale/0003_hourly_rollup.sql"),
    migration!(4, "compression", "timescale/0004_compression.sql"),
    migration!(5, "lifecycle_jobs", "timescale/0005_lifecycle_jobs.sql"),
    COMMON_API_KEYS,
    COMMON_LATEST,
    migration!(8, "rollup_levels", "timescale/0008_rollup_levels.sql"),
    COMMON_TRUST,
    migration!(11, "read_interface", "timescale/0011_read_interface.sql"),
    migration!(12, "analytics_read", "timescale/0012_analytics_read.sql"),
    COMMON_ANSWERS,
    migration!(
        14,
        "team_member_days_store",
        "timescale/0014_team_member_days_store.sql"
    ),
    migration!(15, "team_at", "timescale/0015_team_at.sql"),
    migration!(
        17,
        "bounded_hour_reads",
        "timescale/0017_bounded_hour_reads.sql"
    ),
    migration!(
        18,
        "team_days_materialised",
        "timescale/0018_team_days_materialised.sql"
    ),
    migration!(19, "org_hours", "timescale/0019_org_hours.sql"),
    COMMON_REALTIME,
    COMMON_RULE_KINDS,
    COMMON_BOUNDED_RAW,
    migration!(
        23,
        "watermark_in_snapshot",
        "timescale/0023_watermark_in_snapshot.sql"
    ),
    migration!(
        24,
        "employee_hours_materialised",
        "timescale/0024_employee_hours_materialised.sql"
    ),
    migration!(
        25,
        "org_hours_materialised",
        "timescale/0025_org_hours_materialised.sql"
    ),
    migration!(
        26,
        "alerts_from_hours",
        "timescale/0026_alerts_from_hours.sql"
    ),
    migration!(
        27,
        "hourly_cagg_covering_key",
        "timescale/0027_hourly_cagg_covering_key.sql"
    ),
    migration!(28, "late_hours", "timescale/0028_late_hours.sql"),
    migration!(29, "raw_team_days", "timescale/0029_raw_team_days.sql"),
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

/// The SHA-256 of a migration's SQL, in hex, with line ends normalised (a
/// checkout that turns them into CRLF builds the same checksums).
pub fn checksum(sql: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(sql.replace("\r\n", "\n").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    migrate_to(client, schema, choice, i32::MAX).await
}

/// Applies this build's migrations up to `version` only: what [`migrate`]
/// does, stopped early, so that an upgrade test can make the database an
/// older release left. It never undoes a migration.
#[doc(hidden)]
pub async fn migrate_to(
    client: &mut tokio_postgres::Client,
    schema: &str,
    choice: EngineChoice,
    version: i32,
) -> Result<Engine, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client, schema, choice, version).await;
    // Unlock even after a failure, so the pooled connection holds no lock.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn migrate_locked(
    client: &mut tokio_postgres::Client,
    schema: &str,
    choice: EngineChoice,
    upto: i32,
) -> Result<Engine, StoreError> {
    // `schema` was checked to be a plain identifier (DbSettings::validate).
    // `checksum` is recorded since version 10's build; rows applied before
    // it have none, and are not checked (verify_checksums).
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.organism_meta (key text PRIMARY KEY, value text NOT NULL);
             CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                 version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
             ALTER TABLE {schema}.schema_migrations ADD COLUMN IF NOT EXISTS checksum text;"
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

    let applied: Vec<(i32, Option<String>)> = client
        .query(
            &format!("SELECT version, checksum FROM {schema}.schema_migrations"),
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    verify_checksums(engine, &applied)?;
    for m in migrations(engine)
        .iter()
        .filter(|m| m.version <= upto && !applied.iter().any(|(v, _)| *v == m.version))
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
            &format!(
                "INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
            ),
            &[&m.version, &m.name, &checksum(m.sql)],
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

/// Refuses a database whose applied migrations were applied from other SQL
/// than this build's files: the schema this build expects is then not the
/// one the database has (a migration was edited after it was released).
/// Rows without a checksum (applied before checksums were recorded) and
/// versions this build does not know (a newer build's) are not checked.
fn verify_checksums(engine: Engine, applied: &[(i32, Option<String>)]) -> Result<(), StoreError> {
    for (version, recorded) in applied {
        let Some(recorded) = recorded else { continue };
        let Some(m) = migrations(engine).iter().find(|m| m.version == *version) else {
            continue;
        };
        let ours = checksum(m.sql);
        if *recorded != ours {
            return Err(StoreError::Schema(format!(
                "migration {version} ({}) was applied from SQL with checksum {recorded}, but this build's \
                 crates/store/migrations/{} has {ours}: a released migration must never be edited; \
                 restore the released file and ship a new migration instead",
                m.name, m.file
            )));
        }
    }
    Ok(())
}

/// `Ok(Ok(()))` when TimescaleDB can be used with its full (Timescale
/// License) feature set; `Ok(Err(why))` when it cannot.
async fn timescale_usable(
    client: &impl tokio_postgres::GenericClient,
) -> Result<Result<(), String>, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-256 of every released migration, per engine and version
    /// (`sha256sum crates/store/migrations/<file>`). A new migration adds
    /// its line here; a line is never changed.
    const RELEASED: &[(Engine, i32, &str)] = &[
        (
            Engine::Portable,
            1,
            "f1ff7a0f01ae251724a1e09dcfbff12b3b0e1c547644e527d271bc8ffc975bbe",
        ),
        (
            Engine::Portable,
            2,
            "b69caceb493bc7b4a3121635fefc3789a88f74072bdfce817ec116d605dc5123",
        ),
        (
            Engine::Portable,
            3,
            "ba1b1ebe6948fe36c3a0d2431ff4831c3f7c2f8e702c67e5669760005a34b607",
        ),
        (
            Engine::Portable,
            4,
            "30a68229471b982ebccfb0b606ac27d316f79caa886f271847e4f92ce9abc945",
        ),
        (
            Engine::Portable,
            5,
            "78f3f6a990411d42e465a5845e926e2aaa6904e9729a42f00b3d057ba61d5d82",
        ),
        (
            Engine::Portable,
            6,
            "0df5fb7beafb4df2693f228e5952d9c47bd128038a58c7977582ad93385d47f2",
        ),
        (
            Engine::Portable,
            7,
            "3a3e3e203129d59128451867c970c41b5fd7b5937dc63845f9053059ff02ec0f",
        ),
        (
            Engine::Portable,
            8,
            "39f468fe6e7af7c3bdd310294a37c5f4ecc7744f247fc43c65c513e9a9a09a37",
        ),
        (
            Engine::Portable,
            9,
            "f4a3067c05e0530cb8d2734f50108d2b11bf764da0b0e3b7c379cc2a1f91d401",
        ),
        (
            Engine::Portable,
            10,
            "33e51c625eed279ece0002d55ece49b5cbc51e76fcfa639c62a0f755583b3135",
        ),
        (
            Engine::Timescale,
            1,
            "f1ff7a0f01ae251724a1e09dcfbff12b3b0e1c547644e527d271bc8ffc975bbe",
        ),
        (
            Engine::Timescale,
            2,
            "1c1964084898c71fb7544531b348a557bb631935c090a4f122835594338956a2",
        ),
        (
            Engine::Timescale,
            3,
            "03492f16a93fec45d96c068494053ad83774b9e8848cbc4bbc38e3976d39fe85",
        ),
        (
            Engine::Timescale,
            4,
            "a1e722daeddc3614bbbc28ea2ec2d63948a78e6af21f513a5b7d848c282a7389",
        ),
        (
            Engine::Timescale,
            5,
            "30a68229471b982ebccfb0b606ac27d316f79caa886f271847e4f92ce9abc945",
        ),
        (
            Engine::Timescale,
            6,
            "0df5fb7beafb4df2693f228e5952d9c47bd128038a58c7977582ad93385d47f2",
        ),
        (
            Engine::Timescale,
            7,
            "3a3e3e203129d59128451867c970c41b5fd7b5937dc63845f9053059ff02ec0f",
        ),
        (
            Engine::Timescale,
            8,
            "d45aaec67f983ef94fcca9bca1ef940e74d64161750ad3bf42514ece2f592588",
        ),
        (
            Engine::Timescale,
            9,
            "f4a3067c05e0530cb8d2734f50108d2b11bf764da0b0e3b7c379cc2a1f91d401",
        ),
        (
            Engine::Portable,
            11,
            "64692f7e57fb49854c2c82e9390692f60040740fa278a3eabc927f857c22077f",
        ),
        (
            Engine::Timescale,
            11,
            "529916021e0245e4317d69f7c0b7c6cd1d3f8dd9a102d655a54b6e83daa6d9f3",
        ),
        (
            Engine::Portable,
            12,
            "9bd40b3e2993f1d9fa9d547fc5c863ef5a4a30a7e266e7aa189da7651bdea781",
        ),
        (
            Engine::Timescale,
            12,
            "03e69d21e2175efb71d2e37d86e30900db45f4d4ecf46c465352d042f6403e4f",
        ),
        (
            Engine::Portable,
            13,
            "189597c7721891f69b2eeeff6dc4c36c052f8745f14935f2b8a407c119757bc8",
        ),
        (
            Engine::Timescale,
            13,
            "189597c7721891f69b2eeeff6dc4c36c052f8745f14935f2b8a407c119757bc8",
        ),
        (
            Engine::Portable,
            14,
            "ce5789f0ebd1cf3b2ecebc16e8d922969366b61feb4396a49d0fcdf39a5dff08",
        ),
        (
            Engine::Timescale,
            14,
            "8ec7c96ce22c9b9a3116b43efd4829bac4f8037d4fdf5d4af683d2a977c9d84c",
        ),
        (
            Engine::Portable,
            15,
            "f051bf7b91e8e91b1b1da6c06d61996fbb0fea641e9f3e318a087e6a7c3b0651",
        ),
        (
            Engine::Timescale,
            15,
            "7dc48fc6f8505ad04a325a503b3a4901407050b05a7dd27452ddf3aed253a385",
        ),
        (
            Engine::Portable,
            16,
            "d03853ff71e43eea192914d2651dd82d1233284719d390f9ef690352b1f03f32",
        ),
        (
            Engine::Portable,
            17,
            "e258de3090c81fcd55e3330c2a2331f98bed4765ef6dc0f253f03454f2f8816b",
        ),
        (
            Engine::Timescale,
            17,
            "4c21145834b0ae02fca382fa2a40af5805186b439db7964885262662cdc71b9e",
        ),
        (
            Engine::Timescale,
            18,
            "b31e59440fedb00198a52b37e1eae4a2266779e67cacce9d5f46fd9c0085b4df",
        ),
        (
            Engine::Portable,
            19,
            "4a7d41b9701f1d1ff2689be0e0ec190c5f4f1c9d942a849fe1fd687db3fd7c45",
        ),
        (
            Engine::Timescale,
            19,
            "b5f0a7f9bf276d5ba821ce564ceead8de7904ea67505c294f9b1fd53d5157dd9",
        ),
        (
            Engine::Portable,
            20,
            "0d4d32900e64b1d4a2c6dfbb2a006f338e0dd2d7bfa37bed7ed5a2b457985578",
        ),
        (
            Engine::Timescale,
            20,
            "0d4d32900e64b1d4a2c6dfbb2a006f338e0dd2d7bfa37bed7ed5a2b457985578",
        ),
        (
            Engine::Portable,
            21,
            "91e5d4483eab5927577069f8ae24ff9bb723e513a260af3e37f5fa3ff14509a7",
        ),
        (
            Engine::Timescale,
            21,
            "91e5d4483eab5927577069f8ae24ff9bb723e513a260af3e37f5fa3ff14509a7",
        ),
        (
            Engine::Portable,
            22,
            "c1e471eba9f4c74fe04a1eb32cec202e774e1f9be5e8020863f99beb32ee6146",
        ),
        (
            Engine::Timescale,
            22,
            "c1e471eba9f4c74fe04a1eb32cec202e774e1f9be5e8020863f99beb32ee6146",
        ),
        (
            Engine::Timescale,
            23,
            "6d8c69976cc72ca5f4397b499f69e21aa40ccfbf7e136aef1d6f5285c6d1b168",
        ),
        (
            Engine::Timescale,
            24,
            "89f93208055e04ac3b3860fc5ba289b365c73b18f535abcfb8cedddb9b13738f",
        ),
        (
            Engine::Timescale,
            25,
            "34cb5e8a583e0465b4f6ced2a5e914e061e56eceebbc9d0ef1fdc483806aba57",
        ),
        (
            Engine::Portable,
            26,
            "62ab61ee532035d22e032b4783ae7cd1511625294dfe169749f19ebc2adaad7d",
        ),
        (
            Engine::Portable,
            27,
            "999dd0ffbdf10c1574bf3b9dfbf2bd45d1e8f51f605572029488901ed49dd8cc",
        ),
        (
            Engine::Portable,
            28,
            "31a773dcb9f6eb1b721bb65edb8745d4df670678d5918df4049537650333874e",
        ),
        (
            Engine::Portable,
            29,
            "1a3dbe7baef8c096775b722da9894cff3054e7fb63181cfee281a295a9f9983a",
        ),
        (
            Engine::Portable,
            30,
            "b8e67bfe95edc0d436845c9e81bed854a978c24116db296584354b77f871d262",
        ),
        (
            Engine::Timescale,
            26,
            "e35978229529894b62d250c671bce2bda7a375f79e87bd8ef4640acfe5c6e86d",
        ),
        (
            Engine::Timescale,
            27,
            "bf790d4ceb2a160244a52c14adc40fcea004029303b957f1d062ec1d9339f645",
        ),
        (
            Engine::Timescale,
            28,
            "c18afc9c084d934abff9f2e717c1eef32922a099fe186eafd30c617b49d116c9",
        ),
        (
            Engine::Timescale,
            29,
            "69bf4d7d3fd93e045b774ae830d0a552fd9e7bb6b8e7aed33fe108f6cb0ad537",
        ),
    ];

    const ENGINES: [Engine; 2] = [Engine::Portable, Engine::Timescale];

    #[test]
    fn no_released_migration_was_edited() {
        let mut problems = Vec::new();
        for engine in ENGINES {
            for m in migrations(engine) {
                let ours = checksum(m.sql);
                match RELEASED
                    .iter()
                    .find(|(e, v, _)| *e == engine && *v == m.version)
                {
                    Some((_, _, released)) if *released == ours => {}
                    Some((_, _, released)) => problems.push(format!(
                        "crates/store/migrations/{} (version {} on {engine}) changed: released as {released}, now {ours}. \
                         A released migration is never edited: restore it and ship a new migration instead",
                        m.file, m.version
                    )),
                    None => problems.push(format!(
                        "crates/store/migrations/{} (version {} on {engine}) has no released checksum: \
                         add (Engine::{engine:?}, {}, \"{ours}\") to RELEASED",
                        m.file, m.version, m.version
                    )),
                }
            }
        }
        for (engine, version, _) in RELEASED {
            if !migrations(*engine).iter().any(|m| m.version == *version) {
                problems.push(format!(
                    "version {version} on {engine} was released and is gone: ship a new migration instead"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn a_file_is_numbered_by_its_version() {
        for engine in ENGINES {
            let mut last = 0;
            for m in migrations(engine) {
                assert!(m.version > last, "{}: versions rise", m.file);
                last = m.version;
                let (folder, file) = m.file.split_once('/').unwrap();
                assert!(
                    folder == "common" || folder == engine.as_str(),
                    "{}: in common/ or {engine}/",
                    m.file
                );
                assert_eq!(
                    file,
                    format!("{:04}_{}.sql", m.version, m.name),
                    "the file's number is its version on {engine}"
                );
            }
        }
        // A common file has one version, so it is applied by both engines
        // under the same number.
        for m in migrations(Engine::Portable)
            .iter()
            .filter(|m| m.file.starts_with("common/"))
        {
            assert!(
                migrations(Engine::Timescale)
                    .iter()
                    .any(|t| t.file == m.file && t.version == m.version),
                "{} is applied by both engines",
                m.file
            );
        }
    }

    #[test]
    fn every_file_in_the_folders_is_a_migration() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for folder in ["common", "portable", "timescale"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let name = format!("{folder}/{}", entry.unwrap().file_name().to_string_lossy());
                assert!(
                    ENGINES
                        .iter()
                        .any(|e| migrations(*e).iter().any(|m| m.file == name)),
                    "{name} is applied by no engine"
                );
            }
        }
    }

    #[test]
    fn the_checksum_ignores_line_ends() {
        assert_eq!(checksum("a;\nb;\n"), checksum("a;\r\nb;\r\n"));
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
