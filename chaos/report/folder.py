"""The run folder: everything a run leaves behind, in one directory.

    summary.json     the contract (docs/reports.md)
    details.json     fault windows with evidence and mechanism, phase boundaries, notes
    report.html      self-contained report, plots inline
    <plot>.png       throughput, latency, rates, breakers, oracles
    requests.csv     every request of the load: t, name, latency_ms, outcome
    samples.csv      the once-a-second samples: rates and breaker states

The runner adds the Locust CSVs and the operation history to the same folder.
"""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from chaos.observation import Observation
from chaos.report.html import render_report
from chaos.report.result import RunResult
from chaos.report.summary import build_details, write_summary
from chaos.scenario import Scenario

REPORTS = Path("reports")


def default_out_dir(scenario: str, now: datetime | None = None, root: Path = REPORTS) -> Path:
    """reports/<UTC time YYYYmmdd-HHMMSS>-<scenario>/"""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return root / f"{moment:%Y%m%d-%H%M%S}-{scenario}"


def write_requests_csv(path: Path, obs: Observation) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["t", "name", "latency_ms", "outcome"])
        for r in sorted(obs.requests, key=lambda r: r.t):
            out.writerow([f"{r.t:.3f}", r.name, f"{r.latency_ms:.3f}", r.outcome])


def write_samples_csv(path: Path, obs: Observation) -> None:
    """One row per sample; breakers as `service>dependency=state` separated by spaces, oracle
    counts as `kind=count`."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["t", "rps", "error_rate", "degraded_rate", "breakers", "oracles"])
        for s in sorted(obs.samples, key=lambda s: s.t):
            states = " ".join(
                f"{svc}>{dep}={state}"
                for svc, deps in sorted(s.breakers.items())
                for dep, state in sorted(deps.items())
            )
            counts = " ".join(f"{k}={v:g}" for k, v in sorted(s.oracles.items()))
            out.writerow([f"{s.t:.3f}", f"{s.rps:g}", f"{s.error_rate:g}",
                          f"{s.degraded_rate:g}", states, counts])  # fmt: skip


def write_run(result: RunResult, out_dir: Path) -> dict[str, Path]:
    """Writes the run folder (created if missing); returns the files written, by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": out_dir / "summary.json",
        "details.json": out_dir / "details.json",
        "report.html": out_dir / "report.html",
        "requests.csv": out_dir / "requests.csv",
        "samples.csv": out_dir / "samples.csv",
    }
    write_summary(files["summary.json"], result.summary)
    details = build_details(result.obs, result.judgement)
    files["details.json"].write_text(json.dumps(details, indent=2) + "\n")
    files["report.html"].write_text(render_report(result))
    write_requests_csv(files["requests.csv"], result.obs)
    write_samples_csv(files["samples.csv"], result.obs)
    for name, png in result.plots.items():
        files[f"{name}.png"] = out_dir / f"{name}.png"
        files[f"{name}.png"].write_bytes(png)
    return files


def report_run(scenario: Scenario, obs: Observation, out_dir: Path | None = None) -> RunResult:
    """Judges the run and writes its folder (default: reports/<time>-<scenario>/): the one call
    the runner makes after a run."""
    result = RunResult.of(scenario, obs)
    write_run(result, out_dir or default_out_dir(obs.scenario))
    return result
