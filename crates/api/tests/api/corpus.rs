//! The bad-input corpus: hundreds of malformed requests, each answered with
//! a 4xx and a JSON error body, and not one row written or changed.

use organism_api::ApiConfig;
use organism_store::Store;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, sample, spawn_on};

/// Strings that break the id rules or try to escape them: SQL
/// meta-characters, path tricks, control and invisible characters,
/// homoglyphs, over-long values. Already percent-encoded for a URL.
const NASTY_SEGMENTS: &[&str] = &[
    "%27%20OR%20%271%27%3D%271",
    "emp%27%3B%20DROP%20TABLE%20employee_metrics%3B--",
    "%22%3B%20DELETE%20FROM%20intervention_audit_log%3B--",
    "emp_1%20UNION%20SELECT%20*%20FROM%20api_keys",
    "%24%24%3B%20TRUNCATE%20api_keys%3B%20%24%24",
    "%00",
    "emp%00_1",
    "%0A",
    "emp%0D%0Ax",
    "%09emp",
    "%FF%FE",
    "%C0%AF",
    "%E2%80%AEemp_1",
    "emp%E2%80%8B_1",
    "emp_%D0%B0",
    "%EF%BC%A5mp",
    "emp%CC%81",
    "%F0%9F%94%A5",
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E",
    "a%2Fb",
    "a%5Cb",
    "%25",
    "%2525",
    "emp%201",
    "%20",
    "emp_1%3Bselect",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%7B%7Bteam%7D%7D",
    "-",
];

/// Values no numeric parameter accepts.
const BAD_NUMBERS: &[&str] = &[
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-1",
    "0",
    "1e309",
    "-1e309",
    "99999999999999999999999",
    "1.5",
    "",
    "abc",
    "0x10",
    "%00",
    "1%3B",
    "10%20OR%201%3D1",
    "%E2%80%8B7",
    "%EF%BC%97",
    "4e2",
    "-0.0000001",
];

fn long(n: usize) -> String {
    "e".repeat(n)
}

/// Rows breaking one rule each (as JSON objects).
fn bad_rows() -> Vec<Value> {
    let good = sample("emp_ok", "Core", 5, 50.0);
    let mut rows = Vec::new();
    let mut with = |field: &str, value: Value| {
        let mut row = good.clone();
        row[field] = value;
        rows.push(row);
    };
    for v in [
        json!(-1e-320),
        json!(-5e-324),
        json!(100.000001),
        json!(1e308),
        json!(-1e308),
        json!("50"),
        json!(null),
        json!(true),
        json!([50]),
        json!({"v": 50}),
    ] {
        with("burnout_score", v);
    }
    for field in [
        "degree_centrality",
        "betweenness_centrality",
        "clustering_coeff",
    ] {
        for v in [
            json!(1.0000000000000002),
            json!(-1e-300),
            json!(2),
            json!("0.5"),
        ] {
            with(field, v);
        }
    }
    for v in [
        json!(""),
        json!(long(129)),
        json!(long(100_000)),
        json!("emp 1"),
        json!("emp'1"),
        json!("emp\u{0000}"),
        json!("emp\u{202e}1"),
        json!("emp_\u{0430}"),
        json!("x; DROP TABLE employee_metrics"),
        json!(12),
        json!(null),
    ] {
        with("employee_id", v);
    }
    // (An empty team is no team, as pandas writes a missing one: not bad.)
    for v in [
        json!(" Core"),
        json!("Core\n"),
        json!("\u{0007}"),
        json!("Co\u{0000}re"),
        json!("\u{0000}"),
        json!(long(129)),
        json!(7),
    ] {
        with("team", v);
    }
    for v in [
        json!("2026-13-01T00:00:00Z"),
        json!("yesterday"),
        json!("9999-01-01T00:00:00Z"),
        json!(""),
        json!(1_700_000_000_i64),
        json!(null),
        json!("2026-02-30T00:00:00Z"),
        json!("+275760-09-13T00:00:00Z"),
        // Unrepresentable years, and times outside the kept 730 days.
        json!("-5000-01-01 00:00:00"),
        json!("0000-01-01T00:00:00Z"),
        json!("0000-01-01 00:00:00"),
        json!("1810-01-01T00:00:00Z"),
        json!("1970-01-01T00:00:00"),
        json!("2000-01-01 00:00:00+00:00"),
        json!("2026-01-01T00:00:00Z\u{0000}"),
    ] {
        with("time", v);
    }
    for field in [
        "time",
        "employee_id",
        "burnout_score",
        "degree_centrality",
        "betweenness_centrality",
        "clustering_coeff",
    ] {
        let mut row = good.clone();
        row.as_object_mut().unwrap().remove(field);
        rows.push(row);
    }
    rows
}

/// (content type, body) pairs no format accepts.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let good_row = sample("emp_ok", "Core", 5, 50.0).to_string();
    let mut bodies: Vec<(&'static str, Vec<u8>)> = vec![];
    let json_texts = [
        String::new(),
        "[".into(),
        "]".into(),
        "{".into(),
        "[{]".into(),
        format!("[{good_row},]"),
        format!("[{good_row}"),
        good_row.clone(),
        "null".into(),
        "42".into(),
        "\"rows\"".into(),
        "[1, 2, 3]".into(),
        "[[\"2026-01-01\", \"e\"]]".into(),
        "[null]".into(),
        "{'time': 1}".into(),
        "[{\"burnout_score\": NaN}]".into(),
        "[{\"burnout_score\": Infinity}]".into(),
        "[{\"burnout_score\": 1e400}]".into(),
        "[{\"burnout_score\": -}]".into(),
        "/* comment */ []".into(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        "\u{feff}[".into(),
        "[{\"time\": \"\u{0000}\"}]".into(),
    ];
    for t in json_texts {
        bodies.push(("application/json", t.into_bytes()));
    }
    for row in bad_rows() {
        bodies.push(("application/json", json!([row]).to_string().into_bytes()));
        bodies.push((
            "application/x-ndjson",
            format!("{good_row}\n{row}\n").into_bytes(),
        ));
    }
    bodies.push(("application/json", vec![0xff, 0xfe, 0x5b, 0x5d]));
    bodies.push((
        "application/json",
        b"[{\"employee_id\": \"e\xff\"}]".to_vec(),
    ));
    for t in ["{not json}\n", "{\"time\": }\n", "[]\n", "null\n"] {
        bodies.push(("application/x-ndjson", t.as_bytes().to_vec()));
    }
    let header = "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score";
    let now = crate::helpers::now().to_rfc3339();
    for t in [
        "time,employee_id\n".to_string(),
        format!("{header}\n{now},e1,Core,NaN,0.1,0.1,10\n"),
        format!("{header}\n{now},e1,Core,inf,0.1,0.1,10\n"),
        format!("{header}\n{now},e1,Core,0.1,0.1,0.1,1e999\n"),
        format!("{header}\n{now},e1,Core,0.1,0.1,0.1\n"),
        format!("{header}\n{now},e1,Core,0.1,0.1,0.1,10,extra,\"unclosed\n"),
        format!("{header}\n{now},\"e1'; DROP TABLE x;--\",Core,0.1,0.1,0.1,10\n"),
        format!("{header}\n{now};e1;Core;0.1;0.1;0.1;10\n"),
        format!("{header}\nnot-a-time,e1,Core,0.1,0.1,0.1,10\n"),
        format!("{header}\n{now},e1,Core,0.1,0.1,0.1,-0.5\n"),
        format!("{header}\n{now},e1,Co\0re,0.1,0.1,0.1,10\n"),
        format!("{header}\n{now},e\x001,Core,0.1,0.1,0.1,10\n"),
        format!("{header}\n-5000-01-01 00:00:00,e1,Core,0.1,0.1,0.1,10\n"),
        format!("{header}\n0000-01-01T00:00:00Z,e1,Core,0.1,0.1,0.1,10\n"),
        format!(
            "{header}\n{now},e1,Core,0.1,0.1,0.1,10\n1810-01-01 00:00:00,e1,Core,0.1,0.1,0.1,10\n"
        ),
        // 4,000 distinct days from 1810: one refusal, not 4,000 partitions.
        (0..4000).fold(format!("{header}\n"), |mut csv, d| {
            let day =
                chrono::NaiveDate::from_ymd_opt(1810, 1, 1).unwrap() + chrono::Duration::days(d);
            csv.push_str(&format!("{day} 12:00:00,e1,Core,0.1,0.1,0.1,10\n"));
            csv
        }),
    ] {
        bodies.push(("text/csv", t.into_bytes()));
    }
    bodies.push((
        "text/csv",
        b"time,employee_id\n\xff\xfe,\xc0\xaf\n".to_vec(),
    ));
    for t in [
        &b""[..],
        b"PAR1",
        b"PAR1garbagePAR1",
        b"not parquet at all",
        &[0u8; 64][..],
    ] {
        bodies.push(("application/vnd.apache.parquet", t.to_vec()));
    }
    let good_batch = format!("[{good_row}]").into_bytes();
    for ct in [
        "",
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "json",
    ] {
        bodies.push((ct, good_batch.clone()));
    }
    bodies
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let mut out = Vec::new();
    for table in [
        "employee_metrics",
        "interventions",
        "intervention_audit_log",
        "api_keys",
    ] {
        out.push(
            client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap()
                .get(0),
        );
    }
    // Nothing refused may create a partition or chunk (each is a table).
    out.push(
        client
            .query_one(
                "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p')",
                &[],
            )
            .await
            .unwrap()
            .get(0),
    );
    // A changed value would not change a count: compare the content too.
    let digest: String = client
        .query_one(
            "SELECT md5(coalesce(string_agg(m::text, '|' ORDER BY employee_id, time), ''))
             FROM employee_metrics m",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    out.push(i64::from_str_radix(&digest[..15], 16).unwrap());
    out
}

struct Case {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
}

fn get(path: String) -> Case {
    Case {
        method: Method::GET,
        path,
        content_type: None,
        body: None,
    }
}

fn send(method: Method, path: &str, content_type: &'static str, body: Vec<u8>) -> Case {
    Case {
        method,
        path: path.to_string(),
        content_type: Some(content_type),
        body: Some(body),
    }
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for s in NASTY_SEGMENTS {
        cases.push(get(format!("/api/trends/employee/{s}")));
        cases.push(get(format!(
            "/api/trends/employee/{s}?days=1&use_hourly=true"
        )));
        cases.push(get(format!(
            "/api/trends/employee/{s}/range?start_date=2026-01-01&end_date=2026-01-02"
        )));
        cases.push(get(format!("/api/trends/team/{s}")));
        cases.push(get(format!("/api/trends/statistics/{s}")));
        cases.push(send(
            Method::PATCH,
            &format!("/api/interventions/{s}"),
            "application/json",
            json!({"status": "approved", "actor": "hr"})
                .to_string()
                .into_bytes(),
        ));
        // `..` and `-` are well-formed ids: as filters they just match nothing.
        if !matches!(*s, "%2E%2E" | "-") {
            cases.push(get(format!("/api/audit?intervention_id={s}")));
            cases.push(get(format!("/api/interventions?target={s}")));
        }
    }
    cases.push(get(format!("/api/trends/employee/{}", long(129))));
    cases.push(get(format!("/api/trends/employee/{}", long(20_000))));
    cases.push(get(format!("/api/trends/team/{}", long(129))));
    for n in BAD_NUMBERS {
        cases.push(get(format!("/api/trends/employee/emp_ok?days={n}")));
        cases.push(get(format!("/api/trends/team/Core?days={n}")));
        cases.push(get(format!("/api/trends/burnout-alerts?days={n}")));
        cases.push(get(format!(
            "/api/trends/statistics/burnout_score?days={n}"
        )));
        cases.push(get(format!("/api/audit?limit={n}")));
        cases.push(get(format!("/api/interventions?limit={n}")));
    }
    for t in [
        "NaN",
        "-1",
        "100.0000001",
        "1e309",
        "-1e-320",
        "abc",
        "",
        "70%3B",
        "Infinity",
    ] {
        cases.push(get(format!("/api/trends/burnout-alerts?threshold={t}")));
    }
    for q in [
        "use_hourly=yes",
        "use_hourly=",
        "use_hourly=TRUE%00",
        "days=1&days=2",
        "day=7",
        "days=7&%27%3B--=1",
        "days[]=7",
    ] {
        cases.push(get(format!("/api/trends/employee/emp_ok?{q}")));
    }
    for q in [
        "start_date=2026-01-02&end_date=2026-01-01",
        "start_date=0000-00-00&end_date=2026-01-01",
        "start_date=2026-01-01",
        "start_date=2026-01-01T00%3A00%3A00%2B99%3A00&end_date=2026-01-02",
        "start_date=1900-01-01&end_date=2100-01-01",
        "start_date=%27%3B--&end_date=2026-01-01",
        "start_date=-5000-01-01&end_date=2026-01-01",
        "start_date=-5000-01-01%2000%3A00%3A00&end_date=2026-01-01",
        "start_date=0000-01-01T00%3A00%3A00Z&end_date=0000-01-02T00%3A00%3A00Z",
        "start_date=2026-01-01&end_date=10000-01-01",
        "start_date=2026-11-30T00%3A00%3A00%00&end_date=2026-12-01",
        "start_date=2026-01-01%00&end_date=2026-01-02",
    ] {
        cases.push(get(format!("/api/trends/employee/emp_ok/range?{q}")));
    }
    for q in [
        "cursor=-1",
        "cursor=abc",
        "cursor=99999999999999999999",
        "action=DROP",
        "start=yesterday",
        "end=2026-99-01",
        "status=deleted",
        "start=0000-01-01",
        "start=-5000-01-01T00%3A00%3A00Z",
        "end=2026-01-01%00",
        "cursor=1%00",
        "action=created%00",
        "intervention_id=iv%00",
        "a%00=1",
    ] {
        cases.push(get(format!("/api/audit?{q}")));
    }
    cases.push(get("/api/interventions?status=%27%20OR%201%3D1".into()));
    for q in ["status=proposed%00", "target=e%00", "limit=1%00"] {
        cases.push(get(format!("/api/interventions?{q}")));
    }
    for path in [
        "/api/trends/team/Core%00",
        "/api/trends/team/%00Core",
        "/api/trends/statistics/burnout_score%00",
        "/api/trends/burnout-alerts?threshold=70%00",
        "/api/trends/burnout-alerts?days=7%00",
        "/api/trends/team/Core?days=1%00",
    ] {
        cases.push(get(path.into()));
    }
    for (ct, body) in bad_bodies() {
        cases.push(send(Method::POST, "/api/metrics", ct, body));
    }
    // Over the body limit (64 KiB in this test).
    cases.push(send(
        Method::POST,
        "/api/metrics",
        "application/json",
        vec![b' '; 200_000],
    ));
    cases.push(send(
        Method::POST,
        "/api/interventions",
        "application/json",
        vec![b'['; 200_000],
    ));
    for body in [
        "{".to_string(),
        "[]".into(),
        "{\"kind\": 7, \"actor\": \"hr\"}".into(),
        "{\"kind\": \"one_on_one\"}".into(),
        "{\"kind\": \"\", \"actor\": \"hr\"}".into(),
        "{\"kind\": \"one_on_one\", \"actor\": \"\"}".into(),
        format!("{{\"kind\": \"one_on_one\", \"actor\": \"{}\"}}", long(10_000)),
        "{\"intervention_id\": \"iv'; DROP TABLE interventions;--\", \"kind\": \"one_on_one\", \"actor\": \"hr\"}".into(),
        "{\"intervention_id\": \"\u{202e}iv\", \"kind\": \"one_on_one\", \"actor\": \"hr\"}".into(),
        "{\"kind\": \"one_on_one\", \"actor\": \"hr\", \"target_employee_id\": \"a b\"}".into(),
        "{\"kind\": \"one_on_one\", \"actor\": \"hr\", \"details\": 5}".into(),
        "{\"kind\": \"one_on_one\", \"actor\": \"hr\", \"status\": \"active\"}".into(),
        // NUL anywhere (PostgreSQL cannot store it), and a lone surrogate.
        r#"{"kind": "one_on_one", "actor": "hr", "details": {"note": "a\u0000b"}}"#.into(),
        r#"{"kind": "one_on_one", "actor": "hr", "details": {"a": [{"b": ["\u0000"]}]}}"#.into(),
        r#"{"kind": "one_on_one", "actor": "hr", "details": {"k\u0000": 1}}"#.into(),
        r#"{"kind": "one_on_one", "actor": "h\u0000r"}"#.into(),
        r#"{"kind": "one\u0000on_one", "actor": "hr"}"#.into(),
        r#"{"intervention_id": "iv\u0000", "kind": "one_on_one", "actor": "hr"}"#.into(),
        r#"{"kind": "one_on_one", "actor": "hr", "target_employee_id": "e\u0000"}"#.into(),
        r#"{"kind": "one_on_one", "actor": "hr", "details": {"note": "\ud800"}}"#.into(),
    ] {
        cases.push(send(
            Method::POST,
            "/api/interventions",
            "application/json",
            body.into_bytes(),
        ));
    }
    cases.push(send(
        Method::POST,
        "/api/interventions",
        "text/plain",
        json!({"kind": "one_on_one", "actor": "hr"})
            .to_string()
            .into_bytes(),
    ));
    for body in [
        "{\"status\": \"completed\", \"actor\": \"hr\"}",
        "{\"status\": \"exploded\", \"actor\": \"hr\"}",
        "{\"status\": null, \"actor\": \"hr\"}",
        "{\"actor\": \"hr\"}",
        "not json",
        r#"{"status": "approved", "actor": "hr", "details": {"why": "\u0000"}}"#,
        r#"{"status": "approved", "actor": "\u0000"}"#,
        r#"{"status": "approved\u0000", "actor": "hr"}"#,
    ] {
        cases.push(send(
            Method::PATCH,
            "/api/interventions/iv-seed",
            "application/json",
            body.as_bytes().to_vec(),
        ));
    }
    for body in [
        "{",
        "{}",
        "{\"interactions\": 5}",
        "{\"interactions\": [], \"directory\": [{\"employee_id\": \"e'1\", \"team\": \"Core\"}]}",
        r#"{"interactions": [], "directory": [{"employee_id": "e1", "team": "Co\u0000re"}]}"#,
        r#"{"interactions": [], "directory": [{"employee_id": "e\u00001"}]}"#,
        r#"{"interactions": [], "directory": [], "at": "0000-01-01T00:00:00Z"}"#,
        r#"{"interactions": [], "directory": [], "at": "-5000-01-01T00:00:00Z"}"#,
        r#"{"interactions": [], "directory": [], "at": "1810-01-01T00:00:00Z"}"#,
        r#"{"interactions": [], "directory": [], "at": "2999-01-01T00:00:00Z"}"#,
    ] {
        cases.push(send(
            Method::POST,
            "/api/graph/snapshots",
            "application/json",
            body.as_bytes().to_vec(),
        ));
    }
    for (method, path) in [
        (Method::DELETE, "/api/metrics"),
        (Method::PUT, "/api/interventions"),
        (Method::DELETE, "/api/audit"),
        (Method::POST, "/api/audit/verify"),
        (Method::GET, "/api/nothing"),
    ] {
        cases.push(Case {
            method,
            path: path.into(),
            content_type: None,
            body: None,
        });
    }
    cases
}

async fn hundreds_of_malformed_requests_get_a_json_4xx_and_write_nothing(store: Store) {
    let app = spawn_on(
        store,
        ApiConfig {
            body_limit: 64 * 1024,
            ..ApiConfig::default()
        },
    )
    .await;
    let seed = json!([
        sample("emp_ok", "Core", 30, 40.0),
        sample("emp_ok", "Core", 20, 45.0),
    ]);
    assert_eq!(app.post_json("/api/metrics", &seed).await.0, 200);
    let (status, body) = app
        .post_json(
            "/api/interventions",
            &json!({"intervention_id": "iv-seed", "kind": "one_on_one", "actor": "hr"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let before = counts(&app).await;

    let cases = corpus();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = app
            .http
            .request(case.method.clone(), format!("{}{}", app.base, case.path));
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        if let Some(body) = &case.body {
            request = request.body(body.clone());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{} {}: no answer: {e}", case.method, case.path));
                continue;
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shape_ok = body["error"]["code"].is_string() && body["error"]["message"].is_string();
        if !(400..500).contains(&status) || !shape_ok {
            let shown: String = case
                .body
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(400)]).into_owned())
                .unwrap_or_default();
            failures.push(format!(
                "{} {} [{:?}] {shown:?} -> {status} {}",
                case.method,
                &case.path[..case.path.len().min(150)],
                case.content_type,
                &text[..text.len().min(200)]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        counts(&app).await,
        before,
        "a malformed request changed the data"
    );
}

/// Input that is hostile but valid: accepted, and afterwards every read
/// still answers (no 5xx), in JSON and CSV. Tiny values (flushed to 0),
/// formula-like text (neutralised in CSV), naive timestamps (UTC), backfill
/// older than the raw retention.
async fn hostile_but_valid_input_is_stored_and_every_read_still_answers(store: Store) {
    let app = spawn_on(store, ApiConfig::default()).await;
    let now = crate::helpers::now();
    let team = "=HYPERLINK(\"http://x\",\"y\")";
    let mut rows = Vec::new();
    for (i, v) in [
        5e-324,
        1e-320,
        2.2e-308,
        1e-300,
        1e-200,
        1e-100,
        0.0,
        1.0 - f64::EPSILON,
    ]
    .into_iter()
    .enumerate()
    {
        let mut row = sample(
            ["@emp", "-emp", "emp_t"][i % 3],
            team,
            i as i64 + 1,
            v * 100.0,
        );
        for field in [
            "degree_centrality",
            "betweenness_centrality",
            "clustering_coeff",
        ] {
            row[field] = json!(v);
        }
        rows.push(row);
    }
    let mut backfill = sample("emp_t", "+Team", 0, 10.0);
    backfill["time"] = json!((now - chrono::Duration::days(200)).to_rfc3339());
    rows.push(backfill);
    let mut naive = sample("emp_t", "@Team", 0, 10.0);
    naive["time"] = json!(
        (now - chrono::Duration::minutes(30))
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    );
    rows.push(naive);
    let (status, body) = app.post_json("/api/metrics", &json!(rows)).await;
    assert_eq!(status, 200, "{body}");
    app.store.refresh_rollup(now).await.unwrap();

    let team_path = "%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22y%22)";
    let day = now.date_naive();
    let mut paths = vec![
        format!("/api/trends/team/{team_path}"),
        "/api/trends/team/%2BTeam?days=730".into(),
        "/api/trends/burnout-alerts?threshold=0".into(),
        "/api/trends/burnout-alerts?threshold=0.0000000001&days=90".into(),
        format!(
            "/api/trends/employee/emp_t/range?start_date={}T00:00:00&end_date={}",
            day - chrono::Duration::days(300),
            day
        ),
    ];
    for id in ["@emp", "-emp", "emp_t"] {
        paths.push(format!("/api/trends/employee/{id}?days=730"));
        paths.push(format!("/api/trends/employee/{id}?days=1&use_hourly=true"));
    }
    for metric in [
        "degree_centrality",
        "betweenness_centrality",
        "clustering_coeff",
        "burnout_score",
    ] {
        paths.push(format!("/api/trends/statistics/{metric}?days=365"));
        paths.push(format!("/api/trends/statistics/{metric}?days=1"));
    }
    for path in &paths {
        for accept in ["application/json", "text/csv"] {
            let r = app
                .http
                .get(format!("{}{path}", app.base))
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert_eq!(status, 200, "{path} [{accept}]: {text}");
            if accept == "text/csv" {
                assert!(!text.contains(",=HYPERLINK"), "{path}: {text}");
                assert!(
                    !text.starts_with("=") && !text.contains("\n="),
                    "{path}: {text}"
                );
            }
        }
    }
    // The jobs over such data run store-level on both engines
    // (crates/store/tests/conformance/numerics.rs).
}

organism_testkit::engine_tests!(
    hundreds_of_malformed_requests_get_a_json_4xx_and_write_nothing,
    hostile_but_valid_input_is_stored_and_every_read_still_answers,
);
