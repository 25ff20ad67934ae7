//! The real binary: SIGTERM while a request is in flight lets it finish
//! (its rows are written and it gets its answer), then the process exits 0.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn batch(n: usize) -> String {
    let now = chrono::Utc::now();
    let rows: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "time": (now - chrono::Duration::minutes(i as i64 + 1)).to_rfc3339(),
                "employee_id": format!("emp_{i}"),
                "team": "Core",
                "degree_centrality": 0.1,
                "betweenness_centrality": 0.2,
                "clustering_coeff": 0.3,
                "burnout_score": 40.0,
            })
        })
        .collect();
    serde_json::to_string(&rows).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish() {
    let settings = organism_testkit::fresh_database().await;
    let dbname = settings.connection.get_dbname().unwrap().to_string();
    let url = organism_testkit::cluster().connection_string(&dbname);
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args([
            "--engine",
            "portable",
            "serve",
            "--insecure-no-auth",
            "--bind",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &url)
        .env("ORGANISM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("{base}/api/trends/health")).await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up");

    // Start a request and send only half of its body.
    let body = batch(200);
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "POST /api/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(head).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server is still waiting for this request: finish it.
    stream.write_all(tail).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"stored\":200"), "{answer}");

    let status = child.wait().await.unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(
        log.contains("AUTHENTICATION IS OFF"),
        "the loud warning: {log}"
    );

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM organism.employee_metrics", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 200);
}
