"""The pieces the HTML reports are made of: the style sheet, figures formatted for people, and
tables. Everything that comes from a run is escaped here, once."""

import base64
from collections.abc import Iterable, Sequence
from html import escape

from chaos.observation import FaultWindow, Observation
from chaos.phases import PHASES, PhaseSpan
from chaos.report import orchestrator
from chaos.report.summary import BreakerEpisode, Phases
from chaos.verdict import HypothesisResult
from loadtest.vocabulary import PHASE_METRICS, PhaseStats

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1180px; margin: 0 auto; padding: 1.5em; }
h1 { margin: 0.2em 0; font-size: 1.8em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
.badge { display: inline-block; font-size: 2em; font-weight: 800; letter-spacing: 0.08em;
         color: #fff; padding: 0.15em 0.7em; border-radius: 0.3em; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; }
.badge.invalid { background: #6d6d6d; }
.reason { font-size: 1.15em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.93em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.yes { color: #2e7d32; font-weight: 700; } .no { color: #c62828; font-weight: 700; }
.bad { background: #fdecea; } .na { color: #888; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.note { background: #f7f9fc; border-left: 4px solid #8aa4d6; padding: 0.6em 1em; }
code { background: #f2f2f2; padding: 0 0.25em; }
"""

NA = '<span class="na">n/a</span>'


def e(value: object) -> str:
    return escape(str(value), quote=True)


def fmt(metric: str, value: float | None) -> str:
    """A figure in the unit a person reads it in; n/a when it could not be measured."""
    if value is None:
        return NA
    if metric in ("error_rate", "degraded_rate"):
        return f"{value * 100:.2f} %"
    if metric.endswith("_ms"):
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"
    if metric.endswith("_s"):
        return f"{value:.1f} s"
    if metric == "rps":
        return f"{value:.1f}/s"
    return f"{value:g}"


def yes_no(flag: bool, yes: str = "yes", no: str = "no") -> str:
    return f'<span class="yes">{yes}</span>' if flag else f'<span class="no">{no}</span>'


def table(
    head: Sequence[str], rows: Iterable[Sequence[str]], row_classes: Sequence[str] = ()
) -> str:
    """A table of cells that are already HTML (escape what comes from a run before)."""
    out = ["<table><tr>", *(f"<th>{h}</th>" for h in head), "</tr>"]
    for i, row in enumerate(rows):
        cls = row_classes[i] if i < len(row_classes) and row_classes[i] else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out.extend(f"<td>{cell}</td>" for cell in row)
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{e(alt)}">'


def figure(png: bytes, caption: str) -> str:
    return f"<figure>{img(png, caption)}<figcaption>{e(caption)}</figcaption></figure>"


def phase_header(name: str, span: PhaseSpan | None) -> str:
    if span is None:
        return e(name)
    return f"{e(name)}<br><small>{span.start_s:.0f} to {span.end_s:.0f} s</small>"


def phases_table(phases: Phases, spans: dict[str, PhaseSpan] | None = None) -> str:
    head = ["", *(phase_header(p, (spans or {}).get(p)) for p in PHASES)]
    rows = [
        [e(metric), *(fmt(metric, getattr(getattr(phases, p), metric)) for p in PHASES)]
        for metric in PHASE_METRICS
    ]
    return table(head, rows)


def hypotheses_table(results: Sequence[HypothesisResult]) -> str:
    rows = [
        [e(h.name), f"<code>{e(h.metric)}</code> in {e(h.phase)}", e(h.expect),
         _observed(h.metric, h.observed), yes_no(h.passed, "held", "did not hold")]
        for h in results
    ]  # fmt: skip
    classes = ["" if h.passed else "bad" for h in results]
    return table(["hypothesis", "metric", "expected", "observed", "held"], rows, classes)


def _observed(metric: str, value: float | None) -> str:
    if value is None:
        return f"{NA} (not observed)"
    plain = f"{value:.6g}"
    human = fmt(metric, value)
    return plain if human == plain else f"{plain} <small>({human})</small>"


def faults_table(faults: Sequence[FaultWindow]) -> str:
    if not faults:
        return "<p>No fault: this run is the steady state alone.</p>"
    rows = [
        [e(f.kind), e(f.target + (f" ↔ {f.peer}" if f.peer else "")), f"{f.start_s:.1f} s",
         NA if f.end_s is None else f"{f.end_s:.1f} s", e(f.mechanism or "?"),
         yes_no(f.took_effect), e(f.evidence or "no evidence recorded")]
        for f in faults
    ]  # fmt: skip
    classes = ["" if f.took_effect else "bad" for f in faults]
    head = ["fault", "target", "applied at", "reverted at", "mechanism", "took effect", "evidence"]
    return table(head, rows, classes)


def breakers_table(episodes: Sequence[BreakerEpisode]) -> str:
    if not episodes:
        return "<p>No breaker opened.</p>"
    rows = [
        [e(b.service), e(b.dependency), f"{b.opened_at_s:.0f} s",
         "still open at the end" if b.closed_at_s is None else f"{b.closed_at_s:.0f} s",
         NA if b.closed_at_s is None else f"{b.closed_at_s - b.opened_at_s:.0f} s"]
        for b in episodes
    ]  # fmt: skip
    return table(["service", "dependency", "opened at", "closed at", "open for"], rows)


def by_request_table(stats: dict[str, dict[str, PhaseStats]]) -> str:
    head = ["request", *(f"{p}: errors / degraded / p99" for p in PHASES)]
    rows = []
    for name, phases in stats.items():
        cells = [
            f"{fmt('error_rate', s.error_rate)} / {fmt('degraded_rate', s.degraded_rate)} / "
            f"{fmt('p99_ms', s.p99_ms)} <small>({s.requests})</small>"
            for s in (phases[p] for p in PHASES)
        ]
        rows.append([e(name), *cells])
    return table(head, rows)


def orchestrator_html(obs: Observation) -> str:
    """The report's section on the orchestrator's figures; empty when the run had none."""
    found, rolling = orchestrator.replacements(obs), orchestrator.rolling_restarts(obs)
    if not found and not rolling:
        return ""
    parts = ["<h2>Orchestrator</h2>"]
    if found:
        times = orchestrator.replacement_times(obs)
        assert times is not None
        said = (
            f"{times.count} replaced by the orchestrator itself: p50 {times.p50_s} s, "
            f"max {times.max_s} s"
            if times.count
            else "none replaced by the orchestrator itself (self-healing off): each slot got "
            "its new task from the fault's revert"
        )
        parts.append(f"<p>Time from a task's death to its replacement running healthy: {said}.</p>")
        parts.append(
            table(
                ["task", "fault", "replaced after", "by"],
                [[e(r.task), e(r.kind), f"{r.seconds:.1f} s", e(r.by)] for r in found],
            )
        )
    for r in rolling:
        took = "n/a" if r.seconds is None else f"{r.seconds:.1f} s"
        parts.append(
            f"<p>Rolling restart of <b>{e(r.service)}</b>: {r.tasks_replaced} task(s) replaced "
            f"in {took}; {r.errors} of {r.requests} requests answered meanwhile failed.</p>"
        )
    return "\n".join(parts)
