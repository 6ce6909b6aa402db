"""The load of a chaos run: Locust with the Chirp locustfile, started for the scenario's users or
rate and duration, with its web UI on a local port (to watch it live, and for the observer to
read the live oracle counts), writing its CSVs, the operation history, the oracle report and the
per-request log into the run folder."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from chaos.observation import RequestRecord
from chaos.scenario import Load

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILES = f"{REPO / 'loadtest' / 'locustfile.py'},{REPO / 'chaos' / 'request_log.py'}"
AUDIT_GRACE_S = 90.0  # the final audit waits for outboxes to drain and reads everything back


@dataclass
class LoadFiles:
    folder: Path

    @property
    def requests(self) -> Path:
        return self.folder / "requests.jsonl"

    @property
    def history(self) -> Path:
        return self.folder / "history.jsonl"

    @property
    def oracles(self) -> Path:
        return self.folder / "oracles.json"

    @property
    def log(self) -> Path:
        return self.folder / "locust.log"

    def fresh(self) -> None:
        """An empty folder for a new run: records are appended as they come, so a run into an
        `--out` folder used before would otherwise count the earlier run's requests as its own."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (self.requests, self.history, self.oracles, self.log):
            stale.unlink(missing_ok=True)


class LoadDriver(Protocol):
    files: "LoadFiles"
    started_at: float

    def start(self) -> None: ...
    def live(self) -> dict[str, Any] | None: ...
    def wait(self) -> int: ...
    def stop(self) -> None: ...
    def requests(self, run_started_at: float) -> list[RequestRecord]: ...
    def oracle_counts(self) -> dict[str, float]: ...


class LocustRun:
    def __init__(self, host: str, load: Load, folder: Path, accounts: Path | None) -> None:
        self.host = host.rstrip("/")
        self.load = load
        self.files = LoadFiles(folder)
        self.accounts = accounts
        self.web_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        load = self.load
        users = load.users or max(10, int(load.rate or 1))
        command = [
            sys.executable, "-m", "locust", "-f", LOCUSTFILES, "--host", self.host,
            "--autostart", "--autoquit", "5", "--web-host", "127.0.0.1",
            "--web-port", str(self.web_port), "--users", str(users),
            "--spawn-rate", str(load.spawn_rate), "--run-time", f"{int(load.duration_s)}s",
            "--rate", str(load.rate or 0), "--history-file", str(self.files.history),
            "--oracle-report", str(self.files.oracles), "--request-log", str(self.files.requests),
            "--csv", str(self.files.folder / "locust"), "--csv-full-history",
            "--html", str(self.files.folder / "locust.html"), "--loglevel", "WARNING",
        ]  # fmt: skip
        if self.accounts is not None:
            command += ["--accounts", str(self.accounts)]
        env = os.environ | {"PYTHONPATH": str(REPO)}
        self.files.fresh()
        with self.files.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.started_at = time.time()

    def live(self) -> dict[str, Any] | None:
        """The load's live scoreboard (answers, degraded, oracle counts), if it answers."""
        try:
            answer = httpx.get(f"{self.web_url}/resilience", timeout=1.0)
            data: dict[str, Any] = answer.json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        """Until Locust has run its course and its final audit; returns its exit code."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=self.load.duration_s + AUDIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self.stop()
            return -1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def requests(self, run_started_at: float) -> list[RequestRecord]:
        return read_requests(self.files, run_started_at)

    def oracle_counts(self) -> dict[str, float]:
        return read_oracles(self.files)


def read_requests(files: LoadFiles, run_started_at: float) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    if not files.requests.exists():
        return records
    for line in files.requests.read_text().splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue  # a line cut short by a killed process
        records.append(
            RequestRecord(
                t=float(raw["t"]) - run_started_at,
                name=str(raw["name"]),
                latency_ms=float(raw["latency_ms"]),
                outcome=raw["outcome"],
            )
        )
    return records


def read_oracles(files: LoadFiles) -> dict[str, float]:
    if not files.oracles.exists():
        return {}
    data = json.loads(files.oracles.read_text())
    counts = data.get("oracles", data)
    return {k: float(v) for k, v in counts.items() if isinstance(v, int | float)}


def read_generator(files: LoadFiles) -> dict[str, Any]:
    """The open loop's ledger from the oracle report (empty in a closed loop)."""
    if not files.oracles.exists():
        return {}
    try:
        ledger = json.loads(files.oracles.read_text()).get("generator")
    except (ValueError, AttributeError):
        return {}
    return ledger if isinstance(ledger, dict) else {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
