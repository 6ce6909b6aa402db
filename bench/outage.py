"""Timeline outage benchmark: both timeline replicas are killed under a steady 50 requests/s of
home-timeline reads, then restarted; measured with the resilience layer on and off.

    .venv/bin/python -m bench.outage [--rate 50] [--phase 10] [--out bench/results/outage.json]

Figures: seconds from the kill to the breakers opening, p99 of reads during the outage over p99
while healthy, error rate during the outage, and seconds from the restart to full recovery
(every answer whole again: 200 and not degraded).
"""

import argparse
import asyncio
import json
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench.open_loop import OpenLoop, Outcome, percentile
from failwhale.layout import free_layout
from failwhale.localstack import LocalStack
from failwhale.seed import seed_stack

REPLICAS = ("timeline-1", "timeline-2")


@dataclass
class OutageFigures:
    resilience: str
    rate: float
    breaker_detect_s: float | None
    healthy_p99_ms: float
    outage_p99_ms: float
    outage_p99_ratio: float
    outage_error_rate: float
    outage_degraded_rate: float
    recovery_s: float | None
    requests: int


async def _watch_breakers(
    url: str, samples: list[tuple[float, dict[str, str]]], started: float, stop: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while not stop.is_set():
            try:
                status = (await client.get("/v1/status")).json()
                states = {d["name"]: d["breaker"] for d in status["dependencies"]}
                samples.append((time.monotonic() - started, states))
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.05)


async def measure(resilience: str, rate: float, phase_s: float, users: int) -> OutageFigures:
    with tempfile.TemporaryDirectory(prefix=f"outage-{resilience}-") as workdir:
        stack = LocalStack(Path(workdir), free_layout(), env={"FAILWHALE_RESILIENCE": resilience})
        stack.up()
        try:
            return await _run(stack, resilience, rate, phase_s, users)
        finally:
            stack.down()


async def _run(
    stack: LocalStack, resilience: str, rate: float, phase_s: float, users: int
) -> OutageFigures:
    url = stack.layout.gateway_url
    seeded = Path(stack.workdir) / "seed.json"
    await seed_stack(url, users, seed=11, out=seeded, show_progress=False)
    tokens = [a["token"] for a in json.loads(seeded.read_text())["accounts"]]

    async def read(client: httpx.AsyncClient, n: int) -> httpx.Response:
        auth = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        return await client.get("/v1/timeline", headers=auth)

    load = OpenLoop(rate, read)
    samples: list[tuple[float, dict[str, str]]] = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=35, limits=limits) as client:
        started = time.monotonic()
        watcher = asyncio.create_task(_watch_breakers(url, samples, started, stop))
        loader = asyncio.create_task(load.run(client, 3 * phase_s, started))
        await asyncio.sleep(phase_s)
        killed_at = time.monotonic() - started
        for replica in REPLICAS:
            stack.send_signal(replica, signal.SIGKILL)
        await asyncio.sleep(phase_s)
        restart_at = time.monotonic() - started
        for replica in REPLICAS:
            await asyncio.to_thread(stack.restart, replica)
        await loader
        stop.set()
        await watcher
    return _figures(load.outcomes, samples, resilience, rate, killed_at, restart_at)


def _figures(
    outcomes: list[Outcome],
    samples: list[tuple[float, dict[str, str]]],
    resilience: str,
    rate: float,
    killed_at: float,
    restart_at: float,
) -> OutageFigures:
    healthy = [o for o in outcomes if 1.0 <= o.at < killed_at]
    outage = [o for o in outcomes if killed_at <= o.at < restart_at]
    healthy_p99 = percentile([o.latency_s for o in healthy], 99) * 1000
    outage_p99 = percentile([o.latency_s for o in outage], 99) * 1000
    errors = sum(1 for o in outage if o.status != 200)
    degraded = sum(1 for o in outage if o.status == 200 and o.degraded)
    return OutageFigures(
        resilience=resilience,
        rate=rate,
        breaker_detect_s=_detection(samples, killed_at),
        healthy_p99_ms=round(healthy_p99, 1),
        outage_p99_ms=round(outage_p99, 1),
        outage_p99_ratio=round(outage_p99 / healthy_p99, 2),
        outage_error_rate=round(errors / max(1, len(outage)), 4),
        outage_degraded_rate=round(degraded / max(1, len(outage)), 4),
        recovery_s=_recovery(outcomes, restart_at),
        requests=len(outcomes),
    )


def _detection(samples: list[tuple[float, dict[str, str]]], killed_at: float) -> float | None:
    """Seconds from the kill until every replica's breaker was seen open."""
    for at, states in samples:
        if at >= killed_at and all(states.get(r) == "open" for r in REPLICAS):
            return round(at - killed_at, 3)
    return None


def _recovery(outcomes: list[Outcome], restart_at: float) -> float | None:
    """Seconds from the restart to the first request after which every answer is whole."""
    after = sorted((o for o in outcomes if o.at >= restart_at), key=lambda o: o.at)
    last_bad = max((o.at for o in after if o.status != 200 or o.degraded), default=None)
    if last_bad is None:
        return 0.0
    if after and last_bad >= after[-1].at:
        return None  # never recovered within the run
    return round(last_bad - restart_at, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("bench/results/outage.json"))
    args = parser.parse_args()
    results = []
    for resilience in ("on", "off"):
        figures = asyncio.run(measure(resilience, args.rate, args.phase, args.users))
        results.append(asdict(figures))
        print(json.dumps(asdict(figures)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
