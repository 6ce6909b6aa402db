"""Before and after: the read path of another checkout (a git ref, in a temporary worktree)
against this one, each on a seeded local stack of its own, with wrk runs alternating between
the two in one session, so that the machine's other work weighs on both alike.

    .venv/bin/python -m bench.ab BEFORE [AFTER] [--rounds 5] [--duration 8]

AFTER is a git ref too, or this working tree when left out.

Prints, per side, the median reads/s and CPU milliseconds per read, and after over before.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.read_path import GATEWAY_PATH, Target, cpu_seconds, gateway_requests
from bench.seeded import seed_readers
from bench.wrk import run_wrk
from failwhale.layout import free_layout
from failwhale.localstack import LocalStack

REPO = Path(__file__).resolve().parents[1]


class CheckoutStack(LocalStack):
    """A local stack whose services run the code of another checkout."""

    def __init__(self, checkout: Path, workdir: Path) -> None:
        super().__init__(workdir, free_layout(), env={"FAILWHALE_LOG_LEVEL": "WARNING"})
        self.checkout = checkout

    def start_service(self, name: str) -> None:
        spec = self._spec(name)
        command = [
            sys.executable, "-m", "uvicorn", f"{spec.module}:create_app", "--factory",
            "--host", self.layout.host, "--port", str(spec.port), "--no-access-log",
        ]  # fmt: skip
        env = self.layout.environment(name) | self.env | {"PYTHONPATH": str(self.checkout)}
        self._spawn(name, command, os.environ.copy() | env)


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        path = Path(tmp) / ref.replace("/", "_")
        git = ["git", "-C", str(REPO)]
        subprocess.run([*git, "worktree", "add", "--detach", str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


@contextmanager
def running(stack: LocalStack) -> Iterator[LocalStack]:
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


def target_of(stack: LocalStack) -> Target:
    readers = asyncio.run(seed_readers(stack, 200, 5))
    pids = [stack.pid(name) for name in GATEWAY_PATH]
    return Target(stack.layout.gateway_url, gateway_requests(readers), pids)


def compare(
    before: str, after: str | None, rounds: int, duration_s: float
) -> dict[str, dict[str, float]]:
    with ExitStack() as stacks:
        tmp = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="bench-ab-")))
        old = stacks.enter_context(worktree(before))
        new = stacks.enter_context(worktree(after)) if after else REPO
        sides = {
            "before": target_of(stacks.enter_context(running(CheckoutStack(old, tmp / "a")))),
            "after": target_of(stacks.enter_context(running(CheckoutStack(new, tmp / "b")))),
        }
        rps: dict[str, list[float]] = {"before": [], "after": []}
        cpu: dict[str, list[float]] = {"before": [], "after": []}
        for target in sides.values():
            run_wrk(target.url, target.requests, 3, 32)
        for n in range(rounds):
            for name in ("before", "after") if n % 2 == 0 else ("after", "before"):
                target = sides[name]
                spent = cpu_seconds(target.pids)
                result = run_wrk(target.url, target.requests, duration_s, 32)
                spent = cpu_seconds(target.pids) - spent
                rps[name].append(result.rps)
                cpu[name].append(spent * 1000 / max(1, result.requests))
                print(f"{name}: {result.rps:.0f} reads/s, {cpu[name][-1]:.2f} ms CPU/read")
    figures = {
        name: {
            "rps": round(statistics.median(rps[name]), 1),
            "cpu_ms_per_read": round(statistics.median(cpu[name]), 3),
        }
        for name in sides
    }
    figures["after_over_before"] = {
        "rps": round(
            statistics.median(a / b for a, b in zip(rps["after"], rps["before"], strict=True)), 2
        ),
        "cpu_ms_per_read": round(
            figures["after"]["cpu_ms_per_read"] / figures["before"]["cpu_ms_per_read"], 2
        ),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a git ref")
    parser.add_argument("after", nargs="?", default=None, help="a git ref (default: this tree)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    print(json.dumps(compare(args.before, args.after, args.rounds, args.duration), indent=2))


if __name__ == "__main__":
    main()
