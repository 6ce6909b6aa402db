"""`failwhale chaos compare`: the same scenario with resilience on and off, side by side.

The folder of a comparison holds a full run folder for each side (`on/`, `off/`), and beside
them report.html (both runs in one page), compare.json (the ratios) and compare.png (the two
runs overlaid). Ratios are off over on, per phase, for the error rate and the p99 latency; where
the run with resilience on measured zero (or either run measured nothing) there is no finite
ratio: it is null, and its note says why.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaos.observation import Observation
from chaos.phases import PHASES, phase_spans
from chaos.report.compare_plots import overlay
from chaos.report.folder import default_out_dir, write_run
from chaos.report.html import page, plots_section
from chaos.report.html_parts import NA, e, fmt, hypotheses_table, img, phases_table, table
from chaos.report.plots import png
from chaos.report.result import RunResult
from chaos.scenario import Scenario

RATIO_METRICS = ("error_rate", "p99_ms")


@dataclass(frozen=True)
class Ratio:
    on: float | None
    off: float | None
    off_over_on: float | None
    note: str


def ratio(on: float | None, off: float | None) -> Ratio:
    if on is None or off is None:
        missing = " and ".join(side for side, v in (("on", on), ("off", off)) if v is None)
        return Ratio(on, off, None, f"not measured with resilience {missing}")
    if on == 0 and off == 0:
        return Ratio(on, off, None, "zero in both runs: no difference, no ratio")
    if on == 0:
        return Ratio(on, off, None, "zero with resilience on: off is worse by more than any ratio")
    return Ratio(on, off, round(off / on, 6), "")


@dataclass(frozen=True)
class Comparison:
    scenario: str
    backend: str
    verdicts: dict[str, str]  # "on" | "off" -> verdict
    ratios: dict[str, dict[str, Ratio]]  # phase -> metric -> ratio

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "backend": self.backend,
            "verdicts": self.verdicts,
            "ratios": {
                phase: {metric: asdict(r) for metric, r in by_metric.items()}
                for phase, by_metric in self.ratios.items()
            },
            "runs": {"on": "on/summary.json", "off": "off/summary.json"},
        }

    @property
    def exit_code(self) -> int:
        """0 when resilience on passed and the run without it is valid (its fault took effect):
        the demonstration holds. 1 otherwise."""
        return 0 if self.verdicts["on"] == "pass" and self.verdicts["off"] != "invalid" else 1


def compare(on: RunResult, off: RunResult) -> Comparison:
    if (on.summary.resilience, off.summary.resilience) != ("on", "off"):
        raise ValueError("compare takes the run with resilience on, then the one with it off")
    if on.summary.scenario != off.summary.scenario:
        raise ValueError(f"{on.summary.scenario} and {off.summary.scenario} are not one scenario")
    ratios = {
        phase: {
            metric: ratio(
                getattr(getattr(on.summary.phases, phase), metric),
                getattr(getattr(off.summary.phases, phase), metric),
            )
            for metric in RATIO_METRICS
        }
        for phase in PHASES
    }
    return Comparison(
        on.summary.scenario,
        on.summary.backend,
        {"on": on.summary.verdict, "off": off.summary.verdict},
        ratios,
    )


def ratios_table(comparison: Comparison) -> str:
    rows = []
    for phase, by_metric in comparison.ratios.items():
        for metric, r in by_metric.items():
            times = NA if r.off_over_on is None else f"<b>&times;{r.off_over_on:.3g}</b>"
            rows.append([e(phase), e(metric), fmt(metric, r.on), fmt(metric, r.off), times,
                         e(r.note)])  # fmt: skip
    head = ["phase", "metric", "resilience on", "resilience off", "off / on", "note"]
    return table(head, rows)


def headline(comparison: Comparison) -> str:
    fault = comparison.ratios["fault"]
    parts = []  # HTML: made of numbers and words of ours only
    for metric, words in (("error_rate", "errors"), ("p99_ms", "p99 latency")):
        r = fault[metric]
        if r.off_over_on is not None:
            parts.append(f"{words} &times;{r.off_over_on:.3g}")
        elif r.on == 0 and r.off:
            parts.append(f"{words} {fmt(metric, r.off)} instead of none")
    if not parts:
        return "<p>No finite ratio during the fault: see the table below for why.</p>"
    return f'<p class="reason">Without resilience, during the fault: {", ".join(parts)}.</p>'


def side_by_side(on: str, off: str) -> str:
    return f'<div class="side"><div>{on}</div><div>{off}</div></div>'


def badge(result: RunResult) -> str:
    s = result.summary
    return (f'<div class="badge {e(s.verdict)}">{e(s.verdict.upper())}</div> '
            f"<b>resilience {e(s.resilience)}</b>: {e(result.judgement.reason)} "
            f'(<a href="{e(s.resilience)}/report.html">full report</a>)')  # fmt: skip


def render_compare(on: RunResult, off: RunResult, comparison: Comparison, chart: bytes) -> str:
    body = [
        f"<header><h1>{e(comparison.scenario)}: resilience on and off</h1>",
        f'<p class="meta">backend <b>{e(comparison.backend)}</b> · the same scenario, load '
        f"and seed, once with the resilience layer and once without</p>",
        side_by_side(badge(on), badge(off)),
        headline(comparison),
        "</header>",
        "<h2>Ratios (off over on)</h2>",
        ratios_table(comparison),
        "<h2>Both runs on one time axis</h2>",
        img(chart, "resilience on and off overlaid"),
        "<h2>Phases</h2>",
        side_by_side(
            "<h3>resilience on</h3>" + phases_table(on.summary.phases, phase_spans(on.obs)),
            "<h3>resilience off</h3>" + phases_table(off.summary.phases, phase_spans(off.obs)),
        ),
        "<h2>Hypotheses</h2>",
        side_by_side(
            "<h3>resilience on</h3>" + hypotheses_table(on.judgement.hypotheses),
            "<h3>resilience off</h3>" + hypotheses_table(off.judgement.hypotheses),
        ),
        "<h2>Plots</h2>",
        side_by_side(plots_section(on.plots), plots_section(off.plots)),
    ]
    title = f"Failwhale · {comparison.scenario} · resilience on and off"
    return page(title, "\n".join(body))


def write_compare(on: RunResult, off: RunResult, out_dir: Path) -> Comparison:
    """Writes on/ and off/ (each a full run folder), report.html, compare.json, compare.png."""
    comparison = compare(on, off)
    write_run(on, out_dir / "on")
    write_run(off, out_dir / "off")
    chart = png(overlay(on.obs, off.obs))
    (out_dir / "compare.png").write_bytes(chart)
    (out_dir / "compare.json").write_text(json.dumps(comparison.to_json(), indent=2) + "\n")
    (out_dir / "report.html").write_text(render_compare(on, off, comparison, chart))
    return comparison


def report_compare(
    scenario: Scenario, on: Observation, off: Observation, out_dir: Path | None = None
) -> Comparison:
    """Judges both runs and writes the comparison folder (default:
    reports/<time>-<scenario>-compare/): the one call the runner makes after
    `failwhale chaos compare`."""
    out_dir = out_dir or default_out_dir(f"{scenario.name}-compare")
    return write_compare(RunResult.of(scenario, on), RunResult.of(scenario, off), out_dir)
