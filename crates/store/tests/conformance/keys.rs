//! API keys: a key works until revoked, only its hash is stored, and a
//! database that skipped a reserved migration version still gets the keys
//! table.

use organism_domain::{Role, TeamName};
use organism_testkit::organism_store::Store;
use organism_testkit::organism_store::schema::current_version;

async fn a_key_authenticates_until_revoked_and_only_its_hash_is_stored(store: Store) {
    let core = TeamName::parse("Core").unwrap();
    let new = store
        .create_api_key(Role::Reader, std::slice::from_ref(&core), "dashboard")
        .await
        .unwrap();
    let grant = store.authenticate(&new.key).await.unwrap().unwrap();
    assert_eq!(grant.role, Role::Reader);
    assert_eq!(grant.teams, Some(vec!["Core".to_string()]));
    // A key one character off, and junk, are unknown.
    let mut other = new.key.clone();
    let last = other.pop().unwrap();
    other.push(if last == '0' { '1' } else { '0' });
    assert_eq!(store.authenticate(&other).await.unwrap(), None);
    assert_eq!(store.authenticate("' OR 1=1 --").await.unwrap(), None);

    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let stored: String = client
        .query_one("SELECT string_agg(t::text, '|') FROM api_keys t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains(&new.key[4..]), "{stored}");

    store.revoke_api_key(&grant.key_id).await.unwrap();
    assert_eq!(store.authenticate(&new.key).await.unwrap(), None);
    assert!(store.revoke_api_key(&grant.key_id).await.is_err());
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
}

async fn a_database_missing_a_reserved_version_is_brought_to_the_current_one(store: Store) {
    // Drop the keys migration's record and table, as on a database made by
    // a build before it: opening again applies just what is missing.
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute("DROP TABLE api_keys; DELETE FROM schema_migrations WHERE version = 6")
        .await
        .unwrap();
    let again = Store::open(store.settings().clone()).await.unwrap();
    assert_eq!(
        again.schema_version().await.unwrap(),
        current_version(store.engine())
    );
    let key = again.create_api_key(Role::Admin, &[], "").await.unwrap();
    assert!(again.authenticate(&key.key).await.unwrap().is_some());
}

organism_testkit::engine_tests!(
    a_key_authenticates_until_revoked_and_only_its_hash_is_stored,
    a_database_missing_a_reserved_version_is_brought_to_the_current_one,
);
