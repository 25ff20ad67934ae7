//! Test support (zero2prod's `tests/api/helpers.rs`, for our two engines).
//!
//! * One throwaway PostgreSQL cluster per test process, started on first use
//!   from the machine's server binaries (the same code as the embedded
//!   default) under `/tmp/organism-test-<pid>`, without fsync. It stops when
//!   the process ends (parent-death signal); clusters left by earlier,
//!   killed runs are removed at the next start.
//! * A fresh database per test, so tests never see each other's rows.
//! * [`store_or_skip`] for the timescale engine: where TimescaleDB is not
//!   installed it prints why and the test returns; where it is, the test
//!   runs, and a failure to set the engine up fails the test.
#![allow(clippy::disallowed_methods)] // tests read PATH and skip flags from the environment

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use organism_pgcluster::{ClusterOptions, EmbeddedCluster};
use organism_store::{DbSettings, Engine, EngineChoice, Store};

pub use organism_store;

static CLUSTER: OnceLock<Result<EmbeddedCluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The process's cluster, started on first call.
pub fn cluster() -> &'static EmbeddedCluster {
    let cluster = CLUSTER.get_or_init(|| {
        remove_stale_clusters();
        let root = std::env::temp_dir().join(format!("organism-test-{}", std::process::id()));
        let mut options = ClusterOptions::new(root);
        options.durable = false;
        options.search_path = std::env::var("PATH").ok();
        options.settings = vec![
            ("shared_buffers".into(), "128MB".into()),
            ("max_connections".into(), "300".into()),
            // No TimescaleDB background job (compression policy) may race
            // what a test measures: tests run every job by explicit calls.
            ("timescaledb.max_background_workers".into(), "0".into()),
        ];
        EmbeddedCluster::start(options).map_err(|e| e.to_string())
    });
    match cluster {
        Ok(c) => c,
        Err(e) => panic!("cannot start the test PostgreSQL cluster: {e}"),
    }
}

/// Removes `/tmp/organism-test-<pid>` directories whose process is gone.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("organism-test-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Creates an empty database in the test cluster and returns its settings.
pub async fn fresh_database() -> DbSettings {
    let cluster = cluster();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) = tokio_postgres::connect(
        &cluster.connection_string("postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to the test cluster");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = driver.await;
    let mut settings =
        DbSettings::from_url(&cluster.connection_string(&name)).expect("valid connection string");
    settings.pool_size = 8;
    settings
}

/// A store on a fresh database with the given engine.
pub async fn store(engine: Engine) -> Store {
    let choice = match engine {
        Engine::Portable => EngineChoice::Portable,
        Engine::Timescale => EngineChoice::Timescale,
    };
    let settings = fresh_database().await.with_engine(choice);
    let store = Store::open(settings)
        .await
        .unwrap_or_else(|e| panic!("open a {engine} store: {e}"));
    assert_eq!(store.engine(), engine);
    store
}

/// Why the timescale engine cannot run here, if it cannot.
pub fn timescale_unavailable() -> Option<String> {
    let cluster = cluster();
    if cluster.binaries().has_timescaledb() {
        None
    } else {
        Some(format!(
            "the TimescaleDB extension is not installed for PostgreSQL {} (no timescaledb.control under {})",
            cluster.binaries().major,
            cluster
                .binaries()
                .share_dir
                .as_ref()
                .map_or("the share directory".into(), |d| d
                    .join("extension")
                    .display()
                    .to_string())
        ))
    }
}

/// A store for `engine`, or `None` (after printing why) when the engine
/// cannot run on this machine. Only the timescale engine can be absent.
pub async fn store_or_skip(engine: Engine, test: &str) -> Option<Store> {
    if engine == Engine::Timescale
        && let Some(why) = timescale_unavailable()
    {
        // The test command sets this when it finds TimescaleDB installed:
        // then a skip would hide a broken set-up, so it fails instead.
        if std::env::var_os("ORGANISM_REQUIRE_TIMESCALE").is_some_and(|v| v == "1") {
            panic!(
                "{test} on the timescale engine: TimescaleDB is required here (ORGANISM_REQUIRE_TIMESCALE=1) but {why}"
            );
        }
        eprintln!("SKIPPED {test} on the timescale engine: {why}");
        return None;
    }
    Some(store(engine).await)
}

/// A superuser connection to the database behind `settings` (for tests that
/// must go around the service: disabling a trigger, counting rows).
pub async fn superuser(settings: &DbSettings, schema: &str) -> tokio_postgres::Client {
    let mut config = settings.connection.clone();
    config.options(format!("-c search_path={schema},public -c TimeZone=UTC"));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("superuser connection");
    tokio::spawn(connection);
    client
}

/// Defines one test per engine for each listed async function taking a
/// `Store`: `mod portable { fn case }` and `mod timescale { fn case }`.
#[macro_export]
macro_rules! engine_tests {
    ($($case:ident),* $(,)?) => {
        mod portable {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = $crate::store($crate::organism_store::Engine::Portable).await;
                    super::$case(store).await;
                }
            )*
        }
        mod timescale {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $crate::store_or_skip(
                        $crate::organism_store::Engine::Timescale,
                        stringify!($case),
                    ).await else { return };
                    super::$case(store).await;
                }
            )*
        }
    };
}

/// Defines one test per engine for each listed async function taking an
/// `Engine` (a test that starts its own servers or binaries):
/// `mod portable { fn case }` and `mod timescale { fn case }`. The case
/// itself skips the timescale engine where it cannot run
/// ([`store_or_skip`] says why).
#[macro_export]
macro_rules! engine_cases {
    ($($case:ident),+ $(,)?) => {
        mod portable {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::organism_store::Engine::Portable).await;
                }
            )+
        }
        mod timescale {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::organism_store::Engine::Timescale).await;
                }
            )+
        }
    };
}

/// A TCP port on 127.0.0.1 free a moment ago (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// Polls `probe` every 100 ms until it answers `Ok`; after `wait`, fails
/// the test with `what` and the last `Err` it gave. Waiting by deadlines,
/// never by fixed sleeps.
pub async fn until<T, F, Fut>(what: &str, wait: std::time::Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if tokio::time::Instant::now() > deadline => {
                panic!("timed out waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// Every variable the `organism` binary reads its database settings (and
/// signing key) from: binary tests start the child with none of the test
/// process's, only the ones a test sets.
pub const DATABASE_VARIABLES: [&str; 10] = [
    "DATABASE_URL",
    "TIMESCALE_HOST",
    "TIMESCALE_PORT",
    "TIMESCALE_DB",
    "TIMESCALE_USER",
    "TIMESCALE_PASSWORD",
    "ORGANISM_ENGINE",
    "ORGANISM_SCHEMA",
    "ORGANISM_DATA_DIR",
    "ORGANISM_AUDIT_SIGNING_KEY",
];
