"""Locust on 1 and on 3 workers against the same running stack, in one run: requests per second
of the same users, with no think time, over the same measuring window, and their ratio. The
workers are scaled by the engine (`docker-compose up --scale locust-worker=N` for compose,
`docker service scale <stack>_locust-worker=N` for swarm) and the load is driven through the
stack's own Locust master (its web API). Each worker's CPU share, as the master hears it, says
what bounded the figure.

    .venv/bin/python -m bench.locust_workers --backend compose|swarm [--workers 1,3]
        [--users 30] [--spawn-rate 5] [--warmup 15] [--seconds 40] [--rounds 1]
        [--locust-url URL] [--json]

The stack is the one COMPOSE_PROJECT_NAME names (default failwhale), with Locust's web UI on
FAILWHALE_LOCUST_PORT (8089) unless --locust-url says otherwise. The workers are scaled back to
their count at the start when it ends. Not part of `make bench`: a round of two counts takes
about three minutes.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
STACK_GATEWAY = "http://gateway:8000"  # as the workers reach it inside the stack
NOT_REQUESTS = ("ORACLE", "OPEN_LOOP")
SIGN_IN = ("/v1/users", "/v1/sessions")
AUDIT_OVER = ("done", "failed", "incomplete", "not run")
Say = Callable[[str], None]


@dataclass
class Measure:
    workers: int
    users: int
    seconds: float
    rps: float  # the slope of the requests counted over the window
    ok_rps: float  # the same, of the requests that did not fail
    requests: int
    failures: int
    failed: dict[str, int] = field(default_factory=dict)  # by request, in the window
    worker_cpu_percent: list[float] = field(default_factory=list)  # each worker, mean


def project() -> str:
    return os.environ.get("COMPOSE_PROJECT_NAME") or "failwhale"


def compose_command() -> list[str]:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ["docker", "compose"] if probe.returncode == 0 else ["docker-compose"]


def scale(backend: str, workers: int) -> None:
    if backend == "swarm":
        command = ["docker", "service", "scale", "--detach", f"{project()}_locust-worker={workers}"]
    else:
        command = [*compose_command(), "up", "--detach", "--no-build", "--no-recreate",
                   "--no-deps", "--scale", f"locust-worker={workers}", "locust-worker"]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True)


def worker_count(backend: str) -> int:
    """The workers the engine runs now."""
    if backend == "swarm":
        spec = "{{.Spec.Mode.Replicated.Replicas}}"
        return int(_out(["docker", "service", "inspect", "--format", spec,
                         f"{project()}_locust-worker"]))  # fmt: skip
    ids = _out(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project()}",
                "--filter", "label=com.docker.compose.service=locust-worker"])  # fmt: skip
    return len(ids.split())


def _out(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def wait_for(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:g} s")
        time.sleep(1.0)


class Master:
    """The stack's Locust master, through its web API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/stats/requests").json()
        return data

    def workers(self) -> int:
        return int(self.http.get("/worker-count").json()["worker_count"])

    def counted(self) -> tuple[dict[str, tuple[int, int]], list[dict[str, Any]]]:
        """Requests and failures so far of each API request, and the workers' state."""
        stats = self.stats()
        api = {
            f"{s['method']} {s['name']}": (int(s["num_requests"]), int(s["num_failures"]))
            for s in stats["stats"]
            if s["name"] != "Aggregated" and s["method"] not in NOT_REQUESTS
        }
        return api, stats.get("workers", [])

    def signed_in(self, users: int) -> bool:
        """Every user's two devices have an account and a session (each user registers its
        phone's account, or logs it in, then logs its laptop in): until then the users retry
        their sign-in at every action, a load of another kind than the run's."""
        rows = self.stats()["stats"]
        done = sum(int(s["num_requests"]) - int(s["num_failures"]) for s in rows
                   if s["method"] == "POST" and s["name"] in SIGN_IN)  # fmt: skip
        return done >= 2 * users

    def stop_and_settle(self) -> None:
        """Stops any run and waits for its audit, so that it does not eat the next window."""
        self.http.post("/stop").raise_for_status()

        def settled() -> bool:
            snapshot = self.http.get("/resilience").json()["snapshot"]
            return snapshot["audit_state"] in AUDIT_OVER

        with contextlib.suppress(RuntimeError):
            wait_for("the last run's audit", settled, 150)

    def swarm(self, users: int, spawn_rate: float) -> None:
        form = {"user_count": users, "spawn_rate": spawn_rate, "host": STACK_GATEWAY,
                "think_time": 0, "rate": 0}  # fmt: skip
        answer = self.http.post("/swarm", data=form)
        answer.raise_for_status()
        if not answer.json().get("success", True):
            raise RuntimeError(f"the Locust master refused the run: {answer.text}")


def slope(points: list[tuple[float, int]]) -> float:
    """Least squares: requests per second through cumulative counts sampled over time (each
    worker reports every few seconds, so the counts rise in steps)."""
    times = [t for t, _ in points]
    mean_t, mean_n = statistics.fmean(times), statistics.fmean(n for _, n in points)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (n - mean_n) for t, n in points) / spread if spread else 0.0


def measure(master: Master, backend: str, workers: int, args: argparse.Namespace,
            say: Say) -> Measure:  # fmt: skip
    say(f"{workers} worker(s): scaling")
    master.stop_and_settle()
    scale(backend, workers)
    wait_for(f"{workers} workers connected", lambda: master.workers() == workers, 180)
    master.swarm(args.users, args.spawn_rate)
    wait_for("every user spawned", lambda: master.stats()["user_count"] >= args.users, 180)
    wait_for("every user signed in", lambda: master.signed_in(args.users), 300)
    say(f"{workers} worker(s): {args.users} users signed in, warming up {args.warmup:g} s")
    time.sleep(args.warmup)
    points: list[tuple[float, int]] = []
    ok_points: list[tuple[float, int]] = []
    cpu: dict[str, list[float]] = {}
    start = time.monotonic()
    first, _ = master.counted()
    last = first
    while time.monotonic() - start < args.seconds:
        time.sleep(1.0)
        last, states = master.counted()
        at = time.monotonic() - start
        points.append((at, sum(n for n, _ in last.values())))
        ok_points.append((at, sum(n - f for n, f in last.values())))
        for worker in states:
            cpu.setdefault(str(worker["id"]), []).append(float(worker["cpu_usage"]))
    master.stop_and_settle()
    failed = {k: f - first.get(k, (0, 0))[1] for k, (_, f) in last.items()}
    result = Measure(
        workers=workers, users=args.users, seconds=args.seconds, rps=round(slope(points), 1),
        ok_rps=round(slope(ok_points), 1),
        requests=sum(n for n, _ in last.values()) - sum(n for n, _ in first.values()),
        failures=sum(failed.values()), failed={k: v for k, v in failed.items() if v},
        worker_cpu_percent=[round(statistics.fmean(v), 1) for v in cpu.values()],
    )  # fmt: skip
    say(
        f"{workers} worker(s): {result.rps} requests/s ({result.ok_rps} without failure), "
        f"workers' CPU {result.worker_cpu_percent} %"
    )
    return result


@contextlib.contextmanager
def workers_restored(backend: str) -> Iterator[None]:
    before = worker_count(backend)
    try:
        yield
    finally:
        scale(backend, before)


def run(args: argparse.Namespace, say: Say) -> dict[str, Any]:
    counts = [int(n) for n in args.workers.split(",")]
    url = args.locust_url or f"http://127.0.0.1:{os.environ.get('FAILWHALE_LOCUST_PORT', '8089')}"
    master = Master(url)
    measures: list[Measure] = []
    with workers_restored(args.backend):
        for _ in range(args.rounds):
            measures += [measure(master, args.backend, n, args, say) for n in counts]
    rps = {n: round(statistics.median(m.rps for m in measures if m.workers == n), 1)
           for n in counts}  # fmt: skip
    ok = {n: round(statistics.median(m.ok_rps for m in measures if m.workers == n), 1)
          for n in counts}  # fmt: skip
    low, high = min(counts), max(counts)
    return {
        "backend": args.backend,
        "stack": project(),
        "rps": {str(n): value for n, value in rps.items()},
        "ok_rps": {str(n): value for n, value in ok.items()},
        # requests that did not fail: a storm of quick refusals is no throughput
        "ratio": round(ok[high] / ok[low], 2) if ok[low] else None,
        "ratio_of": f"{high} workers over {low}, requests/s without failure (medians)",
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(v, 1) for v in os.getloadavg()],
        "measures": [asdict(m) for m in measures],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.locust_workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=("compose", "swarm"), default="compose")
    parser.add_argument("--workers", default="1,3", help="worker counts, in the order measured")
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    parser.add_argument("--seconds", type=float, default=40.0, help="the measuring window")
    parser.add_argument("--rounds", type=int, default=1, help="each count this many times")
    parser.add_argument("--locust-url", default="", help="the stack's Locust web UI")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    figures = run(args, say=lambda text: print(text, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for n, value in figures["rps"].items():
            print(f"{n} worker(s): {value} requests/s, {figures['ok_rps'][n]} without failure")
        print(f"ratio ({figures['ratio_of']}): {figures['ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
