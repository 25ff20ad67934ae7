// The Organism Trends dashboard: plain JavaScript over the public REST API.
//
// Every request carries the API key entered once (kept in sessionStorage:
// it lasts as long as the tab and is never written to disk by the page).
// Each panel records its state in data attributes (data-state, data-points,
// …) so that people and the browser test can see what was drawn.
"use strict";

(() => {
  const KEY_STORAGE = "organism.apiKey";
  const METRICS = [
    { key: "burnout_score", label: "Burnout score", scale: "score", color: "#c0392b", digits: 1 },
    { key: "degree_centrality", label: "Degree centrality", scale: "unit", color: "#2471a3", digits: 3 },
    { key: "betweenness_centrality", label: "Betweenness centrality", scale: "unit", color: "#7d3c98", digits: 4 },
    { key: "clustering_coeff", label: "Clustering coefficient", scale: "unit", color: "#148f77", digits: 3 },
  ];

  const $ = (id) => document.getElementById(id);
  const state = {
    employeeChart: null,
    teamChart: null,
    employee: null,
    team: null,
    shown: Object.fromEntries(METRICS.map((m) => [m.key, true])),
  };
  // The page's charts, for the curious in the browser console.
  window.organismDashboard = state;

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function apiKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  /// GET `path` as JSON. `what` names the thing for a 403 message.
  /// `accept503` returns the body of a 503 too (health describes the outage).
  async function api(path, what, { accept503 = false } = {}) {
    const headers = { Accept: "application/json" };
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch(path, { headers, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, "network", `The service did not answer (${e.message}).`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.ok || (accept503 && response.status === 503 && body)) return body;
    const code = (body && body.error && body.error.code) || `http_${response.status}`;
    const detail = (body && body.error && body.error.message) || response.statusText;
    if (response.status === 401) {
      showAuthProblem(
        key ? "This key was not accepted. Enter another API key above." : "This service needs an API key. Enter it above.",
        detail,
      );
      throw new ApiError(
        401,
        code,
        key ? "Not shown: this key was not accepted." : "Not shown: an API key is needed.",
      );
    }
    if (response.status === 403) {
      throw new ApiError(403, code, `This key may not see ${what}. (${detail})`);
    }
    throw new ApiError(response.status, code, detail);
  }

  function showAuthProblem(message, detail) {
    const banner = $("auth-message");
    banner.textContent = detail ? `${message} (${detail})` : message;
    banner.hidden = false;
    $("api-key").focus();
  }

  // ------------------------------------------------------------ helpers

  function setStatus(id, text, kind = "") {
    const el = $(id);
    el.textContent = text;
    el.className = `status ${kind}`;
  }

  function failed(statusId, panel, error) {
    panel.dataset.state = "error";
    panel.dataset.errorStatus = String(error.status ?? "");
    setStatus(statusId, error.message || String(error), "error");
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return node;
  }

  function num(v, digits) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }

  function utc(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace("T", " ");
  }

  function chartWidth(container) {
    return Math.max(320, container.clientWidth - 4);
  }

  function enc(s) {
    return encodeURIComponent(s);
  }

  // Every chart is drawn in UTC, as the API's days are UTC days.
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

  /// 24-hour UTC tick labels: the date at midnight, the time otherwise.
  function timeTicks(u, splits) {
    return splits.map((v) => {
      const iso = new Date(v * 1000).toISOString();
      return iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) : iso.slice(11, 16);
    });
  }

  // ------------------------------------------------------------- alerts

  let alertsRequest = 0;

  async function loadAlerts() {
    const panel = $("alerts-panel");
    const threshold = Number($("alert-threshold").value || $("alert-threshold-range").value);
    const days = Number($("alert-days").value);
    const mine = ++alertsRequest;
    panel.dataset.state = "loading";
    setStatus("alerts-status", "Loading…");
    try {
      const body = await api(
        `/api/trends/burnout-alerts?threshold=${threshold}&days=${days}`,
        "burnout alerts",
      );
      if (mine !== alertsRequest) return body;
      renderAlerts(body);
      panel.dataset.rows = String(body.alerts.length);
      panel.dataset.threshold = String(body.threshold);
      panel.dataset.state = "ready";
      return body;
    } catch (e) {
      if (mine === alertsRequest) {
        $("alerts-table").tBodies[0].replaceChildren();
        failed("alerts-status", panel, e);
      }
      return null;
    }
  }

  function renderAlerts(body) {
    const rows = body.alerts.map((a) => {
      const button = el("button", { type: "button", class: "link" }, a.employee_id);
      const tr = el(
        "tr",
        { "data-employee": a.employee_id, "data-team": a.team ?? "" },
        el("td", {}, button),
        el("td", {}, a.team ?? "–"),
        el("td", { class: "num score" }, num(a.latest_score, 1)),
        el("td", { class: "num" }, num(a.peak_score, 1)),
        el("td", { class: "num" }, num(a.average_score, 1)),
        el("td", {}, utc(a.latest_time)),
      );
      if (a.employee_id === state.employee) tr.classList.add("selected");
      tr.addEventListener("click", () => selectEmployee(a.employee_id, a.team));
      return tr;
    });
    $("alerts-table").tBodies[0].replaceChildren(...rows);
    setStatus(
      "alerts-status",
      body.count === 0
        ? `Nobody's latest score in the last ${body.days} days is at or above ${body.threshold}.`
        : `${body.count} employee${body.count === 1 ? "" : "s"} whose latest score in the last ${body.days} days is at or above ${body.threshold}, highest first. Click one to see the trend.`,
    );
  }

  function markSelectedAlert() {
    for (const tr of $("alerts-table").tBodies[0].rows) {
      tr.classList.toggle("selected", tr.dataset.employee === state.employee);
    }
  }

  // The API has no directory endpoint: the ids and teams offered in the
  // search boxes are those with a sample in the last 7 days (every latest
  // score is at or above 0).
  async function loadDirectory() {
    try {
      const body = await api("/api/trends/burnout-alerts?threshold=0&days=7", "the list of employees");
      const ids = body.alerts.map((a) => a.employee_id).sort();
      const teams = [...new Set(body.alerts.map((a) => a.team).filter(Boolean))].sort();
      $("employee-ids").replaceChildren(...ids.map((id) => el("option", { value: id })));
      $("team-names").replaceChildren(...teams.map((t) => el("option", { value: t })));
      return { ids, teams };
    } catch (_) {
      return { ids: [], teams: [] };
    }
  }

  // ----------------------------------------------------- employee trend

  function buildMetricToggles() {
    const box = $("metric-toggles");
    METRICS.forEach((m, i) => {
      const input = el("input", { type: "checkbox", checked: true, id: `metric-${m.key}` });
      input.dataset.metric = m.key;
      input.addEventListener("change", () => {
        state.shown[m.key] = input.checked;
        if (state.employeeChart) {
          state.employeeChart.setSeries(i + 1, { show: input.checked });
          describeEmployeeChart();
        }
      });
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = m.color;
      box.append(el("label", { class: "toggle" }, input, swatch, m.label));
    });
  }

  function selectEmployee(id, team) {
    $("employee-id").value = id;
    loadEmployee();
    if (team) {
      $("team-name").value = team;
      loadTeam();
    }
  }

  let employeeRequest = 0;

  async function loadEmployee() {
    const panel = $("employee-panel");
    const chartBox = $("employee-chart");
    const id = $("employee-id").value.trim();
    if (!id) return;
    const days = Number($("employee-days").value);
    const hourly = $("employee-resolution").value === "hourly";
    const mine = ++employeeRequest;
    state.employee = id;
    markSelectedAlert();
    $("employee-title").textContent = `— ${id}`;
    panel.dataset.state = "loading";
    chartBox.dataset.state = "loading";
    setStatus("employee-status", "Loading…");
    loadTimeline(id);
    try {
      const body = await api(
        `/api/trends/employee/${enc(id)}?days=${days}&use_hourly=${hourly}`,
        `${id}'s trend`,
      );
      if (mine !== employeeRequest) return;
      drawEmployee(body);
      const last = body.points[body.points.length - 1];
      const team = last && last.team ? `, team ${last.team}` : "";
      setStatus(
        "employee-status",
        `${body.points.length} ${body.resolution === "hourly" ? "hourly points" : "samples"} from ${utc(body.start)} to ${utc(body.end)}${team}.`,
      );
      panel.dataset.state = "ready";
      chartBox.dataset.state = "ready";
    } catch (e) {
      if (mine !== employeeRequest) return;
      destroyChart("employeeChart", chartBox);
      chartBox.dataset.state = "error";
      failed("employee-status", panel, e);
    }
  }

  function destroyChart(name, box) {
    if (state[name]) state[name].destroy();
    state[name] = null;
    box.replaceChildren();
    for (const k of Object.keys(box.dataset)) if (k !== "state") delete box.dataset[k];
  }

  function drawEmployee(body) {
    const box = $("employee-chart");
    destroyChart("employeeChart", box);
    const xs = body.points.map((p) => Date.parse(p.time) / 1000);
    const data = [xs, ...METRICS.map((m) => body.points.map((p) => p[m.key] ?? null))];
    const opts = {
      width: chartWidth(box),
      height: 320,
      tzDate,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, score: { range: [0, 100] }, unit: { auto: true } },
      series: [
        { label: "Time (UTC)" },
        ...METRICS.map((m) => ({
          label: m.label,
          scale: m.scale,
          stroke: m.color,
          width: m.key === "burnout_score" ? 2 : 1.5,
          show: state.shown[m.key],
          points: { show: xs.length < 60 },
          value: (u, v) => num(v, m.digits),
        })),
      ],
      axes: [
        { values: timeTicks },
        { scale: "score", label: "Burnout (0–100)", stroke: METRICS[0].color },
        { scale: "unit", side: 1, label: "Centrality, clustering (0–1)", grid: { show: false }, size: 60 },
      ],
    };
    state.employeeChart = new uPlot(opts, data, box);
    box.dataset.employee = body.employee_id;
    box.dataset.resolution = body.resolution;
    describeEmployeeChart();
  }

  /// What the chart holds now, read from the chart itself.
  function describeEmployeeChart() {
    const u = state.employeeChart;
    const box = $("employee-chart");
    if (!u) return;
    box.dataset.points = String(u.data[0].length);
    const shown = u.series.slice(1).filter((s) => s.show);
    box.dataset.seriesShown = String(shown.length);
    box.dataset.shownMetrics = METRICS.filter((_, i) => u.series[i + 1].show).map((m) => m.key).join(",");
  }

  // ------------------------------------------------------------ timeline

  let timelineRequest = 0;

  async function loadTimeline(id) {
    const list = $("timeline");
    const mine = ++timelineRequest;
    list.replaceChildren();
    delete list.dataset.employee;
    list.dataset.state = "loading";
    setStatus("timeline-status", "Loading…");
    try {
      const interventions = await api(
        `/api/interventions?target=${enc(id)}&limit=1000`,
        `${id}'s interventions`,
      );
      const pages = await Promise.all(
        interventions.map((iv) => auditEvents(iv.intervention_id).then((events) => ({ iv, events }))),
      );
      if (mine !== timelineRequest) return;
      const items = [];
      for (const { iv, events } of pages) {
        for (const ev of events) items.push({ iv, ev });
      }
      items.sort((a, b) => Date.parse(a.ev.time) - Date.parse(b.ev.time) || (a.ev.seq ?? 0) - (b.ev.seq ?? 0));
      list.replaceChildren(...items.map(({ iv, ev }) => timelineItem(iv, ev)));
      list.dataset.employee = id;
      list.dataset.events = String(items.length);
      list.dataset.interventions = String(interventions.length);
      list.dataset.state = "ready";
      setStatus(
        "timeline-status",
        interventions.length === 0
          ? `No intervention targets ${id}.`
          : interventions
              .map((iv) => `${iv.intervention_id} (${iv.kind.replaceAll("_", " ")}): ${iv.status.replaceAll("_", " ")}`)
              .join(" · "),
      );
    } catch (e) {
      if (mine !== timelineRequest) return;
      list.dataset.state = "error";
      setStatus("timeline-status", e.message, "error");
    }
  }

  /// Every audit event of one intervention, following the keyset cursor.
  async function auditEvents(interventionId) {
    const events = [];
    let cursor = null;
    for (let page = 0; page < 50; page++) {
      const q = `intervention_id=${enc(interventionId)}&limit=1000${cursor ? `&cursor=${enc(cursor)}` : ""}`;
      const body = await api(`/api/audit?${q}`, `the audit log of ${interventionId}`);
      events.push(...body.events);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return events;
  }

  /// An audit event's details in words: the status move, and the note the
  /// actor gave, if any.
  function eventDetails(details) {
    if (!details || typeof details !== "object") return "";
    const parts = [];
    if (details.from && details.to) parts.push(`${details.from} → ${details.to}`.replaceAll("_", " "));
    const note = details.details;
    if (note && typeof note === "object" && Object.keys(note).length) parts.push(JSON.stringify(note));
    return parts.length ? ` (${parts.join("; ")})` : "";
  }

  function timelineItem(iv, ev) {
    const details = eventDetails(ev.details);
    return el(
      "li",
      { class: `action-${ev.action}`, "data-action": ev.action },
      el("time", { dateTime: ev.time }, utc(ev.time)),
      " ",
      el("strong", {}, ev.action.replaceAll("_", " ")),
      ` ${iv.kind.replaceAll("_", " ")} `,
      el("code", {}, iv.intervention_id),
      ` by ${ev.actor}`,
      details ? el("span", { class: "muted" }, details) : "",
    );
  }

  // ---------------------------------------------------------- team trend

  let teamRequest = 0;

  async function loadTeam() {
    const panel = $("team-panel");
    const chartBox = $("team-chart");
    const team = $("team-name").value.trim();
    if (!team) return;
    const days = Number($("team-days").value);
    const mine = ++teamRequest;
    state.team = team;
    $("team-title").textContent = `— ${team}`;
    panel.dataset.state = "loading";
    chartBox.dataset.state = "loading";
    setStatus("team-status", "Loading…");
    try {
      const body = await api(`/api/trends/team/${enc(team)}?days=${days}`, `team ${team}`);
      if (mine !== teamRequest) return;
      const rows = body.days.map((d) => ({ ...d, suppressed: d.suppressed === true }));
      drawTeam(body.team, rows);
      renderTeamTable(rows);
      const suppressed = rows.filter((d) => d.suppressed).length;
      setStatus(
        "team-status",
        `${rows.length} day${rows.length === 1 ? "" : "s"} with samples since ${utc(body.start).slice(0, 10)}` +
          (suppressed
            ? `; ${suppressed} day${suppressed === 1 ? "" : "s"} suppressed (too few employees to show averages), shaded grey.`
            : "."),
      );
      panel.dataset.state = "ready";
      chartBox.dataset.state = "ready";
    } catch (e) {
      if (mine !== teamRequest) return;
      destroyChart("teamChart", chartBox);
      chartBox.dataset.state = "error";
      $("team-table").tBodies[0].replaceChildren();
      failed("team-status", panel, e);
    }
  }

  const DAY = 86400;

  function drawTeam(team, rows) {
    const box = $("team-chart");
    destroyChart("teamChart", box);
    const xs = rows.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
    const data = [
      xs,
      rows.map((d) => d.members),
      rows.map((d) => (d.suppressed ? null : d.burnout_score ?? null)),
      rows.map((d) => (d.suppressed ? null : d.burnout_max ?? null)),
    ];
    const suppressedDays = xs.filter((_, i) => rows[i].suppressed);
    const shadeSuppressed = (u) => {
      const { ctx, bbox } = u;
      ctx.save();
      ctx.fillStyle = "rgba(120, 120, 120, 0.22)";
      for (const x of suppressedDays) {
        const left = u.valToPos(x - DAY / 2, "x", true);
        const right = u.valToPos(x + DAY / 2, "x", true);
        const l = Math.max(left, bbox.left);
        const r = Math.min(right, bbox.left + bbox.width);
        if (r > l) ctx.fillRect(l, bbox.top, r - l, bbox.height);
      }
      ctx.restore();
    };
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined;
    const opts = {
      width: chartWidth(box),
      height: 280,
      tzDate,
      scales: {
        x: {
          time: true,
          range: (u, min, max) => [min - DAY / 2, max + DAY / 2],
        },
        members: { range: (u, min, max) => [0, Math.max(1, max) * 1.15] },
        score: { range: [0, 100] },
      },
      series: [
        { label: "Day (UTC)", value: (u, v) => (v == null ? "–" : new Date(v * 1000).toISOString().slice(0, 10)) },
        { label: "Members", scale: "members", stroke: "#7f8c8d", fill: "rgba(127,140,141,0.25)", paths: bars, points: { show: false }, value: (u, v) => num(v, 0) },
        { label: "Avg burnout", scale: "score", stroke: "#e67e22", width: 2, value: (u, v) => num(v, 1) },
        { label: "Max burnout", scale: "score", stroke: "#c0392b", width: 2, dash: [6, 4], value: (u, v) => num(v, 1) },
      ],
      axes: [
        { values: (u, splits) => splits.map((v) => new Date(v * 1000).toISOString().slice(5, 10)) },
        { scale: "members", label: "Members" },
        { scale: "score", side: 1, label: "Burnout (0–100)", grid: { show: false } },
      ],
      hooks: { drawClear: [shadeSuppressed] },
    };
    state.teamChart = new uPlot(opts, data, box);
    box.dataset.team = team;
    box.dataset.points = String(state.teamChart.data[0].length);
    box.dataset.suppressed = String(suppressedDays.length);
  }

  function renderTeamTable(rows) {
    // Newest first: today is what a manager looks for.
    const trs = [...rows].reverse().map((d) => {
      const tr = el(
        "tr",
        { "data-day": d.day, "data-members": String(d.members ?? "") },
        el("td", {}, d.day),
        // A manager key sees no member count on a suppressed day.
        el("td", { class: "num members" }, String(d.members ?? "–")),
        el("td", { class: "num" }, String(d.samples ?? "–")),
        ...(d.suppressed
          ? [el("td", { class: "suppressed-note", colSpan: 5 }, "suppressed: too few employees to show averages")]
          : [
              el("td", { class: "num" }, num(d.burnout_score, 1)),
              el("td", { class: "num" }, num(d.burnout_max, 1)),
              el("td", { class: "num" }, num(d.degree_centrality, 3)),
              el("td", { class: "num" }, num(d.betweenness_centrality, 4)),
              el("td", { class: "num" }, num(d.clustering_coeff, 3)),
            ]),
      );
      if (d.suppressed) tr.classList.add("suppressed");
      return tr;
    });
    $("team-table").tBodies[0].replaceChildren(...trs);
  }

  // -------------------------------------------------------------- health

  async function loadHealth() {
    const panel = $("health-panel");
    panel.dataset.state = "loading";
    setStatus("health-status", "Loading…");
    try {
      const h = await api("/api/trends/health", "the service health", { accept503: true });
      const db = h.database || {};
      const facts = [
        ["Status", h.status],
        ["Database", db.reachable ? "reachable" : `unreachable${db.error ? `: ${db.error}` : ""}`],
        ["Engine", db.engine],
        ["Schema version", db.schema_version],
        ["Samples in the last hour", h.samples_last_hour],
        ["Hourly rollup materialised until", h.rollup ? `${utc(h.rollup.materialised_until)} UTC` : undefined],
        [
          "TimescaleDB job errors (last day)",
          h.timescaledb_job_errors_last_day === null ? undefined : h.timescaledb_job_errors_last_day,
        ],
        ["Connections", h.pool ? `${h.pool.size} open, ${h.pool.available} idle, ${h.pool.max_size} at most` : undefined],
      ].filter(([, v]) => v !== undefined && v !== null);
      $("health-facts").replaceChildren(
        ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: k === "Status" ? `health-${v}` : "" }, String(v))]),
      );
      const jobs = h.jobs || [];
      $("jobs-table").tBodies[0].replaceChildren(
        ...(jobs.length
          ? jobs.map((j) =>
              el(
                "tr",
                { "data-job": j.job, class: j.last_ok ? "" : "job-failed" },
                el("td", {}, j.job),
                el("td", {}, utc(j.last_finished)),
                el("td", { class: "num" }, `${num(j.last_seconds, 2)} s`),
                el("td", { class: "num" }, String(j.last_rows ?? "–")),
                el("td", {}, j.last_ok ? "ok" : `failed: ${j.last_error ?? "unknown error"}`),
                el("td", { class: "num" }, `${j.runs} / ${j.failures}`),
              ),
            )
          : [el("tr", {}, el("td", { colSpan: 6, class: "muted" }, "No lifecycle job has run yet."))]),
      );
      panel.dataset.engine = db.engine ?? "";
      panel.dataset.jobs = String(jobs.length);
      panel.dataset.state = "ready";
      setStatus("health-status", h.status === "ok" ? "" : "The database is not answering.", h.status === "ok" ? "" : "error");
    } catch (e) {
      $("health-facts").replaceChildren();
      $("jobs-table").tBodies[0].replaceChildren();
      failed("health-status", panel, e);
    }
  }

  // ----------------------------------------------------------- the key

  function showKeyState() {
    const key = apiKey();
    $("key-state").textContent = key ? "A key is set for this tab." : "No key set.";
    $("key-forget").hidden = !key;
    $("api-key").placeholder = key ? "enter another key to replace it" : "paste your API key";
  }

  function useKey(key) {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    $("api-key").value = "";
    $("auth-message").hidden = true;
    showKeyState();
    loadAll();
  }

  // ------------------------------------------------------------- start

  async function loadAll() {
    loadHealth();
    loadDirectory();
    const alerts = await loadAlerts();
    if (state.employee) {
      loadEmployee();
      if (state.team) loadTeam();
    } else if (alerts && alerts.alerts.length) {
      // Open on the highest alert, so the page shows a trend straight away.
      selectEmployee(alerts.alerts[0].employee_id, alerts.alerts[0].team);
    }
  }

  // The slider and the number box show one threshold; alerts reload a
  // moment after the last change.
  let thresholdTimer = null;
  function scheduleAlerts() {
    clearTimeout(thresholdTimer);
    thresholdTimer = setTimeout(loadAlerts, 250);
  }

  function start() {
    buildMetricToggles();
    showKeyState();
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("api-key").value.trim();
      if (key) useKey(key);
    });
    $("key-forget").addEventListener("click", () => useKey(""));
    $("reload-all").addEventListener("click", loadAll);
    $("alerts-form").addEventListener("submit", (e) => e.preventDefault());
    $("alert-threshold-range").addEventListener("input", (e) => {
      $("alert-threshold").value = e.target.value;
      scheduleAlerts();
    });
    $("alert-threshold").addEventListener("input", (e) => {
      const v = Number(e.target.value);
      if (e.target.value !== "" && v >= 0 && v <= 100) {
        $("alert-threshold-range").value = v;
        scheduleAlerts();
      }
    });
    $("alert-threshold").addEventListener("change", (e) => {
      if (e.target.value === "") return;
      const v = Math.min(100, Math.max(0, Number(e.target.value) || 0));
      e.target.value = v;
      $("alert-threshold-range").value = v;
      scheduleAlerts();
    });
    $("alert-days").addEventListener("change", loadAlerts);
    $("employee-form").addEventListener("submit", (e) => {
      e.preventDefault();
      loadEmployee();
    });
    $("employee-days").addEventListener("change", loadEmployee);
    $("employee-resolution").addEventListener("change", loadEmployee);
    $("team-form").addEventListener("submit", (e) => {
      e.preventDefault();
      loadTeam();
    });
    $("team-days").addEventListener("change", loadTeam);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (state.employeeChart) state.employeeChart.setSize({ width: chartWidth($("employee-chart")), height: 320 });
        if (state.teamChart) state.teamChart.setSize({ width: chartWidth($("team-chart")), height: 280 });
      }, 150);
    });
    loadAll();
  }

  start();
})();
