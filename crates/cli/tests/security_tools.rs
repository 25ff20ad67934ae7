//! `organism keys` and `organism audit verify`, run as the real binary
//! against a throwaway database.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Output;

use organism_domain::{Actor, InterventionId, InterventionKind, Role};
use organism_testkit::organism_store::interventions::NewIntervention;
use organism_testkit::organism_store::{Engine, Store};

async fn organism(store: &Store, args: &[&str]) -> Output {
    let dbname = store
        .settings()
        .connection
        .get_dbname()
        .unwrap()
        .to_string();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args(["--engine", "portable"])
        .args(args)
        .env(
            "DATABASE_URL",
            organism_testkit::cluster().connection_string(&dbname),
        )
        .env("ORGANISM_LOG", "warn")
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_create_prints_a_working_key_once_and_revoke_stops_it() {
    let store = organism_testkit::store(Engine::Portable).await;
    let out = organism(
        &store,
        &["keys", "create", "--role", "reader", "--teams", "Core,Edge"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("reader API key: "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    let grant = store.authenticate(&key).await.unwrap().unwrap();
    assert_eq!(grant.role, Role::Reader);
    assert_eq!(grant.teams, Some(vec!["Core".into(), "Edge".into()]));

    let list = organism(&store, &["keys", "list"]).await;
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains(&grant.key_id), "{listed}");
    assert!(
        !listed.contains(&key[4..]),
        "the list shows the key: {listed}"
    );

    let out = organism(&store, &["keys", "revoke", &grant.key_id]).await;
    assert!(out.status.success());
    assert_eq!(store.authenticate(&key).await.unwrap(), None);

    // Teams on a writer key, or an unknown role: refused, nothing stored.
    for args in [
        &["keys", "create", "--role", "writer", "--teams", "Core"][..],
        &["keys", "create", "--role", "root"][..],
    ] {
        let out = organism(&store, args).await;
        assert!(!out.status.success(), "{args:?}");
    }
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_exits_1_and_names_the_altered_event() {
    let store = organism_testkit::store(Engine::Portable).await;
    for id in ["iv-1", "iv-2", "iv-3"] {
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(InterventionId::parse(id).unwrap()),
                kind: InterventionKind::parse("one_on_one").unwrap(),
                target_employee_id: None,
                details: serde_json::json!({}),
                actor: Actor::parse("hr").unwrap(),
            })
            .await
            .unwrap();
    }
    let out = organism(&store, &["audit", "verify"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let su = organism_testkit::superuser(store.settings(), "organism").await;
    su.batch_execute(
        "ALTER TABLE intervention_audit_log DISABLE TRIGGER audit_log_append_only;
         UPDATE intervention_audit_log SET details = '{\"x\": 1}' WHERE seq = 2;
         ALTER TABLE intervention_audit_log ENABLE TRIGGER audit_log_append_only;",
    )
    .await
    .unwrap();
    let out = organism(&store, &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_broken"]["seq"], 2, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_a_working_admin_key_on_its_own_line() {
    let store = organism_testkit::store(Engine::Portable).await;
    let out = organism(
        &store,
        &["demo", "--employees", "5", "--days", "1", "--no-serve"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("admin API key: "))
        .collect();
    assert_eq!(keys.len(), 1, "{stdout}");
    let grant = store.authenticate(keys[0]).await.unwrap().unwrap();
    assert_eq!(grant.role, Role::Admin);
    assert_eq!(grant.teams, None);
}
