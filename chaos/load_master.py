"""The load of a chaos run on a stack that runs its own Locust master (docker, swarm), driven
through its web API, so that whoever watches http://localhost:8089 sees the scenario's load
live. The workers in the stack send every request's record to the master
(chaos/request_log.py); this copies them into the run folder as they come, and at the end saves
Locust's CSVs and the oracles' final counts, once every worker's audit is in (or the master
names a missing one).

A master already running a load (started from its web UI, or by another run) is never stopped
silently: the run refuses (`LoadBusy`), or, asked to `join`, acts on that load: it neither starts
nor stops it, measures from its own start, and counts the oracles' findings since then (there
is no final audit: the load goes on)."""

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
BUSY = ("spawning", "running")  # a master in these states is running someone's load
CSVS = {"locust_stats.csv": "/stats/requests/csv", "locust_failures.csv": "/stats/failures/csv"}


class LoadBusy(RuntimeError):
    """The master runs a load this run did not start, and the run was not asked to join it."""


def master_state(http: httpx.Client) -> str | None:
    """The master's runner state (ready, spawning, running, stopped, ...); None if it does not
    say."""
    try:
        state = http.get("/stats/requests").json().get("state")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return str(state) if state is not None else None


def busy_message(web_url: str, state: str) -> str:
    return (
        f"the stack's Locust master ({web_url}) is {state} a load started elsewhere (its web UI, "
        "or another run); this run would have stopped it. Stop that load first, or run with "
        "--join to act on it (phases measured from this run's start, no final audit)"
    )


class MasterLoad:
    def __init__(self, web_url: str, load: Load, folder: Path, join: bool = False) -> None:
        self.web_url = web_url.rstrip("/")
        self.load = load
        self.join = join
        self.joined = False  # acting on a load someone else started
        self._started_load = False
        self._at_join: dict[str, Any] = {}
        self.files = LoadFiles(folder)
        self.http = httpx.Client(base_url=self.web_url, timeout=10)
        self.started_at = 0.0
        self._next = 0
        self._stop = threading.Event()
        self._copier = threading.Thread(target=self._copy_records, name="records", daemon=True)

    def start(self) -> None:
        state = master_state(self.http)
        if state in BUSY and not self.join:
            raise LoadBusy(busy_message(self.web_url, str(state)))
        self.files.fresh()
        self._next = int(self.http.get("/failwhale/requests", params={"after": 0}).json()["next"])
        if state in BUSY:
            self.joined = True
            self._at_join = (self._audit_snapshot() or {}).get("oracles", {})
            self.started_at = time.time()
            self._copier.start()
            return
        self.http.post("/stop").raise_for_status()  # a finished run's state
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
        self._started_load = True
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
        """Until the scenario's duration is over; then stops the load and waits for the audit
        (a joined load goes on: its findings since the join are kept, and 1 returned)."""
        time.sleep(max(0.0, self.started_at + self.load.duration_s - time.time()))
        if self.joined:
            return self._leave()
        self.http.post("/stop").raise_for_status()
        deadline = time.monotonic() + AUDIT_GRACE_S
        final: dict[str, Any] = {}
        while time.monotonic() < deadline:
            final = self._audit_snapshot() or final
            if final.get("audit_state") in AUDIT_OVER:
                break
            time.sleep(1.0)
        self._save(final)
        return 0 if final.get("audit_state") == "done" else -1

    def _leave(self) -> int:
        final = self._audit_snapshot() or {}
        final["oracles"] = since_join(self._at_join, final.get("oracles", {}))
        final["joined"] = True
        self._save(final)
        return 1

    def _save(self, final: dict[str, Any]) -> None:
        """The last records, the oracles' counts and Locust's CSVs into the run folder."""
        self._stop.set()
        self._copier.join(timeout=10)
        self._copy_once()
        self.files.oracles.write_text(json.dumps(final, indent=1))
        for name, path in CSVS.items():
            (self.files.folder / name).write_bytes(self.http.get(path).content)

    def stop(self) -> None:
        """Stops the load this run started (never one it joined or refused), and lets go."""
        self._stop.set()
        if self._started_load:
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


def since_join(at_join: dict[str, Any], final: dict[str, Any]) -> dict[str, Any]:
    """The oracles' counts since the join: counts are differences, maxima (`max_*`) stay as the
    load reports them (they cannot be taken apart)."""
    counts: dict[str, Any] = {}
    for key, value in final.items():
        before = at_join.get(key, 0)
        numeric = isinstance(value, int | float) and isinstance(before, int | float)
        counts[key] = value - before if numeric and not key.startswith("max_") else value
    return counts
