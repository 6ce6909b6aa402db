"""Before and after: two checkouts (git refs, in temporary worktrees; AFTER defaults to this
working tree) measured in one session, turn about, so that the machine's other work weighs on
both alike.

    .venv/bin/python -m bench.ab BEFORE [AFTER] [--rounds 5] [--duration 8]   # read path
    .venv/bin/python -m bench.ab BEFORE [AFTER] --outage [--rounds 3]          # timeline outage

Read path: each side on a seeded local stack of its own, wrk runs alternating; the median
reads/s and CPU milliseconds per read (gateway, timeline replicas, Redis) of each side, and
after over before. Outage: bench.outage on a fresh stack of each side in turn; the medians of
its figures.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import outage
from bench.read_path import GATEWAY_PATH, STACK_ENV, Target, cpu_seconds, gateway_requests
from bench.seeded import local_stack, seed_readers
from bench.wrk import run_wrk
from stack.local import LocalStack

REPO = Path(__file__).resolve().parents[1]
SIDES = ("before", "after")
OUTAGE_FIGURES = ("breaker_detect_s", "healthy_p99_ms", "outage_p99_ms", "outage_p99_ratio",
                  "recovery_s", "recovery_over_reset_s")  # fmt: skip


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        path = Path(tmp) / "checkout"
        git = ["git", "-C", str(REPO)]
        subprocess.run([*git, "worktree", "add", "--detach", str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def target_of(stack: LocalStack) -> Target:
    readers = asyncio.run(seed_readers(stack, 200, 5))
    pids = [stack.pid(name) for name in GATEWAY_PATH]
    return Target(stack.layout.gateway_url, gateway_requests(readers), pids)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def read_path(checkouts: dict[str, Path], rounds: int, duration_s: float) -> dict[str, Any]:
    with ExitStack() as stacks:
        sides = {
            name: target_of(
                stacks.enter_context(local_stack("on", env=STACK_ENV, checkout=checkouts[name]))
            )
            for name in SIDES
        }
        rps: dict[str, list[float]] = {name: [] for name in SIDES}
        cpu: dict[str, list[float]] = {name: [] for name in SIDES}
        for target in sides.values():
            run_wrk(target.url, target.requests, 3, 32)
        for n in range(rounds):
            for name in SIDES if n % 2 == 0 else SIDES[::-1]:
                target = sides[name]
                spent = cpu_seconds(target.pids)
                result = run_wrk(target.url, target.requests, duration_s, 32)
                spent = cpu_seconds(target.pids) - spent
                rps[name].append(result.rps)
                cpu[name].append(spent * 1000 / max(1, result.requests))
                print(f"{name}: {result.rps:.0f} reads/s, {cpu[name][-1]:.2f} ms CPU/read")
    figures: dict[str, Any] = {
        name: {"rps": _median(rps[name]), "cpu_ms_per_read": _median(cpu[name])} for name in SIDES
    }
    figures["after_over_before"] = {
        "rps": _median([a / b for a, b in zip(rps["after"], rps["before"], strict=True)]),
        "cpu_ms_per_read": round(
            figures["after"]["cpu_ms_per_read"] / figures["before"]["cpu_ms_per_read"], 3
        ),
    }
    return figures


def outage_runs(checkouts: dict[str, Path], rounds: int, phase_s: float) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SIDES}
    for n in range(rounds):
        for name in SIDES if n % 2 == 0 else SIDES[::-1]:
            figures = asdict(outage.measure("on", phase_s=phase_s, checkout=checkouts[name]))
            runs[name].append(figures)
            print(name, json.dumps({k: figures[k] for k in OUTAGE_FIGURES}))
    return {
        name: {
            key: _median([r[key] for r in runs[name] if r[key] is not None])
            for key in OUTAGE_FIGURES
            if any(r[key] is not None for r in runs[name])
        }
        for name in SIDES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a git ref")
    parser.add_argument("after", nargs="?", default=None, help="a git ref (default: this tree)")
    parser.add_argument("--outage", action="store_true", help="the timeline outage, not reads")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--phase", type=float, default=8.0, help="seconds per outage phase")
    args = parser.parse_args()
    with ExitStack() as trees:
        checkouts = {
            "before": trees.enter_context(worktree(args.before)),
            "after": trees.enter_context(worktree(args.after)) if args.after else REPO,
        }
        if args.outage:
            figures = outage_runs(checkouts, args.rounds, args.phase)
        else:
            figures = read_path(checkouts, args.rounds, args.duration)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
