"""Steady streams of requests and a watch on the gateway's breakers, from background threads,
for tests that break a service while users keep coming."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the stream started
    status: int  # 0: no answer (client timeout, refused)
    degraded: str
    latency_s: float


Request = Callable[[httpx.Client], httpx.Response]


@dataclass
class SteadyStream:
    """`rate` requests a second, each one sent on time whatever the previous one did (up to
    `workers` at once), until stopped."""

    base_url: str
    request: Request
    rate: float = 20.0
    workers: int = 8
    timeout_s: float = 10.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(self.workers)
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    def __enter__(self) -> "SteadyStream":
        self.started = time.monotonic()
        pacer = threading.Thread(target=self._pace, daemon=True)
        pacer.start()
        self._threads.append(pacer)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=self.timeout_s + 5)

    def now(self) -> float:
        return time.monotonic() - self.started

    def between(self, start: float, end: float = float("inf")) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.at < end]

    def _pace(self) -> None:
        client = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout_s,
            limits=httpx.Limits(max_connections=self.workers),
        )
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                self._slots.acquire()
                worker = threading.Thread(target=self._one, args=(client,), daemon=True)
                worker.start()
                self._threads.append(worker)
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        finally:
            for thread in self._threads[1:]:
                thread.join(timeout=self.timeout_s + 5)
            client.close()

    def _one(self, client: httpx.Client) -> None:
        sent = time.monotonic()
        try:
            response = self.request(client)
            status, degraded = response.status_code, response.headers.get("x-degraded", "")
        except httpx.HTTPError:
            status, degraded = 0, ""
        finally:
            self._slots.release()
        answer = Answer(sent - self.started, status, degraded, time.monotonic() - sent)
        with self._lock:
            self.answers.append(answer)


@dataclass
class BreakerWatch:
    """Samples the gateway's /v1/status every `every_s` and keeps each breaker's states."""

    base_url: str
    every_s: float = 0.1
    samples: list[tuple[float, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = 0.0

    def __enter__(self) -> "BreakerWatch":
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def states(self, dependency: str) -> list[str]:
        """The states seen, in order, without repeats."""
        seen: list[str] = []
        for _, breakers in self.samples:
            state = breakers.get(dependency)
            if state and (not seen or seen[-1] != state):
                seen.append(state)
        return seen

    def first(self, dependency: str, state: str, after: float = 0.0) -> float | None:
        for at, breakers in self.samples:
            if at >= after and breakers.get(dependency) == state:
                return at
        return None

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while not self._stop.is_set():
                try:
                    status = client.get("/v1/status").json()
                    breakers = {d["name"]: d["breaker"] for d in status["dependencies"]}
                    self.samples.append((time.monotonic() - self.started, breakers))
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                self._stop.wait(self.every_s)
