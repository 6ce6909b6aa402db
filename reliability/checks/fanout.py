"""Check 5: fan-out. Every acknowledged post reaches the home timeline of every follower of its
author, once; and how long that takes, from the author's answer to the post's first appearance
on each follower's home timeline, as p50 and p99. All authors but one are heavy accounts (their
posts merged on read); the last has one follower fewer, below the threshold, and is fanned out
on write, so both paths, and pages that mix them, are checked."""

import math
import time

import httpx
import redis

from loadtest.vocabulary import percentile_or_nan as percentile
from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import Member, eventually, follow, sign_up
from reliability.home_watch import HomeWatch, repeated, visibility, whole_home_timeline
from reliability.write_load import Step, WriteLoad, audit, audit_gaps

POLL_S = 0.1
POLLING_NOTE = (
    f"visibility measured by polling each home timeline every {POLL_S} s: the figures include "
    "up to one poll interval and one read"
)
QUIET_S = 30.0  # after the last post, how long every follower may take to see everything


def run(context: SuiteContext) -> Outcome:
    authors_n = context.size(2, 4)
    followers_n = context.size(3, 6)
    write_s = context.size(8, 40)
    pause_s = context.size(1, 3) / 10  # per author: about 10 (quick) or 3 posts a second
    # Heavy from followers_n followers: every author but the last, which misses one follower.
    stack = context.local_stack("fanout", env={"FAILWHALE_HEAVY_FOLLOWERS": str(followers_n)})
    try:
        stack.up(context.progress)
        base = stack.layout.gateway_url
        with httpx.Client(base_url=base, timeout=10) as api:
            authors = [sign_up(api, "author") for _ in range(authors_n)]
            followers = [sign_up(api, "follower") for _ in range(followers_n)]
            follows = {f.handle: authors if n else authors[:-1] for n, f in enumerate(followers)}
            for follower in followers:
                for author in follows[follower.handle]:
                    follow(api, follower, author)
            heavy = _heavy_authors(stack.layout.redis_url, authors)
            watch = HomeWatch(base, followers, POLL_S)
            load = WriteLoad(base, [[Step(a)] for a in authors], pause_s)
            watch.start()
            load.start()
            try:
                context.progress(f"{authors_n} authors posting for {write_s} s")
                time.sleep(write_s)
                load.stop()
                posted = [e for e in load.recorded.events if e.f == "post" and e.type == "ok"]
                acked = {int(e.value["id"]): e.time for e in posted}
                expected = {
                    handle: {
                        int(e.value["id"])
                        for e in posted
                        if e.account in {a.handle for a in followed}
                    }
                    for handle, followed in follows.items()
                }
                context.progress("waiting until every follower has seen every post")
                _, all_seen = eventually(
                    lambda: watch.seen_by_all(list(acked), expected), bool, QUIET_S
                )
            finally:
                load.stop()
                watch.stop()
            finals = {f.handle: whole_home_timeline(api, f) for f in followers}
        report, _ = audit(base, load.recorded, authors)
    finally:
        stack.down()
    seen = visibility(acked, watch.first_seen, expected)
    missing = duplicates = 0
    problems = audit_gaps(report)
    if heavy != authors_n - 1:
        problems.append(f"{heavy} authors were heavy in users, not {authors_n - 1}")
    for handle, ids in finals.items():
        if ids is None:
            problems.append(f"the home timeline of {handle} could not be read back fresh")
            continue
        present = set(ids)
        missing += sum(1 for post_id in expected[handle] if post_id not in present)
        duplicates += repeated(ids)
    if not acked:
        problems.append("no post was acknowledged")
    if not all_seen:
        problems.append(f"not every follower saw every post within {QUIET_S:.0f} s of quiet")
    p50, p99 = percentile(seen.delays_s, 50), percentile(seen.delays_s, 99)
    deliveries = sum(len(ids) for ids in expected.values())
    figure = (
        f"posts missing from followers' timelines {missing} of {deliveries} "
        f"({len(acked)} posts, {followers_n} followers, {heavy} of {authors_n} "
        f"authors heavy), duplicates {duplicates}; "
        f"visibility p50 {_s(p50)}, p99 {_s(p99)}"
    )
    return Outcome(
        figure,
        passed=missing == 0 and duplicates == 0 and report.lost_writes == 0 and not problems,
        measured={
            "posts": len(acked),
            "followers": followers_n,
            "heavy_authors": heavy,
            "deliveries": deliveries,
            "missing": missing,
            "duplicates": duplicates,
            "lost_posts": report.lost_writes,
            "p50_s": _round(p50),
            "p99_s": _round(p99),
            "max_s": _round(max(seen.delays_s, default=math.nan)),
            "poll_s": POLL_S,
            "never_seen_while_watching": seen.missing,
            "timeline_reads": sum(watch.reads.values()),
            "reads_not_fresh": sum(watch.not_fresh.values()),
        },
        notes="; ".join([*problems, POLLING_NOTE]),
    )


def _heavy_authors(redis_url: str, authors: list[Member]) -> int:
    """How many of the authors users counts as heavy (looked up behind the API)."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as store:
        return sum(1 for a in authors if store.sismember("users:heavy", str(a.id)))


def _s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f} s"


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


CHECKS = [
    Check(
        5,
        "fan-out to followers",
        "every acknowledged post reaches every follower's home timeline exactly once; the "
        "delay from acknowledgement to visibility is reported as p50 and p99",
        run,
    )
]
