//! End to end: the dashboard in Debian's headless Chromium, driven over
//! WebDriver (chromedriver), against a real `organism demo` with a small
//! organisation on its own embedded cluster and port.
//!
//! It checks what a person would see: alert rows for the threshold set in
//! the page, a click on an alert opening that employee's chart with as many
//! points as the API returns, metric toggles, hourly resolution, the
//! intervention timeline from the audit log, the team chart and table with
//! member counts, the health panel with the engine and jobs, and, once the
//! server has API keys, a clear message for a wrong key. It saves a
//! screenshot of the whole page to `target/dashboard-screenshot.png`.
//!
//! The analytics panels (issue 17) against data the test seeds through the
//! API: the overview heat map (a cell per team-day, the days of a team of
//! two grey), the metric statistics, the forecast band and threshold line
//! on the employee and team charts (read back from the canvas), the
//! correlation matrix (every value written in its cell), the effect of an
//! intervention activated ten days ago (`effective_at`) with both fitted
//! segments and the comparison group drawn, and a click on an injected
//! step in the anomaly list opening that employee's trend at that day.
//!
//! The live panel (issue 18): the page's own SSE parser; an alert rule
//! created through the API fires and resolves on samples the test writes,
//! and the live table, the firing count and the employee chart (the same
//! uPlot chart, one point more each time) follow without a reload, while
//! the team chart of daily means is fetched again; a stream stopped while
//! the rule fires and resolves again resumes with `Last-Event-ID` and then
//! shows every alert change of the audit log once, ids increasing; a wrong
//! key stops it with a message, the right one starts it over.
//!
//! Skipped, printing why, only when Chromium or chromedriver is not
//! installed (`scripts/setup.sh` installs them: Debian's `chromium` and
//! `chromium-driver`). Everything it starts is stopped when it ends, passing
//! or failing: the demo by SIGTERM (so its embedded PostgreSQL stops too),
//! chromedriver and the browser by killing their process group.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the test waits for something to appear before it fails. A bound
/// on waiting (so a broken page fails instead of hanging), not a claim
/// about speed.
const PATIENCE: Duration = Duration::from_secs(60);

/// The page's default alert window, and the threshold the test sets in it.
const ALERT_DAYS: u32 = 7;
const THRESHOLD: u32 = 50;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh directory under the temp dir, named like the suite's other
/// throwaway directories so that the test script's cleanup also finds it.
fn scratch_dir(what: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "organism-test-dashboard-{what}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Processes whose command line mentions `needle` (the embedded cluster's
/// server names its data directory).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

// ------------------------------------------------------------------ demo

/// `organism demo` on a free port with its own data directory; stopped by
/// SIGTERM when dropped.
struct Demo {
    child: Child,
    base: String,
    admin_key: Option<String>,
    dir: PathBuf,
}

impl Demo {
    fn start() -> Demo {
        let dir = scratch_dir("demo");
        let port = organism_testkit::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_organism"))
            .args(["demo", "--employees", "40", "--days", "30", "--seed", "42"])
            .args(["--log", "warn"])
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env_remove("DATABASE_URL")
            .env_remove("TIMESCALE_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn organism demo");
        let mut demo = Demo {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin_key: None,
            dir,
        };
        let stdout = demo.child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("demo | {line}");
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining the pipe.
                }
            }
        });
        // The banner ends with "Press Ctrl-C to stop."; the key line may come
        // anywhere before it, or just after it.
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut up = false;
        while !up {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    demo.take_key(&line);
                    up = line.contains("Press Ctrl-C to stop.");
                }
                Err(e) => panic!(
                    "organism demo did not come up ({e}); it exited with {:?}",
                    demo.child.try_wait()
                ),
            }
        }
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            demo.take_key(&line);
        }
        demo
    }

    fn take_key(&mut self, line: &str) {
        if let Some(key) = line.strip_prefix("admin API key: ") {
            self.admin_key = Some(key.trim().to_string());
        }
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// SIGTERM, then the exit status once it has stopped (SIGKILL after 60 s).
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------- chromedriver

/// chromedriver on a free port, in a process group of its own so that the
/// browser it starts goes with it.
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    async fn start() -> Driver {
        let port = organism_testkit::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: scratch_dir("chromium-profile"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = match http.get(format!("{}/status", driver.url)).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .map(|v| v["value"]["ready"] == json!(true))
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,2100",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session through chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

// ------------------------------------------------------------ API client

/// The same API the page reads, with the same key.
struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the API answers");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> u16 {
        self.request(method, path)
            .json(&body)
            .send()
            .await
            .expect("the API answers")
            .status()
            .as_u16()
    }

    /// GET `path`, whatever the status: (status, body).
    async fn try_get(&self, path: &str) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn points(&self, employee: &str, hourly: bool) -> usize {
        let trend = self
            .get(&format!(
                "/api/trends/employee/{employee}?days=7&use_hourly={hourly}"
            ))
            .await;
        trend["points"].as_array().map_or(0, Vec::len)
    }
}

// ---------------------------------------------------------- page helpers

async fn js(page: &Client, script: &str) -> Value {
    page.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// What the page says in its status lines, for failure messages.
async fn page_statuses(page: &Client) -> String {
    js(
        page,
        "return [...document.querySelectorAll('.status, #auth-message')]
            .map(e => `${e.id}: ${e.textContent}`).join('\\n');",
    )
    .await
    .to_string()
}

/// Waits until `condition` (a JavaScript expression) is true in the page.
async fn wait_until(page: &Client, condition: &str, what: &str) {
    let script = format!("return Boolean({condition});");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if js(page, &script).await == json!(true) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "the page never showed {what} ({condition}); it says:\n{}",
                page_statuses(page).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn attr(page: &Client, css: &str, name: &str) -> String {
    page.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(name)
        .await
        .unwrap_or_else(|e| panic!("{css} {name}: {e}"))
        .unwrap_or_default()
}

async fn attr_number(page: &Client, css: &str, name: &str) -> usize {
    let text = attr(page, css, name).await;
    text.parse()
        .unwrap_or_else(|_| panic!("{css} {name} is not a number: {text:?}"))
}

async fn type_into(page: &Client, css: &str, text: &str) {
    let field = page.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Clicks the element `css` finds. A table the dashboard renders again
/// between the find and the click (a live event, a refresh) leaves a stale
/// reference: the element is found again, up to ten times.
async fn click(page: &Client, css: &str) {
    for attempt in 1.. {
        let element = page
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.click().await {
            Ok(()) => return,
            Err(e) if attempt < 10 && e.to_string().contains("stale element") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

/// Pixels of the burnout series' red inside the employee chart's plotting
/// area, read back from the chart's canvas.
async fn red_pixels(page: &Client) -> i64 {
    js(
        page,
        "const u = window.organismDashboard.employeeChart;
         if (!u) return -1;
         const b = u.bbox;
         const d = u.ctx.getImageData(Math.round(b.left), Math.round(b.top),
                                      Math.round(b.width), Math.round(b.height)).data;
         let n = 0;
         for (let i = 0; i < d.length; i += 4)
           if (d[i] > 150 && d[i + 1] < 100 && d[i + 2] < 90 && d[i + 3] > 128) n++;
         return n;",
    )
    .await
    .as_i64()
    .unwrap_or(-1)
}

/// The employee chart shows `employee` at `resolution`, with as many points
/// as the API returned just before and just after the page asked (the
/// window's start moves with the clock, so the two may differ by one).
async fn expect_employee_chart(
    page: &Client,
    api: &Api,
    employee: &str,
    hourly: bool,
    points_before: usize,
) {
    let resolution = if hourly { "hourly" } else { "raw" };
    wait_until(
        page,
        &format!(
            "document.querySelector('#employee-chart[data-state=\"ready\"][data-employee=\"{employee}\"][data-resolution=\"{resolution}\"]')"
        ),
        &format!("{employee}'s {resolution} chart"),
    )
    .await;
    let points_after = api.points(employee, hourly).await;
    let plotted = attr_number(page, "#employee-chart", "data-points").await;
    assert!(plotted > 0, "{employee}'s chart has no points");
    let (lo, hi) = (
        points_before.min(points_after),
        points_before.max(points_after),
    );
    assert!(
        (lo..=hi).contains(&plotted),
        "{employee}'s {resolution} chart plots {plotted} points, the API returned {points_before} then {points_after}"
    );
    let canvases = js(
        page,
        "return document.querySelectorAll('#employee-chart canvas').length;",
    )
    .await;
    assert_eq!(canvases, json!(1), "one chart canvas");
    let title = page
        .find(Locator::Css("#employee-title"))
        .await
        .expect("title")
        .text()
        .await
        .expect("text");
    assert!(title.contains(employee), "title {title:?}");
}

// ---------------------------------------------------------------- seeding

/// A team of two (under the minimum group size of 5, so every one of its
/// days is suppressed in the overview) whose first member's burnout steps
/// from about 30 to about 85 three days ago: the anomaly the test clicks.
const TINY_TEAM: &str = "Browser Tiny";
const STEP_EMPLOYEE: &str = "emp_browser_step";
const STEADY_EMPLOYEE: &str = "emp_browser_steady";
const STEP_DAYS_AGO: i64 = 3;
const TINY_DAYS: i64 = 25;

/// The intervention whose effect the test shows, activated ten days ago.
const EFFECT_ID: &str = "iv-browser-effect";
const EFFECT_DAYS_AGO: i64 = 10;

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The tiny team's samples, four a day for [`TINY_DAYS`] whole days before
/// today; returns the day of the step.
async fn seed_tiny_team(api: &Api) -> String {
    let today = chrono::Utc::now().date_naive();
    let mut rows = Vec::new();
    for ago in 1..=TINY_DAYS {
        let day = today - chrono::Duration::days(ago);
        for (employee, offset) in [(STEP_EMPLOYEE, 0.0), (STEADY_EMPLOYEE, 2.0)] {
            // Day-to-day wiggle of a few points, so the usual changes vary.
            let usual = 30.0 + offset + 3.0 * (ago as f64 * 1.7).sin();
            let burnout = if employee == STEP_EMPLOYEE && ago <= STEP_DAYS_AGO {
                85.0 + (ago as f64).sin()
            } else {
                usual
            };
            for hour in [1, 7, 13, 19] {
                let time = day.and_hms_opt(hour, 0, 0).expect("a valid hour").and_utc();
                rows.push(json!({
                    "time": rfc3339(time), "employee_id": employee, "team": TINY_TEAM,
                    "degree_centrality": 0.2, "betweenness_centrality": 0.01,
                    "clustering_coeff": 0.4, "burnout_score": burnout,
                }));
            }
        }
    }
    let status = api
        .send(reqwest::Method::POST, "/api/metrics", Value::Array(rows))
        .await;
    assert_eq!(status, 200, "write the tiny team's samples");
    (today - chrono::Duration::days(STEP_DAYS_AGO)).to_string()
}

/// An intervention for a member of the largest team (so that the
/// comparison group is large enough), recorded now but approved eleven
/// and activated ten days ago.
async fn seed_effect(api: &Api) -> String {
    let overview = api.get("/api/analytics/overview?days=7").await;
    let largest = overview["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .max_by_key(|t| t["days"][0]["members"].as_i64().unwrap_or_default())
        .and_then(|t| t["team"].as_str())
        .expect("a team")
        .to_string();
    let directory = api
        .get("/api/trends/burnout-alerts?threshold=0&days=7")
        .await;
    let target = directory["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .find(|a| a["team"] == json!(largest))
        .and_then(|a| a["employee_id"].as_str())
        .expect("a member of the largest team")
        .to_string();
    let created = api
        .send(
            reqwest::Method::POST,
            "/api/interventions",
            json!({"intervention_id": EFFECT_ID, "kind": "workload_rebalance",
                   "target_employee_id": target, "details": {"note": "browser test"},
                   "actor": "browser-test@example.org"}),
        )
        .await;
    assert_eq!(created, 201, "create the effect intervention");
    let now = chrono::Utc::now();
    for (status, ago) in [
        ("approved", EFFECT_DAYS_AGO + 1),
        ("active", EFFECT_DAYS_AGO),
    ] {
        let changed = api
            .send(
                reqwest::Method::PATCH,
                &format!("/api/interventions/{EFFECT_ID}"),
                json!({"status": status, "actor": "hr@example.org",
                       "effective_at": rfc3339(now - chrono::Duration::days(ago))}),
            )
            .await;
        assert_eq!(changed, 200, "{EFFECT_ID} {status} after the fact");
    }
    target
}

// ------------------------------------------------------- analytics panels

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The overview: a cell per team-day the API returns, coloured by its
/// value, the tiny team's suppressed days grey like the legend's swatch.
async fn expect_overview(page: &Client, api: &Api) -> TestResult {
    wait_until(
        page,
        "document.querySelector('#overview-panel[data-state=\"ready\"]')",
        "the overview heat map",
    )
    .await;
    let overview = api.get("/api/analytics/overview?days=30").await;
    let teams = overview["teams"].as_array().expect("teams");
    let cells: Value = js(
        page,
        "return [...document.querySelectorAll('#heatmap td.cell')].map(td => ({
            team: td.dataset.team, day: td.dataset.day, value: td.dataset.value ?? null,
            suppressed: td.classList.contains('suppressed'), empty: td.classList.contains('empty'),
            colour: getComputedStyle(td).backgroundColor }));",
    )
    .await;
    let cells = cells.as_array().expect("cells");
    let find = |team: &str, day: &str| {
        cells
            .iter()
            .find(|c| c["team"] == json!(team) && c["day"] == json!(day))
            .unwrap_or_else(|| panic!("no heat-map cell for {team} on {day}"))
    };
    let mut shown = 0;
    for team in teams {
        let name = team["team"].as_str().unwrap_or_default();
        for day in team["days"].as_array().into_iter().flatten() {
            let cell = find(name, day["day"].as_str().unwrap_or_default());
            shown += 1;
            assert_eq!(cell["empty"], json!(false), "{cell}");
            if day["suppressed"] == json!(true) {
                assert_eq!(cell["suppressed"], json!(true), "{cell} should be grey");
            } else {
                assert!(
                    close(number(&cell["value"]), number(&day["burnout_score"]), 1e-9),
                    "{cell} shows {day}"
                );
            }
        }
    }
    assert!(shown > 0, "the overview has team-days");
    let with_data = cells.iter().filter(|c| c["empty"] == json!(false)).count();
    assert_eq!(with_data, shown, "one coloured or grey cell per team-day");

    let tiny: Vec<&Value> = cells
        .iter()
        .filter(|c| c["team"] == json!(TINY_TEAM) && c["suppressed"] == json!(true))
        .collect();
    assert!(
        tiny.len() >= TINY_DAYS as usize - 1,
        "the team of two is grey on its days: {tiny:?}"
    );
    let swatch = js(
        page,
        "return getComputedStyle(document.getElementById('legend-suppressed')).backgroundColor;",
    )
    .await;
    let grey = tiny[0]["colour"].as_str().unwrap_or_default();
    assert_eq!(
        json!(grey),
        swatch,
        "a suppressed cell has the legend's grey"
    );
    let rgb: Vec<u32> = grey
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    assert!(
        rgb.len() == 3 && rgb[0] == rgb[1] && rgb[1] == rgb[2] && rgb[0] < 230,
        "suppressed cells are grey, not white: {grey}"
    );
    let coloured = cells
        .iter()
        .find(|c| c["value"].is_string())
        .expect("a cell with a value");
    assert_ne!(coloured["colour"], json!(grey), "{coloured}");
    Ok(())
}

/// The statistics table: one row per metric with the API's sample count.
async fn expect_statistics(page: &Client, api: &Api) -> TestResult {
    wait_until(
        page,
        "document.querySelector('#stats-panel[data-state=\"ready\"]')",
        "the metric statistics",
    )
    .await;
    for metric in [
        "burnout_score",
        "degree_centrality",
        "betweenness_centrality",
        "clustering_coeff",
    ] {
        let stats = api
            .get(&format!("/api/trends/statistics/{metric}?days=30"))
            .await;
        let count = js(
            page,
            &format!(
                "return document.querySelector('#stats-table tr[data-metric=\"{metric}\"] td:nth-child(2)')?.textContent ?? null;"
            ),
        )
        .await;
        assert_eq!(count, json!(stats["count"].to_string()), "{metric} samples");
    }
    Ok(())
}

/// In a chart's canvas: whether the pixel at (x value, y value on
/// `scale`) is tinted purple, the forecast band's colour.
async fn purple_at(page: &Client, chart: &str, x: f64, y: f64) -> bool {
    js(
        page,
        &format!(
            "const u = window.organismDashboard.{chart};
             const px = Math.round(u.valToPos({x}, 'x', true));
             const py = Math.round(u.valToPos({y}, 'score', true));
             const [r, g, b] = u.ctx.getImageData(px, py, 1, 1).data;
             return b > g + 15 && r > g + 5;"
        ),
    )
    .await
        == json!(true)
}

/// A forecast band drawn on `chart` for `forecast` (the API's answer):
/// inside the 80% interval is purple, well above the 95% one is not, and
/// the threshold line is drawn.
async fn expect_band(page: &Client, chart: &str, box_css: &str, forecast: &Value, noon: bool) {
    let points = forecast["points"].as_array().expect("points");
    assert_eq!(
        attr_number(page, box_css, "data-forecast-points").await,
        points.len(),
        "{chart}: one forecast point per day"
    );
    assert_eq!(
        attr(page, box_css, "data-threshold").await,
        THRESHOLD.to_string()
    );
    let mid = &points[points.len() / 2];
    let day =
        chrono::NaiveDate::parse_from_str(mid["day"].as_str().unwrap_or_default(), "%Y-%m-%d")
            .expect("a forecast day");
    let x = day
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp() as f64
        + if noon { 43_200.0 } else { 0.0 };
    let (value, lower) = (number(&mid["value"]), number(&mid["lower_80"]));
    assert!(
        purple_at(page, chart, x, (value + lower) / 2.0).await,
        "{chart}: the 80% band is drawn under the forecast line ({mid})"
    );
    let upper = number(&mid["upper_95"]);
    if upper < 80.0 {
        assert!(
            !purple_at(page, chart, x, (upper + 100.0) / 2.0).await,
            "{chart}: nothing purple well above the 95% band ({mid})"
        );
    }
    let amber = js(
        page,
        &format!("return window.organismDashboard.colourPixels(window.organismDashboard.{chart}, [183, 149, 11], 30);"),
    )
    .await;
    assert!(
        amber.as_i64().unwrap_or_default() > 0,
        "{chart}: the threshold line is drawn"
    );
}

/// The forecasts under the employee chart (of `employee`) and the team
/// chart (of `team`), as the API answers them with the page's threshold.
async fn expect_forecasts(page: &Client, api: &Api, employee: &str, team: &str) -> TestResult {
    let query = format!("metric=burnout_score&horizon_days=14&threshold={THRESHOLD}");
    wait_until(
        page,
        "document.querySelector('#employee-chart[data-forecast]')",
        "the employee forecast",
    )
    .await;
    let forecast = api
        .get(&format!(
            "/api/analytics/forecast/employee/{employee}?{query}"
        ))
        .await;
    expect_band(page, "employeeChart", "#employee-chart", &forecast, true).await;
    let reached = forecast["threshold_reached_on"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        attr(page, "#employee-chart", "data-threshold-reached-on").await,
        reached
    );

    wait_until(
        page,
        "document.querySelector('#team-chart[data-forecast]')",
        "the team forecast",
    )
    .await;
    let (status, forecast) = api
        .try_get(&format!(
            "/api/analytics/forecast/team/{}?{query}",
            team.replace(' ', "%20")
        ))
        .await;
    if status == 200 {
        expect_band(page, "teamChart", "#team-chart", &forecast, false).await;
    } else {
        assert_eq!(attr(page, "#team-chart", "data-forecast").await, "absent");
        let text = page
            .find(Locator::Css("#team-forecast-status"))
            .await?
            .text()
            .await?;
        assert!(text.starts_with("No forecast"), "{text}");
    }
    Ok(())
}

/// The 4×4 matrix: every pair's Pearson coefficient written in both of
/// its cells, 1.00 on the diagonal.
async fn expect_correlations(page: &Client, api: &Api) -> TestResult {
    wait_until(
        page,
        "document.querySelector('#correlations-panel[data-state=\"ready\"]')",
        "the correlation matrix",
    )
    .await;
    let answer = api.get("/api/analytics/correlations?days=90").await;
    assert_eq!(answer["suppressed"], json!(false), "{answer}");
    let cells: Value = js(
        page,
        "return [...document.querySelectorAll('#correlation-matrix td.corr')].map(td => ({
            x: td.dataset.x, y: td.dataset.y, text: td.textContent,
            colour: getComputedStyle(td).backgroundColor }));",
    )
    .await;
    let cells = cells.as_array().expect("cells");
    assert_eq!(cells.len(), 16, "a 4×4 matrix");
    let text = |x: &str, y: &str| {
        cells
            .iter()
            .find(|c| c["x"] == json!(x) && c["y"] == json!(y))
            .and_then(|c| c["text"].as_str())
            .unwrap_or_else(|| panic!("no cell for {x} × {y}"))
            .to_string()
    };
    for c in cells.iter().filter(|c| c["x"] == c["y"]) {
        assert_eq!(c["text"], json!("1.00"), "the diagonal: {c}");
    }
    let pairs = answer["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 6);
    for pair in pairs {
        let (x, y) = (
            pair["x"].as_str().unwrap_or_default(),
            pair["y"].as_str().unwrap_or_default(),
        );
        let r = number(&pair["pearson"]["coefficient"]);
        for shown in [text(x, y), text(y, x)] {
            let value: f64 = shown.parse().unwrap_or(f64::NAN);
            assert!(
                close(value, r, 0.005 + 1e-12),
                "{x} × {y}: the cell says {shown:?}, the API {r}"
            );
        }
    }
    Ok(())
}

/// The effect panel for [`EFFECT_ID`], picked from the list: the counts of
/// both fitted segments and of the comparison group's days are the API's,
/// both segments' colours are on the canvas on their side of the start,
/// and the estimates are written.
async fn expect_effect(page: &Client, api: &Api) -> TestResult {
    wait_until(
        page,
        &format!("document.querySelector('#effect-pick option[value=\"{EFFECT_ID}\"]')"),
        "the intervention picker",
    )
    .await;
    page.find(Locator::Css("#effect-pick"))
        .await?
        .select_by_value(EFFECT_ID)
        .await?;
    wait_until(
        page,
        &format!(
            "document.querySelector('#effect-chart[data-state=\"ready\"][data-intervention=\"{EFFECT_ID}\"]')"
        ),
        "the intervention effect",
    )
    .await;
    let effect = api
        .get(&format!("/api/analytics/interventions/{EFFECT_ID}/effect"))
        .await;
    let its = &effect["interrupted_time_series"];
    assert!(its.is_object(), "the API fits the series: {effect}");
    let segment = |name: &str| {
        its["fitted"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["segment"] == json!(name))
            .count()
    };
    assert!(segment("before") >= 3 && segment("after") >= 3, "{its}");
    assert_eq!(
        attr_number(page, "#effect-chart", "data-fitted-before").await,
        segment("before")
    );
    assert_eq!(
        attr_number(page, "#effect-chart", "data-fitted-after").await,
        segment("after")
    );
    let did = &effect["difference_in_differences"];
    assert!(
        did.is_object(),
        "the largest team gives a comparison group: {}",
        effect["comparison_unavailable"]
    );
    assert_eq!(
        attr_number(page, "#effect-chart", "data-comparison").await,
        did["comparison_daily_means"].as_array().map_or(0, Vec::len)
    );
    // Each fitted line's colour, left and right of the start.
    let sides = js(
        page,
        "const u = window.organismDashboard.effectChart;
         const start = u.valToPos(Date.parse(u.root.parentNode.dataset.activatedAt) / 1000, 'x', true);
         const b = u.bbox;
         const count = (rgb, left) => {
           const x0 = left ? b.left : start + 2, x1 = left ? start - 2 : b.left + b.width;
           const d = u.ctx.getImageData(Math.round(x0), Math.round(b.top), Math.round(x1 - x0), Math.round(b.height)).data;
           let n = 0;
           for (let i = 0; i < d.length; i += 4)
             if (Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30 && Math.abs(d[i + 2] - rgb[2]) < 30) n++;
           return n;
         };
         const before = [31, 95, 153], after = [230, 126, 34];
         return { beforeLeft: count(before, true), beforeRight: count(before, false),
                  afterLeft: count(after, true), afterRight: count(after, false) };",
    )
    .await;
    let n = |k: &str| sides[k].as_i64().unwrap_or(-1);
    assert!(
        n("beforeLeft") > 0 && n("afterRight") > 0,
        "both fitted segments are drawn: {sides}"
    );
    assert!(
        n("beforeRight") == 0 && n("afterLeft") == 0,
        "each segment on its side of the start: {sides}"
    );
    let estimate = |name: &str| {
        let name = name.to_string();
        async move {
            js(
                page,
                &format!(
                    "return document.querySelector('#effect-estimates tr[data-estimate=\"{name}\"] td:nth-child(2)')?.textContent ?? null;"
                ),
            )
            .await
        }
    };
    let level = estimate("Level change at the start").await;
    assert!(
        close(
            level
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN),
            number(&its["level_change"]["estimate"]),
            0.05 + 1e-9
        ),
        "level change {level} against {}",
        its["level_change"]
    );
    let shown = estimate("Difference in differences").await;
    assert!(
        close(
            shown
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN),
            number(&did["estimate"]["estimate"]),
            0.05 + 1e-9
        ),
        "DiD {shown} against {}",
        did["estimate"]
    );
    Ok(())
}

/// The anomaly list is the API's, in order; it includes the injected step,
/// and a click on it opens that employee's trend zoomed on that day.
async fn expect_anomalies(page: &Client, api: &Api, step_day: &str) -> TestResult {
    wait_until(
        page,
        "document.querySelector('#anomalies-panel[data-state=\"ready\"]')",
        "the anomaly list",
    )
    .await;
    let answer = api
        .get("/api/analytics/anomalies?metric=burnout_score&days=30")
        .await;
    let expected: Vec<(String, String)> = answer["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| {
            (
                a["employee_id"].as_str().unwrap_or_default().to_string(),
                a["day"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        expected.contains(&(STEP_EMPLOYEE.to_string(), step_day.to_string())),
        "the API finds the injected step on {step_day}: {expected:?}"
    );
    let shown: Vec<(String, String)> = serde_json::from_value(
        js(
            page,
            "return [...document.querySelectorAll('#anomalies-table tbody tr')].map(r => [r.dataset.employee, r.dataset.day]);",
        )
        .await,
    )?;
    assert_eq!(shown, expected, "anomaly rows, highest score first");
    click(
        page,
        &format!(
            "#anomalies-table tr[data-employee=\"{STEP_EMPLOYEE}\"][data-day=\"{step_day}\"] button"
        ),
    )
    .await;
    wait_until(
        page,
        &format!(
            "document.querySelector('#employee-chart[data-state=\"ready\"][data-employee=\"{STEP_EMPLOYEE}\"][data-focus-day=\"{step_day}\"]')"
        ),
        "the anomaly's employee at its day",
    )
    .await;
    let day = chrono::NaiveDate::parse_from_str(step_day, "%Y-%m-%d")?
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp();
    let scale = js(
        page,
        "const x = window.organismDashboard.employeeChart.scales.x; return [x.min, x.max];",
    )
    .await;
    let (min, max) = (number(&scale[0]), number(&scale[1]));
    assert!(
        min <= day as f64 && max >= (day + 86_400) as f64 && max - min <= 8.0 * 86_400.0,
        "the chart is zoomed on {step_day}: {scale}"
    );
    assert!(
        attr_number(page, "#employee-chart", "data-points").await > 0,
        "the employee's samples are drawn"
    );
    let title = page
        .find(Locator::Css("#employee-title"))
        .await?
        .text()
        .await?;
    assert!(title.contains(STEP_EMPLOYEE), "title {title:?}");
    Ok(())
}

// ------------------------------------------------------------ live panel

/// The employee whose samples the live part writes (a third member of the
/// team of two), and the rule that watches them.
const LIVE_EMPLOYEE: &str = "emp_browser_live";
const LIVE_RULE: &str = "rule-browser-live";

fn live_sample(burnout: f64, time: chrono::DateTime<chrono::Utc>) -> Value {
    json!([{
        "time": rfc3339(time), "employee_id": LIVE_EMPLOYEE, "team": TINY_TEAM,
        "degree_centrality": 0.3, "betweenness_centrality": 0.02,
        "clustering_coeff": 0.5, "burnout_score": burnout,
    }])
}

/// The live table's rows, newest first: (event id, employee, state,
/// episode, value).
async fn live_rows(page: &Client) -> Vec<(i64, String, String, String, f64)> {
    let rows = js(
        page,
        "return [...document.querySelectorAll('#live-table tbody tr')].map(r => [
            r.dataset.eventId, r.dataset.employee, r.dataset.state, r.dataset.episode, r.dataset.value]);",
    )
    .await;
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let text = |i: usize| r[i].as_str().unwrap_or_default().to_string();
            (
                text(0).parse().unwrap_or(-1),
                text(1),
                text(2),
                text(3),
                number(&r[4]),
            )
        })
        .collect()
}

/// The feed event ids of every alert change the evaluator recorded, in
/// the audit log (the test's rule is the demo's only one).
async fn audited_alert_events(api: &Api, changes: usize) -> Vec<i64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut ids = Vec::new();
        for action in ["alert_firing", "alert_resolved"] {
            let page = api
                .get(&format!("/api/audit?action={action}&limit=1000"))
                .await;
            for event in page["events"].as_array().into_iter().flatten() {
                ids.push(event["details"]["feed_event_id"].as_i64().unwrap_or(-1));
            }
        }
        if ids.len() >= changes {
            ids.sort_unstable();
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "the evaluator recorded {} of {changes} alert changes: {ids:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many of the employee chart's points have a burnout value, and the
/// last one (read from the chart's own data).
async fn chart_burnout(page: &Client) -> (usize, f64) {
    let v = js(
        page,
        "const ys = window.organismDashboard.employeeChart.data[1].filter(v => v !== null && v !== undefined);
         return [ys.length, ys[ys.length - 1] ?? null];",
    )
    .await;
    (v[0].as_u64().unwrap_or_default() as usize, number(&v[1]))
}

/// The live panel (issue 18): the page's SSE parser; an alert rule fires
/// and resolves on samples written through the API, the rows and the
/// firing count follow, and the employee chart gains the points without a
/// fetch; the team chart of daily means is fetched again; a stream stopped
/// while changes happen resumes with `Last-Event-ID`, and the table then
/// holds every alert change the audit log records, each once, in order.
async fn expect_live(page: &Client, api: &Api) -> TestResult {
    wait_until(
        page,
        "document.querySelector('#live-panel[data-state=\"live\"]')",
        "the live feed connected",
    )
    .await;

    // The parser, on a text cut every 3 characters (a CRLF split in two).
    let parsed = js(
        page,
        r#"const out = [];
           const p = window.organismLive.parser(e => out.push(e));
           const text = ": keep-alive\r\nid: 7\r\nevent: alert\r\ndata: {\"a\":\r\ndata:1}\r\n\r\n"
             + "id: 8\nevent: samples\ndata:  two\n\n: comment\rdata\r\rid: 9\ndata: cut";
           for (let i = 0; i < text.length; i += 3) p.push(text.slice(i, i + 3));
           p.end();
           return out;"#,
    )
    .await;
    assert_eq!(
        parsed,
        json!([
            {"type": "alert", "data": "{\"a\":\n1}", "id": "7"},
            {"type": "samples", "data": " two", "id": "8"},
            {"type": "message", "data": "", "id": null},
        ]),
        "the page's SSE parser"
    );

    // Whole seconds in the last minute, increasing: fresh for the rule.
    let start = chrono::Utc::now() - chrono::Duration::seconds(60);
    let start = start - chrono::Duration::nanoseconds(i64::from(start.timestamp_subsec_nanos()));
    let at = |i: i64| start + chrono::Duration::seconds(2 * i);
    let today = at(1).date_naive().to_string();

    // Yesterday's sample, so the chart has a point before the live ones;
    // the team's chart, as it is before any sample of today.
    let yesterday = (at(1).date_naive() - chrono::Duration::days(1))
        .and_hms_opt(12, 0, 0)
        .expect("noon")
        .and_utc();
    let written = api
        .send(
            reqwest::Method::POST,
            "/api/metrics",
            live_sample(50.0, yesterday),
        )
        .await;
    assert_eq!(written, 200, "write yesterday's live sample");
    type_into(page, "#team-name", TINY_TEAM).await;
    click(page, "#team-form button[type=submit]").await;
    wait_until(
        page,
        &format!(
            "document.querySelector('#team-chart[data-state=\"ready\"]')?.dataset.team === {}",
            json!(TINY_TEAM)
        ),
        "the team of two's chart",
    )
    .await;
    assert_eq!(
        js(
            page,
            &format!(
                "return document.querySelector('#team-table tr[data-day=\"{today}\"]') !== null;"
            )
        )
        .await,
        json!(false),
        "no team day {today} before the live samples"
    );

    let created = api
        .send(
            reqwest::Method::POST,
            "/api/alert-rules",
            json!({"rule_id": LIVE_RULE, "name": "Browser live burnout", "metric": "burnout_score",
                   "direction": "above", "threshold": 90, "hysteresis": 5, "destinations": [],
                   "actor": "dashboard.test@example.com"}),
        )
        .await;
    assert_eq!(created, 201, "create the live alert rule");

    // Fires: a red row, one firing.
    let written = api
        .send(
            reqwest::Method::POST,
            "/api/metrics",
            live_sample(95.0, at(1)),
        )
        .await;
    assert_eq!(written, 200, "write the firing sample");
    wait_until(
        page,
        &format!("document.querySelector('#live-table tr[data-employee=\"{LIVE_EMPLOYEE}\"][data-state=\"firing\"]')"),
        "a firing row in the live table",
    )
    .await;
    let rows = live_rows(page).await;
    assert_eq!(rows.len(), 1, "one alert change so far: {rows:?}");
    assert!(close(rows[0].4, 95.0, 1e-9), "the firing value: {rows:?}");
    let firing_episode = rows[0].3.clone();
    assert!(!firing_episode.is_empty(), "the row names its episode");
    let text = |css: &str| {
        let css = css.to_string();
        async move { page.find(Locator::Css(&css)).await?.text().await }
    };
    assert_eq!(text("#live-firing").await?, "1");
    assert_eq!(attr(page, "#live-panel", "data-firing").await, "1");
    assert_eq!(text("#live-table tbody tr td:nth-child(5)").await?, "95.0");
    let colour = |state: &str| {
        let script = format!(
            "return getComputedStyle(document.querySelector('#live-table tr[data-state=\"{state}\"] td:last-child')).color;"
        );
        async move { js(page, &script).await }
    };
    assert_eq!(
        colour("firing").await,
        json!("rgb(176, 58, 46)"),
        "firing in red"
    );

    // The team chart is of daily means: fetched again (at most every
    // 30 s), it shows today without the test asking.
    wait_until(
        page,
        &format!("document.querySelector('#team-table tr[data-day=\"{today}\"]')"),
        "the team chart fetched again with today",
    )
    .await;

    // A click on the row opens that employee's chart, as an alert row does.
    let before = api.points(LIVE_EMPLOYEE, false).await;
    assert_eq!(before, 2, "yesterday's sample and the firing one");
    click(
        page,
        &format!("#live-table tr[data-employee=\"{LIVE_EMPLOYEE}\"] button"),
    )
    .await;
    expect_employee_chart(page, api, LIVE_EMPLOYEE, false, before).await;
    js(
        page,
        "window.organismDashboard.employeeChart.liveMark = true; return true;",
    )
    .await;

    // Resolves: a green row, none firing, and the chart has the point
    // without a fetch (the same chart, one point more).
    let written = api
        .send(
            reqwest::Method::POST,
            "/api/metrics",
            live_sample(10.0, at(2)),
        )
        .await;
    assert_eq!(written, 200, "write the resolving sample");
    wait_until(
        page,
        &format!("document.querySelector('#live-table tr[data-employee=\"{LIVE_EMPLOYEE}\"][data-state=\"resolved\"]')"),
        "a resolved row in the live table",
    )
    .await;
    let rows = live_rows(page).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].2, "resolved", "newest first: {rows:?}");
    assert_eq!(rows[0].3, firing_episode, "the same episode resolves");
    assert!(
        close(rows[0].4, 10.0, 1e-9),
        "the resolving value: {rows:?}"
    );
    assert_eq!(text("#live-firing").await?, "0");
    assert_eq!(
        colour("resolved").await,
        json!("rgb(30, 132, 73)"),
        "resolved in green"
    );
    wait_until(
        page,
        "document.querySelector('#employee-chart[data-points=\"3\"][data-live-points=\"1\"]') && window.organismDashboard.employeeChart.liveMark",
        "the resolving sample drawn live",
    )
    .await;
    assert_eq!(api.points(LIVE_EMPLOYEE, false).await, 3);
    let (drawn, last) = chart_burnout(page).await;
    assert_eq!(drawn, 3, "three burnout points in the chart");
    assert!(
        close(last, 10.0, 1e-9),
        "the last point is the new one: {last}"
    );

    // Resume: stopped while the rule fires and resolves again, then started,
    // the page asks for what came after the last event it saw.
    let last_seen = attr(page, "#live-panel", "data-last-event-id").await;
    let connections = attr_number(page, "#live-panel", "data-connections").await;
    js(page, "window.organismLive.stop(); return true;").await;
    wait_until(
        page,
        "document.querySelector('#live-panel[data-state=\"stopped\"]')",
        "the live feed stopped",
    )
    .await;
    for (burnout, i) in [(96.0, 3), (12.0, 4)] {
        let written = api
            .send(
                reqwest::Method::POST,
                "/api/metrics",
                live_sample(burnout, at(i)),
            )
            .await;
        assert_eq!(
            written, 200,
            "write {burnout} while the page is not listening"
        );
    }
    let audited = audited_alert_events(api, 4).await;
    assert_eq!(
        audited.len(),
        4,
        "two episodes, fired and resolved: {audited:?}"
    );
    assert_eq!(
        live_rows(page).await.len(),
        2,
        "nothing shown while stopped"
    );
    js(page, "window.organismLive.start(); return true;").await;
    wait_until(
        page,
        "document.querySelectorAll('#live-table tbody tr').length >= 4",
        "the changes made while stopped, after the resume",
    )
    .await;
    assert_eq!(
        attr(page, "#live-panel", "data-resumed-from").await,
        last_seen,
        "resumed with Last-Event-ID"
    );
    assert_eq!(
        attr_number(page, "#live-panel", "data-connections").await,
        connections + 1
    );
    let rows = live_rows(page).await;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.reverse();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids strictly increasing, oldest first: {ids:?}"
    );
    assert_eq!(ids, audited, "every alert change shown once, none missed");
    let states: Vec<&str> = rows.iter().rev().map(|r| r.2.as_str()).collect();
    assert_eq!(states, ["firing", "resolved", "firing", "resolved"]);
    let episodes: Vec<&str> = rows.iter().rev().map(|r| r.3.as_str()).collect();
    assert!(
        episodes[0] == episodes[1] && episodes[2] == episodes[3] && episodes[0] != episodes[2],
        "two episodes: {episodes:?}"
    );
    assert_eq!(text("#live-firing").await?, "0");
    assert_eq!(attr(page, "#live-panel", "data-repeats").await, "");
    // The samples written meanwhile came through the resumed stream too.
    wait_until(
        page,
        "document.querySelector('#employee-chart[data-points=\"5\"]') && window.organismDashboard.employeeChart.liveMark",
        "the samples written while stopped drawn after the resume",
    )
    .await;
    assert_eq!(api.points(LIVE_EMPLOYEE, false).await, 5);
    let (drawn, last) = chart_burnout(page).await;
    assert_eq!(drawn, 5);
    assert!(close(last, 12.0, 1e-9), "the last point: {last}");
    Ok(())
}

/// The whole page, however tall, in one picture.
async fn full_page_screenshot(page: &Client) -> TestResult {
    let height = js(page, "return document.documentElement.scrollHeight;")
        .await
        .as_u64()
        .unwrap_or(2100);
    page.set_window_size(1400, height as u32 + 140).await?;
    // Let the charts take the new width before the picture.
    js(
        page,
        "return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))));",
    )
    .await;
    let png = page.screenshot().await?;
    let shot = Path::new(env!("CARGO_BIN_EXE_organism"))
        .ancestors()
        .nth(2)
        .map_or_else(
            || PathBuf::from("dashboard-screenshot.png"),
            |target| target.join("dashboard-screenshot.png"),
        );
    std::fs::write(&shot, &png)?;
    println!("screenshot: {}", shot.display());
    Ok(())
}

// ------------------------------------------------------------------ test

fn browser_installed() -> Result<(), String> {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} is not installed (Debian package {package}; scripts/setup.sh installs it)"
            ));
        }
    }
    Ok(())
}

#[test]
fn the_dashboard_shows_alerts_trends_teams_interventions_analytics_and_health_in_chromium()
-> TestResult {
    if let Err(why) = browser_installed() {
        println!("SKIPPED dashboard browser test: {why}");
        return Ok(());
    }
    let mut demo = Demo::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(drive(&demo))?;

    // The embedded cluster ran while the demo did, and stops with it.
    let data_dir = demo.data_dir();
    assert!(
        !processes_mentioning(&data_dir).is_empty(),
        "the embedded PostgreSQL should be running under {data_dir}"
    );
    let status = demo.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "organism demo should stop cleanly on SIGTERM: {status:?}"
    );
    assert_eq!(
        processes_mentioning(&data_dir),
        Vec::<i32>::new(),
        "nothing of the demo may outlive it"
    );
    Ok(())
}

async fn drive(demo: &Demo) -> TestResult {
    let driver = Driver::start().await;
    let api = Api {
        http: reqwest::Client::new(),
        base: demo.base.clone(),
        key: demo.admin_key.clone(),
    };

    // The analytics panels' data: a team of two with a step, and an
    // intervention activated after the fact.
    let step_day = seed_tiny_team(&api).await;
    seed_effect(&api).await;

    // What the API says, before the page asks.
    let alerts = api
        .get(&format!(
            "/api/trends/burnout-alerts?threshold={THRESHOLD}&days={ALERT_DAYS}"
        ))
        .await;
    let alerts: Vec<(String, String)> = alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (
                a["employee_id"].as_str().unwrap_or_default().to_string(),
                a["team"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        !alerts.is_empty(),
        "the demo organisation should have someone at or above {THRESHOLD}"
    );
    // The demo runs its lifecycle jobs as it starts serving.
    let deadline = Instant::now() + PATIENCE;
    let health = loop {
        let health = api.get("/api/trends/health").await;
        if health["jobs"].as_array().is_some_and(|j| !j.is_empty()) {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "the demo recorded no lifecycle job: {health}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let engine = health["database"]["engine"]
        .as_str()
        .expect("engine")
        .to_string();
    let jobs: Vec<String> = health["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job"].as_str().map(str::to_string))
        .collect();

    // An intervention for the employee the test will click, so the
    // timeline has known events: created, then approved.
    let (clicked, clicked_team) = alerts.last().cloned().expect("an alert");
    let created = api
        .send(
            reqwest::Method::POST,
            "/api/interventions",
            json!({"intervention_id": "iv-browser-test", "kind": "one_on_one",
                   "target_employee_id": clicked, "details": {"note": "from the browser test"},
                   "actor": "browser-test@example.org"}),
        )
        .await;
    assert_eq!(created, 201, "create the test intervention");
    let approved = api
        .send(
            reqwest::Method::PATCH,
            "/api/interventions/iv-browser-test",
            json!({"status": "approved", "actor": "hr@example.org"}),
        )
        .await;
    assert_eq!(approved, 200, "approve the test intervention");

    let page = driver.browser().await;
    page.goto(&format!("{}/", demo.base)).await?;
    if let Some(key) = &demo.admin_key {
        type_into(&page, "#api-key", key).await;
        click(&page, "#key-form button[type=submit]").await;
    }

    // Alerts: set the threshold in the page; the rows are the API's, in order.
    type_into(&page, "#alert-threshold", &THRESHOLD.to_string()).await;
    wait_until(
        &page,
        &format!(
            "document.querySelector('#alerts-panel[data-state=\"ready\"][data-threshold=\"{THRESHOLD}\"]')"
        ),
        "alerts at the new threshold",
    )
    .await;
    let shown: Vec<String> = serde_json::from_value(
        js(
            &page,
            "return [...document.querySelectorAll('#alerts-table tbody tr')].map(r => r.dataset.employee);",
        )
        .await,
    )?;
    let expected: Vec<String> = alerts.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(shown, expected, "alert rows, highest first");

    // Health: the engine and every job the API lists.
    wait_until(
        &page,
        "document.querySelector('#health-panel[data-state=\"ready\"]')",
        "service health",
    )
    .await;
    assert_eq!(attr(&page, "#health-panel", "data-engine").await, engine);
    let facts = page
        .find(Locator::Css("#health-facts"))
        .await?
        .text()
        .await?;
    assert!(facts.contains(&engine), "health shows the engine: {facts}");
    for job in &jobs {
        page.find(Locator::Css(&format!("#jobs-table tr[data-job=\"{job}\"]")))
            .await
            .unwrap_or_else(|e| panic!("the jobs table lists {job}: {e}"));
    }

    // Search by id.
    let (searched, _) = alerts.first().cloned().expect("an alert");
    let before = api.points(&searched, false).await;
    type_into(&page, "#employee-id", &searched).await;
    click(&page, "#employee-form button[type=submit]").await;
    expect_employee_chart(&page, &api, &searched, false, before).await;

    // Clicking an alert opens that employee's chart.
    let before = api.points(&clicked, false).await;
    click(&page, "#alerts-table tbody tr:last-child button").await;
    expect_employee_chart(&page, &api, &clicked, false, before).await;
    assert_eq!(
        attr_number(&page, "#employee-chart", "data-series-shown").await,
        4
    );
    assert!(
        red_pixels(&page).await > 0,
        "the burnout line is drawn in the chart"
    );
    let selected = js(
        &page,
        "return document.querySelector('#alerts-table tr.selected')?.dataset.employee ?? null;",
    )
    .await;
    assert_eq!(selected, json!(clicked), "the clicked alert is highlighted");

    // Each metric can be switched off and on.
    click(&page, "#metric-burnout_score").await;
    assert_eq!(
        attr_number(&page, "#employee-chart", "data-series-shown").await,
        3
    );
    assert!(
        !attr(&page, "#employee-chart", "data-shown-metrics")
            .await
            .contains("burnout_score")
    );
    assert_eq!(red_pixels(&page).await, 0, "no burnout line once it is off");
    click(&page, "#metric-burnout_score").await;
    assert_eq!(
        attr_number(&page, "#employee-chart", "data-series-shown").await,
        4
    );

    // The intervention timeline: every audit event of the employee's
    // interventions, oldest first.
    wait_until(
        &page,
        &format!(
            "document.querySelector('#timeline[data-state=\"ready\"][data-employee=\"{clicked}\"]')"
        ),
        "the intervention timeline",
    )
    .await;
    let interventions = api
        .get(&format!("/api/interventions?target={clicked}"))
        .await;
    let mut events: Vec<(String, i64, String)> = Vec::new();
    for iv in interventions.as_array().into_iter().flatten() {
        let id = iv["intervention_id"].as_str().unwrap_or_default();
        let audit = api
            .get(&format!("/api/audit?intervention_id={id}&limit=1000"))
            .await;
        for ev in audit["events"].as_array().into_iter().flatten() {
            events.push((
                ev["time"].as_str().unwrap_or_default().to_string(),
                ev["seq"].as_i64().unwrap_or_default(),
                ev["action"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    events.sort();
    let expected_actions: Vec<String> = events.into_iter().map(|(_, _, a)| a).collect();
    assert!(
        expected_actions.len() >= 2,
        "the API lists the test intervention's events: {expected_actions:?}"
    );
    let shown_actions: Vec<String> = serde_json::from_value(
        js(
            &page,
            "return [...document.querySelectorAll('#timeline li')].map(li => li.dataset.action);",
        )
        .await,
    )?;
    assert_eq!(shown_actions, expected_actions, "the timeline's events");
    // Read from the DOM (not as rendered text, which is empty while the
    // panel scrolls or reloads), once the list is ready.
    wait_until(
        &page,
        "document.querySelector('#timeline[data-state=\"ready\"]')?.textContent.includes('iv-browser-test')",
        "the intervention's id in the timeline",
    )
    .await;

    // Hourly resolution.
    let before = api.points(&clicked, true).await;
    page.find(Locator::Css("#employee-resolution"))
        .await?
        .select_by_value("hourly")
        .await?;
    expect_employee_chart(&page, &api, &clicked, true, before).await;

    // The clicked employee's team: its daily trend with member counts.
    wait_until(
        &page,
        &format!(
            "document.querySelector('#team-chart[data-state=\"ready\"]')?.dataset.team === {}",
            json!(clicked_team)
        ),
        "the team chart",
    )
    .await;
    let team = api
        .get(&format!(
            "/api/trends/team/{}?days=30",
            clicked_team.replace(' ', "%20")
        ))
        .await;
    let days = team["days"].as_array().expect("days");
    assert!(!days.is_empty(), "the team has days");
    assert_eq!(
        attr_number(&page, "#team-chart", "data-points").await,
        days.len()
    );
    let suppressed = days
        .iter()
        .filter(|d| d["suppressed"] == json!(true))
        .count();
    assert_eq!(
        attr_number(&page, "#team-chart", "data-suppressed").await,
        suppressed
    );
    let marked = js(
        &page,
        "return document.querySelectorAll('#team-table tr.suppressed').length;",
    )
    .await;
    assert_eq!(
        marked,
        json!(suppressed),
        "suppressed days marked in the table"
    );
    let members: Vec<String> = serde_json::from_value(
        js(
            &page,
            "return [...document.querySelectorAll('#team-table tbody tr')].map(r => r.querySelector('.members').textContent);",
        )
        .await,
    )?;
    let expected_members: Vec<String> = days
        .iter()
        .rev()
        .map(|d| d["members"].to_string())
        .collect();
    assert_eq!(members, expected_members, "members per day, newest first");
    assert!(
        members.iter().all(|m| m != "0"),
        "every day has members: {members:?}"
    );

    // Back to raw samples for the picture.
    let before = api.points(&clicked, false).await;
    page.find(Locator::Css("#employee-resolution"))
        .await?
        .select_by_value("raw")
        .await?;
    expect_employee_chart(&page, &api, &clicked, false, before).await;

    // The analytics panels.
    expect_forecasts(&page, &api, &clicked, &clicked_team).await?;
    expect_overview(&page, &api).await?;
    expect_statistics(&page, &api).await?;
    expect_correlations(&page, &api).await?;
    expect_effect(&page, &api).await?;
    expect_anomalies(&page, &api, &step_day).await?;
    expect_live(&page, &api).await?;
    full_page_screenshot(&page).await?;

    // A wrong key gets a clear message, and the right one can be entered again.
    let key = demo
        .admin_key
        .as_deref()
        .expect("organism demo prints `admin API key: …`");
    type_into(&page, "#api-key", "not-a-key-of-this-service").await;
    click(&page, "#key-form button[type=submit]").await;
    wait_until(
            &page,
            "!document.getElementById('auth-message').hidden && document.getElementById('auth-message').textContent.includes('This key was not accepted')",
            "the wrong-key message",
        )
        .await;
    wait_until(
        &page,
        "document.querySelector('#alerts-panel[data-state=\"error\"]')",
        "the alerts panel refusing",
    )
    .await;
    wait_until(
        &page,
        "document.querySelector('#live-panel[data-state=\"unavailable\"][data-error-status=\"401\"]')",
        "the live panel refusing",
    )
    .await;
    let live_status = page
        .find(Locator::Css("#live-status"))
        .await?
        .text()
        .await?;
    assert!(live_status.contains("not accepted"), "{live_status}");
    type_into(&page, "#api-key", key).await;
    click(&page, "#key-form button[type=submit]").await;
    wait_until(
            &page,
            "document.getElementById('auth-message').hidden && document.querySelector('#alerts-panel[data-state=\"ready\"]')",
            "the alerts again with the right key",
        )
        .await;
    // A new key starts the live feed over, with an empty table.
    wait_until(
        &page,
        "document.querySelector('#live-panel[data-state=\"live\"][data-rows=\"0\"]') && document.getElementById('live-firing').textContent === '0'",
        "the live feed again with the right key",
    )
    .await;

    page.close().await?;
    drop(driver);
    Ok(())
}
