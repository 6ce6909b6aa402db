"""Resilience on versus off: the chaos scenarios `timeline-outage` and `dms-slow`, each run on a
fresh local stack with the layer on and then on another with it off (the chaos engine's runner,
the same load, seed and faults), and the fault phase's error rate and p99 compared, off over on.

    .venv/bin/python -m bench.resilience [--quick] [--scenario timeline-outage ...] [--out DIR]

Both ratios are measured in both scenarios. The headline error ratio is the dead dependency's
(timeline-outage: errors are what a dead dependency does to users), the headline p99 ratio the
slow one's (dms-slow: latency is what a slow one does); the other two are reported beside them.
With no error at all with resilience on, the error ratio is a lower bound: the on rate is
floored at one error over the requests counted (bench.results.error_ratio).
"""

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results import error_ratio, ratio
from bench.seeded import local_stack
from chaos.backends import backend_for
from chaos.runner import ChaosRun, Progress
from chaos.scenario import Scenario, load_scenario, resolve

SCENARIOS = ("timeline-outage", "dms-slow")
ERROR_SCENARIO, P99_SCENARIO = SCENARIOS
QUICK_SCALE = 0.5  # --quick: every time of the scenario halved


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The same scenario with its load and every fault's start and duration times `factor`."""
    if factor == 1:
        return scenario
    load = scenario.load.model_copy(update={"duration_s": scenario.load.duration_s * factor})
    method = [
        f.model_copy(update={"at_s": f.at_s * factor, "duration_s": f.duration_s * factor})
        for f in scenario.method
    ]
    return scenario.model_copy(update={"load": load, "method": method})


def run_side(
    scenario: Scenario, mode: str, out: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """One run of the scenario with the layer `mode`; the fault phase's figures."""
    with local_stack(mode) as stack:
        backend = backend_for("local", stack=stack, journal_dir=out / "journal")

        def show(p: Progress) -> None:
            rps = f", {p.sample.rps:.0f} req/s" if p.sample else ""
            progress(f"{scenario.name}, resilience {mode}: {p.phase} {p.elapsed_s:.0f} s{rps}")

        try:
            result = ChaosRun(scenario, backend, mode, out / mode, show).run()
        finally:
            backend.close()
    fault = result.summary.phases.fault
    return {
        "verdict": result.summary.verdict,
        "fault_applied": result.summary.fault_applied,
        "requests": fault.requests,
        "error_rate": fault.error_rate,
        "p99_ms": fault.p99_ms,
        "degraded_rate": fault.degraded_rate,
    }


def compare_scenario(
    name: str, quick: bool, out: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    scenario = scaled(load_scenario(resolve(name)), QUICK_SCALE if quick else 1.0)
    on = run_side(scenario, "on", out / name, progress)
    off = run_side(scenario, "off", out / name, progress)
    errors, floored = error_ratio(
        off["error_rate"] or 0.0, off["requests"], on["error_rate"] or 0.0, on["requests"]
    )
    return {
        "on": on,
        "off": off,
        "error_ratio": None if errors is None else round(errors, 2),
        "error_ratio_floored": floored,
        "p99_ratio": _round(ratio(off["p99_ms"], on["p99_ms"])),
    }


def measure(
    quick: bool = False,
    scenarios: tuple[str, ...] = SCENARIOS,
    progress: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
) -> dict[str, Any]:
    """Each scenario's comparison, and the headline ratios (see the module's docstring). The
    runs' report folders go to `out` (`<scenario>/on`, `<scenario>/off`), else are thrown away."""
    with tempfile.TemporaryDirectory(prefix="bench-resilience-") as tmp:
        folder = out or Path(tmp)
        by_scenario = {name: compare_scenario(name, quick, folder, progress) for name in scenarios}
    return {
        "error_ratio": by_scenario.get(ERROR_SCENARIO, {}).get("error_ratio"),
        "p99_ratio": by_scenario.get(P99_SCENARIO, {}).get("p99_ratio"),
        "scale": QUICK_SCALE if quick else 1.0,
        "scenarios": by_scenario,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every scenario time halved")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs' reports here")
    args = parser.parse_args()
    chosen = tuple(args.scenario or SCENARIOS)
    print(json.dumps(measure(args.quick, chosen, progress=print, out=args.out), indent=2))


if __name__ == "__main__":
    main()
