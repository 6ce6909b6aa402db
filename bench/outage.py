"""Timeline outage: both timeline replicas are SIGKILLed under a steady, open-loop 50
home-timeline reads per second, then started again; the gateway's /v1/status is sampled every
50 ms for the replicas' breakers.

    .venv/bin/python -m bench.outage [--rate 50] [--phase 10] [--resilience on|off]

Figures: seconds from the kill until both replicas' breakers are seen open; p99 of the reads
during the outage over p99 while healthy; the outage's error and degraded rates; and seconds
from the replicas' return (both answer /readyz again after their restart) until both breakers
are closed and the answers sent from then on are under 0.5 % errors, also less the breaker's
reset timeout. The replicas' start-up time (uvicorn's, not the gateway's) is reported apart.
"""

import argparse
import asyncio
import json
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench.open_loop import OpenLoop, Outcome
from bench.seeded import local_stack, seed_readers
from loadtest.vocabulary import percentile_or_nan
from services.gateway.policies import POLICIES
from stack.local import LocalStack

REPLICAS = ("timeline-1", "timeline-2")
RECOVERED_ERROR_RATE = 0.005
Samples = list[tuple[float, dict[str, str]]]


@dataclass
class OutageFigures:
    resilience: str
    rate: float
    phase_s: float
    breaker_detect_s: float | None
    healthy_p99_ms: float
    outage_p99_ms: float
    outage_p99_ratio: float | None
    outage_error_rate: float
    outage_degraded_rate: float
    replicas_ready_after_s: float  # from the restart until both answer /readyz (start-up)
    recovery_s: float | None  # from the moment both answer /readyz
    reset_timeout_s: float
    recovery_over_reset_s: float | None
    requests: int


async def _watch_breakers(url: str, samples: Samples, started: float, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while not stop.is_set():
            try:
                status = (await client.get("/v1/status")).json()
                states = {d["name"]: d["breaker"] for d in status["dependencies"]}
                samples.append((time.monotonic() - started, states))
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.05)


def measure(
    resilience: str = "on",
    rate: float = 50.0,
    phase_s: float = 10.0,
    users: int = 40,
    progress: Callable[[str], None] = lambda _: None,
    checkout: Path | None = None,
) -> OutageFigures:
    with local_stack(resilience, checkout=checkout) as stack:
        progress(f"seeding {users} accounts")
        return asyncio.run(_run(stack, resilience, rate, phase_s, users, progress))


async def _run(
    stack: LocalStack,
    resilience: str,
    rate: float,
    phase_s: float,
    users: int,
    progress: Callable[[str], None],
) -> OutageFigures:
    url = stack.layout.gateway_url
    readers = await seed_readers(stack, users, posts_each=3)

    async def read(client: httpx.AsyncClient, n: int) -> httpx.Response:
        auth = {"Authorization": f"Bearer {readers[n % len(readers)].token}"}
        return await client.get("/v1/timeline", headers=auth)

    load = OpenLoop(rate, read)
    samples: Samples = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=35, limits=limits) as client:
        started = time.monotonic()
        watcher = asyncio.create_task(_watch_breakers(url, samples, started, stop))
        # Until a phase after the replicas are back, however long their start-up takes.
        enough = asyncio.Event()
        loader = asyncio.create_task(load.run(client, 3 * phase_s + 120, started, enough))
        progress(f"healthy, {rate:g} reads/s")
        await asyncio.sleep(phase_s)
        killed_at = time.monotonic() - started
        for replica in REPLICAS:
            stack.send_signal(replica, signal.SIGKILL)
        progress("both timeline replicas killed")
        await asyncio.sleep(phase_s)
        restart_at = time.monotonic() - started
        for replica in REPLICAS:
            stack.start_service(replica)
        for replica in REPLICAS:
            await asyncio.to_thread(stack.wait_ready, replica)
        ready_at = time.monotonic() - started
        progress("replicas restarted, recovering")
        await asyncio.sleep(phase_s)
        enough.set()
        await loader
        stop.set()
        await watcher
    return figures(load.outcomes, samples, resilience, rate, phase_s, killed_at, restart_at,
                   ready_at)  # fmt: skip


def figures(
    outcomes: list[Outcome],
    samples: Samples,
    resilience: str,
    rate: float,
    phase_s: float,
    killed_at: float,
    restart_at: float,
    ready_at: float,
) -> OutageFigures:
    healthy = [o for o in outcomes if 1.0 <= o.at < killed_at]
    outage = [o for o in outcomes if killed_at <= o.at < restart_at]
    healthy_p99 = percentile_or_nan([o.latency_s for o in healthy], 99) * 1000
    outage_p99 = percentile_or_nan([o.latency_s for o in outage], 99) * 1000
    errors = sum(1 for o in outage if o.status != 200)
    degraded = sum(1 for o in outage if o.status == 200 and o.degraded)
    reset_s = POLICIES["timeline"].breaker.reset_timeout_s
    recovered = recovery(outcomes, samples, ready_at)
    return OutageFigures(
        resilience=resilience,
        rate=rate,
        phase_s=phase_s,
        breaker_detect_s=detection(samples, killed_at),
        healthy_p99_ms=round(healthy_p99, 1),
        outage_p99_ms=round(outage_p99, 1),
        outage_p99_ratio=round(outage_p99 / healthy_p99, 3) if healthy_p99 > 0 else None,
        outage_error_rate=round(errors / max(1, len(outage)), 4),
        outage_degraded_rate=round(degraded / max(1, len(outage)), 4),
        replicas_ready_after_s=round(ready_at - restart_at, 3),
        recovery_s=recovered,
        reset_timeout_s=reset_s,
        recovery_over_reset_s=None if recovered is None else round(recovered - reset_s, 3),
        requests=len(outcomes),
    )


def detection(samples: Samples, killed_at: float) -> float | None:
    """Seconds from the kill until every replica's breaker was seen open."""
    for at, states in samples:
        if at >= killed_at and all(states.get(r) == "open" for r in REPLICAS):
            return round(at - killed_at, 3)
    return None


def recovery(outcomes: list[Outcome], samples: Samples, restart_at: float) -> float | None:
    """Seconds from `restart_at` (the replicas are back) to the first moment after which every
    sample shows both breakers closed and the answers sent from then on are under 0.5 % errors
    (None: never within the run)."""
    closed_from = None
    for at, states in sorted(samples):
        if at < restart_at:
            continue
        if all(states.get(r) == "closed" for r in REPLICAS):
            closed_from = at if closed_from is None else closed_from
        else:
            closed_from = None
    if closed_from is None:
        return None
    after = sorted((o for o in outcomes if o.at >= closed_from), key=lambda o: o.at)
    errors_from = [0] * (len(after) + 1)  # errors among after[i:]
    for i in range(len(after) - 1, -1, -1):
        errors_from[i] = errors_from[i + 1] + (after[i].status != 200)
    for i, outcome in enumerate(after):
        if errors_from[i] / (len(after) - i) < RECOVERED_ERROR_RATE:
            return round(max(closed_from, outcome.at) - restart_at, 3)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--resilience", choices=["on", "off"], default="on")
    args = parser.parse_args()
    result = measure(args.resilience, args.rate, args.phase, args.users, progress=print)
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
