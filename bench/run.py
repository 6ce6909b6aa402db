"""`make bench` / `python -m bench`: runs the benchmarks, writes bench/results.json (each figure
beside its target and the raw figures behind it) and the table in docs/performance.md.

    .venv/bin/python -m bench [--only read_path,outage,...] [--quick] [--json]

--quick shortens every benchmark (fewer, shorter rounds; scenarios at half their times) for a
first look; the figures of record come from a full run. --only runs some and keeps the other
entries of results.json as they were.
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench import footprint, outage, read_path, resilience
from bench import results as res
from bench.wrk import wrk_available

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.json"
DOC = REPO / "docs" / "performance.md"
BENCHMARKS = (
    "read_path",
    "outage",
    "resilience",
    "footprint",
    "fanout",
    "overload",
    "loadgen",
    "growth",
)
Say = Callable[[str], None]


def bench_read_path(quick: bool, say: Say) -> dict[str, Any]:
    rounds, duration = (3, 5.0) if quick else (5, 10.0)
    f = read_path.measure(rounds, duration, progress=say)
    raw = asdict(f)
    raw.pop("ratio")
    return {"read_path_ratio": res.figure("read_path_ratio", f.ratio, **raw)}


def bench_outage(quick: bool, say: Say) -> dict[str, Any]:
    """A few outages, each on a fresh stack: p99s and times are noisy on a shared machine, so
    each figure is the median over the runs, and every run's figures are kept."""
    repeats = 1 if quick else 3
    runs = []
    for n in range(1, repeats + 1):

        def step(text: str, n: int = n) -> None:
            say(f"{n}/{repeats}: {text}")

        phase_s = 6.0 if quick else 10.0
        runs.append(asdict(outage.measure("on", rate=50.0, phase_s=phase_s, progress=step)))

    def median(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if values else None

    shared = {k: runs[0][k] for k in ("resilience", "rate", "phase_s")} | {"runs": len(runs)}

    def each(*keys: str) -> dict[str, Any]:
        return {f"{key}_median": median(key) for key in keys} | {
            f"{key}_runs": [r[key] for r in runs] for key in keys
        }

    return {
        "breaker_detect_s": res.figure(
            "breaker_detect_s", median("breaker_detect_s"), **each("breaker_detect_s"), **shared
        ),
        "outage_p99_ratio": res.figure(
            "outage_p99_ratio", median("outage_p99_ratio"),
            **each("outage_p99_ratio", "healthy_p99_ms", "outage_p99_ms", "outage_error_rate",
                   "outage_degraded_rate"),
            **shared,
        ),
        "recovery_over_reset_s": res.figure(
            "recovery_over_reset_s", median("recovery_over_reset_s"),
            reset_timeout_s=runs[0]["reset_timeout_s"],
            **each("recovery_over_reset_s", "recovery_s", "replicas_ready_after_s"), **shared,
        ),
    }  # fmt: skip


def bench_resilience(quick: bool, say: Say) -> dict[str, Any]:
    f = resilience.measure(quick, progress=say)
    scenarios = f["scenarios"]
    errors = {
        name: {k: s[k] for k in ("error_ratio", "error_ratio_floored")}
        | {"on_error_rate": s["on"]["error_rate"], "on_requests": s["on"]["requests"],
           "off_error_rate": s["off"]["error_rate"], "off_requests": s["off"]["requests"]}
        for name, s in scenarios.items()
    }  # fmt: skip
    p99s = {
        name: {"p99_ratio": s["p99_ratio"], "on_p99_ms": s["on"]["p99_ms"],
               "off_p99_ms": s["off"]["p99_ms"]}
        for name, s in scenarios.items()
    }  # fmt: skip
    verdicts = {name: {m: s[m]["verdict"] for m in ("on", "off")} for name, s in scenarios.items()}
    common = {"scale": f["scale"], "backend": "local", "verdicts": verdicts}
    return {
        "on_off_error_ratio": res.figure(
            "on_off_error_ratio", f["error_ratio"], headline=resilience.ERROR_SCENARIO,
            scenarios=errors, **common,
        ),
        "on_off_p99_ratio": res.figure(
            "on_off_p99_ratio", f["p99_ratio"], headline=resilience.P99_SCENARIO,
            scenarios=p99s, **common,
        ),
    }  # fmt: skip


def bench_footprint(quick: bool, say: Say) -> dict[str, Any]:
    f = footprint.measure(duration_s=20.0 if quick else 60.0, progress=say)
    return {"stack_memory_mib": res.figure("stack_memory_mib", f["peak_mib"], **f)}


Runner = Callable[[bool, Say], dict[str, Any]]
RUNNERS: dict[str, Runner] = {
    "read_path": bench_read_path,
    "outage": bench_outage,
    "resilience": bench_resilience,
    "footprint": bench_footprint,
}
# Any other benchmark is a module of its own: `bench.<name>.run(quick, say)` returns its entries.


def runner(name: str) -> Runner:
    if name in RUNNERS:
        return RUNNERS[name]
    found: Runner = importlib.import_module(f"bench.{name}").run
    return found


def run_meta(quick: bool, only: list[str]) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "quick": quick,
        "benchmarks": only,
        "commit": commit,
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
    }


def run(only: list[str], quick: bool, console: Console) -> tuple[dict[str, Any], list[str]]:
    new: dict[str, Any] = {"run": run_meta(quick, only)}  # the commit that runs, not the next
    failures: list[str] = []
    columns = (SpinnerColumn(), TextColumn("[bold]{task.fields[name]:<11}"),
               TextColumn("{task.description}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {name: progress.add_task("waiting", name=name, total=1) for name in only}
        for name in only:
            task = tasks[name]

            def say(text: str, task: Any = task, name: str = name) -> None:
                progress.update(task, description=text)
                if not console.is_terminal:  # a log: one line per step instead of a live view
                    console.print(f"{name}: {text}", markup=False, highlight=False)

            progress.start_task(task)
            try:
                new.update(runner(name)(quick, say))
                progress.update(task, description="[green]done", completed=1)
            except Exception as exc:  # one benchmark failing must not lose the others
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                progress.update(task, description=f"[red]failed: {exc}", completed=1)
    return new, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a first look")
    parser.add_argument("--json", action="store_true", help="print results.json to stdout")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file for the table")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {BENCHMARKS}")
    console = Console(stderr=True)
    if "read_path" in only and not wrk_available():
        console.print("[red]error:[/red] the read-path benchmark needs wrk (apt-get install wrk)")
        return 2
    new, failures = run(only, args.quick, console)
    merged = res.merge(res.load(args.out), new)
    res.save(args.out, merged)
    res.write_table(args.doc, merged)
    console.print(res.table(merged), markup=False, highlight=False)
    for failure in failures:
        console.print(f"[red]failed[/red] {failure}", markup=True, highlight=False)
    if args.json:
        print(json.dumps(merged, indent=2))
    return 1 if failures else 0
