"""8. Resource limits: oversized bodies and headers, deeply nested JSON, absurd query values and
slow clients get a fitting 4xx (never a 5xx), and members reading their timeline meanwhile stay
almost as fast as without the abuse (p99 within 1.5x).

Quiet and abusive windows alternate (quiet, abuse, quiet, abuse, ...) and each kind is pooled:
on a machine shared with other work, a drift in the background then weighs on both alike
instead of on whichever window it happened to fall in."""

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import httpx

from loadtest.vocabulary import percentile_or_nan as percentile
from reliability.abusive_clients import Exchange, Target, one_shot_abuses, slow_body, slow_headers
from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import Member, follow, post, sign_up
from reliability.honest_readers import HonestReaders

P99_RATIO_MAX = 1.5
# Each abusive client's pace. The check is about what an abusive request costs (a 10 MB body
# must not cost 10 MB of work), not about floods: requests back to back, valid or not, slow a
# shared 2-core machine whatever they are, and the product has no per-client rate limit.
ABUSE_RATE_PER_CLIENT = 15.0
SLOW_PACE_S = 0.2
WARM_UP_S = 1.0


@dataclass
class AbuseLog:
    """Every abusive request's ending, by kind; `unfitting` lists answers outside the fitting
    set (a 5xx, no answer, or the wrong 4xx)."""

    answers: dict[str, Counter[str]] = field(default_factory=dict)
    unfitting: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def file(self, kind: str, ended: Exchange, fitting: set[int]) -> None:
        shown = str(ended.status) if ended.status is not None else ended.ended
        with self.lock:
            self.answers.setdefault(kind, Counter())[shown] += 1
            if ended.status not in fitting:
                self.unfitting.append(f"{kind}: {shown}")

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.answers.values())

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.answers.values() for s, n in c.items() if s.startswith("5"))


def abuse_for(
    seconds: float, target: Target, log: AbuseLog, abusers: int, slow_clients: int
) -> None:
    """Abusive requests from `abusers` clients at a steady pace, and `slow_clients` sockets
    that dribble their request, all for `seconds` (a slow client gives up when the window
    ends)."""
    catalogue = one_shot_abuses(target)
    until = time.monotonic() + seconds

    def abuser(offset: int) -> None:
        kinds = list(catalogue)
        turn = offset
        due = time.monotonic()
        while due < until:
            time.sleep(max(0.0, due - time.monotonic()))
            kind = kinds[turn % len(kinds)]
            send, fitting = catalogue[kind]
            log.file(kind, send(), fitting)
            turn += 1
            due += 1 / ABUSE_RATE_PER_CLIENT

    def slow(number: int) -> None:
        left = until - time.monotonic()
        dribble: Callable[[Target, float, float], Exchange] = (
            slow_headers if number % 2 == 0 else slow_body
        )
        kind = "slow headers" if number % 2 == 0 else "slow body"
        # The server must cut it off (408) before the window ends; one it still holds then is
        # filed as "held", and unfitting.
        log.file(kind, dribble(target, SLOW_PACE_S, left), {408})

    with ThreadPoolExecutor(max_workers=abusers + slow_clients) as pool:
        futures = [pool.submit(abuser, i) for i in range(abusers)]
        futures += [pool.submit(slow, i) for i in range(slow_clients)]
        for future in futures:
            future.result()


def members_with_timelines(api: httpx.Client, readers: int) -> list[Member]:
    authors = [sign_up(api, "author") for _ in range(3)]
    for author in authors:
        for i in range(6):
            post(api, author, f"{author.handle} number {i} #limits")
    members = [sign_up(api, "reader") for _ in range(readers)]
    for member in members:
        for author in authors:
            follow(api, member, author)
    return members


def run(context: SuiteContext) -> Outcome:
    stack = context.local_stack("resource-limits")
    stack.up(context.progress)
    try:
        url = stack.layout.gateway_url
        with httpx.Client(base_url=url, timeout=10) as api:
            members = members_with_timelines(api, context.size(4, 6))
        port = stack.layout.port("gateway")
        target = Target(stack.layout.host, port, members[0].token)
        log = AbuseLog()
        # An abusive window outlasts the services' request read deadline (5 s), so that every
        # slow client of the window is cut off within it; quiet windows may be shorter.
        rounds, abuse_s = context.size(3, 5), float(context.size(6, 10))
        quiet_s = float(context.size(2, 10))
        with HonestReaders(url, members) as readers:
            time.sleep(WARM_UP_S)
            for round_ in range(rounds):
                context.progress(f"8. round {round_ + 1} of {rounds}: quiet")
                readers.window = "quiet"
                time.sleep(quiet_s)
                context.progress(f"8. round {round_ + 1} of {rounds}: abuse")
                readers.window = "abuse"
                abuse_for(abuse_s, target, log, abusers=2, slow_clients=context.size(4, 8))
            readers.window = "after"
    finally:
        stack.down()
    outcome = verdict(readers.latencies, readers.failures, log)
    # Other work on the machine moves both windows' latencies; say how busy it was.
    load = os.getloadavg()[0]
    notes = f"load average {load:.1f} on {os.cpu_count()} cores during the run"
    return replace(outcome, measured=outcome.measured | {"load_average": load}, notes=notes)


def verdict(
    latencies: Mapping[str, list[float]], failures: Mapping[str, Counter[str]], log: AbuseLog
) -> Outcome:
    """`latencies` and `failures` of honest reads by window ("quiet", "abuse")."""
    quiet, abused = latencies.get("quiet", []), latencies.get("abuse", [])
    p99_quiet, p99_abused = percentile(quiet, 99) * 1000, percentile(abused, 99) * 1000
    ratio = p99_abused / p99_quiet if quiet and abused else float("inf")
    honest_failures = sum(sum(failures.get(w, Counter()).values()) for w in ("quiet", "abuse"))
    passed = log.total > 0 and not log.unfitting and honest_failures == 0 and ratio <= P99_RATIO_MAX
    statuses = Counter[str]()
    for counter in log.answers.values():
        statuses.update(counter)
    figure = (
        f"abusive requests {log.total}: "
        + ", ".join(f"{s} x{n}" for s, n in sorted(statuses.items()))
        + f"; unfitting {len(log.unfitting)}, 5xx {log.server_errors}; honest p99 "
        f"{p99_quiet:.0f} ms -> {p99_abused:.0f} ms during abuse ({ratio:.2f}x, at most "
        f"{P99_RATIO_MAX}x; {len(quiet)}/{len(abused)} reads, failed {honest_failures})"
    )
    return Outcome(
        figure,
        passed,
        {
            "abuse": {kind: dict(c) for kind, c in log.answers.items()},
            "unfitting": log.unfitting[:30],
            "honest": {
                "quiet": {"reads": len(quiet), "p50_ms": percentile(quiet, 50) * 1000,
                          "p99_ms": p99_quiet},
                "abuse": {"reads": len(abused), "p50_ms": percentile(abused, 50) * 1000,
                          "p99_ms": p99_abused},
                "failures": {w: dict(c) for w, c in failures.items()},
            },
            "p99_ratio": ratio,
        },
    )  # fmt: skip


CHECKS = [
    Check(
        8,
        "Resource limits",
        "oversized, deeply nested, absurd and slow requests get a fitting 4xx, never a 5xx; "
        "honest timeline reads keep their p99 within 1.5x meanwhile",
        run,
    )
]
