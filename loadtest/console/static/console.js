// The chaos console's page: the live charts (charts.js), the agent's state (run, faults,
// resilience) once a second, the hand-fault form, the catalogue and the reports. Every call goes
// to the Locust master (chaos/api/...), which adds the agent's token: the page never holds it.
"use strict";

const BASE = location.pathname.replace(/\/+$/, "") + "/";
const WRITE_HEADERS = { "Content-Type": "application/json", "X-Failwhale-Console": "1" };
const TICK_MS = 1000;
const SLOW_TICKS = 10; // the catalogue and the reports, every 10 s
const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "onclick") node.addEventListener("click", value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value != null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: method === "GET" ? {} : WRITE_HEADERS, cache: "no-store" };
  if (method !== "GET") init.body = JSON.stringify(body || {});
  const response = await fetch(BASE + path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

const agentCall = (method, path, body) => api(method, "api/agent/" + path, body);
const problemText = (answer) =>
  (answer.data && (answer.data.detail || answer.data.title)) || `HTTP ${answer.status}`;
const seconds = (s) => (s == null ? "-" : `${Math.max(0, Math.round(s))} s`);
const reportHref = (name, file = "report.html") =>
  `${BASE}reports/${encodeURIComponent(name)}/${file}`;

class Console {
  constructor() {
    this.charts = new LiveCharts($("#charts"));
    this.next = 0;
    this.ticks = 0;
    this.info = null;
    this.state = null;
    this.stateAt = 0;
    this.kindsShown = "";
    this.runShown = "";
    this.faultsShown = "";
    this.catalogueShown = "";
    this.reportsShown = "";
    this.form = new FaultForm(this);
  }

  async start() {
    this.info = (await api("GET", "api/console")).data || {};
    $("#agent-note").textContent = this.info.no_agent || this.info.writes_refused || "";
    document.body.dataset.agent = this.info.agent ? "yes" : "no";
    if (this.info.writes_refused) document.body.dataset.writes = "refused";
    if (!this.info.agent) $("#fault-form").textContent = this.info.no_agent;
    this.tick();
    setInterval(() => this.tick(), TICK_MS);
    setInterval(() => this.countdown(), 250);
  }

  async tick() {
    this.ticks += 1;
    try { await this.pullSeries(); } catch (e) { this.note(`series: ${e}`); }
    if (!this.info.agent) return;
    try { await this.pullState(); } catch (e) { this.note(`agent: ${e}`); }
    if (this.ticks % SLOW_TICKS === 1) {
      this.pullCatalogue();
      this.pullReports();
    }
  }

  note(text) { $("#agent-note").textContent = text; }

  async pullSeries() {
    const answer = await api("GET", `api/series?after=${this.next}`);
    if (!answer.ok) return;
    const { points, next } = answer.data;
    if (next < this.next) this.charts.reset();
    this.next = next;
    if (points.length) this.charts.add(points);
    const last = points[points.length - 1];
    if (last && !this.state) this.showSettings({ resilience: last.resilience });
  }

  async pullState() {
    const answer = await agentCall("GET", "state");
    if (!answer.ok) { this.note(problemText(answer)); return; }
    const state = answer.data;
    const runEnded = this.state && this.state.run && !this.state.run.verdict && state.run && state.run.verdict;
    this.state = state;
    this.stateAt = Date.now() / 1000;
    this.note("");
    this.showSettings(state);
    const run = state.run ? { ...state.run, elapsed_s: 0, left_s: 0 } : null;
    if (JSON.stringify(run) !== this.runShown) {
      this.runShown = JSON.stringify(run);
      showRun(state.run, this);
    }
    // one run at a time: the Run buttons wait for the current one to end
    document.querySelectorAll("button.run").forEach((b) => { b.disabled = this.running; });
    if (JSON.stringify(state.faults) !== this.faultsShown) {
      this.faultsShown = JSON.stringify(state.faults);
      showFaults(state.faults || [], this);
    }
    const kinds = JSON.stringify([state.kinds, state.targets]);
    if (kinds !== this.kindsShown) {
      this.kindsShown = kinds;
      this.form.build(state.kinds || {}, state.targets || []);
    }
    const windows = (state.faults || []).map((f) => ({
      start: f.started_at, end: f.ended_at, label: `${f.fault} ${f.target}`,
    }));
    this.charts.setWindows(windows, state.run ? state.run.started_at : null);
    if (runEnded) this.pullReports();
  }

  showSettings(state) {
    const set = (id, value) => {
      const node = $(id);
      node.textContent = value == null ? "?" : value;
      node.dataset.value = value == null ? "" : value;
    };
    set("#resilience", state.resilience);
    if ("self_healing" in state) set("#self-healing", state.self_healing ?? "n/a");
    if (state.backend) set("#backend", `${state.backend} (${state.scope})`);
    if ("load" in state) {
      set("#load", state.load ? `${state.load.state}, ${state.load.users} users` : "no load");
    }
  }

  countdown() {
    const run = this.state && this.state.run;
    const since = Date.now() / 1000 - this.stateAt;
    if (run && run.left_s != null && !run.verdict) $("#run-left").textContent = seconds(run.left_s - since);
    for (const cell of document.querySelectorAll("[data-deadline]")) {
      cell.textContent = seconds(Number(cell.dataset.deadline) - Date.now() / 1000);
    }
  }

  async pullCatalogue() {
    const answer = await agentCall("GET", "catalogue");
    if (answer.ok && JSON.stringify(answer.data) !== this.catalogueShown) {
      this.catalogueShown = JSON.stringify(answer.data); // redrawn only when it changed
      showCatalogue(answer.data.scenarios || [], this);
    }
  }

  async pullReports() {
    const answer = await agentCall("GET", "reports");
    if (answer.ok && JSON.stringify(answer.data) !== this.reportsShown) {
      this.reportsShown = JSON.stringify(answer.data);
      showReports(answer.data.reports || [], this);
    }
  }

  get running() {
    const run = this.state && this.state.run;
    return Boolean(run && run.phase !== "done" && run.phase !== "error");
  }

  async runScenario(name, button) {
    button.disabled = true;
    try {
      const answer = await agentCall("POST", "runs", { scenario: name });
      $("#catalogue-error").textContent = answer.ok ? "" : `${name}: ${problemText(answer)}`;
    } finally {
      button.disabled = this.running;
    }
    this.tick();
  }

  async stopRun() {
    const answer = await agentCall("DELETE", "runs/current");
    $("#catalogue-error").textContent = answer.ok ? "" : problemText(answer);
  }

  async revert(id, button) {
    button.disabled = true;
    const answer = await agentCall("DELETE", `faults/${encodeURIComponent(id)}`);
    if (!answer.ok) $("#fault-error").textContent = problemText(answer);
    this.tick();
  }

  async compare(a, b) {
    const answer = await agentCall("POST", "compare", { a, b });
    const out = $("#compare-result");
    out.replaceChildren();
    if (!answer.ok) { out.textContent = problemText(answer); return; }
    out.append(el("a", { href: reportHref(answer.data.name, answer.data.report), target: "_blank",
      id: "compare-link" }, `Open the comparison of ${a} and ${b}`));
    this.pullReports();
  }
}

window.addEventListener("DOMContentLoaded", () => {
  window.chaosConsole = new Console();
  window.chaosConsole.start();
});
