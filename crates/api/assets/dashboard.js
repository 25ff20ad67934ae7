// The Organism Trends dashboard: plain JavaScript over the public REST API.
//
// Every request carries the API key entered once (kept in sessionStorage:
// it lasts as long as the tab and is never written to disk by the page).
// Each panel records its state in data attributes (data-state, data-points,
// …) so that people and the browser test can see what was drawn.
//
// The page opens on the organisation overview (a heat map of every team's
// daily burnout, the alerts, the metric statistics, unusual changes and
// the correlations), then the employee and team trends with their
// forecasts, and the effect of an intervention. A panel the key may not
// see says so in its own status line; the others carry on. The live alerts
// panel and the charts' new points come from the live feed (see "live").
"use strict";

(() => {
  const KEY_STORAGE = "organism.apiKey";
  const METRICS = [
    { key: "burnout_score", label: "Burnout score", short: "Burnout", scale: "score", color: "#c0392b", digits: 1 },
    { key: "degree_centrality", label: "Degree centrality", short: "Degree", scale: "unit", color: "#2471a3", digits: 3 },
    { key: "betweenness_centrality", label: "Betweenness centrality", short: "Betweenness", scale: "unit", color: "#7d3c98", digits: 4 },
    { key: "clustering_coeff", label: "Clustering coefficient", short: "Clustering", scale: "unit", color: "#148f77", digits: 3 },
  ];
  const metricInfo = (key) => METRICS.find((m) => m.key === key) || METRICS[0];

  // Forecasts: days ahead, and the colours of the band and threshold (not
  // red, so that the burnout line stays the only red on the employee chart).
  const FORECAST_DAYS = 14;
  const FORECAST_COLOR = "#8e44ad";
  const BAND_95 = "rgba(142, 68, 173, 0.14)";
  const BAND_80 = "rgba(142, 68, 173, 0.30)";
  const THRESHOLD_COLOR = "#b7950b";

  // The intervention-effect chart's lines.
  const EFFECT_COLORS = {
    means: "#34495e",
    before: "#1f5f99",
    after: "#e67e22",
    comparison: "#7f8c8d",
    start: "#c0392b",
  };

  const DAY = 86400;

  const $ = (id) => document.getElementById(id);
  const state = {
    employeeChart: null,
    teamChart: null,
    effectChart: null,
    employee: null,
    team: null,
    // Set by the overview: a manager key sees published (noisy) team days
    // and must name a team for the correlations.
    manager: false,
    teams: [],
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
      throw new ApiError(403, code, `Not available to this key: it may not see ${what}. (${detail})`);
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
    const node = $(id);
    node.textContent = text;
    node.className = `status ${kind}`;
  }

  /// A panel's request failed: a 403 is "not available to this key"
  /// (data-state="unavailable"), anything else an error.
  function failed(statusId, panel, error) {
    const forbidden = error.status === 403;
    panel.dataset.state = forbidden ? "unavailable" : "error";
    panel.dataset.errorStatus = String(error.status ?? "");
    setStatus(statusId, error.message || String(error), forbidden ? "unavailable" : "error");
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

  function signed(v, digits) {
    if (v === null || v === undefined) return "–";
    const text = Number(v).toFixed(digits);
    return v > 0 ? `+${text}` : text;
  }

  /// A p-value as people read it: small ones in scientific notation.
  function pValue(p) {
    if (p === null || p === undefined) return "–";
    return p < 0.001 ? Number(p).toExponential(1) : Number(p).toFixed(3);
  }

  function utc(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace("T", " ");
  }

  /// A UTC day ("2026-06-10") as seconds since the epoch at its midnight.
  function dayTs(day) {
    return Date.parse(`${day}T00:00:00Z`) / 1000;
  }

  function tsDay(ts) {
    return new Date(ts * 1000).toISOString().slice(0, 10);
  }

  function plural(n, one, many = `${one}s`) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function chartWidth(container) {
    return Math.max(320, container.clientWidth - 4);
  }

  function enc(s) {
    return encodeURIComponent(s);
  }

  function fillSelect(select, options, keep = true) {
    const previous = select.value;
    select.replaceChildren(...options.map(([value, label]) => el("option", { value }, label)));
    if (keep && options.some(([value]) => value === previous)) select.value = previous;
  }

  /// uPlot wants one x array for all series: the sorted union of every
  /// group's xs, each series null where it has no value. A group is
  /// `{ xs, ys: [series…] }`, each series as long as its xs.
  function aligned(groups) {
    const xs = [...new Set(groups.flatMap((g) => g.xs))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const columns = [];
    for (const g of groups) {
      for (const ys of g.ys) {
        const column = new Array(xs.length).fill(null);
        g.xs.forEach((x, i) => {
          column[at.get(x)] = ys[i] ?? null;
        });
        columns.push(column);
      }
    }
    return [xs, ...columns];
  }

  /// Counts of pixels close to `rgb` inside a chart's plotting area (for
  /// people checking a chart in the console, and for the browser test).
  function colourPixels(u, rgb, tolerance = 40) {
    const b = u.bbox;
    const data = u.ctx.getImageData(Math.round(b.left), Math.round(b.top), Math.round(b.width), Math.round(b.height)).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (
        Math.abs(data[i] - rgb[0]) <= tolerance &&
        Math.abs(data[i + 1] - rgb[1]) <= tolerance &&
        Math.abs(data[i + 2] - rgb[2]) <= tolerance
      )
        n++;
    }
    return n;
  }
  state.colourPixels = colourPixels;

  // Every chart is drawn in UTC, as the API's days are UTC days.
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

  /// 24-hour UTC tick labels: the date at midnight, the time otherwise.
  function timeTicks(u, splits) {
    return splits.map((v) => {
      const iso = new Date(v * 1000).toISOString();
      return iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) : iso.slice(11, 16);
    });
  }

  const dayTicks = (u, splits) => splits.map((v) => new Date(v * 1000).toISOString().slice(5, 10));

  // ------------------------------------------------------ colour scales

  // Burnout 0–100 on the ColorBrewer YlOrRd scale (the CSS legend's
  // gradient has the same stops).
  const BURNOUT_STOPS = [
    [0, [255, 255, 204]],
    [25, [255, 237, 160]],
    [50, [254, 178, 76]],
    [75, [240, 59, 32]],
    [100, [128, 0, 38]],
  ];

  function mix(a, b, t) {
    return a.map((v, i) => Math.round(v + (b[i] - v) * t));
  }

  function burnoutRgb(value) {
    const v = Math.min(100, Math.max(0, value));
    for (let i = 1; i < BURNOUT_STOPS.length; i++) {
      const [hi, hiRgb] = BURNOUT_STOPS[i];
      const [lo, loRgb] = BURNOUT_STOPS[i - 1];
      if (v <= hi) return mix(loRgb, hiRgb, (v - lo) / (hi - lo));
    }
    return BURNOUT_STOPS[BURNOUT_STOPS.length - 1][1];
  }

  /// A correlation from −1 (blue) through 0 (white) to +1 (red).
  function correlationRgb(r) {
    const t = Math.min(1, Math.abs(r));
    return mix([255, 255, 255], r >= 0 ? [178, 24, 43] : [33, 102, 172], t);
  }

  const css = (rgb) => `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;

  /// Dark text on pale cells, white on dark ones.
  function textOn(rgb) {
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 140 ? "#fff" : "#1f2933";
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
    for (const table of ["alerts-table", "live-table"]) {
      for (const tr of $(table).tBodies[0].rows) {
        tr.classList.toggle("selected", tr.dataset.employee === state.employee);
      }
    }
  }

  /// Adds the values a datalist does not offer yet (the directory and the
  /// overview both add teams, in either order).
  function addOptions(datalist, values) {
    const known = new Set([...datalist.options].map((o) => o.value));
    const fresh = [...new Set(values)].filter((v) => !known.has(v));
    datalist.append(...fresh.map((v) => el("option", { value: v })));
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
      addOptions($("team-names"), teams);
      return { ids, teams };
    } catch (_) {
      return { ids: [], teams: [] };
    }
  }

  // ----------------------------------------------------------- overview

  let overviewRequest = 0;

  async function loadOverview() {
    const panel = $("overview-panel");
    const days = Number($("overview-days").value);
    const mine = ++overviewRequest;
    panel.dataset.state = "loading";
    setStatus("overview-status", "Loading…");
    try {
      const body = await api(`/api/analytics/overview?days=${days}`, "the organisation overview");
      if (mine !== overviewRequest) return body;
      state.manager = body.values === "laplace";
      state.teams = body.teams.map((t) => t.team);
      offerTeams(state.teams);
      renderHeatmap(body);
      describeOverview(body);
      panel.dataset.state = "ready";
      return body;
    } catch (e) {
      if (mine === overviewRequest) {
        $("heatmap").replaceChildren();
        failed("overview-status", panel, e);
      }
      return null;
    }
  }

  /// Every day of the window, oldest first (the window's end is exclusive).
  function windowDays(window) {
    const days = [];
    for (let t = dayTs(window.start); t < dayTs(window.end); t += DAY) days.push(tsDay(t));
    return days;
  }

  function renderHeatmap(body) {
    const days = windowDays(body.window);
    const header = el(
      "tr",
      {},
      el("th", { class: "team-label" }, "Team"),
      // A date over every 7th day from the first; every day in a tooltip.
      ...days.map((day, i) => el("th", { class: "day-label", title: day }, i % 7 === 0 ? day.slice(5) : "")),
    );
    const rows = body.teams.map((team) => heatmapRow(team, days));
    $("heatmap").replaceChildren(el("thead", {}, header), el("tbody", {}, ...rows));
    $("legend-min-group").textContent = String(body.min_group_size);
  }

  function heatmapRow(team, days) {
    const byDay = new Map(team.days.map((d) => [d.day, d]));
    const label = el("button", { type: "button", class: "link" }, team.team);
    label.addEventListener("click", () => selectTeam(team.team));
    return el(
      "tr",
      { "data-team": team.team },
      el("th", { class: "team-label" }, label),
      ...days.map((day) => heatmapCell(team.team, day, byDay.get(day))),
    );
  }

  function heatmapCell(team, day, d) {
    const td = el("td", { class: "cell", "data-day": day, "data-team": team });
    if (!d) {
      td.classList.add("empty");
      td.title = `${team}, ${day}: no samples`;
    } else if (d.suppressed || d.burnout_score === null || d.burnout_score === undefined) {
      td.classList.add("suppressed");
      td.dataset.suppressed = "true";
      td.title = `${team}, ${day}: suppressed (too few members to show an average)`;
    } else {
      td.dataset.value = String(d.burnout_score);
      td.style.backgroundColor = css(burnoutRgb(d.burnout_score));
      const members = d.members === null || d.members === undefined ? "" : `, ${plural(d.members, "member")}`;
      td.title = `${team}, ${day}: average burnout ${num(d.burnout_score, 1)}${members}`;
    }
    td.addEventListener("click", () => selectTeam(team));
    return td;
  }

  function describeOverview(body) {
    const panel = $("overview-panel");
    const cells = body.teams.reduce((n, t) => n + t.days.length, 0);
    const suppressed = body.teams.reduce((n, t) => n + t.days.filter((d) => d.suppressed).length, 0);
    panel.dataset.teams = String(body.teams.length);
    panel.dataset.cells = String(cells);
    panel.dataset.suppressed = String(suppressed);
    $("overview-title").textContent = `— ${body.window.start} to ${tsDay(dayTs(body.window.end) - DAY)} (UTC)`;
    const noise = state.manager ? " Averages are published with privacy noise, as in this key's team trends." : "";
    setStatus(
      "overview-status",
      body.teams.length === 0
        ? "No team has samples in this window."
        : `${plural(body.teams.length, "team")}, ${plural(windowDays(body.window).length, "day")}; ` +
            `${plural(suppressed, "team-day")} suppressed (grey).${noise}`,
    );
  }

  /// The teams the key sees, offered in the team boxes and filters.
  function offerTeams(teams) {
    addOptions($("team-names"), teams);
    for (const select of document.querySelectorAll(".team-select")) {
      const all = state.manager ? [] : [["", "all teams"]];
      fillSelect(select, [...all, ...teams.map((t) => [t, t])]);
    }
  }

  function selectTeam(team) {
    $("team-name").value = team;
    loadTeam();
    $("team-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // --------------------------------------------------------- statistics

  let statsRequest = 0;

  async function loadStatistics() {
    const panel = $("stats-panel");
    const days = Number($("stats-days").value);
    const mine = ++statsRequest;
    panel.dataset.state = "loading";
    setStatus("stats-status", "Loading…");
    try {
      const all = await Promise.all(
        METRICS.map((m) => api(`/api/trends/statistics/${m.key}?days=${days}`, "organisation-wide statistics")),
      );
      if (mine !== statsRequest) return;
      $("stats-table").tBodies[0].replaceChildren(...all.map(statisticsRow));
      panel.dataset.rows = String(all.length);
      panel.dataset.state = "ready";
      setStatus("stats-status", `Every sample of the last ${days} days, from ${utc(all[0].start)} to ${utc(all[0].end)} UTC.`);
    } catch (e) {
      if (mine !== statsRequest) return;
      $("stats-table").tBodies[0].replaceChildren();
      failed("stats-status", panel, e);
    }
  }

  function statisticsRow(s) {
    const m = metricInfo(s.metric);
    return el(
      "tr",
      { "data-metric": s.metric },
      el("td", {}, m.label),
      el("td", { class: "num" }, String(s.count ?? "–")),
      el("td", { class: "num" }, num(s.min, m.digits)),
      el("td", { class: "num" }, num(s.avg, m.digits)),
      el("td", { class: "num" }, num(s.max, m.digits)),
      el("td", { class: "num" }, num(s.stddev, m.digits)),
    );
  }

  // ---------------------------------------------------------- anomalies

  let anomaliesRequest = 0;

  async function loadAnomalies() {
    const panel = $("anomalies-panel");
    const metric = $("anomalies-metric").value || "burnout_score";
    const days = Number($("anomalies-days").value);
    const team = $("anomalies-team").value;
    const mine = ++anomaliesRequest;
    panel.dataset.state = "loading";
    setStatus("anomalies-status", "Loading…");
    try {
      const q = `metric=${metric}&days=${days}${team ? `&team=${enc(team)}` : ""}`;
      const body = await api(`/api/analytics/anomalies?${q}`, "individual employees' changes");
      if (mine !== anomaliesRequest) return;
      $("anomalies-table").tBodies[0].replaceChildren(...body.anomalies.map((a) => anomalyRow(a, body.metric)));
      panel.dataset.rows = String(body.anomalies.length);
      panel.dataset.metric = body.metric;
      panel.dataset.state = "ready";
      setStatus(
        "anomalies-status",
        body.count === 0
          ? `No unusual change of ${metricInfo(body.metric).label.toLowerCase()} from ${body.window.start} on.`
          : `${plural(body.count, "unusual day")} from ${body.window.start} on (|score| ≥ ${body.threshold}, ` +
              `against each employee's own changes over the ${body.baseline_days} days before too), highest first.`,
      );
    } catch (e) {
      if (mine !== anomaliesRequest) return;
      $("anomalies-table").tBodies[0].replaceChildren();
      failed("anomalies-status", panel, e);
    }
  }

  function anomalyRow(a, metric) {
    const m = metricInfo(metric);
    const button = el("button", { type: "button", class: "link" }, a.employee_id);
    const tr = el(
      "tr",
      { "data-employee": a.employee_id, "data-day": a.day },
      el("td", {}, button),
      el("td", {}, a.day),
      el("td", { class: "num" }, num(a.before, m.digits)),
      el("td", { class: "num" }, num(a.after, m.digits)),
      el("td", { class: a.change > 0 ? "num rise" : "num fall" }, signed(a.change, m.digits)),
      el("td", { class: "num" }, num(a.score, 1)),
    );
    tr.addEventListener("click", () => selectEmployeeAt(a.employee_id, a.day));
    return tr;
  }

  // ------------------------------------------------------- correlations

  let correlationsRequest = 0;

  async function loadCorrelations() {
    const panel = $("correlations-panel");
    const days = Number($("correlations-days").value);
    const team = $("correlations-team").value;
    const mine = ++correlationsRequest;
    panel.dataset.state = "loading";
    setStatus("correlations-status", "Loading…");
    try {
      const q = `days=${days}${team ? `&team=${enc(team)}` : ""}`;
      const body = await api(`/api/analytics/correlations?${q}`, "these correlations");
      if (mine !== correlationsRequest) return;
      state.correlations = body;
      renderCorrelations();
      panel.dataset.state = "ready";
    } catch (e) {
      if (mine !== correlationsRequest) return;
      state.correlations = null;
      $("correlation-matrix").replaceChildren();
      $("lag-summary").textContent = "";
      failed("correlations-status", panel, e);
    }
  }

  /// The coefficient of metrics `a` and `b` (the matrix is symmetric; a
  /// metric with itself is 1 by definition).
  function coefficient(pairs, kind, a, b) {
    if (a === b) return { coefficient: 1, p_value: null, n: null };
    const pair = pairs.find((p) => (p.x === a && p.y === b) || (p.x === b && p.y === a));
    return pair ? pair[kind] : null;
  }

  function renderCorrelations() {
    const body = state.correlations;
    if (!body) return;
    const kind = $("correlations-kind").value;
    const panel = $("correlations-panel");
    panel.dataset.kind = kind;
    panel.dataset.suppressed = String(body.suppressed);
    if (body.suppressed) {
      $("correlation-matrix").replaceChildren();
      $("lag-summary").textContent = "";
      setStatus(
        "correlations-status",
        `Suppressed: these days come from ${plural(body.employees ?? 0, "employee")}, fewer than the minimum group size of ${body.min_group_size}.`,
      );
      return;
    }
    const header = el("tr", {}, el("th", {}, ""), ...METRICS.map((m) => el("th", { class: "num" }, m.short)));
    const rows = METRICS.map((row) =>
      el(
        "tr",
        { "data-metric": row.key },
        el("th", {}, row.short),
        ...METRICS.map((col) => correlationCell(coefficient(body.pairs, kind, row.key, col.key), row, col)),
      ),
    );
    $("correlation-matrix").replaceChildren(el("thead", {}, header), el("tbody", {}, ...rows));
    const n = body.pairs.length ? body.pairs[0].n : 0;
    const from = body.unit === "team-day" ? `${plural(n, "published team-day")}` : `${plural(n, "employee-day")} of ${plural(body.employees ?? 0, "employee")}`;
    const last = tsDay(dayTs(body.window.end) - DAY);
    setStatus("correlations-status", `${kind === "pearson" ? "Pearson" : "Spearman"} coefficients over ${from}, ${body.window.start} to ${last}.`);
    $("lag-summary").textContent = lagSummary(body.lagged);
  }

  function correlationCell(c, row, col) {
    const td = el("td", { class: "num corr", "data-x": row.key, "data-y": col.key });
    if (!c || c.coefficient === null || c.coefficient === undefined) {
      td.classList.add("undefined");
      td.textContent = "–";
      td.title = `${row.label} and ${col.label}: undefined (a metric did not vary)`;
      return td;
    }
    const rgb = correlationRgb(c.coefficient);
    td.style.backgroundColor = css(rgb);
    td.style.color = textOn(rgb);
    td.dataset.value = String(c.coefficient);
    td.textContent = num(c.coefficient, 2);
    td.title =
      row.key === col.key
        ? `${row.label} with itself`
        : `${row.label} and ${col.label}: ${num(c.coefficient, 3)} (p = ${pValue(c.p_value)}, n = ${c.n})`;
    return td;
  }

  /// Each network metric's strongest correlation with later burnout.
  function lagSummary(lagged) {
    const parts = [];
    for (const m of METRICS.slice(1)) {
      const best = lagged
        .filter((l) => l.metric === m.key && l.coefficient !== null && l.coefficient !== undefined)
        .sort((a, b) => Math.abs(b.coefficient) - Math.abs(a.coefficient))[0];
      if (best) parts.push(`${m.short.toLowerCase()} ${num(best.coefficient, 2)} at ${plural(best.lag_days, "day")}`);
    }
    return parts.length ? `Strongest correlation with burnout some days later: ${parts.join("; ")}.` : "";
  }

  // ----------------------------------------------------------- forecasts

  /// The alert threshold set in the page: the forecasts' threshold line.
  function pageThreshold() {
    const v = Number($("alert-threshold").value || $("alert-threshold-range").value);
    return Number.isFinite(v) && v >= 0 && v <= 100 ? v : 70;
  }

  /// A burnout forecast of `/api/analytics/forecast/{subject}`, or the
  /// error: a chart is drawn with or without its forecast.
  async function fetchForecast(path, what) {
    try {
      const q = `metric=burnout_score&horizon_days=${FORECAST_DAYS}&threshold=${pageThreshold()}`;
      return { forecast: await api(`/api/analytics/forecast/${path}?${q}`, what) };
    } catch (error) {
      return { error };
    }
  }

  /// The band (95%, then 80% over it) of a forecast, drawn under the
  /// series; `xOf(day)` places a forecast day on the chart's x scale.
  function drawForecastBand(u, points, xOf, visible) {
    if (!points.length || !visible()) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    for (const [lower, upper, fill] of [
      ["lower_95", "upper_95", BAND_95],
      ["lower_80", "upper_80", BAND_80],
    ]) {
      ctx.beginPath();
      points.forEach((p, i) => {
        const x = u.valToPos(xOf(p.day), "x", true);
        const y = u.valToPos(p[upper], "score", true);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      for (const p of [...points].reverse()) ctx.lineTo(u.valToPos(xOf(p.day), "x", true), u.valToPos(p[lower], "score", true));
      ctx.closePath();
      ctx.fillStyle = fill;
      ctx.fill();
    }
    ctx.restore();
  }

  /// A horizontal dashed line at `threshold` on the score scale.
  function drawThreshold(u, threshold, visible) {
    if (threshold === null || threshold === undefined || !visible()) return;
    const { ctx, bbox } = u;
    const y = u.valToPos(threshold, "score", true);
    ctx.save();
    ctx.strokeStyle = THRESHOLD_COLOR;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([8 * devicePixelRatio, 5 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.restore();
  }

  /// The forecast's line as a uPlot series.
  function forecastSeries() {
    return {
      label: "Burnout forecast",
      scale: "score",
      stroke: FORECAST_COLOR,
      width: 2,
      dash: [4, 3],
      spanGaps: true,
      points: { show: false },
      value: (u, v) => num(v, 1),
    };
  }

  /// The forecast in words, under its chart.
  function describeForecast(statusId, result, box) {
    if (result.error) {
      // 422: the history is too short, which is an answer, not a fault.
      const status = result.error.status;
      box.dataset.forecast = status === 403 ? "unavailable" : "absent";
      const kind = status === 403 ? "unavailable" : status === 422 ? "" : "error";
      setStatus(statusId, `No forecast: ${result.error.message}`, kind);
      return;
    }
    const f = result.forecast;
    box.dataset.forecast = "shown";
    box.dataset.forecastPoints = String(f.points.length);
    box.dataset.threshold = String(f.threshold ?? "");
    box.dataset.thresholdReachedOn = f.threshold_reached_on ?? "";
    const reach =
      f.threshold === null || f.threshold === undefined
        ? ""
        : f.threshold_reached_on
          ? ` It reaches the threshold ${f.threshold} on ${f.threshold_reached_on}.`
          : ` It stays below the threshold ${f.threshold} for the ${plural(f.points.length, "day")} forecast.`;
    setStatus(
      statusId,
      `Forecast of the daily average burnout, ${plural(f.points.length, "day")} ahead: model ${f.model.name}, ` +
        `fitted on the ${plural(f.model.observations, "day")} with data since ${f.history_window.start}.${reach}`,
    );
  }

  // ----------------------------------------------------- employee trend

  function buildMetricToggles() {
    const box = $("metric-toggles");
    METRICS.forEach((m, i) => {
      const input = el("input", { type: "checkbox", checked: true, id: `metric-${m.key}` });
      input.dataset.metric = m.key;
      input.addEventListener("change", () => {
        state.shown[m.key] = input.checked;
        const u = state.employeeChart;
        if (u) {
          u.setSeries(i + 1, { show: input.checked });
          // The forecast is of burnout: it goes with the burnout line.
          if (m.key === "burnout_score" && u.series.length > METRICS.length + 1) {
            u.setSeries(METRICS.length + 1, { show: input.checked });
          }
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

  /// Opens `id`'s trend with `day` in its window, zoomed on and marking
  /// that day (an anomaly's day).
  function selectEmployeeAt(id, day) {
    $("employee-id").value = id;
    const ago = Math.ceil((Date.now() / 1000 - dayTs(day)) / DAY) + 1;
    const select = $("employee-days");
    const fits = [...select.options].map((o) => Number(o.value)).find((d) => d >= ago);
    select.value = String(fits ?? select.options[select.options.length - 1].value);
    loadEmployee({ focusDay: day });
    $("employee-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  let employeeRequest = 0;

  // `live`: fetched again for new samples (live code below): the
  // interventions' timeline does not depend on samples and is kept as shown.
  async function loadEmployee({ focusDay = null, live: forSamples = false } = {}) {
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
    setStatus("employee-forecast-status", "");
    liveChartLoading("employee");
    if (!forSamples || $("timeline").dataset.employee !== id) loadTimeline(id);
    const forecast = fetchForecast(`employee/${enc(id)}`, `${id}'s forecast`);
    try {
      const body = await api(
        `/api/trends/employee/${enc(id)}?days=${days}&use_hourly=${hourly}`,
        `${id}'s trend`,
      );
      const predicted = await forecast;
      if (mine !== employeeRequest) return;
      drawEmployee(body, predicted.forecast, focusDay);
      describeForecast("employee-forecast-status", predicted, chartBox);
      const last = body.points[body.points.length - 1];
      const team = last && last.team ? `, team ${last.team}` : "";
      const focus = focusDay ? ` Zoomed on ${focusDay} (shaded); double-click the chart to see the whole window.` : "";
      const status = `${body.points.length} ${body.resolution === "hourly" ? "hourly points" : "samples"} from ${utc(body.start)} to ${utc(body.end)}${team}.${focus}`;
      setStatus("employee-status", status);
      panel.dataset.state = "ready";
      chartBox.dataset.state = "ready";
      liveEmployeeDrawn(body, status);
    } catch (e) {
      if (mine !== employeeRequest) return;
      destroyChart("employeeChart", chartBox);
      chartBox.dataset.state = e.status === 403 ? "unavailable" : "error";
      failed("employee-status", panel, e);
    }
  }

  function destroyChart(name, box) {
    if (state[name]) state[name].destroy();
    state[name] = null;
    box.replaceChildren();
    for (const k of Object.keys(box.dataset)) if (k !== "state") delete box.dataset[k];
  }

  /// A grey column over one UTC day (an anomaly's day).
  function shadeDay(u, day) {
    const { ctx, bbox } = u;
    const l = Math.max(bbox.left, u.valToPos(dayTs(day), "x", true));
    const r = Math.min(bbox.left + bbox.width, u.valToPos(dayTs(day) + DAY, "x", true));
    if (r <= l) return;
    ctx.save();
    ctx.fillStyle = "rgba(31, 95, 153, 0.12)";
    ctx.fillRect(l, bbox.top, r - l, bbox.height);
    ctx.restore();
  }

  function drawEmployee(body, forecast, focusDay) {
    const box = $("employee-chart");
    destroyChart("employeeChart", box);
    const xs = body.points.map((p) => Date.parse(p.time) / 1000);
    const points = forecast ? forecast.points : [];
    // A forecast day's value is that day's average: drawn at its noon.
    const xOf = (day) => dayTs(day) + DAY / 2;
    const data = aligned([
      { xs, ys: METRICS.map((m) => body.points.map((p) => p[m.key] ?? null)) },
      { xs: points.map((p) => xOf(p.day)), ys: [points.map((p) => p.value)] },
    ]);
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
        { ...forecastSeries(), show: state.shown.burnout_score },
      ],
      axes: [
        { values: timeTicks },
        { scale: "score", label: "Burnout (0–100)", stroke: METRICS[0].color },
        { scale: "unit", side: 1, label: "Centrality, clustering (0–1)", grid: { show: false }, size: 60 },
      ],
      hooks: {
        drawClear: [
          (u) => focusDay && shadeDay(u, focusDay),
          (u) => drawForecastBand(u, points, xOf, () => u.series[1].show),
        ],
        draw: [(u) => forecast && drawThreshold(u, forecast.threshold, () => u.series[1].show)],
      },
    };
    state.employeeChart = new uPlot(opts, data, box);
    box.dataset.employee = body.employee_id;
    box.dataset.resolution = body.resolution;
    box.dataset.points = String(body.points.length);
    if (focusDay) {
      box.dataset.focusDay = focusDay;
      state.employeeChart.setScale("x", { min: dayTs(focusDay) - 3 * DAY, max: dayTs(focusDay) + 4 * DAY });
    }
    describeEmployeeChart();
  }

  /// What the chart holds now, read from the chart itself.
  function describeEmployeeChart() {
    const u = state.employeeChart;
    const box = $("employee-chart");
    if (!u) return;
    const shown = METRICS.filter((_, i) => u.series[i + 1].show);
    box.dataset.seriesShown = String(shown.length);
    box.dataset.shownMetrics = shown.map((m) => m.key).join(",");
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
    setStatus("team-forecast-status", "");
    liveChartLoading("team");
    const forecast = fetchForecast(`team/${enc(team)}`, `team ${team}'s forecast`);
    try {
      const body = await api(`/api/trends/team/${enc(team)}?days=${days}`, `team ${team}`);
      const predicted = await forecast;
      if (mine !== teamRequest) return;
      const rows = body.days.map((d) => ({ ...d, suppressed: d.suppressed === true }));
      drawTeam(body.team, rows, predicted.forecast);
      describeForecast("team-forecast-status", predicted, chartBox);
      renderTeamTable(rows);
      const suppressed = rows.filter((d) => d.suppressed).length;
      setStatus(
        "team-status",
        `${plural(rows.length, "day")} with samples since ${utc(body.start).slice(0, 10)}` +
          (suppressed
            ? `; ${plural(suppressed, "day")} suppressed (too few employees to show averages), shaded grey.`
            : "."),
      );
      panel.dataset.state = "ready";
      chartBox.dataset.state = "ready";
    } catch (e) {
      if (mine !== teamRequest) return;
      destroyChart("teamChart", chartBox);
      chartBox.dataset.state = e.status === 403 ? "unavailable" : "error";
      $("team-table").tBodies[0].replaceChildren();
      failed("team-status", panel, e);
    }
  }

  /// Grey columns over the days whose averages are suppressed.
  function shadeSuppressed(u, days) {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.fillStyle = "rgba(120, 120, 120, 0.22)";
    for (const x of days) {
      const l = Math.max(u.valToPos(x - DAY / 2, "x", true), bbox.left);
      const r = Math.min(u.valToPos(x + DAY / 2, "x", true), bbox.left + bbox.width);
      if (r > l) ctx.fillRect(l, bbox.top, r - l, bbox.height);
    }
    ctx.restore();
  }

  function drawTeam(team, rows, forecast) {
    const box = $("team-chart");
    destroyChart("teamChart", box);
    const xs = rows.map((d) => dayTs(d.day));
    const points = forecast ? forecast.points : [];
    const data = aligned([
      {
        xs,
        ys: [
          rows.map((d) => d.members),
          rows.map((d) => (d.suppressed ? null : d.burnout_score ?? null)),
          rows.map((d) => (d.suppressed ? null : d.burnout_max ?? null)),
        ],
      },
      { xs: points.map((p) => dayTs(p.day)), ys: [points.map((p) => p.value)] },
    ]);
    const suppressedDays = xs.filter((_, i) => rows[i].suppressed);
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
        { label: "Day (UTC)", value: (u, v) => (v == null ? "–" : tsDay(v)) },
        { label: "Members", scale: "members", stroke: "#7f8c8d", fill: "rgba(127,140,141,0.25)", paths: bars, points: { show: false }, value: (u, v) => num(v, 0) },
        { label: "Avg burnout", scale: "score", stroke: "#e67e22", width: 2, value: (u, v) => num(v, 1) },
        { label: "Max burnout", scale: "score", stroke: "#c0392b", width: 2, dash: [6, 4], value: (u, v) => num(v, 1) },
        forecastSeries(),
      ],
      axes: [
        { values: dayTicks },
        { scale: "members", label: "Members" },
        { scale: "score", side: 1, label: "Burnout (0–100)", grid: { show: false } },
      ],
      hooks: {
        drawClear: [(u) => shadeSuppressed(u, suppressedDays), (u) => drawForecastBand(u, points, dayTs, () => true)],
        draw: [(u) => forecast && drawThreshold(u, forecast.threshold, () => true)],
      },
    };
    state.teamChart = new uPlot(opts, data, box);
    box.dataset.team = team;
    box.dataset.points = String(rows.length);
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

  // ---------------------------------------------------- intervention effect

  // Only an intervention that became active has an effect to measure.
  const BECAME_ACTIVE = new Set(["active", "completed", "rolled_back", "cancelled"]);

  /// The interventions offered in the picker: admin keys only (others may
  /// still type an id).
  async function loadInterventionList() {
    const label = $("effect-pick-label");
    try {
      const list = await api("/api/interventions?limit=1000", "the list of interventions");
      const targeted = list.filter((iv) => iv.target_employee_id && BECAME_ACTIVE.has(iv.status));
      fillSelect($("effect-pick"), [
        ["", targeted.length ? "pick one…" : "none has become active"],
        ...targeted.map((iv) => [
          iv.intervention_id,
          `${iv.intervention_id}: ${iv.kind.replaceAll("_", " ")} for ${iv.target_employee_id} (${iv.status.replaceAll("_", " ")})`,
        ]),
      ]);
      label.hidden = false;
      // A first visit shows the newest one rather than an empty panel.
      if (!$("effect-id").value && targeted.length) {
        $("effect-pick").value = targeted[0].intervention_id;
        $("effect-id").value = targeted[0].intervention_id;
        loadEffect();
      }
    } catch (e) {
      label.hidden = true;
      if (!$("effect-id").value) {
        setStatus(
          "effect-status",
          e.status === 403
            ? "This key may not list the interventions: type an intervention's id above."
            : `The interventions could not be listed (${e.message}); type an intervention's id above.`,
          e.status === 403 ? "" : "error",
        );
      }
    }
  }

  let effectRequest = 0;

  async function loadEffect() {
    const panel = $("effect-panel");
    const chartBox = $("effect-chart");
    const id = $("effect-id").value.trim();
    if (!id) return;
    const metric = $("effect-metric").value || "burnout_score";
    const before = Number($("effect-before").value);
    const after = Number($("effect-after").value);
    const mine = ++effectRequest;
    $("effect-title").textContent = `— ${id}`;
    panel.dataset.state = "loading";
    chartBox.dataset.state = "loading";
    setStatus("effect-status", "Loading…");
    try {
      const q = `metric=${metric}&before_days=${before}&after_days=${after}`;
      const body = await api(`/api/analytics/interventions/${enc(id)}/effect?${q}`, "an individual's intervention effect");
      if (mine !== effectRequest) return;
      drawEffect(body);
      renderEstimates(body);
      describeEffect(body);
      panel.dataset.state = "ready";
      chartBox.dataset.state = "ready";
    } catch (e) {
      if (mine !== effectRequest) return;
      destroyChart("effectChart", chartBox);
      chartBox.dataset.state = e.status === 403 ? "unavailable" : "error";
      $("effect-estimates").tBodies[0].replaceChildren();
      failed("effect-status", panel, e);
    }
  }

  /// A vertical dashed line at the moment the intervention became active.
  function drawStart(u, ts) {
    const { ctx, bbox } = u;
    const x = u.valToPos(ts, "x", true);
    if (x < bbox.left || x > bbox.left + bbox.width) return;
    ctx.save();
    ctx.strokeStyle = EFFECT_COLORS.start;
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.restore();
  }

  function drawEffect(body) {
    const box = $("effect-chart");
    destroyChart("effectChart", box);
    const m = metricInfo(body.metric);
    const its = body.interrupted_time_series;
    const fitted = its ? its.fitted : [];
    const segment = (name) => fitted.filter((f) => f.segment === name);
    const comparison = body.difference_in_differences ? body.difference_in_differences.comparison_daily_means : [];
    const byDay = (rows) => ({ xs: rows.map((r) => dayTs(r.day)), ys: [rows.map((r) => r.value)] });
    const data = aligned([byDay(body.daily_means), byDay(segment("before")), byDay(segment("after")), byDay(comparison)]);
    const start = Date.parse(body.activated_at) / 1000;
    const opts = {
      width: chartWidth(box),
      height: 300,
      tzDate,
      scales: { x: { time: true, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] }, y: { auto: true } },
      series: [
        { label: "Day (UTC)", value: (u, v) => (v == null ? "–" : tsDay(v)) },
        { label: `${body.target_employee_id}'s daily average`, stroke: EFFECT_COLORS.means, width: 1, points: { show: true, size: 5 }, value: (u, v) => num(v, m.digits) },
        { label: "Fitted before", stroke: EFFECT_COLORS.before, width: 3, points: { show: false }, value: (u, v) => num(v, m.digits) },
        { label: "Fitted after", stroke: EFFECT_COLORS.after, width: 3, points: { show: false }, value: (u, v) => num(v, m.digits) },
        { label: "Comparison group's daily average", stroke: EFFECT_COLORS.comparison, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: false }, value: (u, v) => num(v, m.digits) },
      ],
      axes: [{ values: dayTicks }, { label: m.label }],
      hooks: { draw: [(u) => drawStart(u, start)] },
    };
    state.effectChart = new uPlot(opts, data, box);
    box.dataset.intervention = body.intervention_id;
    box.dataset.dailyMeans = String(body.daily_means.length);
    box.dataset.fittedBefore = String(segment("before").length);
    box.dataset.fittedAfter = String(segment("after").length);
    box.dataset.comparison = String(comparison.length);
    box.dataset.activatedAt = body.activated_at;
  }

  function estimateRow(name, e, digits, basis) {
    return el(
      "tr",
      { "data-estimate": name },
      el("td", {}, name),
      el("td", { class: "num" }, signed(e.estimate, digits)),
      el("td", { class: "num" }, `${num(e.ci95[0], digits)} to ${num(e.ci95[1], digits)}`),
      el("td", { class: "num" }, pValue(e.p_value)),
      el("td", { class: "muted" }, basis),
    );
  }

  function absentRow(name, why) {
    return el("tr", { "data-estimate": name, class: "absent" }, el("td", {}, name), el("td", { colSpan: 4, class: "reason" }, `Not estimated: ${why}`));
  }

  function renderEstimates(body) {
    const digits = metricInfo(body.metric).digits;
    const its = body.interrupted_time_series;
    const did = body.difference_in_differences;
    const rows = [];
    if (its) {
      const basis = `${its.days_before} days before, ${its.days_after} from the start; Newey–West, ${its.hac_lags} lags`;
      rows.push(estimateRow("Level change at the start", its.level_change, digits, basis));
      rows.push(estimateRow("Slope change per day", its.slope_change, digits + 2, basis));
    } else {
      rows.push(absentRow("Interrupted time series", body.its_unavailable));
    }
    if (did) {
      rows.push(
        estimateRow(
          "Difference in differences",
          did.estimate,
          digits,
          `${plural(did.comparison_units, "comparison employee")}, ${plural(did.observations, "employee-day")}; clustered by employee`,
        ),
      );
    } else {
      rows.push(absentRow("Difference in differences", body.comparison_unavailable));
    }
    $("effect-estimates").tBodies[0].replaceChildren(...rows);
    const panel = $("effect-panel");
    panel.dataset.its = its ? "shown" : "absent";
    panel.dataset.did = did ? "shown" : "absent";
  }

  function describeEffect(body) {
    const ended = body.ended_at ? `, ended ${utc(body.ended_at)}` : "";
    const team = body.team ? ` in ${body.team}` : "";
    setStatus(
      "effect-status",
      `${body.intervention_id} for ${body.target_employee_id}${team}: active from ${utc(body.activated_at)} UTC (dashed red line)${ended}. ` +
        `${plural(body.daily_means.length, "daily average")} from ${body.before.start} to ${tsDay(dayTs(body.after.end) - DAY)}.`,
    );
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

  // --------------------------------------------------------------- live
  //
  // The live feed, `GET /api/stream` (Server-Sent Events; docs/REALTIME.md).
  // EventSource cannot send the Authorization header, so the page reads the
  // stream with fetch and a stream reader, and parses it itself.
  //
  // What was decided:
  // - One stream per tab, with samples (the charts use them). An event's id
  //   is the `id:` of its own block. A reconnect sends `Last-Event-ID`: the
  //   last id seen, so the server resumes right after it; an event whose id
  //   is not above that is a repeat and is dropped, so ids only grow.
  // - A stream that ends or fails is opened again after a wait that doubles
  //   from 1 s up to 30 s, each wait a random 50–100 % of that (never under
  //   1 s). The doubling starts over once a stream stayed open 10 s or sent
  //   an event. 401 and 403 stop it, saying so in the panel (no retry); a new
  //   key starts over with an empty table. A hidden tab closes its stream,
  //   and opens it again, resuming, when shown.
  // - The server keeps samples coming for a closed stream for two minutes
  //   only (alert changes for a day), so after a longer break, or a `gap`
  //   event, the open charts are fetched again rather than trusted.
  // - The employee chart at raw resolution (its window always ends now)
  //   takes its employee's new samples as points at once (uPlot setData, no
  //   fetch), and follows them unless zoomed away from the end. Its window's
  //   start does not move and its forecast is not redrawn until the next
  //   load. Samples that come while it loads are kept and added once drawn.
  // - Charts of averages (the employee chart at hourly resolution, the team
  //   chart of daily means) are fetched again when their employee's or
  //   team's samples come, at most once per 30 s.
  // - The firing count is the episodes seen firing in this tab and not seen
  //   resolved since (by episode_id); an episode that fired before the tab
  //   opened is not counted, nor its resolution.

  const LIVE_ROWS = 100;
  const LIVE_WAIT_MIN = 1000;
  const LIVE_WAIT_MAX = 30000;
  const LIVE_STEADY = 10000;
  const LIVE_SAMPLES_KEPT = 100000;
  const LIVE_REFETCH_EVERY = 30000;

  const live = {
    controller: null,
    generation: 0,
    lastId: null,
    attempts: 0,
    timer: null,
    countdown: null,
    open: false,
    closedAt: null,
    refused: false,
    connections: 0,
    firing: new Set(),
    pending: [],
    loadedAt: {},
    refetch: {},
  };

  /// A Server-Sent Events parser (the WHATWG rules): `push` the decoded
  /// text as it comes, `end()` when the stream ends; `onEvent({ type, data,
  /// id })` runs for each event (`id` null when its block has none).
  function sseParser(onEvent) {
    let buffer = "";
    let type = "";
    let data = [];
    let id = null;
    const dispatch = () => {
      if (data.length) onEvent({ type: type || "message", data: data.join("\n"), id });
      type = "";
      data = [];
      id = null;
    };
    const line = (text) => {
      if (text === "") return dispatch();
      if (text[0] === ":") return undefined;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) id = value;
      // `retry` is ignored: the page's own backoff decides.
      return undefined;
    };
    const push = (text, final = false) => {
      buffer += text;
      let start = 0;
      for (;;) {
        const cr = buffer.indexOf("\r", start);
        const lf = buffer.indexOf("\n", start);
        if (cr < 0 && lf < 0) break;
        let end;
        let next;
        if (cr >= 0 && (lf < 0 || cr < lf)) {
          // A CR last in the text may be the first half of a CRLF.
          if (cr === buffer.length - 1 && !final) break;
          end = cr;
          next = buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
        } else {
          end = lf;
          next = lf + 1;
        }
        line(buffer.slice(start, end));
        start = next;
      }
      buffer = buffer.slice(start);
    };
    return {
      push: (text) => push(text),
      // At the end, an unfinished line and event are dropped.
      end: () => {
        push("", true);
        buffer = "";
        type = "";
        data = [];
        id = null;
      },
    };
  }

  function setLive(name, text, kind = "") {
    $("live-panel").dataset.state = name;
    setStatus("live-status", text, kind);
  }

  function clearLiveTimers() {
    clearTimeout(live.timer);
    clearInterval(live.countdown);
    live.timer = null;
    live.countdown = null;
  }

  function startLive() {
    if (live.controller || live.timer) return;
    live.refused = false;
    connect();
  }

  function stopLive(name, text) {
    live.generation++;
    if (live.controller) live.controller.abort();
    live.controller = null;
    clearLiveTimers();
    if (live.open) {
      live.open = false;
      live.closedAt = Date.now();
    }
    setLive(name, text);
  }

  /// A new key: what the old one saw goes, and the stream starts over.
  function restartLive() {
    stopLive("idle", "");
    live.lastId = null;
    live.attempts = 0;
    live.closedAt = null;
    live.firing.clear();
    $("live-table").tBodies[0].replaceChildren();
    describeLive();
    if (!document.hidden) startLive();
  }

  async function connect() {
    const generation = live.generation;
    const controller = new AbortController();
    live.controller = controller;
    const panel = $("live-panel");
    const resumeFrom = live.lastId;
    const headers = { Accept: "text/event-stream" };
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    if (resumeFrom !== null) headers["Last-Event-ID"] = String(resumeFrom);
    setLive("connecting", "Connecting to the live feed…");
    let opened = null;
    let delivered = false;
    let why = "the stream ended";
    try {
      const response = await fetch("/api/stream", { headers, cache: "no-store", signal: controller.signal });
      if (generation !== live.generation) return;
      if (response.status === 401 || response.status === 403) {
        await refuseLive(response, key, generation);
        return;
      }
      if (!response.ok || !response.body) {
        // A refused resume point (400) is dropped: the next try starts at
        // the newest event, and the charts are fetched again.
        if (response.status === 400 && resumeFrom !== null) {
          live.lastId = null;
          live.closedAt = 0;
        }
        throw new Error(`HTTP ${response.status}`);
      }
      opened = Date.now();
      live.open = true;
      live.connections++;
      panel.dataset.connections = String(live.connections);
      panel.dataset.resumedFrom = resumeFrom === null ? "" : String(resumeFrom);
      delete panel.dataset.errorStatus;
      if (live.closedAt !== null && opened - live.closedAt > LIVE_SAMPLES_KEPT) refreshCharts();
      setLive(
        "live",
        resumeFrom === null ? "Live: alert changes show here as rules fire and resolve." : `Live again, resumed after event ${resumeFrom}.`,
      );
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = sseParser((event) => {
        delivered = true;
        liveEvent(event);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (generation !== live.generation) return;
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      parser.push(decoder.decode());
      parser.end();
    } catch (e) {
      if (generation !== live.generation || controller.signal.aborted) return;
      why = e.message || String(e);
    }
    live.controller = null;
    if (opened !== null) {
      live.open = false;
      live.closedAt = Date.now();
      if (delivered || live.closedAt - opened >= LIVE_STEADY) live.attempts = 0;
    }
    scheduleReconnect(why);
  }

  function scheduleReconnect(why) {
    const cap = Math.min(LIVE_WAIT_MAX, LIVE_WAIT_MIN * 2 ** Math.min(live.attempts, 10));
    const wait = Math.max(LIVE_WAIT_MIN, cap * (0.5 + Math.random() / 2));
    live.attempts++;
    const due = Date.now() + wait;
    const show = () =>
      setLive("reconnecting", `Reconnecting in ${Math.max(1, Math.ceil((due - Date.now()) / 1000))} s (${why}).`);
    show();
    live.countdown = setInterval(show, 1000);
    live.timer = setTimeout(() => {
      clearLiveTimers();
      connect();
    }, wait);
  }

  async function refuseLive(response, key, generation) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = (body && body.error && body.error.message) || detail;
    } catch (_) {
      // The status says enough.
    }
    if (generation !== live.generation) return;
    live.controller = null;
    live.refused = true;
    const panel = $("live-panel");
    panel.dataset.errorStatus = String(response.status);
    const text =
      response.status === 403
        ? `Not live: the live feed is not allowed for this key (${detail}).`
        : key
          ? "Not live: this key was not accepted."
          : "Not live: an API key is needed.";
    setLive("unavailable", text, response.status === 403 ? "unavailable" : "error");
  }

  function liveEvent({ type, data, id }) {
    const panel = $("live-panel");
    const n = id !== null && /^\d{1,18}$/.test(id) ? BigInt(id) : null;
    if (n !== null && live.lastId !== null && n <= live.lastId) {
      panel.dataset.repeats = String(Number(panel.dataset.repeats || 0) + 1);
      return;
    }
    let body = null;
    try {
      body = JSON.parse(data);
    } catch (_) {
      body = null;
    }
    if (type === "alert" && body) showLiveAlert(body, n);
    else if (type === "samples" && body && Array.isArray(body.samples)) liveSamples(body.samples, body.team);
    else if (type === "gap") {
      panel.dataset.gaps = String(Number(panel.dataset.gaps || 0) + 1);
      setLive("live", "Live again, but some events were too old to resume (over a day): changes in between are missing here.");
      refreshCharts();
    }
    if (n !== null) {
      live.lastId = n;
      panel.dataset.lastEventId = String(n);
    }
  }

  function utcSeconds(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso ?? "–" : d.toISOString().slice(0, 19).replace("T", " ");
  }

  function showLiveAlert(a, n) {
    const rule = a.rule || {};
    const firing = a.state === "firing";
    const button = el("button", { type: "button", class: "link" }, a.employee_id);
    const tr = el(
      "tr",
      {
        "data-event-id": n === null ? "" : String(n),
        "data-employee": a.employee_id ?? "",
        "data-team": a.team ?? "",
        "data-episode": a.episode_id ?? "",
        "data-rule": rule.rule_id ?? "",
        "data-state": a.state ?? "",
        "data-value": String(a.value ?? ""),
      },
      el("td", {}, utcSeconds(a.changed_at)),
      el("td", {}, rule.name ?? rule.rule_id ?? "–"),
      el("td", {}, button),
      el("td", {}, a.team ?? "–"),
      el("td", { class: "num" }, num(a.value, metricInfo(a.metric).digits)),
      el("td", { class: `state-${a.state}` }, a.state ?? "–"),
    );
    tr.title = `${rule.name ?? "rule"}: ${metricInfo(a.metric).label.toLowerCase()} ${num(a.value, 3)} at ${utcSeconds(a.time)} UTC`;
    if (a.employee_id === state.employee) tr.classList.add("selected");
    tr.addEventListener("click", () => selectEmployee(a.employee_id, a.team));
    const body = $("live-table").tBodies[0];
    body.prepend(tr);
    while (body.rows.length > LIVE_ROWS) body.deleteRow(-1);
    if (a.episode_id) {
      if (firing) live.firing.add(a.episode_id);
      else if (a.state === "resolved") live.firing.delete(a.episode_id);
    }
    describeLive();
  }

  function describeLive() {
    const panel = $("live-panel");
    $("live-firing").textContent = String(live.firing.size);
    panel.dataset.firing = String(live.firing.size);
    panel.dataset.rows = String($("live-table").tBodies[0].rows.length);
    if (live.lastId === null) delete panel.dataset.lastEventId;
  }

  /// New samples (of one team): into the employee chart as points, or a
  /// fetch of a chart of averages soon.
  function liveSamples(samples, team) {
    const box = $("employee-chart");
    const mine = samples.filter((s) => s.employee_id === state.employee);
    if (mine.length) {
      if (box.dataset.state === "loading") live.pending.push(...mine);
      else if (state.employeeChart && box.dataset.employee === state.employee) {
        if (box.dataset.resolution === "raw") appendEmployeeSamples(mine);
        else refetchSoon("employee");
      }
    }
    const teamBox = $("team-chart");
    if (team && team === state.team && teamBox.dataset.team === team && state.teamChart) refetchSoon("team");
  }

  /// The index of the first of sorted `xs` at or after `x`.
  function lowerBound(xs, x) {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /// Adds samples to the raw employee chart (one with the time of a point
  /// already drawn replaces it) and redraws it.
  function appendEmployeeSamples(samples) {
    const u = state.employeeChart;
    const box = $("employee-chart");
    if (!u || !samples.length) return;
    const data = u.data.map((column) => Array.from(column));
    const xs = data[0];
    const lastBefore = xs.length ? xs[xs.length - 1] : null;
    let added = 0;
    for (const s of samples) {
      const x = Date.parse(s.time) / 1000;
      if (!Number.isFinite(x)) continue;
      const i = lowerBound(xs, x);
      if (xs[i] !== x) {
        for (const column of data) column.splice(i, 0, null);
        xs[i] = x;
      }
      if (METRICS.every((_, k) => data[k + 1][i] === null || data[k + 1][i] === undefined)) added++;
      METRICS.forEach((m, k) => {
        data[k + 1][i] = s[m.key] ?? null;
      });
    }
    // Follow new points unless zoomed away from the end.
    const follow = lastBefore === null || u.scales.x.max === null || u.scales.x.max >= lastBefore;
    u.setData(data, follow);
    const points = Number(box.dataset.points || 0) + added;
    const livePoints = Number(box.dataset.livePoints || 0) + added;
    box.dataset.points = String(points);
    box.dataset.livePoints = String(livePoints);
    if (livePoints && live.employeeStatus) {
      setStatus("employee-status", `${live.employeeStatus} Since then ${plural(livePoints, "new sample")}, drawn as they came.`);
    }
  }

  /// Fetches a chart of averages again, at most once per 30 s.
  function refetchSoon(name) {
    if (live.refetch[name]) return;
    const box = $(`${name}-chart`);
    box.dataset.liveStale = "true";
    const wait = Math.max(0, (live.loadedAt[name] ?? 0) + LIVE_REFETCH_EVERY - Date.now());
    live.refetch[name] = setTimeout(() => {
      live.refetch[name] = null;
      if (name === "employee") {
        if ($("employee-id").value.trim() === state.employee) {
          loadEmployee({ focusDay: box.dataset.focusDay || null, live: true });
        }
      } else if ($("team-name").value.trim() === state.team) {
        loadTeam();
      }
    }, wait);
  }

  /// After a break the feed cannot fill: the open charts, fetched again.
  function refreshCharts() {
    const box = $("employee-chart");
    if (state.employeeChart && box.dataset.employee === state.employee && $("employee-id").value.trim() === state.employee) {
      loadEmployee({ focusDay: box.dataset.focusDay || null, live: true });
    }
    if (state.teamChart && $("team-chart").dataset.team === state.team && $("team-name").value.trim() === state.team) {
      loadTeam();
    }
  }

  /// A chart starts loading: what came for the one before is dropped.
  function liveChartLoading(name) {
    live.loadedAt[name] = Date.now();
    clearTimeout(live.refetch[name]);
    live.refetch[name] = null;
    if (name === "employee") live.pending = [];
  }

  /// The employee chart is drawn: the samples that came meanwhile.
  function liveEmployeeDrawn(body, status) {
    live.employeeStatus = status;
    const pending = live.pending.filter((s) => s.employee_id === body.employee_id);
    live.pending = [];
    if (!pending.length) return;
    if (body.resolution === "raw") appendEmployeeSamples(pending);
    else refetchSoon("employee");
  }

  function wireLive() {
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) stopLive("paused", "Paused while the page is hidden.");
      else if (!live.refused) startLive();
    });
    // For people in the console and for the browser test.
    window.organismLive = {
      state: live,
      parser: sseParser,
      start: startLive,
      stop: () => stopLive("stopped", "Stopped (organismLive.start() resumes)."),
      reconnect: () => {
        stopLive("stopped", "");
        startLive();
      },
    };
    describeLive();
    if (!document.hidden) startLive();
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
    restartLive();
  }

  // ------------------------------------------------------------- start

  async function loadAll() {
    loadHealth();
    loadStatistics();
    loadDirectory();
    loadInterventionList();
    if ($("effect-id").value) loadEffect();
    // The team filters (and, for a manager, the team the correlations
    // need) come from the overview.
    const overview = loadOverview().then((body) => {
      loadAnomalies();
      loadCorrelations();
      return body;
    });
    const alerts = await loadAlerts();
    const teams = await overview;
    if (state.employee) {
      loadEmployee();
      if (state.team) loadTeam();
    } else if (alerts && alerts.alerts.length) {
      // Open on the highest alert, so the page shows a trend straight away.
      selectEmployee(alerts.alerts[0].employee_id, alerts.alerts[0].team);
    } else if (state.team) {
      loadTeam();
    } else if (teams && teams.teams.length) {
      // A key that sees no employee (a manager's) opens on its first team.
      $("team-name").value = teams.teams[0].team;
      loadTeam();
    }
  }

  // The slider and the number box show one threshold; alerts reload a
  // moment after the last change.
  let thresholdTimer = null;
  function scheduleAlerts() {
    clearTimeout(thresholdTimer);
    thresholdTimer = setTimeout(loadAlerts, 250);
  }

  function wireAlerts() {
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
  }

  /// `form` submits to `load`, and each of `selects` reloads on change.
  function wireForm(form, load, selects) {
    $(form).addEventListener("submit", (e) => {
      e.preventDefault();
      load();
    });
    for (const id of selects) $(id).addEventListener("change", () => load());
  }

  function wireCharts() {
    let resizeTimer = null;
    const sizes = { employeeChart: ["employee-chart", 320], teamChart: ["team-chart", 280], effectChart: ["effect-chart", 300] };
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const [name, [box, height]] of Object.entries(sizes)) {
          if (state[name]) state[name].setSize({ width: chartWidth($(box)), height });
        }
      }, 150);
    });
  }

  function start() {
    buildMetricToggles();
    for (const select of document.querySelectorAll(".metric-select")) {
      fillSelect(select, METRICS.map((m) => [m.key, m.label]), false);
    }
    showKeyState();
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("api-key").value.trim();
      if (key) useKey(key);
    });
    $("key-forget").addEventListener("click", () => useKey(""));
    $("reload-all").addEventListener("click", loadAll);
    wireAlerts();
    wireForm("overview-form", loadOverview, ["overview-days"]);
    wireForm("stats-form", loadStatistics, ["stats-days"]);
    wireForm("anomalies-form", loadAnomalies, ["anomalies-metric", "anomalies-days", "anomalies-team"]);
    wireForm("correlations-form", loadCorrelations, ["correlations-days", "correlations-team"]);
    $("correlations-kind").addEventListener("change", renderCorrelations);
    wireForm("employee-form", loadEmployee, ["employee-days", "employee-resolution"]);
    wireForm("team-form", loadTeam, ["team-days"]);
    wireForm("effect-form", loadEffect, ["effect-metric", "effect-before", "effect-after"]);
    $("effect-pick").addEventListener("change", (e) => {
      if (!e.target.value) return;
      $("effect-id").value = e.target.value;
      loadEffect();
    });
    wireCharts();
    loadAll();
    wireLive();
  }

  start();
})();
