"""Two past runs side by side (any two run folders: CLI or console, the same scenario or not):
their summary fields and phase figures with the ratio b/a, and both runs' plots.

The comparison is a folder of its own beside the runs: report.html (self-contained, plots inline)
and compare.json (the figures and ratios). A ratio is null where either run measured nothing or
run a measured zero; its note says which.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaos.phases import PHASES
from chaos.report.folder import default_out_dir
from chaos.report.html import page
from chaos.report.html_parts import NA, e, figure, fmt, table, yes_no
from chaos.report.plots import PLOTS
from loadtest.vocabulary import PHASE_METRICS

FIELDS = ("time_to_detect_s", "time_to_recover_s")
RUN_FIELDS = ("scenario", "backend", "resilience", "verdict", "fault_applied")


class CompareError(ValueError):
    """A folder that is not a run's (no readable summary.json)."""


@dataclass(frozen=True)
class Ratio:
    a: float | None
    b: float | None
    b_over_a: float | None
    note: str


def ratio(a: Any, b: Any) -> Ratio:
    a = a if isinstance(a, int | float) and not isinstance(a, bool) else None
    b = b if isinstance(b, int | float) and not isinstance(b, bool) else None
    if a is None or b is None:
        missing = " and ".join(side for side, v in (("a", a), ("b", b)) if v is None)
        return Ratio(a, b, None, f"not measured in {missing}")
    if a == 0:
        return Ratio(a, b, None, "zero in both" if b == 0 else "zero in a: no finite ratio")
    return Ratio(a, b, round(b / a, 6), "")


def read_run(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"{folder.name} is not a run folder (no readable summary.json)") from exc
    if not isinstance(data, dict):
        raise CompareError(f"{folder.name}: summary.json is not an object")
    return data


def figures(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What compare.json holds: each run's own fields, then ratios of what is measured."""
    oracles = sorted(set(a.get("oracles") or {}) | set(b.get("oracles") or {}))
    measured = {name: ratio(a.get(name), b.get(name)) for name in FIELDS}
    measured.update(
        {name: ratio((a.get("oracles") or {}).get(name), (b.get("oracles") or {}).get(name))
         for name in oracles}
    )  # fmt: skip
    phases = {
        phase: {
            metric: ratio(_phase(a, phase).get(metric), _phase(b, phase).get(metric))
            for metric in PHASE_METRICS
        }
        for phase in PHASES
    }
    return {
        "runs": {"a": {k: a.get(k) for k in RUN_FIELDS}, "b": {k: b.get(k) for k in RUN_FIELDS}},
        "fields": {name: asdict(r) for name, r in measured.items()},
        "phases": {p: {m: asdict(r) for m, r in by.items()} for p, by in phases.items()},
    }


def _phase(summary: dict[str, Any], phase: str) -> dict[str, Any]:
    found = (summary.get("phases") or {}).get(phase)
    return found if isinstance(found, dict) else {}


def compare_runs(a: Path, b: Path, root: Path) -> Path:
    """Writes the comparison of run folders `a` and `b` into a new folder under `root`."""
    run_a, run_b = read_run(a), read_run(b)
    data = figures(run_a, run_b)
    sa, sb = run_a.get("scenario") or "run", run_b.get("scenario") or "run"
    out = _fresh(default_out_dir(f"compare-{sa}" if sa == sb else f"compare-{sa}-{sb}", root=root))
    out.mkdir(parents=True)
    verdicts = {"a": run_a.get("verdict"), "b": run_b.get("verdict")}
    scenario = sa if sa == sb else f"{sa} / {sb}"
    document = {"kind": "compare", "scenario": scenario, "a": a.name, "b": b.name,
                "backend": run_a.get("backend"), "verdicts": verdicts, **data}  # fmt: skip
    (out / "compare.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / "report.html").write_text(render(a, b, data))
    return out


def _fresh(out: Path) -> Path:
    n, candidate = 1, out
    while candidate.exists():
        n += 1
        candidate = out.with_name(f"{out.name}-{n}")
    return candidate


def render(a: Path, b: Path, data: dict[str, Any]) -> str:
    runs = data["runs"]
    body = [
        f"<header><h1>{e(a.name)} and {e(b.name)}</h1>",
        '<p class="meta">Two runs side by side; a ratio is b over a.</p></header>',
        "<h2>Runs</h2>",
        table(
            ["", "a", "b"],
            [[e(k), _cell(runs["a"].get(k)), _cell(runs["b"].get(k))] for k in RUN_FIELDS]
            + [["folder", e(a.name), e(b.name)]],
        ),
        "<h2>Summary figures</h2>",
        _ratio_table(data["fields"]),
    ]
    for phase in PHASES:
        body += [f"<h2>Phase {e(phase)}</h2>", _ratio_table(data["phases"][phase])]
    body.append("<h2>Plots</h2>")
    for name, (caption, _) in PLOTS.items():
        sides = [_plot(folder / f"{name}.png", f"{caption}: {side}") for side, folder in
                 (("a", a), ("b", b))]  # fmt: skip
        if any(sides):
            body.append(f'<div class="side">{"".join(sides)}</div>')
    return page(f"Failwhale · {a.name} and {b.name}", "\n".join(body))


def _cell(value: Any) -> str:
    return yes_no(value) if isinstance(value, bool) else NA if value is None else e(value)


def _ratio_table(rows: dict[str, dict[str, Any]]) -> str:
    cells = []
    for metric, r in rows.items():
        times = "" if r["b_over_a"] is None else f"x{r['b_over_a']:.3g}"
        cells.append([e(metric), fmt(metric, r["a"]), fmt(metric, r["b"]),
                      times or f'<span class="na">{e(r["note"])}</span>'])  # fmt: skip
    return table(["", "a", "b", "b / a"], cells)


def _plot(path: Path, caption: str) -> str:
    try:
        return figure(path.read_bytes(), caption)
    except OSError:
        return f'<p class="na">{e(caption)}: no plot</p>'
