"""Read path: home-timeline reads per second through the gateway (gateway -> timeline replica ->
Redis) over a one-hop baseline (bench/baseline_app.py: uvicorn -> Redis) reading the same keys,
on the same seeded local stack, under the same wrk load. The two alternate, round after round,
so that whatever else the machine is doing weighs on both alike; medians are kept.

    .venv/bin/python -m bench.read_path [--rounds 5] [--duration 10]
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench.seeded import Reader, local_stack, seed_readers
from bench.wrk import WrkRequest, WrkResult, run_wrk
from stack.local import HTTP_PROTOCOL, LocalStack

REPO = Path(__file__).resolve().parents[1]
PAGE = 20
# The gateway's request budget, for the stacks the read path is measured on: seeding signs up
# 200 accounts 16 at a time, and on a loaded machine argon2id takes longer than the default
# budget (3 s) allows a sign-up. Reads cost the same with any budget (each call carries what is
# left of it either way); a page takes milliseconds.
STACK_ENV = {"FAILWHALE_GATEWAY_REQUEST_BUDGET_S": "30"}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class ReadPathFigures:
    gateway_rps: float
    baseline_rps: float
    ratio: float  # median of the per-round ratios
    gateway_p99_ms: float
    baseline_p99_ms: float
    # CPU time the serving processes spent per read (gateway + timeline replicas + redis, or
    # baseline + redis): steadier than reads/s on a machine shared with other work.
    gateway_cpu_ms_per_read: float
    baseline_cpu_ms_per_read: float
    errors: int
    rounds: int
    duration_s: float
    connections: int
    readers: int
    gateway_runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    # The gateway path's CPU per read, process by process (medians over the rounds).
    gateway_cpu_ms_per_read_by_process: dict[str, float] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def baseline_server(stack: LocalStack) -> Iterator[tuple[str, int]]:
    """The one-hop app on a free port, started like the services (uvicorn, factory, no access
    log, the same HTTP protocol class), reading the stack's Redis."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "bench.baseline_app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--http", HTTP_PROTOCOL,
    ]  # fmt: skip
    env = os.environ | {"FAILWHALE_REDIS_URL": stack.layout.redis_url, "PYTHONPATH": str(REPO)}
    log = (Path(stack.workdir) / "logs" / "baseline.log").open("ab")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/timeline", params={"user": 1}, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the baseline app did not start") from None
                time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def gateway_requests(readers: list[Reader]) -> list[WrkRequest]:
    return [
        WrkRequest(f"/v1/timeline?limit={PAGE}", {"Authorization": f"Bearer {r.token}"})
        for r in readers
    ]


def baseline_requests(readers: list[Reader]) -> list[WrkRequest]:
    return [WrkRequest(f"/timeline?user={r.id}&limit={PAGE}", {}) for r in readers]


@dataclass(frozen=True)
class Target:
    url: str
    requests: list[WrkRequest]
    pids: list[int]  # the processes that serve it, for their CPU time
    names: tuple[str, ...] = ()  # theirs, in the same order, to report each one's share


def measure_on(
    gateway: Target,
    baseline: Target,
    rounds: int,
    duration_s: float,
    connections: int = 32,
    progress: Callable[[str], None] = lambda _: None,
) -> ReadPathFigures:
    """Alternating wrk runs against a stack that is up and seeded."""
    targets = {"gateway": gateway, "baseline": baseline}
    for target in targets.values():  # warm up: connections, caches, bytecode
        run_wrk(target.url, target.requests, min(3.0, duration_s), connections)
    runs: dict[str, list[WrkResult]] = {"gateway": [], "baseline": []}
    cpu: dict[str, list[float]] = {"gateway": [], "baseline": []}
    each: dict[str, list[float]] = {name: [] for name in gateway.names}
    for n in range(rounds):
        # Alternate which goes first, so neither always follows the other's leftovers.
        order = ["baseline", "gateway"] if n % 2 == 0 else ["gateway", "baseline"]
        for name in order:
            target = targets[name]
            before = [cpu_seconds([pid]) for pid in target.pids]
            result = run_wrk(target.url, target.requests, duration_s, connections)
            spent = [cpu_seconds([pid]) - b for pid, b in zip(target.pids, before, strict=True)]
            reads = max(1, result.requests)
            cpu[name].append(sum(spent) * 1000 / reads)
            for process, seconds in zip(target.names, spent, strict=False):
                each[process].append(seconds * 1000 / reads)
            runs[name].append(result)
            progress(f"round {n + 1}/{rounds}: {name} {result.rps:.0f} reads/s")
    on_gateway, on_baseline = runs["gateway"], runs["baseline"]
    ratios = [g.rps / b.rps for g, b in zip(on_gateway, on_baseline, strict=True)]
    return ReadPathFigures(
        gateway_rps=round(statistics.median(r.rps for r in on_gateway), 1),
        baseline_rps=round(statistics.median(r.rps for r in on_baseline), 1),
        ratio=round(statistics.median(ratios), 3),
        gateway_p99_ms=round(statistics.median(r.p99_ms for r in on_gateway), 2),
        baseline_p99_ms=round(statistics.median(r.p99_ms for r in on_baseline), 2),
        gateway_cpu_ms_per_read=round(statistics.median(cpu["gateway"]), 3),
        baseline_cpu_ms_per_read=round(statistics.median(cpu["baseline"]), 3),
        errors=sum(r.errors for r in on_gateway + on_baseline),
        rounds=rounds,
        duration_s=duration_s,
        connections=connections,
        readers=len(gateway.requests),
        gateway_runs=[round(r.rps, 1) for r in on_gateway],
        baseline_runs=[round(r.rps, 1) for r in on_baseline],
        gateway_cpu_ms_per_read_by_process={
            process: round(statistics.median(values), 3) for process, values in each.items()
        },
    )


GATEWAY_PATH = ("gateway", "timeline-1", "timeline-2", "redis")


def measure(
    rounds: int = 5,
    duration_s: float = 10.0,
    users: int = 200,
    posts_each: int = 5,
    progress: Callable[[str], None] = lambda _: None,
) -> ReadPathFigures:
    with local_stack("on", env=STACK_ENV) as stack:
        progress(f"seeding {users} accounts, {users * posts_each} posts")
        readers = asyncio.run(seed_readers(stack, users, posts_each))
        with baseline_server(stack) as (baseline_url, baseline_pid):
            gateway = Target(
                stack.layout.gateway_url,
                gateway_requests(readers),
                [stack.pid(name) for name in GATEWAY_PATH],
                GATEWAY_PATH,
            )
            baseline = Target(
                baseline_url, baseline_requests(readers), [baseline_pid, stack.pid("redis")]
            )
            return measure_on(gateway, baseline, rounds, duration_s, progress=progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    figures = measure(args.rounds, args.duration, args.users, progress=print)
    print(json.dumps(asdict(figures), indent=2))


if __name__ == "__main__":
    main()
