"""A lean open-loop client for the overload benchmark: requests are due at a fixed rate whatever
the system does, each one's latency is measured from when it was due (not from when it left:
coordinated omission corrected, as wrk2 does), and an arrival issued more than `LATE_AFTER_S`
after it was due is counted late, with how late: a generator that fell behind says so.

One aiohttp session, one task per request, no per-request bookkeeping beyond one small record:
it offers several thousand requests per second from one core, several times what a stack on
the same cores can serve."""

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from loadtest.vocabulary import percentile

LATE_AFTER_S = 0.01
PATIENCE_S = 5.0  # a client's timeout: no answer by then is an error, not goodput
GOOD_WITHIN_S = 2.0  # an answer counts as goodput if it came this soon after it was due
# No bound on connections: a pool that ran out would queue requests in the client, and the
# latency measured would be the generator's own queue, not the stack's.
MAX_CONNECTIONS = 0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    due: float  # loop time the request was due
    status: int  # 0: no answer (timeout, refused, reset)
    shed: bool  # 503 /overloaded
    degraded: bool
    latency_s: float  # from `due` to the answer
    sent_latency_s: float  # from the request leaving to the answer

    @property
    def good(self) -> bool:
        return 200 <= self.status < 300 and self.latency_s <= GOOD_WITHIN_S


@dataclass
class Step:
    """One rate held for a while: what was offered, when it was due, and what came back."""

    rate: float
    started: float
    duration_s: float
    issued: int = 0
    late: list[float] = field(default_factory=list)  # seconds late, one per late arrival
    answers: list[Answer] = field(default_factory=list)

    def window(self, settle_s: float) -> list[Answer]:
        """The answers to requests due after the first `settle_s` of the step."""
        start = self.started + settle_s
        return [a for a in self.answers if a.due >= start]

    def figures(self, settle_s: float) -> dict[str, float | int | None]:
        answers = self.window(settle_s)
        span = max(self.duration_s - settle_s, 1e-9)
        good = [a for a in answers if a.good]
        shed = [a for a in answers if a.shed]
        accepted = [a for a in answers if not a.shed]
        return {
            "offered_rps": round(self.rate, 1),
            "achieved_rps": round(self.issued / self.duration_s, 1),
            "goodput_rps": round(len(good) / span, 1),
            "requests": len(answers),
            "shed": len(shed),
            "errors": sum(1 for a in accepted if not 200 <= a.status < 300),
            "degraded": sum(1 for a in answers if a.degraded),
            "accepted_p50_ms": _ms(percentile((a.latency_s for a in accepted), 50)),
            "accepted_p99_ms": _ms(percentile((a.latency_s for a in accepted), 99)),
            "shed_p99_ms": _ms(percentile((a.latency_s for a in shed), 99)),
            "shed_p99_from_send_ms": _ms(percentile((a.sent_latency_s for a in shed), 99)),
            "late_arrivals": len(self.late),
            "late_p99_ms": _ms(percentile(self.late, 99)),
            "late_max_ms": _ms(max(self.late, default=None)),
        }

    def good_per_second(self) -> list[int]:
        """Good answers per second of the step, by when each request was due."""
        bins = [0] * max(1, int(self.duration_s))
        for answer in self.answers:
            if answer.good:
                slot = int(answer.due - self.started)
                if 0 <= slot < len(bins):
                    bins[slot] += 1
        return bins


class OpenLoopClient:
    def __init__(self, base_url: str, requests: Sequence[Request]) -> None:
        self.base_url = base_url.rstrip("/")
        self.requests = itertools.cycle(requests)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "OpenLoopClient":
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, force_close=False)
        timeout = aiohttp.ClientTimeout(total=PATIENCE_S)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def run(self, stages: Sequence[tuple[float, float]]) -> list[Step]:
        """Each (rate, duration_s) stage in turn, back to back (the rate changes at once, as
        when a crowd arrives or leaves); returns once every request has its answer or its
        timeout."""
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        steps = []
        started = loop.time()
        for rate, duration_s in stages:
            step = Step(rate, started, duration_s)
            steps.append(step)
            interval = 1.0 / rate
            for n in range(int(rate * duration_s)):
                due = started + n * interval
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif -wait > LATE_AFTER_S:
                    step.late.append(-wait)
                task = loop.create_task(self._one(next(self.requests), due, step))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                step.issued += 1
            started += duration_s
        if tasks:
            await asyncio.wait(tasks)
        return steps

    async def _one(self, request: Request, due: float, step: Step) -> None:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        sent = loop.time()
        status, shed, degraded = 0, False, False
        try:
            async with self._session.request(
                request.method, self.base_url + request.path, headers=request.headers
            ) as response:
                body = await response.read()
                status = response.status
                degraded = "X-Degraded" in response.headers
                shed = status == 503 and b"/overloaded" in body
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        now = loop.time()
        step.answers.append(Answer(due, status, shed, degraded, now - due, now - sent))


def timeline_reads(tokens: Sequence[str], limit: int = 20) -> list[Request]:
    """Home-timeline reads of the given readers, in turn."""
    return [
        Request("GET", f"/v1/timeline?limit={limit}", {"Authorization": f"Bearer {token}"})
        for token in tokens
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


Say = Callable[[str], None]
