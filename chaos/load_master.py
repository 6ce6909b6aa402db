"""The load of a chaos run on a stack that runs its own Locust master (docker, swarm), driven
through its web API, so that whoever watches http://localhost:8089 sees the scenario's load
live. The workers in the stack send every request's record to the master
(chaos/request_log.py); this copies them into the run folder as they come, and at the end saves
Locust's CSVs and the oracles' final counts, once every worker's audit is in (or the master
names a missing one)."""

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from chaos.load import AUDIT_GRACE_S, LoadFiles, read_oracles, read_requests
from chaos.observation import RequestRecord
from chaos.scenario import Load

STACK_GATEWAY = "http://gateway:8000"  # as the workers reach it inside the stack
# the master's audit states after which nothing more will come: every worker's audit is in,
# one failed, or the master gave up on a worker (it names it in `audit_missing`)
AUDIT_OVER = ("done", "failed", "incomplete")
CSVS = {"locust_stats.csv": "/stats/requests/csv", "locust_failures.csv": "/stats/failures/csv"}


class MasterLoad:
    def __init__(self, web_url: str, load: Load, folder: Path) -> None:
        self.web_url = web_url.rstrip("/")
        self.load = load
        self.files = LoadFiles(folder)
        self.http = httpx.Client(base_url=self.web_url, timeout=10)
        self.started_at = 0.0
        self._next = 0
        self._stop = threading.Event()
        self._copier = threading.Thread(target=self._copy_records, name="records", daemon=True)

    def start(self) -> None:
        self.files.fresh()
        self.http.post("/stop").raise_for_status()  # whatever ran before
        self._next = int(self.http.get("/failwhale/requests", params={"after": 0}).json()["next"])
        users = self.load.users or max(10, int(self.load.rate or 1))
        form = {
            "user_count": users,
            "spawn_rate": self.load.spawn_rate,
            "host": STACK_GATEWAY,
            "rate": self.load.rate or 0,
        }
        answer = self.http.post("/swarm", data=form)
        answer.raise_for_status()
        if not answer.json().get("success", True):
            raise RuntimeError(f"the Locust master refused the run: {answer.text}")
        self.started_at = time.time()
        self._copier.start()

    def live(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = self.http.get("/resilience", timeout=1.0).json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    def _audit_snapshot(self) -> dict[str, Any] | None:
        """The master's snapshot, given the time a busy master takes to answer (`live` gives
        up after a second, to keep the observer's pace)."""
        try:
            snapshot: dict[str, Any] = self.http.get("/resilience").json()["snapshot"]
            return snapshot
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    def running(self) -> bool:
        return not self._stop.is_set()

    def wait(self) -> int:
        """Until the scenario's duration is over; then stops the load and waits for the audit."""
        time.sleep(max(0.0, self.started_at + self.load.duration_s - time.time()))
        self.http.post("/stop").raise_for_status()
        deadline = time.monotonic() + AUDIT_GRACE_S
        final: dict[str, Any] = {}
        while time.monotonic() < deadline:
            final = self._audit_snapshot() or final
            if final.get("audit_state") in AUDIT_OVER:
                break
            time.sleep(1.0)
        self._stop.set()
        self._copier.join(timeout=10)
        self._copy_once()
        self.files.oracles.write_text(json.dumps(final, indent=1))
        for name, path in CSVS.items():
            (self.files.folder / name).write_bytes(self.http.get(path).content)
        return 0 if final.get("audit_state") == "done" else -1

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(httpx.HTTPError):
            self.http.post("/stop")
        self.http.close()

    def requests(self, run_started_at: float) -> list[RequestRecord]:
        return read_requests(self.files, run_started_at)

    def oracle_counts(self) -> dict[str, float]:
        return read_oracles(self.files)

    def _copy_records(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._copy_once()
            except httpx.HTTPError:
                continue

    def _copy_once(self) -> None:
        answer = self.http.get("/failwhale/requests", params={"after": self._next}).json()
        with self.files.requests.open("a") as out:
            for record in answer["records"]:
                out.write(json.dumps(record) + "\n")
        self._next = int(answer["next"])
