//! Hostile clients and a frozen database (issue 13, item 7): slow headers,
//! idle and stalled connections, the connection cap, oversized bodies
//! refused before they are read, security headers, and a database that
//! stops answering without closing its sockets.
//!
//! Timeouts are set small in the tests; the `PATIENCE` bound only keeps a
//! broken server from hanging the suite, it claims nothing about speed.

use std::time::Duration;

use organism_api::{API_CSP, ApiConfig, DASHBOARD_CSP};
use organism_pgcluster::EmbeddedCluster;
use organism_store::{DbSettings, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    TestApp, batch, choice_of, error_code, private_cluster, spawn_on, spawn_with,
};

const PATIENCE: Duration = Duration::from_secs(60);

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open; it sent {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one whole response (head and a Content-Length body).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
}

async fn half_a_header(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    stream
        .write_all(b"GET /api/trends/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn half_open_connections_are_closed_after_the_header_timeout_and_health_answers_meanwhile() {
    let app = spawn_with(ApiConfig {
        header_read_timeout: Duration::from_secs(2),
        ..ApiConfig::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(half_a_header(&app).await);
    }
    // While they are open, health answers.
    let (status, body) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200, "{body}");
    // Each is closed by the server (none ever completes its header).
    for stream in &mut slow {
        let sent = read_to_close(stream).await;
        assert!(!sent.contains("200 OK"), "{sent}");
    }
    let (status, _) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_with(ApiConfig {
        header_read_timeout: Duration::from_secs(1),
        ..ApiConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let request = format!(
        "GET /api/trends/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        app.admin_key
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let first = read_response(&mut stream).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // The connection stays usable for a second request...
    stream.write_all(request.as_bytes()).await.unwrap();
    let second = read_response(&mut stream).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    // ...and, left idle, is closed by the server.
    let rest = read_to_close(&mut stream).await;
    assert_eq!(rest, "");
}

#[tokio::test]
async fn a_stalled_request_body_is_closed_after_the_idle_timeout() {
    let app = spawn_with(ApiConfig {
        idle_timeout: Duration::from_secs(1),
        ..ApiConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let head = format!(
        "POST /api/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"time\":",
        app.admin_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = read_to_close(&mut stream).await;
    assert!(!sent.contains("200 OK"), "{sent}");
    let (status, _) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let app = spawn_with(ApiConfig {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(120),
        ..ApiConfig::default()
    })
    .await;
    let first = half_a_header(&app).await;
    let _second = half_a_header(&app).await;
    let client = crate::helpers::client_with_key(&app.admin_key);
    let url = format!("{}/api/trends/health", app.base);
    let mut third = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    // Both slots are held: the third is not served (if the cap did not
    // hold, it would be answered at once).
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut third)
            .await
            .is_err(),
        "a third connection was served while two held the cap"
    );
    // One slot frees: the waiting connection is served.
    drop(first);
    let status = tokio::time::timeout(PATIENCE, third)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// A request with `Content-Length: declared` and no body at all.
async fn declare(app: &TestApp, method: &str, path: &str, declared: u64) -> String {
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n",
        app.admin_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(&mut stream).await
}

fn body_of(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_before_the_body_naming_the_limit() {
    let app = spawn_with(ApiConfig::default()).await;
    for (method, path) in [
        ("POST", "/api/metrics"),
        ("POST", "/api/graph/snapshots"),
        ("POST", "/api/interventions"),
        ("PATCH", "/api/interventions/iv-1"),
    ] {
        let response = declare(&app, method, path, 10_737_418_240).await;
        assert!(
            response.starts_with("HTTP/1.1 413"),
            "{method} {path}: {response}"
        );
        let body = body_of(&response);
        assert_eq!(error_code(&body), "payload_too_large");
        assert_eq!(
            body["error"]["message"], "the body is 10737418240 bytes; the limit is 67108864 bytes",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_naming_the_real_limit() {
    let app = spawn_with(ApiConfig {
        body_limit: 1000,
        ..ApiConfig::default()
    })
    .await;
    let big = json!({"intervention_id": "iv-1", "kind": "one_on_one", "actor": "a@example.org",
        "details": {"note": "x".repeat(3000)}})
    .to_string();
    for (method, path) in [
        ("POST", "/api/interventions"),
        ("PATCH", "/api/interventions/iv-1"),
        ("POST", "/api/metrics"),
        ("POST", "/api/graph/snapshots"),
    ] {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            app.admin_key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut sent = Vec::new();
        for chunk in big.as_bytes().chunks(500) {
            sent.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            sent.extend_from_slice(chunk);
            sent.extend_from_slice(b"\r\n");
        }
        sent.extend_from_slice(b"0\r\n\r\n");
        // The server may answer and close before it has read it all.
        let _ = stream.write_all(&sent).await;
        let response = read_response(&mut stream).await;
        assert!(
            response.starts_with("HTTP/1.1 413"),
            "{method} {path}: {response}"
        );
        let body = body_of(&response);
        assert_eq!(
            body["error"]["message"], "the body is larger than the limit of 1000 bytes",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_with(ApiConfig::default()).await;
    let page = app.get("/").await;
    let headers = page.headers().clone();
    let html = page.text().await.unwrap();
    assert_eq!(headers["content-security-policy"], DASHBOARD_CSP);
    for path in [
        "/assets/dashboard.js",
        "/assets/dashboard.css",
        "/assets/vendor/uplot/uPlot.iife.min.js",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-security-policy"], DASHBOARD_CSP);
    }
    // The dashboard's policy holds: no inline script, style or handler.
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<style"), "inline <style>");
    assert!(!lower.contains(" style="), "inline style attribute");
    assert!(!lower.contains("javascript:"), "javascript: URL");
    for tag in lower.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src="), "inline <script{open}>");
    }
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " onchange=",
        " oninput=",
    ] {
        assert!(!lower.contains(attr), "inline handler {attr}");
    }
    for r in [
        page_headers(&headers),
        page_headers(app.get("/api/trends/health").await.headers()),
        page_headers(app.get("/api/no/such/route").await.headers()),
        page_headers(
            reqwest::Client::new()
                .get(format!("{}/api/audit", app.base))
                .send()
                .await
                .unwrap()
                .headers(),
        ),
    ] {
        assert_eq!(r[0], "nosniff");
        assert_eq!(r[1], "no-referrer");
        assert_eq!(r[2], "DENY");
    }
    for path in ["/api/trends/health", "/api/no/such/route", "/metrics"] {
        assert_eq!(
            app.get(path).await.headers()["content-security-policy"],
            API_CSP,
            "{path}"
        );
    }
    let too_big = declare(&app, "POST", "/api/metrics", 1 << 40).await;
    assert!(
        too_big
            .to_ascii_lowercase()
            .contains(&format!("content-security-policy: {API_CSP}").to_ascii_lowercase()),
        "{too_big}"
    );
}

fn page_headers(h: &reqwest::header::HeaderMap) -> [String; 3] {
    [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
    ]
    .map(|n| {
        h.get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    })
}

/// The cluster's postmaster and its children (backends and helpers).
fn cluster_processes(postmaster: i32) -> Vec<i32> {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so after ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == postmaster {
            pids.push(pid);
        }
    }
    pids
}

fn signal(pids: &[i32], sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(i32::to_string))
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pids:?}");
}

/// Thaws the cluster however the test ends.
struct Frozen(Vec<i32>);

impl Frozen {
    fn freeze(postmaster: i32) -> Self {
        let pids = cluster_processes(postmaster);
        signal(&pids, "STOP");
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // A backend forked just before the freeze is thawed too.
        let mut pids = self.0.clone();
        pids.extend(cluster_processes(self.0[0]));
        pids.sort_unstable();
        pids.dedup();
        // Not asserted: a process that ended meanwhile (a backend that was
        // already exiting when the STOP came) needs no CONT, and `kill`
        // still signals the others when one is gone.
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .args(pids.iter().map(i32::to_string))
            .status();
    }
}

async fn a_frozen_database_gives_503_with_retry_after_and_the_service_recovers(store: Store) {
    // A private cluster to freeze; the case's store only names the engine.
    let engine = store.engine();
    drop(store);
    let options = private_cluster("frozen");
    let root = options.root.clone();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedCluster::start(options))
        .await
        .unwrap()
        .unwrap();
    let url = cluster.connection_string("postgres");
    let mut settings = DbSettings::from_url(&url)
        .unwrap()
        .with_engine(choice_of(engine));
    settings.acquire_timeout = Duration::from_millis(500);
    let store = Store::open(settings).await.unwrap();
    let app = spawn_on(
        store,
        ApiConfig {
            request_timeout: Duration::from_secs(2),
            ..ApiConfig::default()
        },
    )
    .await;
    let (status, body) = app.post_json("/api/metrics", &batch("a", 20)).await;
    assert_eq!(status, 200, "{body}");

    let frozen = Frozen::freeze(cluster.pid());
    let second = batch("b", 30);
    let write = app
        .http
        .post(format!("{}/api/metrics", app.base))
        .header("content-type", "application/json")
        .body(second.to_string());
    let read = app.http.get(format!("{}/api/trends/employee/a1", app.base));
    let health = app.http.get(format!("{}/api/trends/health", app.base));
    for request in [write, read, health] {
        let response = tokio::time::timeout(PATIENCE, request.send())
            .await
            .expect("an answer while the database is frozen")
            .unwrap();
        assert_eq!(response.status(), 503);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
    }

    drop(frozen);
    let mut written = None;
    for _ in 0..100 {
        let (status, body) = app.post_json("/api/metrics", &second).await;
        if status == 200 {
            written = Some(body);
            break;
        }
        assert_eq!(status, 503, "only 503 until it recovers: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let written = written.expect("the service recovers once the database thaws");
    assert_eq!(written["stored"], 30, "{written}");
    let (status, _) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200);
    drop(app);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

// The other transport tests are about HTTP alone (header, idle and body
// timeouts, the connection cap, body limits, security headers): nothing in
// them reaches storage, so they run on the portable engine only.
organism_testkit::engine_tests!(
    a_frozen_database_gives_503_with_retry_after_and_the_service_recovers
);
