"""Samples the run once a second while the load goes: request rate, error and degraded rates (from
the load's request log), every service's breaker states (from its /metrics), and the load's live
oracle counts."""

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.observation import Sample

STATES = {0: "closed", 1: "half-open", 2: "open"}


class Observer:
    def __init__(
        self,
        services: dict[str, str],
        request_log: Path,
        live: Callable[[], dict[str, Any] | None],
        run_started_at: float,
        every_s: float = 1.0,
    ) -> None:
        self.services = {n: u for n, u in services.items() if u.startswith("http")}
        self.request_log = request_log
        self.live = live
        self.run_started_at = run_started_at
        self.every_s = every_s
        self.samples: list[Sample] = []
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)
        self._http = httpx.Client(timeout=0.5)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._http.close()

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.samples.append(self._sample())
            except Exception:
                continue

    def _sample(self) -> Sample:
        now = time.time()
        outcomes = self._new_outcomes()
        total = len(outcomes)
        live = self.live() or {}
        oracles = live.get("snapshot", {}).get("oracles", {}) if isinstance(live, dict) else {}
        return Sample(
            t=now - self.run_started_at,
            rps=total / self.every_s,
            error_rate=outcomes.count("error") / total if total else 0.0,
            degraded_rate=outcomes.count("degraded") / total if total else 0.0,
            breakers=self._breakers(),
            oracles={k: float(v) for k, v in oracles.items() if isinstance(v, int | float)},
        )

    def _new_outcomes(self) -> list[str]:
        """Outcomes of the requests that ended since the last sample."""
        if not self.request_log.exists():
            return []
        with self.request_log.open() as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode())
        outcomes = []
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            outcomes.append(str(record["outcome"]))
        return outcomes

    def _breakers(self) -> dict[str, dict[str, str]]:
        seen: dict[str, dict[str, str]] = {}
        for name, url in self.services.items():
            try:
                text = self._http.get(f"{url}/metrics").text
            except httpx.HTTPError:
                continue  # down: not reported, which is not the same as closed
            states: dict[str, str] = {}
            for family in text_string_to_metric_families(text):
                if family.name != "failwhale_breaker_state":
                    continue
                for sample in family.samples:
                    states[sample.labels["dependency"]] = STATES.get(int(sample.value), "open")
            seen[name] = states
        return seen
