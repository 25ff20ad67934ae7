//! `organism keys` and `organism audit verify / keygen / checkpoint`, run as the real binary
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

#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rest of the line of `out`'s stdout that starts with `prefix`, after
/// checking that the command succeeded.
#[track_caller]
fn printed(out: &Output, prefix: &str) -> String {
    assert_success(out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in: {stdout}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_create_prints_a_working_key_once_and_revoke_stops_it() {
    let store = organism_testkit::store(Engine::Portable).await;
    let out = organism(
        &store,
        &["keys", "create", "--role", "reader", "--teams", "Core,Edge"],
    )
    .await;
    let key = printed(&out, "reader API key: ");
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
    assert_success(&out);

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
    assert_success(&out);
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

/// The attacker's rewrite: edit an event with the triggers off, then
/// recompute every hash and link with the database's own function and move
/// the head, so that the chain alone is consistent again.
const REWRITE_EVENT_2: &str = "SET session_replication_role = replica;
UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 2;
DO $$
DECLARE r record; prev text := repeat('0', 64); h text;
BEGIN
    FOR r IN SELECT * FROM intervention_audit_log ORDER BY seq LOOP
        h := audit_event_hash(r.seq, r.time, r.event_id, r.intervention_id, r.action,
                              r.actor, r.target_employee_id, r.details, prev);
        UPDATE intervention_audit_log SET prev_hash = prev, hash = h WHERE seq = r.seq;
        prev := h;
    END LOOP;
    UPDATE audit_chain_head SET seq = (SELECT max(seq) FROM intervention_audit_log), hash = prev;
END $$;
SET session_replication_role = origin;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_keygen_checkpoint_and_verify_against_it_catch_a_consistent_rewrite() {
    use std::os::unix::fs::PermissionsExt;
    let store = organism_testkit::store(Engine::Portable).await;
    let create = |id: &'static str| {
        let store = store.clone();
        async move {
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
    };
    for id in ["iv-1", "iv-2", "iv-3"] {
        create(id).await;
    }
    let dbname = store
        .settings()
        .connection
        .get_dbname()
        .unwrap()
        .to_string();
    let dir = std::env::temp_dir().join(format!("organism-audit-{}-{dbname}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();

    // keygen: a 0600 file, the public key printed, never overwritten.
    let out = organism(&store, &["audit", "keygen", "--out", &path("audit.key")]).await;
    let public = printed(&out, "public key: ");
    assert_eq!(public.len(), 64);
    let mode = std::fs::metadata(path("audit.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let key_text = std::fs::read_to_string(path("audit.key")).unwrap();
    let again = organism(&store, &["audit", "keygen", "--out", &path("audit.key")]).await;
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(path("audit.key")).unwrap(),
        key_text
    );

    // checkpoint: JSON of the verified head.
    let out = organism(
        &store,
        &["audit", "checkpoint", "--signing-key", &path("audit.key")],
    )
    .await;
    assert_success(&out);
    let checkpoint: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checkpoint["head_seq"], 3, "{checkpoint}");
    assert_eq!(checkpoint["event_count"], 3);
    assert_eq!(checkpoint["public_key"], public.as_str());
    std::fs::write(path("cp.json"), &out.stdout).unwrap();

    // The log grows: it still extends the checkpoint (key as hex or as file).
    create("iv-4").await;
    for key in [public.as_str(), &path("audit.key")] {
        let out = organism(
            &store,
            &[
                "audit",
                "verify",
                "--checkpoint",
                &path("cp.json"),
                "--public-key",
                key,
            ],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Another key is not the one that signed it.
    let out = organism(&store, &["audit", "keygen", "--out", &path("other.key")]).await;
    assert!(out.status.success());
    let out = organism(
        &store,
        &[
            "audit",
            "verify",
            "--checkpoint",
            &path("cp.json"),
            "--public-key",
            &path("other.key"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));

    // A superuser rewrites the chain consistently: only the checkpoint sees it.
    let su = organism_testkit::superuser(store.settings(), "organism").await;
    su.batch_execute(REWRITE_EVENT_2).await.unwrap();
    let out = organism(&store, &["audit", "verify"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = organism(
        &store,
        &[
            "audit",
            "verify",
            "--checkpoint",
            &path("cp.json"),
            "--public-key",
            &public,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_broken"]["check"], "checkpoint", "{report}");
    assert_eq!(report["first_broken"]["seq"], 3, "{report}");
    assert_eq!(report["checkpoint"]["extended"], false);

    // A status set behind the log: verify names it, and no checkpoint of it
    // is signed.
    su.batch_execute("UPDATE interventions SET status = 'active' WHERE intervention_id = 'iv-2'")
        .await
        .unwrap();
    let out = organism(&store, &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["first_broken"]["intervention_id"], "iv-2",
        "{report}"
    );
    let out = organism(
        &store,
        &["audit", "checkpoint", "--signing-key", &path("audit.key")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_checkpoint_dir_without_a_readable_signing_key() {
    let store = organism_testkit::store(Engine::Portable).await;
    let dir = std::env::temp_dir().join(format!("organism-no-key-{}", std::process::id()));
    let dir = dir.to_str().unwrap();
    let out = organism(
        &store,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--audit-checkpoint-dir",
            dir,
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "the key is required with the directory"
    );
    let missing = format!("{dir}/missing.key");
    let out = organism(
        &store,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--audit-checkpoint-dir",
            dir,
            "--audit-signing-key",
            &missing,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.key"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
