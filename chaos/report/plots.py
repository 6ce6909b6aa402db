"""The plots of a run, as PNG bytes: throughput, latency, error and degraded rates, breaker states
and oracle violations over time, each with the fault windows shaded and named, so that a reader
sees when the fault began and how the system bent.

Per-second figures come from the request records in 1 s buckets (by the time a request was
sent); breaker states and live oracle counts from the samples. Matplotlib's object API with the
Agg canvas: no pyplot, no global state, no display needed.
"""

import io
import math
from collections.abc import Callable

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from chaos import breakers
from chaos.observation import FaultWindow, Observation
from chaos.report.seconds import per_second

OK, DEGRADED, ERROR = "#4caf50", "#f0a30a", "#d62728"
STATE_COLORS = {"closed": OK, "half-open": DEGRADED, "open": ERROR}
UNKNOWN = "#d0d0d0"
LABEL_BOX = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.0}
FAULT_COLORS = ("#7b61ff", "#1f9bcf", "#e377c2", "#8c564b", "#17becf")
ORACLE_COLORS = {
    "lost_writes": "#d62728", "duplicate_writes": "#9467bd", "dm_order_violations": "#ff7f0e",
    "timeline_order_violations": "#8c564b", "read_your_writes_violations": "#1f77b4",
    "phantom_writes": "#7f7f7f",
}  # fmt: skip
WIDTH, ROW, DPI = 11.0, 3.0, 100
LEFT, RIGHT, LEGEND_X = 0.13, 0.78, 0.795


def fault_label(f: FaultWindow) -> str:
    label = f"{f.kind} {f.target}" + (f" ↔ {f.peer}" if f.peer else "")
    return label if f.took_effect else f"{label} (no effect shown)"


def _fault_color(f: FaultWindow, i: int) -> str:
    return FAULT_COLORS[i % len(FAULT_COLORS)] if f.took_effect else "#999999"


def shade_faults(ax: Axes, obs: Observation, labels: bool = True) -> None:
    """Each fault window shaded in its own color, named at the top of the axes; overlapping
    names step down so that they stay readable."""
    for i, f in enumerate(sorted(obs.faults, key=lambda f: f.start_s)):
        end = obs.duration_s if f.end_s is None else f.end_s
        color = _fault_color(f, i)
        hatch = None if f.took_effect else "//"
        ax.axvspan(f.start_s, end, color=color, alpha=0.12, lw=0, zorder=0, hatch=hatch)
        ax.axvline(f.start_s, color=color, lw=1, ls="--", alpha=0.8)
        if labels:
            ax.text(f.start_s, 0.97 - 0.1 * (i % 4), " " + fault_label(f), color=color,
                    transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=8,
                    fontweight="bold", clip_on=True, bbox=LABEL_BOX)  # fmt: skip


def _figure(obs: Observation, title: str, height: float = ROW) -> tuple[Figure, Axes]:
    """One plot in fixed margins (in inches), so that the time axes of every plot of a report
    line up when stacked; the legend sits in the right margin."""
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    fig.subplots_adjust(left=LEFT, right=RIGHT, bottom=0.55 / height, top=1 - 0.35 / height)
    ax = fig.add_subplot()
    ax.set_title(f"{title} · {obs.scenario} · resilience {obs.resilience}", fontsize=10,
                 loc="left")  # fmt: skip
    ax.set_xlim(0, max(obs.duration_s, 1.0))
    ax.set_xlabel("seconds since the start of the run")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _legend(ax: Axes, handles: list[Artist] | None = None, x: float = LEGEND_X) -> None:
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
        if len(ax.figure.axes) > 1:
            handles += ax.figure.axes[1].get_legend_handles_labels()[0]
    ax.figure.legend(handles=handles, loc="upper left", fontsize=8, frameon=False,
                     bbox_to_anchor=(x, ax.get_position().y1))  # fmt: skip


def _nothing(ax: Axes, why: str) -> None:
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", fontsize=11)


def throughput(obs: Observation) -> Figure:
    s = per_second(obs)
    fig, ax = _figure(obs, "Throughput: answers per second, by outcome")
    ax.stackplot(s.t, s.ok, s.degraded, s.errors, colors=[OK, DEGRADED, ERROR], step="post",
                 labels=["ok", "degraded (fallback)", "error"], alpha=0.85)  # fmt: skip
    ax.set_ylabel("requests / s")
    if not obs.requests:
        _nothing(ax, "no requests were recorded")
    ax.set_ylim(bottom=0, top=max([o + d + e for o, d, e in zip(s.ok, s.degraded, s.errors,
                                    strict=True)] + [1]) * 1.3)  # fmt: skip
    shade_faults(ax, obs)
    _legend(ax)
    return fig


def latency(obs: Observation) -> Figure:
    s = per_second(obs)
    fig, ax = _figure(obs, "Latency per second (p50, p95, p99)")
    for values, label, color, style in ((s.p99, "p99", ERROR, "-"), (s.p95, "p95", DEGRADED, "--"),
                                        (s.p50, "p50", "#1f77b4", "-")):  # fmt: skip
        ax.plot(s.t, values, drawstyle="steps-post", label=label, color=color, lw=1.4, ls=style)
    finite = [v for v in s.p50 + s.p99 if not math.isnan(v) and v > 0]
    if not finite:
        _nothing(ax, "no requests were recorded")
    if finite and max(finite) / min(finite) > 30:
        ax.set_yscale("log")
        ax.set_ylim(min(finite) / 1.5, max(finite) * 8)
    elif finite:
        ax.set_ylim(0, max(finite) * 1.45)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: ms_label(v)))
    ax.set_ylabel("latency")
    shade_faults(ax, obs)
    _legend(ax)
    return fig


def ms_label(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


def rates(obs: Observation) -> Figure:
    s = per_second(obs)
    fig, ax = _figure(obs, "Error rate and degraded rate (share of answers per second)")
    error, degraded = s.rate(s.errors), s.rate(s.degraded)
    ax.plot(s.t, degraded, drawstyle="steps-post", color=DEGRADED, lw=1.6,
            label="degraded (fallback)")  # fmt: skip
    ax.plot(s.t, error, drawstyle="steps-post", color=ERROR, lw=1.6, label="error")
    top = max([v for v in error + degraded if not math.isnan(v)] + [0.0])
    ax.set_ylim(0, min(1.0, max(0.05, top * 1.35)))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of answers")
    if not obs.requests:
        _nothing(ax, "no requests were recorded")
    shade_faults(ax, obs)
    _legend(ax)
    return fig


def breaker_states(obs: Observation) -> Figure:
    """A Gantt chart: a row per fault on top, then a row per service → dependency, colored by
    the breaker's state second by second."""
    edges = breakers.edges(obs)
    faults = sorted(obs.faults, key=lambda f: f.start_s)
    rows = len(faults) + max(len(edges), 1)
    fig, ax = _figure(obs, "Circuit breakers (one row per service → dependency)",
                      height=1.2 + 0.3 * max(rows, 3))  # fmt: skip
    ax.grid(False)
    labels = []
    for row, f in enumerate(faults):
        end = obs.duration_s if f.end_s is None else f.end_s
        color = _fault_color(f, row)
        ax.broken_barh([(f.start_s, end - f.start_s)], (row - 0.4, 0.8), facecolors=color,
                       alpha=0.55, hatch=None if f.took_effect else "//")  # fmt: skip
        for x in (f.start_s, end):
            ax.axvline(x, color=color, lw=1, ls="--", alpha=0.8)
        labels.append(f"{f.kind}\n{f.target}" + (f" ↔ {f.peer}" if f.peer else ""))
    for row, edge in enumerate(edges, start=len(faults)):
        for color, spans in _bands(obs, edge).items():
            ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=color)
        labels.append(f"{edge[0]} → {edge[1]}")
    if not edges:
        why = "resilience off: there are no breakers" if obs.resilience == "off" else \
            "no breaker states were sampled"  # fmt: skip
        ax.text(obs.duration_s / 2, len(faults), why, ha="center", va="center", fontsize=11)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for tick, _ in zip(ax.get_yticklabels(), faults, strict=False):
        tick.set_fontweight("bold")
    ax.set_ylim(rows - 0.5, -0.5)
    handles: list[Artist] = [Patch(color=c, label=s) for s, c in STATE_COLORS.items()]
    handles.append(Patch(color=UNKNOWN, label="not reported"))
    if any(not f.took_effect for f in faults):
        handles.append(Patch(facecolor="#999999", hatch="//", label="fault, no effect shown"))
    _legend(ax, handles)
    return fig


def _bands(obs: Observation, edge: breakers.Edge) -> dict[str, list[tuple[float, float]]]:
    """(start, width) spans of each color, runs of the same state merged: one bar per run."""
    bands: dict[str, list[tuple[float, float]]] = {}
    states = breakers.states(obs, edge)
    for i, (t, state) in enumerate(states):
        end = states[i + 1][0] if i + 1 < len(states) else min(t + 1, obs.duration_s)
        color = UNKNOWN if state is None else STATE_COLORS.get(state, UNKNOWN)
        spans = bands.setdefault(color, [])
        if i and states[i - 1][1] == state and spans:
            start, _ = spans[-1]
            spans[-1] = (start, max(end - start, 0.0))
        else:
            spans.append((t, max(end - t, 0.0)))
    return bands


ORACLE_LABELS = {
    "lost_writes": "lost writes", "duplicate_writes": "duplicate writes",
    "dm_order_violations": "DM order", "timeline_order_violations": "timeline order",
    "read_your_writes_violations": "read-your-writes", "phantom_writes": "phantom writes",
}  # fmt: skip


def oracle_violations(obs: Observation) -> Figure:
    fig, ax = _figure(obs, "Correctness oracles: violations found so far (live), final audit (◆)")
    samples = sorted(obs.samples, key=lambda s: s.t)
    times = [s.t for s in samples]
    kinds = sorted({k for s in samples for k in s.oracles} | set(obs.oracles))
    top = 0.0
    for kind in (k for k in kinds if k != "max_staleness_s"):
        color = ORACLE_COLORS.get(kind, "#333333")
        live = [s.oracles.get(kind, math.nan) for s in samples]
        ax.plot(times, live, drawstyle="steps-post", color=color, lw=1.6,
                label=ORACLE_LABELS.get(kind, kind))  # fmt: skip
        final = obs.oracles.get(kind)
        if final is not None:
            ax.plot([obs.duration_s], [final], marker="D", color=color, clip_on=False)
        top = max([top, final or 0.0] + [v for v in live if not math.isnan(v)])
    ax.set_ylim(-0.05 * max(top, 1), max(top, 1) * 1.3)
    ax.set_ylabel("violations")
    if not kinds:
        _nothing(ax, "no oracle counts were reported")
    elif top == 0:
        ax.text(0.5, 0.5, "no violations", transform=ax.transAxes, ha="center", fontsize=11,
                color=OK, fontweight="bold")  # fmt: skip
    if "max_staleness_s" in kinds:
        twin = ax.twinx()
        stale = [s.oracles.get("max_staleness_s", math.nan) for s in samples]
        twin.plot(times, stale, color="#555555", ls=":", lw=1.8, label="staleness, s (right)")
        final_stale = obs.oracles.get("max_staleness_s")
        if final_stale is not None:
            twin.plot([obs.duration_s], [final_stale], marker="D", color="#555555", clip_on=False)
        finite = [v for v in [*stale, final_stale or 0.0] if not math.isnan(v)]
        twin.set_ylim(0, max([*finite, 1.0]) * 1.3)
        twin.set_ylabel("staleness (s)", fontsize=8)
    if kinds:
        _legend(ax, x=LEGEND_X + 0.055)  # right of the staleness axis
    shade_faults(ax, obs)
    return fig


PLOTS: dict[str, tuple[str, Callable[[Observation], Figure]]] = {
    "throughput": ("Throughput", throughput),
    "latency": ("Latency", latency),
    "rates": ("Errors and degraded answers", rates),
    "breakers": ("Circuit breakers", breaker_states),
    "oracles": ("Correctness oracles", oracle_violations),
}


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_plots(obs: Observation) -> dict[str, bytes]:
    """Every plot of the run, by name (the PNG file's stem)."""
    return {name: png(make(obs)) for name, (_, make) in PLOTS.items()}
