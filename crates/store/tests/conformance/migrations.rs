//! Upgrades and released migrations: a database an older release left ends,
//! after `migrate`, with the schema and the answers of a fresh one, and a
//! database whose applied migrations differ from this build's files is
//! refused.
//!
//! "The schema" is compared as the catalog's own text of every function,
//! view, column, index, constraint and trigger in the schema, between two
//! databases whose schemas have the same name (partitions, which follow the
//! data, left out).

use organism_testkit::organism_store::schema::{self, checksum, migrate_to, migrations};
use organism_testkit::organism_store::{DbSettings, Engine, EngineChoice, Store, StoreError};

use crate::data::{count_rows, now, seed};
use crate::rollup::{answers, assert_same};

fn choice(engine: Engine) -> EngineChoice {
    match engine {
        Engine::Portable => EngineChoice::Portable,
        Engine::Timescale => EngineChoice::Timescale,
    }
}

/// The SQL of `version` as this build has it.
fn sql_of(engine: Engine, version: i32) -> &'static str {
    migrations(engine)
        .iter()
        .find(|m| m.version == version)
        .unwrap()
        .sql
}

/// Portable's `0008_rollup_levels.sql` as it stood after its last edit in
/// place (commit 8ca32b3), before it was restored to its released text and
/// the difference shipped as version 10.
const PORTABLE_0008_AS_EDITED: &str = include_str!("fixtures/portable_0008_as_edited.sql");

/// A fresh database with this build's migrations applied up to `version`.
async fn database_at(engine: Engine, version: i32) -> DbSettings {
    let settings = organism_testkit::fresh_database()
        .await
        .with_engine(choice(engine));
    let mut client = organism_testkit::superuser(&settings, "public").await;
    let made = migrate_to(&mut client, &settings.schema, choice(engine), version)
        .await
        .unwrap();
    assert_eq!(made, engine);
    settings
}

/// The catalog's text of everything the schema defines, sorted.
async fn catalog(settings: &DbSettings) -> Vec<String> {
    let client = organism_testkit::superuser(settings, &settings.schema).await;
    let queries = [
        "SELECT 'function ' || p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid)
         FROM pg_proc p
         WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND p.prokind IN ('f', 'p')",
        "SELECT 'relation ' || c.relname || ' (' || c.relkind::text || '): '
                || string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                              || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                              || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                              ', ' ORDER BY a.attnum)
         FROM pg_class c
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
         GROUP BY c.relname, c.relkind",
        "SELECT 'view ' || c.relname || E'\n' || pg_get_viewdef(c.oid)
         FROM pg_class c
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND c.relkind IN ('v', 'm')",
        "SELECT 'index ' || pg_get_indexdef(i.indexrelid)
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
         WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND NOT t.relispartition",
        "SELECT 'constraint ' || t.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
         WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND NOT t.relispartition",
        "SELECT 'trigger ' || pg_get_triggerdef(g.oid)
         FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
         WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
           AND NOT t.relispartition AND NOT g.tgisinternal",
    ];
    let mut all = Vec::new();
    for q in queries {
        for row in client.query(q, &[&settings.schema]).await.unwrap() {
            all.push(row.get::<_, String>(0));
        }
    }
    for row in client
        .query(
            "SELECT 'migration ' || version || ' ' || name FROM schema_migrations",
            &[],
        )
        .await
        .unwrap()
    {
        all.push(row.get::<_, String>(0));
    }
    assert!(
        all.iter()
            .any(|x| x.starts_with("relation employee_metrics "))
    );
    all.sort();
    all
}

/// Names what one catalog has and the other lacks.
fn assert_same_catalog(upgraded: &[String], fresh: &[String]) {
    let only_upgraded: Vec<_> = upgraded.iter().filter(|x| !fresh.contains(x)).collect();
    let only_fresh: Vec<_> = fresh.iter().filter(|x| !upgraded.contains(x)).collect();
    assert!(
        only_upgraded.is_empty() && only_fresh.is_empty(),
        "only in the upgraded database:\n{only_upgraded:#?}\nonly in the fresh one:\n{only_fresh:#?}"
    );
}

/// The stores' row counts that the refresh fills (portable).
async fn store_counts(store: &Store) -> (i64, i64, i64) {
    (
        count_rows(store, "employee_metrics_hourly_store").await,
        count_rows(store, "metrics_hourly_org_store").await,
        count_rows(store, "employee_team_daily_store").await,
    )
}

/// A database a release left at version 8 (portable's 0008 as released:
/// the organisation's hours and member-days over the real-time hourly view)
/// is migrated to the schema a fresh database gets, and then answers as a
/// fresh one for the same data.
async fn a_version_8_database_upgrades_to_the_fresh_schema(store: Store) {
    let engine = store.engine();
    let settings = database_at(engine, 8).await;
    let at_8 = catalog(&settings).await;
    assert!(at_8.iter().all(|x| !x.starts_with("migration 9 ")));
    if engine == Engine::Portable {
        // What the released 0008 made, and the later edits did not.
        for made in [
            "function org_hours_from(",
            "function team_days_from(",
            "view employee_team_daily\n",
        ] {
            assert!(at_8.iter().any(|x| x.starts_with(made)), "{made}");
        }
    }
    let upgraded = Store::open(settings.clone()).await.unwrap();
    assert_eq!(upgraded.engine(), engine);
    assert_eq!(
        upgraded.schema_version().await.unwrap(),
        schema::current_version(engine)
    );
    assert_same_catalog(&catalog(&settings).await, &catalog(store.settings()).await);

    for s in [&store, &upgraded] {
        seed(s).await;
        s.refresh_rollup(now()).await.unwrap();
    }
    assert_same(&answers(&upgraded).await, &answers(&store).await);
    if engine == Engine::Portable {
        assert_eq!(store_counts(&upgraded).await, store_counts(&store).await);
    }
}

/// Every migration applied by this build records its file's checksum, and a
/// database whose recorded checksum differs from this build's is refused,
/// naming the file; rows without one (applied by an older build) are not
/// checked.
async fn an_applied_migration_edited_since_is_refused(store: Store) {
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let recorded: Vec<(i32, Option<String>)> = client
        .query(
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(i32, Option<String>)> = migrations(store.engine())
        .iter()
        .map(|m| (m.version, Some(checksum(m.sql))))
        .collect();
    assert_eq!(recorded, expected);

    client
        .batch_execute("UPDATE schema_migrations SET checksum = NULL")
        .await
        .unwrap();
    Store::open(store.settings().clone()).await.unwrap();

    let edited = checksum(&format!("{}\n-- edited", sql_of(store.engine(), 8)));
    client
        .execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE version = 8",
            &[&edited],
        )
        .await
        .unwrap();
    let err = Store::open(store.settings().clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
    let message = err.to_string();
    let file = format!("{}/0008_rollup_levels.sql", store.engine());
    for part in [
        file.as_str(),
        edited.as_str(),
        "ship a new migration instead",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}

organism_testkit::engine_tests!(
    a_version_8_database_upgrades_to_the_fresh_schema,
    an_applied_migration_edited_since_is_refused,
);

/// Takes a portable database at the current version back to version 9 with
/// `sql_0008` as the bodies of version 8: drops what 0008 and 10 define
/// besides the stores (and, by CASCADE, what later versions built on them),
/// runs `sql_0008`, and forgets every version from 10 on, which opening
/// applies again (migrations are idempotent).
async fn back_to_version_9_with(store: &Store, sql_0008: &str) {
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute(&format!(
            "DROP FUNCTION IF EXISTS team_member_days(text, timestamptz, timestamptz) CASCADE;
             DROP VIEW IF EXISTS metrics_hourly_org, rollup_invalid_days CASCADE;
             DROP FUNCTION IF EXISTS org_hours_from_raw(timestamptz, timestamptz) CASCADE;
             DROP FUNCTION IF EXISTS org_hours_from_store(timestamptz, timestamptz) CASCADE;
             DROP FUNCTION IF EXISTS team_days_from_store(timestamptz, timestamptz) CASCADE;
             {sql_0008}
             ;
             DELETE FROM schema_migrations WHERE version >= 10;"
        ))
        .await
        .unwrap();
}

/// What version 10 defines or drops, in a catalog.
fn of_version_10(catalog: &[String]) -> Vec<String> {
    const OBJECTS: [&str; 10] = [
        "function org_hours_from_raw(",
        "function org_hours_from_store(",
        "function team_days_from_store(",
        "function team_member_days(",
        "function org_hours_from(",
        "function team_days_from(",
        "view metrics_hourly_org\n",
        "relation metrics_hourly_org ",
        "view employee_team_daily\n",
        "relation employee_team_daily ",
    ];
    catalog
        .iter()
        .filter(|x| OBJECTS.iter().any(|o| x.starts_with(o)))
        .cloned()
        .collect()
}

/// A database at version 9 made by the released 0008 (its functions and
/// views, and stores that lack hours and days, as a version-7 database the
/// released 0008 upgraded does): version 10 brings it to the fresh schema,
/// fills what the stores lack, and every answer stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portable_version_10_brings_a_released_0008_database_to_the_fresh_schema() {
    let store = organism_testkit::store(Engine::Portable).await;
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let before = answers(&store).await;
    let counts = store_counts(&store).await;
    assert_eq!(counts, (7, 6, 3));

    back_to_version_9_with(&store, sql_of(Engine::Portable, 8)).await;
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute(
            "DELETE FROM metrics_hourly_org_store WHERE bucket IN ('2026-06-01 10:00Z', '2026-06-09 10:00Z');
             DELETE FROM employee_team_daily_store WHERE bucket = '2026-06-01 00:00Z';",
        )
        .await
        .unwrap();

    let at_9 = catalog(store.settings()).await;
    assert!(
        at_9.iter()
            .any(|x| x.starts_with("view employee_team_daily\n"))
    );

    let upgraded = Store::open(store.settings().clone()).await.unwrap();
    let fresh = organism_testkit::store(Engine::Portable).await;
    assert_same_catalog(
        &catalog(upgraded.settings()).await,
        &catalog(fresh.settings()).await,
    );
    assert_eq!(store_counts(&upgraded).await, counts);
    assert_same(&before, &answers(&upgraded).await);
    upgraded.refresh_rollup(now()).await.unwrap();
    assert_same(&before, &answers(&upgraded).await);
}

/// A database made by 0008 as it was edited in place (it has the current
/// bodies and full stores): version 10 changes nothing in it, and it ends
/// with the schema and the answers of a fresh database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portable_version_10_changes_nothing_in_an_edited_0008_database() {
    let store = organism_testkit::store(Engine::Portable).await;
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let before = answers(&store).await;
    let counts = store_counts(&store).await;
    let fresh_catalog = catalog(store.settings()).await;

    back_to_version_9_with(&store, PORTABLE_0008_AS_EDITED).await;
    // The edited 0008 made what version 10 makes.
    let at_9 = of_version_10(&catalog(store.settings()).await);
    let at_10 = of_version_10(&catalog(&database_at(Engine::Portable, 10).await).await);
    assert_eq!(at_9.len(), 6, "{at_9:#?}");
    assert_same_catalog(&at_9, &at_10);

    let upgraded = Store::open(store.settings().clone()).await.unwrap();
    assert_same_catalog(&catalog(upgraded.settings()).await, &fresh_catalog);
    assert_eq!(store_counts(&upgraded).await, counts);
    assert_same(&before, &answers(&upgraded).await);
}

/// Rows of `raw_team_days`, sorted.
async fn team_days(store: &Store) -> Vec<(String, chrono::NaiveDate, String)> {
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .query(
            "SELECT team, day, employee_id FROM raw_team_days ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The team Edge's trend over 60 days (a packed day and two raw ones).
async fn edge_trend(store: &Store) -> Vec<(chrono::NaiveDate, i64, f64)> {
    use organism_domain::{TeamName, TrendDays};
    let trend = store
        .team_trend(
            &TeamName::parse("Edge").unwrap(),
            TrendDays::new(60).unwrap(),
            now(),
        )
        .await
        .unwrap();
    trend
        .days
        .iter()
        .map(|d| (d.day, d.samples, d.burnout_score))
        .collect()
}

/// A database from before the version (portable's 26, timescale's 29)
/// that replaced the raw rows' (team, time) index by `raw_team_days`: the
/// migration records the team days of the raw and the packed or
/// compressed samples it holds, and drops the index. The team reads
/// answer as before, and the schema is a fresh one's.
async fn the_team_days_migration_records_the_samples_already_stored(store: Store, version: i32) {
    seed(&store).await;
    // emp_d's 1 May is packed or compressed (no refresh: every read below
    // goes to the raw rows).
    let packed = store.compress(now()).await.unwrap();
    match store.engine() {
        Engine::Portable => assert_eq!(packed.chunks_compressed, 1, "{packed:?}"),
        Engine::Timescale => assert!(packed.chunks_compressed >= 1, "{packed:?}"),
    }
    let recorded = team_days(&store).await;
    assert_eq!(recorded.len(), 6, "{recorded:#?}");
    let before = (answers(&store).await, edge_trend(&store).await);
    assert_eq!(before.1.len(), 3, "{:?}", before.1);
    let fresh_catalog = catalog(store.settings()).await;

    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute(&format!(
            "DROP TABLE raw_team_days;
             CREATE INDEX employee_metrics_team_time ON employee_metrics (team, time DESC);
             DELETE FROM schema_migrations WHERE version = {version};"
        ))
        .await
        .unwrap();
    let upgraded = Store::open(store.settings().clone()).await.unwrap();
    assert_eq!(team_days(&upgraded).await, recorded);
    assert_same_catalog(&catalog(upgraded.settings()).await, &fresh_catalog);
    assert_same(&before.0, &answers(&upgraded).await);
    assert_eq!(edge_trend(&upgraded).await, before.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portable_version_26_records_the_team_days_of_the_samples_already_stored() {
    let store = organism_testkit::store(Engine::Portable).await;
    the_team_days_migration_records_the_samples_already_stored(store, 26).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescale_version_29_records_the_team_days_of_the_samples_already_stored() {
    let Some(store) = organism_testkit::store_or_skip(
        Engine::Timescale,
        "timescale_version_29_records_the_team_days_of_the_samples_already_stored",
    )
    .await
    else {
        return;
    };
    the_team_days_migration_records_the_samples_already_stored(store, 29).await;
}
