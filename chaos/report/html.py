"""report.html of one run: self-contained (plots inline as data URIs, no script, no external
asset), so that it can be mailed, attached to a ticket or opened from a CI artifact as it is."""

from chaos.phases import phase_spans, stats_by_request
from chaos.report.html_parts import (
    CSS,
    NA,
    breakers_table,
    by_request_table,
    e,
    faults_table,
    figure,
    fmt,
    hypotheses_table,
    orchestrator_html,
    phases_table,
    table,
    yes_no,
)
from chaos.report.plots import PLOTS
from chaos.report.result import RunResult

HOW_TO_READ = """
<div class="note">
<p><b>How to read this report.</b> The run has three phases: <i>steady</i> before the first
fault, <i>fault</i> from the first fault's start to the last fault's end, <i>recovery</i> after
it. The verdict is <b>pass</b> when every hypothesis of the scenario held, <b>fail</b> when one
did not, and <b>invalid</b> when a fault could not be shown to have taken effect (such a run
proves nothing, whatever its figures say). A figure shown as n/a could not be measured, and a
hypothesis about it does not hold.</p>
<p>An <i>error</i> is an answer a user would call broken (5xx, timeout, refused); a
<i>degraded</i> answer is a correct one served by a fallback (marked <code>X-Degraded</code>):
the resilience layer trading freshness or completeness for availability. Percentiles are exact
(nearest rank over every request of the phase). In the plots the shaded bands are the fault
windows; a system that bends shows degraded answers and open breakers inside them and goes back
to green after; a system that breaks shows errors, latency up to the timeouts, and violations of
the correctness oracles that stay after the fault is gone.</p>
</div>
"""


def _count(value: int | None) -> str:
    return NA if value is None else str(value)


def signals(result: RunResult) -> str:
    """The signs of a dying system (latency, inconsistencies between devices, ordering,
    unavailable ancillary services, lost writes), each with the figures that show it."""
    summary, faulted = result.summary, bool(result.obs.faults)
    o, p = summary.oracles, summary.phases
    opened = sorted({f"{b.service} → {b.dependency}" for b in summary.breakers})
    latency = (f"p99 {fmt('p99_ms', p.steady.p99_ms)} steady, {fmt('p99_ms', p.fault.p99_ms)} "
               f"during the fault, {fmt('p99_ms', p.recovery.p99_ms)} after")  # fmt: skip
    during, shown = "during the fault", p.fault
    if not faulted:
        latency = f"p99 {fmt('p99_ms', p.steady.p99_ms)} (no fault in this run)"
        during, shown = "in the steady state", p.steady
    rows = [
        ("Latency", "answers slow down", latency, False),
        ("Inconsistencies between devices", "one device sees what the other does not, or misses "
         "its own write", f"read-your-writes violations {_count(o.read_your_writes_violations)}, "
         f"max staleness {fmt('max_staleness_s', o.max_staleness_s)}",
         bool(o.read_your_writes_violations)),
        ("Ordering", "DMs out of sequence, a feed not newest first",
         f"DM order violations {_count(o.dm_order_violations)}, timeline order violations "
         f"{_count(o.timeline_order_violations)}",
         bool(o.dm_order_violations or o.timeline_order_violations)),
        ("Unavailable ancillary services", "parts of the app answer from a fallback, or not at all",
         f"degraded answers {during} {fmt('degraded_rate', shown.degraded_rate)}, "
         f"errors {fmt('error_rate', shown.error_rate)}{ancillary(result, during)}; breakers "
         f"that opened: {e(', '.join(opened)) or 'none'}", False),
        ("Lost writes", "an acknowledged post or DM is gone, or applied twice",
         f"lost {_count(o.lost_writes)}, duplicates {_count(o.duplicate_writes)}",
         bool(o.lost_writes or o.duplicate_writes)),
    ]  # fmt: skip
    return table(
        ["signal", "what a user sees", "this run"],
        [[f"<b>{name}</b>", e(what), figures] for name, what, figures, _ in rows],
        ["bad" if bad else "" for *_, bad in rows],
    )


def ancillary(result: RunResult, during: str) -> str:
    """How the trends service (the ancillary one) answered, when the load asked it."""
    phase = "fault" if result.obs.faults else "steady"
    parts = []
    for name, phases in stats_by_request(result.obs).items():
        if "/trends" in name:
            st = phases[phase]
            parts.append(f"{e(name)} {during}: errors {fmt('error_rate', st.error_rate)}, "
                         f"degraded {fmt('degraded_rate', st.degraded_rate)}")  # fmt: skip
    return "; " + "; ".join(parts) if parts else ""


def oracles_table(result: RunResult) -> str:
    summary = result.summary
    figures = summary.oracles.model_dump()
    extra = {k: v for k, v in result.obs.oracles.items() if k not in figures}
    rows = [[f"<code>{e(k)}</code>", fmt(k, v)] for k, v in {**figures, **extra}.items()]
    rows.append(
        ["<code>time_to_detect_s</code>", fmt("time_to_detect_s", summary.time_to_detect_s)]
    )
    rows.append(
        ["<code>time_to_recover_s</code>", fmt("time_to_recover_s", summary.time_to_recover_s)]
    )
    bad = [
        "bad" if isinstance(v, int | float) and v > 0 and not k.endswith("_s") else ""
        for k, v in {**figures, **extra}.items()
    ]
    return table(["oracle / timing", "value"], rows, bad)


def header(result: RunResult) -> str:
    s = result.summary
    applied = f"fault applied: {yes_no(s.fault_applied)}"
    if not result.obs.faults and not result.scenario.method:
        applied = "no fault: the steady state alone"
    return (
        f'<header><div class="badge {e(s.verdict)}">{e(s.verdict.upper())}</div>'
        f"<h1>{e(s.scenario)}</h1>"
        f'<p class="meta">backend <b>{e(s.backend)}</b> · resilience <b>{e(s.resilience)}</b> · '
        f"{result.obs.duration_s:.0f} s of load · {len(result.obs.requests)} requests · "
        f"{applied}</p>"
        f'<p class="reason">{e(result.judgement.reason)}</p>'
        f"<p>{e(result.scenario.description.strip())}</p></header>"
    )


def plots_section(plots: dict[str, bytes]) -> str:
    return "".join(
        figure(plots[name], caption) for name, (caption, _) in PLOTS.items() if name in plots
    )


def render_report(result: RunResult) -> str:
    s, obs = result.summary, result.obs
    notes = "".join(f"<li>{e(n)}</li>" for n in obs.notes) or "<li>none</li>"
    body = [
        header(result),
        HOW_TO_READ,
        "<h2>Signals of a dying system</h2>",
        signals(result),
        "<h2>Hypotheses</h2>",
        hypotheses_table(result.judgement.hypotheses),
        "<h2>Phases</h2>",
        phases_table(s.phases, phase_spans(obs)),
        "<h2>Faults</h2>",
        faults_table(obs.faults),
        orchestrator_html(obs),
        "<h2>Correctness oracles and timings</h2>",
        oracles_table(result),
        "<h3>Circuit breaker episodes</h3>",
        breakers_table(s.breakers),
        "<h2>Plots</h2>",
        plots_section(result.plots),
        "<h2>By request</h2>",
        by_request_table(stats_by_request(obs)),
        "<h2>Notes of the run</h2>",
        f"<ul>{notes}</ul>",
    ]
    return page(f"Failwhale · {s.scenario} · {s.verdict}", "\n".join(body))


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
