//! The command line as a newcomer meets it (issue 16, item 5), through the
//! real binary:
//!
//! - every command checks its arguments and inputs before it starts (or
//!   creates) an embedded cluster: the mistake is named with its argument,
//!   the exit status is not 0, and nothing is left behind;
//! - a connection that cannot work names the host, port, database and user
//!   it tried (never the password), the kind of failure and the setting to
//!   change;
//! - every command's help says what it does.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Output;

use organism_pgcluster::{ClusterOptions, EmbeddedCluster};

use organism_testkit::DATABASE_VARIABLES;

/// Runs `organism args…` in `cwd`, with no database variables.
async fn organism_in(cwd: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"));
    for name in DATABASE_VARIABLES {
        command.env_remove(name);
    }
    command
        .current_dir(cwd)
        .args(args)
        .env("ORGANISM_LOG", "warn")
        .kill_on_drop(true);
    command.output().await.unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory of its own for a test's files, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("organism-newcomer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---- arguments are checked before anything starts --------------------------

/// One mistake: the arguments, and what the error must say.
struct Case {
    args: Vec<String>,
    says: Vec<String>,
}

fn case(args: &[&str], says: &[&str]) -> Case {
    Case {
        args: args.iter().map(|a| a.to_string()).collect(),
        says: says.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every command, one mistake of each kind its arguments can have. Each
/// runs in a scratch directory without --data-dir, so the embedded default
/// would be `./organism-data` there; with the server binaries pointed at a
/// directory without them, so that a check that is missing shows as a
/// failed case, never as a cluster started or a server left running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_names_a_bad_argument_and_starts_nothing() {
    let dir = scratch("arguments");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good_csv = file(
        "metrics.csv",
        "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score\n",
    );
    let directory = file("directory.csv", "employee_id,team\nemp_a,Core\n");
    let interactions = file("interactions.csv", "from,to,time,channel\n");
    let notes = file("notes.txt", "hello");
    let folder = dir.join("folder.csv");
    std::fs::create_dir_all(&folder).unwrap();
    let folder = folder.to_str().unwrap().to_string();
    let missing = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let no_bin = missing("no-server-binaries");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let bench_data = missing("bench-data");
    let not_a_dir = file("plain-file", "x");

    let cases = [
        // ingest
        case(
            &["ingest", &missing("typo.csv")],
            &["typo.csv", "cannot be read"],
        ),
        case(&["ingest", &folder], &["folder.csv", "it is a directory"]),
        case(&["ingest", &notes], &["notes.txt", "unknown file type"]),
        case(
            &["ingest", "--chunk-rows", "0", &good_csv],
            &["--chunk-rows", "at least 1"],
        ),
        // graph
        case(
            &[
                "graph",
                "--interactions",
                &missing("i.csv"),
                "--directory",
                &directory,
            ],
            &["--interactions", "i.csv", "cannot be read"],
        ),
        case(
            &[
                "graph",
                "--interactions",
                &interactions,
                "--directory",
                &notes,
            ],
            &["--directory", "notes.txt", "unknown file type", ".parquet"],
        ),
        case(
            &[
                "graph",
                "--interactions",
                &interactions,
                "--directory",
                &directory,
                "--window-days",
                "0",
            ],
            &["--window-days", "1 to 365"],
        ),
        case(
            &[
                "graph",
                "--interactions",
                &interactions,
                "--directory",
                &directory,
                "--at",
                "2001-01-01T00:00:00Z",
            ],
            &["--at"],
        ),
        case(
            &[
                "graph",
                "--interactions",
                &interactions,
                "--directory",
                &directory,
                "--snapshot-epsilon",
                "2",
            ],
            &["--snapshot-epsilon"],
        ),
        case(
            &[
                "graph",
                "--interactions",
                &good_csv,
                "--directory",
                &directory,
            ],
            &["--interactions", "metrics.csv", "no `from` column"],
        ),
        // maintain
        case(
            &["maintain", "--status", "--job", "refresh"],
            &["--status", "cannot be used with", "--job"],
        ),
        case(&["maintain", "--now", "yesterday"], &["--now"]),
        // keys
        case(
            &["keys", "create", "--role", "manager"],
            &["--teams", "manager"],
        ),
        case(
            &["keys", "create", "--role", "admin", "--teams", "Core"],
            &["--teams", "admin"],
        ),
        case(&["keys", "create", "--role", "root"], &["--role"]),
        // audit
        case(
            &[
                "audit",
                "checkpoint",
                "--signing-key",
                &missing("audit.key"),
            ],
            &["--signing-key", "audit.key"],
        ),
        case(
            &[
                "audit",
                "verify",
                "--checkpoint",
                &missing("checkpoint.json"),
            ],
            &["--checkpoint", "checkpoint.json", "cannot be read"],
        ),
        case(
            &["audit", "verify", "--public-key", "00"],
            &["--public-key", "--checkpoint"],
        ),
        case(
            &[
                "audit",
                "keygen",
                "--out",
                &missing("no/such/dir/audit.key"),
            ],
            &["--out", "does not exist"],
        ),
        // bench
        case(
            &[
                "bench",
                "--quick",
                "--json",
                &missing("no/such/dir/report.json"),
            ],
            &["--json", "report.json", "does not exist"],
        ),
        case(
            &["bench", "--json", &folder],
            &["--json", "it is a directory"],
        ),
        case(
            &["bench", "--employees", "0"],
            &["--employees", "at least 1"],
        ),
        case(
            &["bench", "--concurrency", "0"],
            &["--concurrency", "at least 1"],
        ),
        case(
            &["bench", "--compare", &missing("old.json")],
            &["--compare", "old.json"],
        ),
        case(
            &["--data-dir", &bench_data, "bench", "--keep"],
            &["--keep", "--data-dir"],
        ),
        // serve
        case(&["serve", "--min-group-size", "0"], &["--min-group-size"]),
        case(&["serve", "--manager-epsilon", "0"], &["--manager-epsilon"]),
        case(
            &["serve", "--idle-timeout-secs", "0"],
            &["--idle-timeout-secs"],
        ),
        case(&["serve", "--bind", &busy_addr], &["--bind", &busy_addr]),
        case(
            &[
                "serve",
                "--audit-checkpoint-dir",
                &missing("checkpoints"),
                "--audit-signing-key",
                &missing("audit.key"),
            ],
            &["--audit-signing-key", "audit.key"],
        ),
        case(
            &["serve", "--audit-checkpoint-dir", &missing("checkpoints")],
            &["--audit-signing-key"],
        ),
        // demo
        case(
            &["demo", "--employees", "0"],
            &["--employees", "at least 1"],
        ),
        case(
            &["demo", "--interval-minutes", "0"],
            &["--interval-minutes"],
        ),
        case(&["demo", "--bind", &busy_addr], &["--bind", &busy_addr]),
        // settings every command shares
        case(&["--pool-timeout", "0", "migrate"], &["--pool-timeout"]),
        case(&["--schema", "Not A Schema", "migrate"], &["schema name"]),
        case(
            &["--compress-after-days", "0", "migrate"],
            &["--compress-after-days"],
        ),
        case(
            &["--data-dir", &not_a_dir, "migrate"],
            &["--data-dir", "not a directory"],
        ),
        case(
            &[
                "--database-url",
                "postgresql://a:b@h:notaport/db",
                "migrate",
            ],
            &["--database-url"],
        ),
    ];
    let before = listing(&dir);
    let mut failures = Vec::new();
    for case in &cases {
        let mut args: Vec<&str> = vec!["--pg-bin-dir", &no_bin];
        args.extend(case.args.iter().map(String::as_str));
        let out = organism_in(&dir, &args).await;
        let err = stderr(&out);
        let problem = if out.status.success() {
            Some("succeeded".to_string())
        } else if let Some(missing) = case.says.iter().find(|s| !err.contains(s.as_str())) {
            Some(format!("does not say {missing:?}"))
        } else if listing(&dir) != before {
            Some(format!("left {:?} behind", listing(&dir)))
        } else if err.contains("PostgreSQL server binaries") {
            Some("tried to start the embedded cluster".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "organism {}: {problem}\nstderr: {err}",
                case.args.join(" ")
            ));
            // The next case starts from the same directory.
            for name in listing(&dir) {
                if !before.contains(&name) {
                    let _ = std::fs::remove_dir_all(dir.join(&name));
                    let _ = std::fs::remove_file(dir.join(&name));
                }
            }
        }
    }
    drop(busy);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- connection errors -----------------------------------------------------

#[track_caller]
fn assert_says(out: &Output, expected: &[&str], never: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "{err}");
    for e in expected {
        assert!(err.contains(e), "does not say {e:?}: {err}");
    }
    assert!(!err.contains(never), "printed the password: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_names_the_address_and_the_setting_but_not_the_password() {
    let dir = scratch("refused");
    let port = organism_testkit::free_port();
    let url = format!("postgresql://alice:Pa55-secret@127.0.0.1:{port}/metrics");
    let out = organism_in(&dir, &["--database-url", &url, "migrate"]).await;
    assert_says(
        &out,
        &[
            "host 127.0.0.1",
            &format!("port {port}"),
            "database metrics",
            "user alice",
            "connection refused",
            "--database-url (DATABASE_URL)",
        ],
        "Pa55-secret",
    );
    // The same through the TIMESCALE_* settings points at those.
    let port = port.to_string();
    let out = organism_in(
        &dir,
        &[
            "--timescale-host",
            "127.0.0.1",
            "--timescale-port",
            &port,
            "--timescale-user",
            "bob",
            "--timescale-password",
            "Pa55-secret",
            "migrate",
        ],
    )
    .await;
    assert_says(
        &out,
        &[
            "host 127.0.0.1",
            "database postgres",
            "user bob",
            "connection refused",
            "TIMESCALE_HOST",
        ],
        "Pa55-secret",
    );
    assert!(listing(&dir).is_empty(), "no embedded cluster was made");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `.invalid` never resolves (RFC 6761).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_that_does_not_resolve_is_host_not_found() {
    let dir = scratch("dns");
    let url = "postgresql://alice:Pa55-secret@no-such-host.invalid:5432/metrics";
    let out = organism_in(
        &dir,
        &["--database-url", url, "--pool-timeout", "30", "migrate"],
    )
    .await;
    assert_says(
        &out,
        &[
            "host no-such-host.invalid",
            "port 5432",
            "host not found",
            "--database-url (DATABASE_URL)",
        ],
        "Pa55-secret",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_timeout_within_the_pool_timeout() {
    let dir = scratch("timeout");
    // Connections are queued by the kernel and never accepted: the TCP
    // handshake succeeds, PostgreSQL's never comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgresql://alice:Pa55-secret@127.0.0.1:{port}/metrics");
    let out = organism_in(
        &dir,
        &["--database-url", &url, "--pool-timeout", "0.5", "migrate"],
    )
    .await;
    assert_says(
        &out,
        &[&format!("port {port}"), "timeout", "--pool-timeout"],
        "Pa55-secret",
    );
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_database_and_tls_required_are_told_apart() {
    let dir = scratch("unknown-db");
    let cluster = organism_testkit::cluster();
    let socket = cluster.socket_dir().display().to_string();
    let url = format!(
        "host={socket} port={} user=postgres dbname=no_such_database",
        cluster.port()
    );
    let out = organism_in(&dir, &["--database-url", &url, "migrate"]).await;
    assert_says(
        &out,
        &[
            &format!("host {socket}"),
            "database no_such_database",
            "user postgres",
            "unknown database",
            "CREATE DATABASE",
        ],
        "\u{0}",
    );

    let url = format!(
        "host={socket} port={} user=postgres dbname=postgres sslmode=require",
        cluster.port()
    );
    let out = organism_in(&dir, &["--database-url", &url, "migrate"]).await;
    assert_says(&out, &["TLS", "sslmode=require"], "\u{0}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cluster of its own whose users other than the superuser need a
/// password (scram-sha-256 on the Unix socket).
fn password_cluster(root: &Path) -> EmbeddedCluster {
    let hba = root.with_extension("hba.conf");
    std::fs::write(
        &hba,
        "local all postgres trust\nlocal all all scram-sha-256\n",
    )
    .unwrap();
    let mut options = ClusterOptions::new(root);
    options.durable = false;
    options.timescaledb = false;
    // Where the test kit's cluster found its server binaries.
    options.bin_dir = Some(organism_testkit::cluster().binaries().bin_dir.clone());
    options.settings = vec![
        ("hba_file".into(), hba.display().to_string()),
        ("shared_buffers".into(), "16MB".into()),
    ];
    EmbeddedCluster::start(options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_authentication_failure_naming_the_user() {
    let dir = scratch("auth");
    let root = std::env::temp_dir().join(format!("organism-test-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cluster = tokio::task::spawn_blocking({
        let root = root.clone();
        move || password_cluster(&root)
    })
    .await
    .unwrap();
    let (client, connection) = tokio_postgres::connect(
        &cluster.connection_string("postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let driver = tokio::spawn(connection);
    // Two statements: CREATE DATABASE may not run in a transaction block.
    for sql in [
        "CREATE ROLE alice LOGIN PASSWORD 'the-right-one'",
        "CREATE DATABASE metrics OWNER alice",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    drop(client);
    let _ = driver.await;
    let socket = cluster.socket_dir().display().to_string();
    let url = |password: &str| {
        format!(
            "host={socket} port={} user=alice password={password} dbname=metrics",
            cluster.port()
        )
    };
    let out = organism_in(
        &dir,
        &[
            "--database-url",
            &url("Wr0ng-Passw0rd"),
            "--engine",
            "portable",
            "migrate",
        ],
    )
    .await;
    assert_says(
        &out,
        &[
            &format!("host {socket}"),
            &format!("port {}", cluster.port()),
            "database metrics",
            "user alice",
            "authentication failed",
            "the user and password in --database-url (DATABASE_URL)",
        ],
        "Wr0ng-Passw0rd",
    );
    // The right password passes the same check and sets the schema up.
    let out = organism_in(
        &dir,
        &[
            "--database-url",
            &url("the-right-one"),
            "--engine",
            "portable",
            "migrate",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("portable engine"), "{}", stdout(&out));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(root.with_extension("hba.conf"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- help ------------------------------------------------------------------

#[tokio::test]
async fn every_command_s_help_says_what_it_does() {
    let dir = scratch("help");
    let commands: [(&[&str], &[&str]); 14] = [
        (&["serve"], &["API", "dashboard", "lifecycle"]),
        (&["migrate"], &["schema"]),
        (
            &["ingest"],
            &["metrics files", "all or nothing", ".parquet"],
        ),
        (
            &["demo"],
            &["synthetic organisation", "admin API key", "serve"],
        ),
        (
            &["graph"],
            &["snapshot", "interaction", "directory", "Parquet"],
        ),
        (
            &["maintain"],
            &[
                "refresh",
                "retention",
                "compression",
                "partitions",
                "--status",
            ],
        ),
        (&["keys"], &["API keys"]),
        (&["keys", "create"], &["Create", "print it once"]),
        (&["keys", "list"], &["List"]),
        (&["keys", "revoke"], &["Revoke"]),
        (&["bench"], &["benchmark"]),
        (&["audit"], &["Audit log"]),
        (&["audit", "verify"], &["hash", "checkpoint"]),
        (&["audit", "keygen"], &["signing key"]),
    ];
    let top = organism_in(&dir, &["--help"]).await;
    assert!(top.status.success());
    let top = stdout(&top);
    for (command, keywords) in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = organism_in(&dir, &args).await;
        let text = stdout(&out);
        assert!(out.status.success(), "{}", stderr(&out));
        for k in keywords {
            assert!(
                text.contains(k),
                "`organism {} --help` does not say {k:?}:\n{text}",
                command.join(" ")
            );
        }
        if command.len() == 1 {
            assert!(top.contains(command[0]), "{top}");
        }
    }
    // maintain's flags: each job, and that compression compresses.
    let maintain = stdout(&organism_in(&dir, &["maintain", "--help"]).await);
    assert!(maintain.contains("Compress raw samples"), "{maintain}");
    assert!(listing(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
