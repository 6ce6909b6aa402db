// The console's live charts (uPlot, vendored): requests by outcome, latency percentiles, a band
// per breaker, outbox depths and oracle violations, on one time axis with fault windows shaded.
// What the charts show is also kept in data attributes of #charts, for tests and for anyone who
// inspects the page: data-points, data-last-t, data-degraded-share, data-breakers.
"use strict";

const BAND_COLOURS = { closed: "#3fa34d", "half-open": "#e0a526", open: "#d64541" };
const UNKNOWN_COLOUR = "#c8c8c8";
const FAULT_SHADE = "rgba(214, 69, 65, 0.12)";
const SYNC = uPlot.sync("failwhale-console");
const AXIS_SIZE = 90; // the same for every chart, so that their time axes line up
const HEIGHT = 140;
const BAND_ROW = 18;

class LiveCharts {
  constructor(root) {
    this.root = root;
    this.points = [];
    this.windows = []; // [{start, end, label}]
    this.runStart = null;
    this.charts = {};
    this.breakerNames = [];
    this.outboxNames = [];
    this.width = Math.max(root.clientWidth - 20, 400);
    this.build();
    window.addEventListener("resize", () => this.resize());
  }

  reset() {
    this.points = [];
    this.redraw();
  }

  add(points) {
    if (points.length && this.points.length && points[0].t < this.points[this.points.length - 1].t) {
      this.points = []; // the master started a new series
    }
    this.points.push(...points);
    const breakers = [...new Set(this.points.flatMap((p) => Object.keys(p.breakers || {})))].sort();
    const outboxes = [...new Set(this.points.flatMap((p) => Object.keys(p.outbox || {})))].sort();
    if (breakers.join() !== this.breakerNames.join() || outboxes.join() !== this.outboxNames.join()) {
      this.breakerNames = breakers;
      this.outboxNames = outboxes;
      this.build();
    }
    this.redraw();
  }

  setWindows(windows, runStart) {
    this.windows = windows;
    this.runStart = runStart;
    Object.values(this.charts).forEach((chart) => chart.redraw(false, false));
  }

  // -- building ----------------------------------------------------------------------------------

  build() {
    Object.values(this.charts).forEach((chart) => chart.destroy());
    this.root.querySelectorAll(".chart").forEach((el) => el.remove());
    const line = (label, stroke, extra = {}) => ({ label, stroke, width: 1.5, points: { show: false }, ...extra });
    this.charts.outcomes = this.chart("outcomes", "Requests by outcome (per second)", [
      line("ok", "#3fa34d"), line("degraded", "#e0a526"), line("error", "#d64541"),
    ]);
    this.charts.latency = this.chart("latency", "Latency (ms, current)", [
      line("p50", "#4a7bd0"), line("p95", "#8e5bc4"), line("p99", "#c44b8e"),
    ]);
    this.charts.breakers = this.bandChart();
    const palette = ["#4a7bd0", "#e0a526", "#3fa34d", "#8e5bc4", "#d64541", "#2aa3a3"];
    this.charts.outbox = this.chart(
      "outbox", "Outbox depth (writes waiting)",
      this.outboxNames.map((name, i) => line(name, palette[i % palette.length])),
    );
    this.charts.violations = this.chart("violations", "Oracle violations (so far)", [
      line("violations", "#d64541", { paths: uPlot.paths.stepped({ align: 1 }) }),
    ]);
  }

  chart(key, title, series, extra = {}) {
    const holder = document.createElement("div");
    holder.className = "chart";
    holder.dataset.chart = key;
    this.root.appendChild(holder);
    const options = {
      title, width: this.width, height: extra.height || HEIGHT,
      cursor: { sync: { key: SYNC.key } },
      scales: { x: { time: true }, ...(extra.scales || {}) },
      series: [{}, ...series],
      axes: extra.axes || [{}, { size: AXIS_SIZE }],
      legend: { show: extra.legend !== false },
      hooks: { drawClear: [(u) => this.shade(u)], ...(extra.hooks || {}) },
    };
    return new uPlot(options, this.data(key), holder);
  }

  bandChart() {
    const names = this.breakerNames;
    const chart = this.chart("breakers", "Breakers", [{ label: "state", show: false }], {
      height: Math.max(HEIGHT, 60 + BAND_ROW * names.length),
      scales: { y: { range: [0, Math.max(names.length, 1)] } },
      axes: [{}, {
        size: AXIS_SIZE,
        splits: () => names.map((_, i) => i + 0.5),
        values: () => names.slice().reverse(), // the first name on the top row
        grid: { show: false },
      }],
      legend: false,
      hooks: { draw: [(u) => this.drawBands(u)] },
    });
    const key = document.createElement("div");
    key.className = "chart band-key";
    for (const [state, colour] of [...Object.entries(BAND_COLOURS), ["not reported", UNKNOWN_COLOUR]]) {
      const swatch = document.createElement("span");
      swatch.style.background = colour;
      key.append(swatch, ` ${state} `);
    }
    this.root.appendChild(key);
    return chart;
  }

  // -- data and drawing ------------------------------------------------------------------------

  data(key) {
    const t = this.points.map((p) => p.t);
    const take = (field) => this.points.map((p) => (p[field] == null ? null : p[field]));
    switch (key) {
      case "outcomes": return [t, take("ok"), take("degraded"), take("error")];
      case "latency": return [t, take("p50"), take("p95"), take("p99")];
      case "breakers": return [t, t.map(() => null)];
      case "outbox":
        return [t, ...this.outboxNames.map((n) => this.points.map((p) => (p.outbox || {})[n] ?? null))];
      case "violations": return [t, take("violations")];
      default: return [t];
    }
  }

  redraw() {
    for (const [key, chart] of Object.entries(this.charts)) chart.setData(this.data(key));
    this.expose();
  }

  resize() {
    this.width = Math.max(this.root.clientWidth - 20, 400);
    Object.values(this.charts).forEach((chart) => chart.setSize({ width: this.width, height: chart.height }));
  }

  shade(u) {
    const { ctx, bbox } = u;
    const now = Date.now() / 1000;
    ctx.save();
    ctx.fillStyle = FAULT_SHADE;
    for (const w of this.windows) {
      const x0 = Math.max(u.valToPos(w.start, "x", true), bbox.left);
      const x1 = Math.min(u.valToPos(w.end ?? now, "x", true), bbox.left + bbox.width);
      if (x1 > x0) ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
    }
    if (this.runStart != null) {
      const x = u.valToPos(this.runStart, "x", true);
      if (x >= bbox.left && x <= bbox.left + bbox.width) {
        ctx.strokeStyle = "#555";
        ctx.setLineDash([4, 4]);
        ctx.beginPath();
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  drawBands(u) {
    const { ctx, bbox } = u;
    const rowHeight = bbox.height / Math.max(this.breakerNames.length, 1);
    ctx.save();
    this.breakerNames.forEach((name, row) => {
      const top = bbox.top + row * rowHeight + 2;
      this.points.forEach((p, i) => {
        const next = this.points[i + 1];
        const x0 = u.valToPos(p.t, "x", true);
        const x1 = next ? u.valToPos(next.t, "x", true) : x0 + 2;
        const state = (p.breakers || {})[name];
        ctx.fillStyle = BAND_COLOURS[state] || UNKNOWN_COLOUR;
        ctx.fillRect(x0, top, Math.max(x1 - x0, 1), rowHeight - 4);
      });
    });
    ctx.restore();
  }

  expose() {
    const last = this.points[this.points.length - 1];
    const ds = this.root.dataset;
    ds.points = String(this.points.length);
    ds.lastT = last ? String(last.t) : "";
    const answered = last ? last.ok + last.degraded + last.error : 0;
    ds.degradedShare = answered > 0 ? (last.degraded / answered).toFixed(3) : "0";
    ds.breakers = JSON.stringify(last ? last.breakers || {} : {});
    ds.violations = last ? String(last.violations) : "0";
    ds.faultWindows = String(this.windows.length);
  }
}

window.LiveCharts = LiveCharts;
