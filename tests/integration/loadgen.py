"""Locust as the integration tests run it: the project's locustfile in processes of their own
(Locust patches the standard library with gevent; the test process stays as it is), headless
with a time limit, or a master with its web UI and workers, or workers of a master started
by a test; always stopped afterwards."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
ARTIFACTS = ROOT / "build" / "test-artifacts"
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def locust(host: str, *args: str, plugins: tuple[Path, ...] = ()) -> list[str]:
    """The command line of a Locust process on the project's locustfile (and `plugins`)."""
    files = ",".join(str(path) for path in (LOCUSTFILE, *plugins))
    return [sys.executable, "-m", "locust", "-f", files, "--host", host, *args]


def run_headless(
    host: str, out: Path, users: int, seconds: int, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """A headless run with a time limit; returns the finished process and its report."""
    report = out / "report.json"
    command = locust(
        host, "--headless", "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--only-summary", "--oracle-report", str(report),
        "--history-file", str(out / "history.jsonl"), "--audit-timeout", "30", *extra,
    )  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 150, check=False
    )
    (out / "locust.log").write_text(done.stdout + done.stderr)
    data: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    return done, data


@contextmanager
def web_ui(
    host: str, logs: Path, workers: int = 1, plugins: tuple[Path, ...] = ()
) -> Iterator[str]:
    """A Locust master with its web UI and `workers` workers (all with `plugins` loaded beside
    the locustfile); yields the UI's URL once every worker has connected."""
    web_port, master_port = free_port(), free_port()
    master = locust(
        host, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
        str(master_port), "--web-host", "127.0.0.1", "--web-port", str(web_port),
        "--think-time", "0.5", plugins=plugins,
    )  # fmt: skip
    worker = locust(
        host, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port),
        plugins=plugins,
    )  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(_spawn(master, logs / "locust-master.log"))
        started += [_spawn(worker, logs / f"locust-worker-{i}.log") for i in range(workers)]
        url = f"http://127.0.0.1:{web_port}"
        _wait_for_workers(url, workers, started)
        yield url
    finally:
        for process in started:
            _stop(process)


@contextmanager
def worker_processes(
    host: str, master_port: int, logs: Path, count: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` Locust workers of a master on `master_port`, stopped afterwards."""
    command = locust(
        host, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)
    )
    started = [_spawn(command, logs / f"locust-worker-{i}.log") for i in range(count)]
    try:
        yield started
    finally:
        for process in started:
            _stop(process)


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip


def _wait_for_workers(url: str, workers: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while True:
        if any(p.poll() is not None for p in processes):
            raise AssertionError("a Locust process exited at start (see its log)")
        try:
            count = httpx.get(f"{url}/worker-count", timeout=2).json()["worker_count"]
            if count >= workers:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{workers} Locust workers not connected after 60 s")
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
