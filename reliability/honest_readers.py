"""Members reading their home timeline in a closed loop while something else happens, each
answer's latency filed under the window (phase) it started in."""

import threading
import time
from collections import Counter, defaultdict
from types import TracebackType

import httpx

from reliability.chirp_client import Member

READ_TIMEOUT_S = 5.0


class HonestReaders:
    def __init__(self, url: str, members: list[Member]) -> None:
        self.url = url
        self.members = members
        self.window = "warm-up"
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.failures: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, args=(m,), daemon=True) for m in members
        ]

    def __enter__(self) -> "HonestReaders":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(READ_TIMEOUT_S + 1)

    def _read(self, member: Member) -> None:
        with httpx.Client(base_url=self.url, timeout=READ_TIMEOUT_S, headers=member.auth) as api:
            while not self._stop.is_set():
                window = self.window
                started = time.perf_counter()
                try:
                    answer = api.get("/v1/timeline", params={"limit": 20})
                except httpx.HTTPError as error:
                    self.failures[window][type(error).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    self.failures[window][str(answer.status_code)] += 1
                else:
                    self.latencies[window].append(elapsed)
