//! The real binary's commands against a throwaway database: `migrate`,
//! `ingest`, `graph` (CSV and Parquet) and `maintain` on each engine (through the storage
//! suite's macro: `portable::<test>`, `timescale::<test>`), and the
//! configuration's precedence (a flag over its environment variable,
//! `DATABASE_URL` over `TIMESCALE_*`) and the `auto` engine on a fresh
//! database.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use organism_testkit::organism_store::{Engine, Store};

use organism_testkit::DATABASE_VARIABLES;

/// Runs `organism args…` with exactly these database variables.
async fn organism(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"));
    for name in DATABASE_VARIABLES {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .env("ORGANISM_LOG", "warn");
    command.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dbname(store: &Store) -> String {
    store
        .settings()
        .connection
        .get_dbname()
        .unwrap()
        .to_string()
}

/// The connection string of `store`'s database.
fn url_of(store: &Store) -> String {
    organism_testkit::cluster().connection_string(&dbname(store))
}

/// A fresh, empty database (no schema yet) and its connection string.
async fn empty_database() -> String {
    let settings = organism_testkit::fresh_database().await;
    organism_testkit::cluster().connection_string(settings.connection.get_dbname().unwrap())
}

/// `organism --engine <engine> args…` on `store`'s database.
async fn on_store(store: &Store, args: &[&str]) -> Output {
    let engine = store.engine().to_string();
    let mut all = vec!["--engine", engine.as_str()];
    all.extend_from_slice(args);
    organism(&all, &[("DATABASE_URL", &url_of(store))]).await
}

/// A directory of its own for a test's files, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("organism-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Rows of a table in `schema`, counted behind the service's back.
async fn count(store: &Store, schema: &str, sql: &str) -> i64 {
    organism_testkit::superuser(store.settings(), schema)
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

/// The start of the hour two hours ago: inside the sample window, and
/// nothing a test checks depends on the time of day.
fn recent_hour() -> DateTime<Utc> {
    (Utc::now() - Duration::hours(2))
        .duration_trunc(Duration::hours(1))
        .unwrap()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

const HEADER: &str =
    "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score";

// ---- migrate ---------------------------------------------------------------

async fn migrate_sets_up_a_fresh_database_and_a_second_run_changes_nothing(store: Store) {
    // The case's store names the engine; migrate runs on a database of its own.
    let engine = store.engine().to_string();
    let url = empty_database().await;
    let args = ["--engine", engine.as_str(), "migrate"];
    let first = organism(&args, &[("DATABASE_URL", &url)]).await;
    assert_success(&first);

    let settings = organism_testkit::organism_store::DbSettings::from_url(&url).unwrap();
    let su = organism_testkit::superuser(&settings, "organism").await;
    let applied = || async {
        su.query(
            "SELECT version, applied_at::text FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
    };
    let before = applied().await;
    let latest = before.last().unwrap().0;
    assert_eq!(
        stdout(&first).trim(),
        format!("schema organism is at version {latest} ({engine} engine)")
    );
    let recorded: String = su
        .query_one("SELECT value FROM organism_meta WHERE key = 'engine'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, engine);

    let second = organism(&args, &[("DATABASE_URL", &url)]).await;
    assert_success(&second);
    assert_eq!(stdout(&second), stdout(&first));
    assert_eq!(
        applied().await,
        before,
        "a second migrate applied something"
    );
}

// ---- ingest ----------------------------------------------------------------

async fn ingest_stores_a_csv_and_an_ndjson_file(store: Store) {
    let dir = scratch(&format!("ingest-{}", dbname(&store)));
    let t = recent_hour();
    let csv = write(
        &dir,
        "a.csv",
        &format!(
            "{HEADER}\n{},c1,Core,0.1,0.2,0.3,10\n{},c2,Core,0.1,0.2,0.3,20\n{},c3,Edge,0.1,0.2,0.3,30\n",
            rfc3339(t),
            rfc3339(t),
            rfc3339(t + Duration::minutes(5)),
        ),
    );
    let row = |id: &str, burnout: f64| {
        serde_json::json!({
            "time": rfc3339(t), "employee_id": id, "team": "Edge",
            "degree_centrality": 0.1, "betweenness_centrality": 0.2,
            "clustering_coeff": 0.3, "burnout_score": burnout,
        })
    };
    let ndjson = write(
        &dir,
        "b.ndjson",
        &format!("{}\n{}\n", row("n1", 40.0), row("n2", 50.0)),
    );
    let out = on_store(&store, &["ingest", &csv, &ndjson]).await;
    assert_success(&out);
    let printed = stdout(&out);
    assert!(
        printed.contains("a.csv: 3 rows read, 3 stored"),
        "{printed}"
    );
    assert!(
        printed.contains("b.ndjson: 2 rows read, 2 stored"),
        "{printed}"
    );
    assert_eq!(
        count(&store, "organism", "SELECT count(*) FROM employee_metrics").await,
        5
    );
    let burnout: f64 = organism_testkit::superuser(store.settings(), "organism")
        .await
        .query_one(
            "SELECT burnout_score FROM employee_metrics WHERE employee_id = 'n2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(burnout, 50.0);
    if store.engine() == Engine::Timescale {
        // The hour had ended: the command refreshed it before it exited
        // (Store::settle_rollup), as a service's refresher would have.
        let client = organism_testkit::superuser(store.settings(), "organism").await;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM late_hours),
                        (cagg_materialised('employee_metrics_hourly_cagg')).watermark",
                &[],
            )
            .await
            .unwrap();
        let (late, watermark): (i64, Option<DateTime<Utc>>) = (row.get(0), row.get(1));
        assert_eq!(late, 0, "late hours left after the command");
        assert!(watermark.is_some_and(|w| w > t), "{watermark:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn ingest_of_a_file_with_a_bad_row_fails_naming_it_and_writes_nothing(store: Store) {
    let dir = scratch(&format!("ingest-bad-{}", dbname(&store)));
    let t = rfc3339(recent_hour());
    let bad = write(
        &dir,
        "bad.csv",
        &format!(
            "{HEADER}\n{t},c1,Core,0.1,0.2,0.3,10\n{t},c2,Core,0.1,0.2,0.3,101\n{t},c3,Core,0.1,0.2,0.3,30\n"
        ),
    );
    let out = on_store(&store, &["ingest", &bad]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.csv") && stderr.contains("row 2: burnout_score"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing of it was written"), "{stderr}");
    assert_eq!(
        count(&store, "organism", "SELECT count(*) FROM employee_metrics").await,
        0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- graph -----------------------------------------------------------------

async fn graph_writes_one_sample_per_directory_employee_at_the_snapshot_time(store: Store) {
    let dir = scratch(&format!("graph-{}", dbname(&store)));
    let at = recent_hour();
    let directory = write(
        &dir,
        "directory.csv",
        "employee_id,team\nemp_a,Core\nemp_b,Core\nemp_c,Edge\nemp_d,Edge\n",
    );
    let interactions = write(
        &dir,
        "interactions.csv",
        &format!(
            "from,to,time,channel\nemp_a,emp_b,{},email\nemp_b,emp_c,{},chat\nemp_c,emp_a,{},meeting\n",
            rfc3339(at - Duration::hours(3)),
            rfc3339(at - Duration::hours(2)),
            rfc3339(at - Duration::hours(1)),
        ),
    );
    let out = on_store(
        &store,
        &[
            "graph",
            "--interactions",
            &interactions,
            "--directory",
            &directory,
            "--at",
            &rfc3339(at),
        ],
    )
    .await;
    assert_success(&out);
    assert!(stdout(&out).contains("4 employees"), "{}", stdout(&out));
    assert_four_snapshot_samples(&store, at).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Parquet file of these string columns (and a `time` column of UTC
/// nanoseconds, as pandas writes a tz-aware column), two rows per row
/// group.
fn parquet_file(
    dir: &Path,
    name: &str,
    columns: &[(&str, Vec<&str>)],
    times: Option<Vec<DateTime<Utc>>>,
) -> String {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray, TimestampNanosecondArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;

    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (column, values) in columns {
        let array: ArrayRef = Arc::new(StringArray::from(values.clone()));
        fields.push(Field::new(*column, array.data_type().clone(), true));
        arrays.push(array);
    }
    if let Some(times) = times {
        let nanos: Vec<i64> = times
            .iter()
            .map(|t| t.timestamp_nanos_opt().unwrap())
            .collect();
        let array: ArrayRef = Arc::new(TimestampNanosecondArray::from(nanos).with_timezone("UTC"));
        fields.push(Field::new("time", array.data_type().clone(), true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.to_str().unwrap().to_string()
}

/// Interactions and the directory as Parquet (DESIGN §7): the same snapshot
/// as from CSV, and a malformed row named by its row number.
async fn graph_reads_parquet_interactions_and_directory(store: Store) {
    let dir = scratch(&format!("graph-parquet-{}", dbname(&store)));
    let at = recent_hour();
    let directory = parquet_file(
        &dir,
        "directory.parquet",
        &[
            ("employee_id", vec!["emp_a", "emp_b", "emp_c", "emp_d"]),
            ("team", vec!["Core", "Core", "Edge", "Edge"]),
        ],
        None,
    );
    let interactions = parquet_file(
        &dir,
        "interactions.parquet",
        &[
            ("from", vec!["emp_a", "emp_b", "emp_c", "emp_a"]),
            ("to", vec!["emp_b", "emp_c", "emp_a", "emp_d"]),
            ("channel", vec!["email", "chat", "meeting", "fax"]),
        ],
        Some(vec![
            at - Duration::hours(3),
            at - Duration::hours(2),
            at - Duration::hours(1),
            at - Duration::hours(1),
        ]),
    );
    let out = on_store(
        &store,
        &[
            "graph",
            "--interactions",
            &interactions,
            "--directory",
            &directory,
            "--at",
            &rfc3339(at),
        ],
    )
    .await;
    assert_success(&out);
    let printed = stdout(&out);
    assert!(printed.contains("4 employees, 3 edges"), "{printed}");
    assert!(printed.contains("1 malformed rows skipped"), "{printed}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("interactions.parquet: row 4 skipped: unknown channel `fax`"),
        "{stderr}"
    );
    assert_four_snapshot_samples(&store, at).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The graph fixture's four employees, one sample each at `at`, with their
/// teams.
async fn assert_four_snapshot_samples(store: &Store, at: DateTime<Utc>) {
    let su = organism_testkit::superuser(store.settings(), "organism").await;
    let rows = su
        .query(
            "SELECT employee_id, team, time FROM employee_metrics ORDER BY employee_id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, Option<String>, DateTime<Utc>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let team = |t: &str| Some(t.to_string());
    assert_eq!(
        got,
        vec![
            ("emp_a".into(), team("Core"), at),
            ("emp_b".into(), team("Core"), at),
            ("emp_c".into(), team("Edge"), at),
            ("emp_d".into(), team("Edge"), at),
        ]
    );
}

// ---- maintain --------------------------------------------------------------

async fn maintain_runs_every_job_and_status_reports_each(store: Store) {
    let out = on_store(&store, &["maintain", "--status"]).await;
    assert_success(&out);
    assert!(
        stdout(&out).starts_with("no lifecycle job has run yet\n"),
        "{}",
        stdout(&out)
    );

    let out = on_store(&store, &["maintain", "--job", "all"]).await;
    assert_success(&out);
    let printed = stdout(&out);
    for job in ["partitions", "retention", "compression"] {
        assert!(printed.contains(&format!("{job}: ok in ")), "{printed}");
    }

    let out = on_store(&store, &["maintain", "--status"]).await;
    assert_success(&out);
    let printed = stdout(&out);
    for job in ["partitions", "retention", "compression"] {
        let line = printed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(job))
            .unwrap_or_else(|| panic!("no {job} in the status: {printed}"));
        assert!(line.contains(": ok;"), "{line}");
        assert!(line.contains("1 runs, 0 failed"), "{line}");
    }
    assert!(!printed.contains("FAILED"), "{printed}");
}

organism_testkit::engine_tests!(
    migrate_sets_up_a_fresh_database_and_a_second_run_changes_nothing,
    ingest_stores_a_csv_and_an_ndjson_file,
    ingest_of_a_file_with_a_bad_row_fails_naming_it_and_writes_nothing,
    graph_writes_one_sample_per_directory_employee_at_the_snapshot_time,
    graph_reads_parquet_interactions_and_directory,
    maintain_runs_every_job_and_status_reports_each,
);

// ---- configuration ---------------------------------------------------------
// Which setting wins does not depend on the engine: these run on portable.

/// Whether `schema` exists in the database at `url`.
async fn has_schema(url: &str, schema: &str) -> bool {
    let settings = organism_testkit::organism_store::DbSettings::from_url(url).unwrap();
    organism_testkit::superuser(&settings, "public")
        .await
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_wins_over_its_environment_variable() {
    let url = empty_database().await;
    let elsewhere = empty_database().await;
    let out = organism(
        &[
            "--engine",
            "portable",
            "--schema",
            "from_flag",
            "--database-url",
            &url,
            "migrate",
        ],
        &[
            ("ORGANISM_SCHEMA", "from_env"),
            ("DATABASE_URL", &elsewhere),
            ("ORGANISM_ENGINE", "timescale"),
        ],
    )
    .await;
    assert_success(&out);
    assert!(
        stdout(&out).starts_with("schema from_flag is at version"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("(portable engine)"),
        "{}",
        stdout(&out)
    );
    assert!(has_schema(&url, "from_flag").await);
    assert!(!has_schema(&url, "from_env").await);
    assert!(!has_schema(&elsewhere, "from_flag").await);
    assert!(!has_schema(&elsewhere, "from_env").await);

    // Without the flags, the variables are read (the test above is not vacuous).
    let out = organism(
        &["migrate"],
        &[
            ("ORGANISM_SCHEMA", "from_env"),
            ("DATABASE_URL", &elsewhere),
            ("ORGANISM_ENGINE", "portable"),
        ],
    )
    .await;
    assert_success(&out);
    assert!(has_schema(&elsewhere, "from_env").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_url_wins_over_the_timescale_variables() {
    let cluster = organism_testkit::cluster();
    let by_url = organism_testkit::fresh_database().await;
    let by_parts = organism_testkit::fresh_database().await;
    let url = cluster.connection_string(by_url.connection.get_dbname().unwrap());
    let socket = cluster.socket_dir().to_str().unwrap().to_string();
    let port = cluster.port().to_string();
    let parts_db = by_parts.connection.get_dbname().unwrap().to_string();
    let parts = [
        ("TIMESCALE_HOST", socket.as_str()),
        ("TIMESCALE_PORT", port.as_str()),
        ("TIMESCALE_DB", parts_db.as_str()),
        ("TIMESCALE_USER", "postgres"),
        ("ORGANISM_ENGINE", "portable"),
    ];
    let mut both = parts.to_vec();
    both.push(("DATABASE_URL", &url));
    let out = organism(&["migrate"], &both).await;
    assert_success(&out);
    let parts_url = cluster.connection_string(&parts_db);
    assert!(has_schema(&url, "organism").await);
    assert!(!has_schema(&parts_url, "organism").await);

    // The TIMESCALE_* variables alone do reach their database.
    let out = organism(&["migrate"], &parts).await;
    assert_success(&out);
    assert!(has_schema(&parts_url, "organism").await);
}

/// `organism migrate` with the default `--engine auto`: the engine it
/// printed.
async fn auto_engine_on(url: &str) -> String {
    let out = organism(&["migrate"], &[("DATABASE_URL", url)]).await;
    assert_success(&out);
    let printed = stdout(&out);
    printed
        .trim()
        .strip_suffix(" engine)")
        .and_then(|s| s.rsplit_once('('))
        .map(|(_, engine)| engine.to_string())
        .unwrap_or_else(|| panic!("{printed}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_chooses_portable_on_a_server_without_timescaledb() {
    // A private cluster of a PostgreSQL without the extension (Debian's).
    let binaries = organism_pgcluster::PgBinaries::locate(None, None).unwrap();
    if binaries.has_timescaledb() {
        eprintln!(
            "SKIPPED auto_chooses_portable_on_a_server_without_timescaledb: the PostgreSQL under {} has TimescaleDB; no server without it to try",
            binaries.bin_dir.display()
        );
        return;
    }
    let root = std::env::temp_dir().join(format!("organism-test-{}-plain", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut options = organism_pgcluster::ClusterOptions::new(&root);
    options.durable = false;
    options.bin_dir = Some(binaries.bin_dir.clone());
    let cluster =
        tokio::task::spawn_blocking(move || organism_pgcluster::EmbeddedCluster::start(options))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        auto_engine_on(&cluster.connection_string("postgres")).await,
        "portable"
    );
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_chooses_timescale_on_a_fresh_database_where_it_is_installed() {
    // Skips loudly (or fails under ORGANISM_REQUIRE_TIMESCALE=1) where the
    // test cluster has no TimescaleDB.
    let Some(_) = organism_testkit::store_or_skip(
        Engine::Timescale,
        "auto_chooses_timescale_on_a_fresh_database_where_it_is_installed",
    )
    .await
    else {
        return;
    };
    let url = empty_database().await;
    assert_eq!(auto_engine_on(&url).await, "timescale");
}

/// A file that cannot be read is named before anything starts: no embedded
/// cluster is created for it.
#[tokio::test]
async fn ingest_of_a_missing_file_names_it_and_creates_no_cluster() {
    let dir = std::env::temp_dir().join(format!("organism-test-typo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("organism-data");
    let typo = dir.join("typo.csv");
    let out = organism(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "ingest",
            typo.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("typo.csv") && stderr.contains("cannot be read"),
        "{stderr}"
    );
    assert!(!data.exists(), "no data directory was made for a typo");
    let _ = std::fs::remove_dir_all(&dir);
}
