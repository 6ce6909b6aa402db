// The console's panels: the hand-fault form (its fields from the agent's `kinds`, the agent's
// field errors shown beside each field), the active faults with time left and Revert, the run
// with its phase, countdown and verdict, the catalogue with each scenario's fault timeline, and
// the reports with compare.
"use strict";

const OWN_FIELDS = new Set(["fault", "target", "duration_s", "at_s"]);

class FaultForm {
  constructor(console_) {
    this.console = console_;
    this.root = document.querySelector("#fault-form");
    this.root.noValidate = true; // the agent validates, with the scenario schema's own models
    this.root.addEventListener("submit", (event) => { event.preventDefault(); this.apply(); });
  }

  build(kinds, targets) {
    this.kinds = kinds;
    this.root.dataset.builds = String(Number(this.root.dataset.builds || 0) + 1);
    const kind = el("select", { name: "fault", id: "fault-kind" },
      Object.keys(kinds).sort().map((k) => el("option", { value: k }, k)));
    const target = el("select", { name: "target", id: "fault-target" },
      targets.map((t) => el("option", { value: t }, t)));
    kind.addEventListener("change", () => this.showParams());
    this.root.replaceChildren(
      field("fault", "Fault", kind),
      field("target", "Target", target),
      el("div", { id: "fault-params" }),
      field("duration_s", "Duration (s)",
        el("input", { name: "duration_s", type: "number", min: 1, max: 3600, value: 30 })),
      el("div", { class: "form-row" }, el("button", { type: "submit", id: "fault-apply" }, "Apply"),
        el("span", { class: "error", id: "fault-error" })),
    );
    this.showParams();
  }

  showParams() {
    const spec = this.kinds[this.root.querySelector("#fault-kind").value] || { fields: [], doc: "" };
    const params = this.root.querySelector("#fault-params");
    params.replaceChildren(el("p", { class: "doc", id: "fault-doc" }, spec.doc || ""));
    for (const f of spec.fields || []) {
      if (f.name === "duration_s" && f.default != null) {
        this.root.querySelector("[name=duration_s]").value = f.default;
      }
      if (OWN_FIELDS.has(f.name)) continue;
      let input;
      if (f.type === "enum") {
        const none = f.required && f.default != null ? [] : [el("option", { value: "" }, "(default)")];
        input = el("select", { name: f.name }, none, (f.enum || []).map((v) =>
          el("option", { value: v, selected: v === f.default }, v)));
      } else {
        input = el("input", {
          name: f.name, type: f.type === "number" ? "number" : "text", step: "any",
          min: f.minimum, max: f.maximum, value: f.default, required: f.required,
        });
      }
      params.append(field(f.name, f.name + (f.required ? " *" : ""), input));
    }
  }

  body() {
    const body = {};
    const spec = this.kinds[this.root.querySelector("#fault-kind").value] || { fields: [] };
    const types = Object.fromEntries((spec.fields || []).map((f) => [f.name, f.type]));
    for (const input of this.root.querySelectorAll("[name]")) {
      if (input.value === "") continue;
      const numeric = input.name === "duration_s" || types[input.name] === "number";
      body[input.name] = numeric ? Number(input.value) : input.value;
    }
    return body;
  }

  async apply() {
    this.root.querySelectorAll(".field-error").forEach((n) => { n.textContent = ""; });
    this.root.querySelector("#fault-error").textContent = "";
    const button = this.root.querySelector("#fault-apply");
    button.disabled = true;
    const answer = await agentCall("POST", "faults", this.body());
    button.disabled = false;
    if (!answer.ok) {
      const errors = (answer.data && answer.data.errors) || [];
      let shown = false;
      for (const error of errors) {
        const beside = this.root.querySelector(`.field-error[data-field="${CSS.escape(error.field)}"]`);
        if (beside) { beside.textContent = error.message; shown = true; }
      }
      if (!shown || !errors.length) this.root.querySelector("#fault-error").textContent = problemText(answer);
    }
    this.console.tick();
  }
}

function field(name, label, input) {
  return el("div", { class: "form-row", dataset: { field: name } },
    el("label", {}, label, input), el("span", { class: "field-error", dataset: { field: name } }));
}

function showFaults(faults, console_) {
  const body = document.querySelector("#faults tbody");
  const active = faults.filter((f) => f.ended_at == null);
  const ended = faults.filter((f) => f.ended_at != null).slice(-5).reverse();
  document.querySelector("#faults").dataset.active = String(active.length);
  body.replaceChildren(...[...active, ...ended].map((f) => el("tr",
    { class: f.ended_at == null ? "active" : "ended", dataset: { fault: f.id, target: f.target } },
    el("td", {}, f.fault), el("td", {}, f.target), el("td", {}, f.source),
    el("td", {}, Object.entries(f.params || {}).map(([k, v]) => `${k}=${v}`).join(" ")),
    f.ended_at == null ? el("td", { dataset: { deadline: f.deadline } }, seconds(f.deadline - Date.now() / 1000))
      : el("td", {}, "reverted"),
    el("td", { class: "evidence" }, (f.took_effect ? "took effect; " : "not verified; ") +
      (f.ended_at == null ? f.evidence : f.revert_evidence || f.evidence)),
    el("td", {}, f.ended_at == null && f.source === "hand"
      ? el("button", { class: "revert", onclick: (e) => console_.revert(f.id, e.target) }, "Revert") : ""),
  )));
  if (!active.length && !ended.length) {
    body.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, "no faults applied")));
  }
}

function showRun(run, console_) {
  const box = document.querySelector("#run");
  box.dataset.phase = run ? run.phase : "";
  box.dataset.verdict = run && run.verdict ? run.verdict : "";
  if (!run) {
    box.replaceChildren(el("p", { class: "empty" }, "No scenario run yet: pick one in the catalogue."));
    return;
  }
  const done = run.phase === "done" || run.phase === "error";
  box.replaceChildren(
    el("h3", {}, run.scenario, run.joined ? " (joined the running load)" : ""),
    el("p", {}, "Phase: ", el("strong", { id: "run-phase" }, run.phase),
      done ? "" : [" · left: ", el("span", { id: "run-left" }, seconds(run.left_s))],
      " · active: ", (run.active || []).join(", ") || "none"),
    run.verdict ? el("p", { class: `verdict ${run.verdict}`, id: "run-verdict" },
      run.verdict.toUpperCase(), run.reason ? ` — ${run.reason}` : "") : "",
    run.error ? el("p", { class: "error" }, run.error) : "",
    run.report ? el("p", {}, el("a", { id: "run-report", href: reportHref(run.report), target: "_blank" },
      "Open its report")) : "",
    done ? "" : el("button", { id: "run-stop", onclick: () => console_.stopRun() }, "Stop the run"),
  );
}

function timeline(scenario) {
  const total = Math.max(scenario.load.duration_s || 1,
    ...scenario.faults.map((f) => f.at_s + f.duration_s));
  const rowHeight = 16;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "timeline");
  svg.setAttribute("viewBox", `0 0 300 ${scenario.faults.length * rowHeight + 14}`);
  scenario.faults.forEach((f, i) => {
    const rect = document.createElementNS(ns, "rect");
    const x = (300 * f.at_s) / total;
    rect.setAttribute("x", x);
    rect.setAttribute("y", i * rowHeight + 2);
    rect.setAttribute("width", Math.max((300 * f.duration_s) / total, 2));
    rect.setAttribute("height", rowHeight - 4);
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", Math.min(x + 3, 200));
    text.setAttribute("y", i * rowHeight + 12);
    text.textContent = `${f.fault} ${f.target} ${f.at_s}–${f.at_s + f.duration_s} s`;
    svg.append(rect, text);
  });
  const axis = document.createElementNS(ns, "text");
  axis.setAttribute("x", 0);
  axis.setAttribute("y", scenario.faults.length * rowHeight + 12);
  axis.setAttribute("class", "axis");
  axis.textContent = `0 … ${total} s`;
  svg.append(axis);
  return svg;
}

function bounds(min, max) {
  if (min != null && max != null) return min === max ? `= ${min}` : `${min} … ${max}`;
  return min != null ? `≥ ${min}` : max != null ? `≤ ${max}` : "any";
}

function showCatalogue(scenarios, console_) {
  const list = document.querySelector("#catalogue-list");
  list.replaceChildren(...scenarios.map((s) => el("article", { class: "scenario", dataset: { scenario: s.name } },
    el("h3", {}, s.name),
    el("p", {}, s.description),
    el("p", { class: "load" }, `load: ${s.load.users} users`, s.load.rate ? `, ${s.load.rate}/s` : "",
      `, ${s.load.duration_s} s`, s.self_healing ? ` · self-healing ${s.self_healing}` : ""),
    timeline(s),
    el("ul", { class: "hypotheses" }, s.hypotheses.map((h) => el("li", {},
      `${h.metric} in ${h.phase}: ${bounds(h.min, h.max)}`))),
    s.runnable
      ? el("button", { class: "run", disabled: console_.running,
        onclick: (e) => console_.runScenario(s.name, e.target) }, "Run")
      : el("p", { class: "refusal" }, s.refusal || "not runnable on this stack"),
  )));
}

function showReports(reports, console_) {
  const body = document.querySelector("#reports tbody");
  const picked = new Set([...body.querySelectorAll(".pick:checked")].map((c) => c.value));
  body.replaceChildren(...reports.map((r) => el("tr", { dataset: { report: r.name } },
    el("td", {}, el("input", { type: "checkbox", class: "pick", value: r.name,
      checked: picked.has(r.name) })),
    el("td", {}, el("a", { href: reportHref(r.name), target: "_blank" }, r.name)),
    el("td", {}, r.kind), el("td", {}, r.scenario || ""),
    el("td", { class: `verdict ${r.verdict || ""}` }, r.verdict || ""),
    el("td", {}, r.backend || ""), el("td", {}, r.resilience || ""),
    el("td", {}, r.created_at ? new Date(r.created_at * 1000).toLocaleString() : ""),
  )));
  if (!reports.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty" }, "no reports yet")));
  const button = document.querySelector("#compare");
  button.onclick = () => {
    const picked = [...body.querySelectorAll(".pick:checked")].map((c) => c.value);
    if (picked.length !== 2) {
      document.querySelector("#compare-result").textContent = "Pick two runs to compare.";
      return;
    }
    console_.compare(picked[1], picked[0]); // newest first: the older one is a
  };
}
