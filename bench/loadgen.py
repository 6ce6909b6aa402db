"""`loadgen_ratio`: what one Locust worker core sustains with Failwhale's load (personas, their
histories, the oracles, the per-request records sent to the master) over plain Locust
FastHttpUser, against the same gateway of a local stack, in the same run.

Each side runs as a master and one worker process (as the stack runs its load), with the same
closed-loop users and no think time, alternating sides round after round. The stack shares the
machine's cores with the generator, so the gateway, not the worker, often sets the pace: the
figure is therefore requests per CPU-second of the worker process (requests/s over the share of
a core it used, both as least-squares slopes over the measuring window, less the share the same
process used idle before its users started: heartbeats and reports, a fixed cost that a busy
core spreads over many more requests), which is the rate one core would sustain. Medians over
the rounds; the ratio is Failwhale's over plain (`ratio_with_idle`: the idle share left in).

    .venv/bin/python -m bench.loadgen [--quick]     (or: make bench ONLY=loadgen)
"""

import asyncio
import contextlib
import csv
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.locust_workers import NOT_REQUESTS, Master, slope, wait_for
from bench.read_path import cpu_seconds, free_port
from bench.results import figure
from bench.seeded import local_stack
from stack.seed import seed_stack

REPO = Path(__file__).resolve().parents[1]
FAILWHALE = f"{REPO / 'loadtest' / 'locustfile.py'},{REPO / 'chaos' / 'request_log.py'}"
PLAIN = str(REPO / "bench" / "loadgen_plain.py")
SIDES = {"failwhale": FAILWHALE, "plain": PLAIN}
USERS = 10
SAMPLE_S = 0.5
IDLE_S = 3.0
Say = Callable[[str], None]


@dataclass
class Window:
    side: str
    rps: float  # requests/s the master counted (slope over the window)
    worker_cpu: float  # share of one core the worker used over the window
    idle_cpu: float  # the same with no user running (heartbeats, reports): a fixed cost
    per_core: float  # requests per CPU-second of the worker beyond idle: what one core sustains
    per_core_raw: float  # the same with the idle share left in
    master_cpu_ms_per_request: float
    requests: int
    failures: int


@contextlib.contextmanager
def master_and_worker(side: str, gateway: str, accounts: Path, logs: Path) -> Iterator[
    tuple[Master, int, int]
]:  # fmt: skip
    """A Locust master (web UI on a free port) and one worker on the side's locustfile; both
    killed at the end (a Failwhale run's final audit is not what is measured)."""
    bind, web = free_port(), free_port()
    env = os.environ | {"PYTHONPATH": str(REPO), "FAILWHALE_LOADGEN_ACCOUNTS": str(accounts)}
    common = [sys.executable, "-m", "locust", "-f", SIDES[side], "--host", gateway,
              "--loglevel", "WARNING"]  # fmt: skip
    extra = ["--accounts", str(accounts)] if side == "failwhale" else []
    master_cmd = [*common, "--master", "--master-bind-host", "127.0.0.1",
                  "--master-bind-port", str(bind), "--web-host", "127.0.0.1",
                  "--web-port", str(web), *extra]  # fmt: skip
    worker_cmd = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(bind),
                  *extra]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    with (logs / f"{side}.log").open("ab") as log:
        for command in (master_cmd, worker_cmd):
            processes.append(
                subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            )  # fmt: skip
    try:
        master = Master(f"http://127.0.0.1:{web}")
        wait_for("the Locust master's web UI", lambda: _answers(master), 60)
        wait_for("the worker connected", lambda: master.workers() == 1, 60)
        yield master, processes[0].pid, processes[1].pid
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def counted(master: Master) -> tuple[int, int]:
    """Requests and failures so far, from the stats CSV (the JSON stats would also build the
    Resilience tab's table on every poll, a cost of the poller, not of the load)."""
    text = master.http.get("/stats/requests/csv").text
    requests = failures = 0
    for row in csv.DictReader(io.StringIO(text)):
        if row["Name"] != "Aggregated" and row["Type"] not in NOT_REQUESTS:
            requests += int(row["Request Count"])
            failures += int(row["Failure Count"])
    return requests, failures


def _answers(master: Master) -> bool:
    try:
        master.workers()
        return True
    except (httpx.HTTPError, ValueError):
        return False


def measure(side: str, gateway: str, accounts: Path, logs: Path, warmup_s: float,
            window_s: float) -> Window:  # fmt: skip
    with master_and_worker(side, gateway, accounts, logs) as (master, master_pid, worker_pid):
        idle_from = (time.monotonic(), cpu_seconds([worker_pid]))
        time.sleep(IDLE_S)
        idle = (cpu_seconds([worker_pid]) - idle_from[1]) / (time.monotonic() - idle_from[0])
        form: dict[str, Any] = {"user_count": USERS, "spawn_rate": USERS, "host": gateway}
        if side == "failwhale":
            form |= {"think_time": 0, "rate": 0}
        master.http.post("/swarm", data=form).raise_for_status()
        wait_for("every user spawned", lambda: master.stats()["user_count"] >= USERS, 60)
        if side == "failwhale":
            wait_for("every user signed in", lambda: master.signed_in(USERS), 120)
        time.sleep(warmup_s)
        counts: list[tuple[float, int]] = []
        failed: list[int] = []
        worker: list[tuple[float, float]] = []
        master_cpu: list[float] = []
        start = time.monotonic()
        while time.monotonic() - start < window_s:
            at = time.monotonic() - start
            requests, failures = counted(master)
            counts.append((at, requests))
            failed.append(failures)
            worker.append((at, cpu_seconds([worker_pid])))
            master_cpu.append(cpu_seconds([master_pid]))
            time.sleep(SAMPLE_S)
    rps = slope(counts)
    share = _slope_f(worker)
    requests = counts[-1][1] - counts[0][1]
    failures = failed[-1] - failed[0]
    return Window(
        side=side, rps=round(rps, 1), worker_cpu=round(share, 3), idle_cpu=round(idle, 4),
        per_core=round(rps / (share - idle), 1) if share > idle else 0.0,
        per_core_raw=round(rps / share, 1) if share > 0 else 0.0,
        master_cpu_ms_per_request=round(1000 * (master_cpu[-1] - master_cpu[0]) / requests, 3)
        if requests else 0.0,
        requests=requests, failures=failures,
    )  # fmt: skip


def _slope_f(points: list[tuple[float, float]]) -> float:
    """Least squares of a float series over time (CPU seconds: a share of a core)."""
    times = [t for t, _ in points]
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(v for _, v in points)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def median_of(windows: list[Window], side: str, name: str) -> float:
    return round(float(statistics.median(getattr(w, name) for w in windows if w.side == side)), 3)


def seed(gateway: str, accounts: Path, attempts: int = 3) -> None:
    """Accounts for both sides (a sign-up may time out on a busy machine: seeding again signs
    in the accounts already there)."""
    for attempt in range(attempts):
        try:
            asyncio.run(seed_stack(gateway, 4 * USERS, 7, accounts, False))
            return
        except httpx.HTTPError:
            if attempt == attempts - 1:
                raise
            time.sleep(2.0)


def run(quick: bool, say: Say) -> dict[str, Any]:
    rounds, warmup_s, window_s = (1, 3.0, 8.0) if quick else (4, 3.0, 15.0)
    windows: list[Window] = []
    with local_stack() as stack, tempfile.TemporaryDirectory(prefix="bench-loadgen-") as folder:
        accounts = Path(folder) / "accounts.json"
        seed(stack.layout.gateway_url, accounts)
        say(f"stack up, {4 * USERS} accounts seeded")
        for n in range(rounds):
            order = ("failwhale", "plain") if n % 2 == 0 else ("plain", "failwhale")
            for side in order:
                w = measure(side, stack.layout.gateway_url, accounts, Path(folder), warmup_s,
                            window_s)  # fmt: skip
                say(f"round {n + 1} {side}: {w.rps} req/s at {100 * w.worker_cpu:.0f} % "
                    f"of a core = {w.per_core} req/s per core, {w.failures} failed")  # fmt: skip
                windows.append(w)
    failwhale, plain = (median_of(windows, s, "per_core") for s in ("failwhale", "plain"))
    return {
        "loadgen_ratio": figure(
            "loadgen_ratio",
            _ratio(failwhale, plain),
            failwhale_rps_per_core=failwhale,
            plain_rps_per_core=plain,
            # with the worker's idle share left in (heartbeats and reports, a fixed cost that
            # weighs more the fewer requests the stack lets through)
            ratio_with_idle=_ratio(*(median_of(windows, s, "per_core_raw") for s in SIDES)),
            failwhale_idle_cpu=median_of(windows, "failwhale", "idle_cpu"),
            plain_idle_cpu=median_of(windows, "plain", "idle_cpu"),
            failwhale_rps=median_of(windows, "failwhale", "rps"),
            plain_rps=median_of(windows, "plain", "rps"),
            failwhale_worker_cpu=median_of(windows, "failwhale", "worker_cpu"),
            plain_worker_cpu=median_of(windows, "plain", "worker_cpu"),
            failwhale_master_cpu_ms_per_request=median_of(
                windows, "failwhale", "master_cpu_ms_per_request"
            ),
            plain_master_cpu_ms_per_request=median_of(
                windows, "plain", "master_cpu_ms_per_request"
            ),
            users=USERS,
            rounds=rounds,
            window_s=window_s,
            load_average=[round(v, 1) for v in os.getloadavg()],
            windows=[asdict(w) for w in windows],
        )
    }


if __name__ == "__main__":
    import json

    quick = "--quick" in sys.argv[1:]
    print(json.dumps(run(quick, lambda text: print(text, file=sys.stderr, flush=True)), indent=1))
