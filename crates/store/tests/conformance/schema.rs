//! The schema manager and the pool: idempotent migrations, the engine a
//! database was made with, and the two kinds of "cannot get a connection".

use std::time::Duration;

use futures_util::stream;
use organism_domain::MetricSample;
use organism_testkit::organism_store::schema::current_version;
use organism_testkit::organism_store::{DbSettings, Engine, EngineChoice, Store, StoreError};

use crate::data::{count_rows, seed};

fn other(engine: Engine) -> EngineChoice {
    match engine {
        Engine::Portable => EngineChoice::Timescale,
        Engine::Timescale => EngineChoice::Portable,
    }
}

fn same(engine: Engine) -> EngineChoice {
    match engine {
        Engine::Portable => EngineChoice::Portable,
        Engine::Timescale => EngineChoice::Timescale,
    }
}

async fn opening_again_migrates_nothing_and_keeps_the_data(store: Store) {
    seed(&store).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        current_version(store.engine())
    );
    for choice in [EngineChoice::Auto, same(store.engine())] {
        let again = Store::open(store.settings().clone().with_engine(choice))
            .await
            .unwrap();
        assert_eq!(again.engine(), store.engine());
        assert_eq!(
            again.schema_version().await.unwrap(),
            current_version(store.engine())
        );
    }
    assert_eq!(count_rows(&store, "employee_metrics").await, 8);
}

async fn a_database_keeps_the_engine_it_was_made_with(store: Store) {
    let settings = store.settings().clone().with_engine(other(store.engine()));
    let err = Store::open(settings).await.unwrap_err();
    assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains(store.engine().to_string().as_str()),
        "the error names the engine in place: {err}"
    );
}

async fn drop_schema_removes_everything_and_open_rebuilds_it(store: Store) {
    seed(&store).await;
    store.drop_schema().await.unwrap();
    let client = organism_testkit::superuser(store.settings(), "public").await;
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&store.settings().schema],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists);
    let again = Store::open(store.settings().clone()).await.unwrap();
    assert_eq!(count_rows(&again, "employee_metrics").await, 0);
}

organism_testkit::engine_tests!(
    opening_again_migrates_nothing_and_keeps_the_data,
    a_database_keeps_the_engine_it_was_made_with,
    drop_schema_removes_everything_and_open_rebuilds_it,
);

#[tokio::test]
async fn an_exhausted_pool_and_an_unreachable_database_are_different_errors() {
    let mut settings = organism_testkit::fresh_database()
        .await
        .with_engine(EngineChoice::Portable);
    settings.pool_size = 1;
    settings.acquire_timeout = Duration::from_millis(300);
    let store = Store::open(settings).await.unwrap();

    // Hold the only connection: a batch whose input never ends. The writer
    // takes its connection before it asks for input, so once the input is
    // asked for, the connection is held (no sleep needed).
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let (asked, asked_for_input) = tokio::sync::oneshot::channel::<()>();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move {
            let chunks = stream::once(async move {
                let _ = asked.send(());
                let _ = wait.await;
                Ok(Vec::<MetricSample>::new())
            });
            store.write_chunks(chunks).await
        })
    };
    asked_for_input.await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(
        matches!(err, StoreError::PoolExhausted { size: 1, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    store.ping().await.unwrap();

    // Nothing listens on this socket directory.
    let mut unreachable =
        DbSettings::from_url("host=/nonexistent-organism port=5 user=nobody dbname=none").unwrap();
    unreachable.acquire_timeout = Duration::from_secs(2);
    let err = Store::open(unreachable).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
}
