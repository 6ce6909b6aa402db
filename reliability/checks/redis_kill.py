"""Check 2: Redis SIGKILLed and restarted from its append-only file, once with
`appendfsync always` and once with `everysec`: how many acknowledged writes each policy loses,
measured twice, through Chirp (posts answered 201/202) and directly (numbered SETs)."""

import signal
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import sign_up
from reliability.outages import OutageError, wait_gateway_ready
from reliability.redis_probe import AckedWrites
from reliability.write_load import Step, WriteLoad, audit, audit_gaps
from stack.local import LocalStack

POLICIES = ("always", "everysec")
WRITE_PAUSE_S = 0.05
HOLD_S = 0.5
SETTLE_S = 2.0

NOTES = (
    "A SIGKILL ends the Redis process, not the machine: what Redis handed to the kernel with "
    "write(2) is in the page cache and reaches the file anyway, so `everysec` usually loses "
    "nothing to a kill. It can: with `everysec` Redis answers before it writes when the "
    "previous background fsync is still running (it postpones the write up to 2 s rather "
    "than wait for a slow disk), and a kill in that window loses writes already acknowledged. "
    "An OS crash or power loss loses up to the last second under `everysec`, and nothing "
    "under `always` (fsync before every answer); this check kills processes only."
)


@dataclass
class PolicyResult:
    policy: str
    in_force: str = ""
    kills: int = 0
    raw_acknowledged: int = 0
    raw_lost: int = 0
    posts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def posts_lost(self) -> int:
        return int(self.posts.get("lost", 0))

    def line(self) -> str:
        return (
            f"{self.policy}: lost {self.posts_lost} of {self.posts.get('acknowledged', 0)} "
            f"posts, {self.raw_lost} of {self.raw_acknowledged} SETs ({self.kills} kills)"
        )


def run(context: SuiteContext) -> Outcome:
    kills = context.size(1, 3)
    warm_s = context.size(2, 8)
    writers = context.size(3, 6)
    stack = context.local_stack("redis-kill")
    results: list[PolicyResult] = []
    try:
        stack.up(context.progress)
        for policy in POLICIES:
            context.progress(f"appendfsync {policy}")
            results.append(one_policy(stack, policy, kills, warm_s, writers, context))
    finally:
        stack.down()
    by_policy = {r.policy: r for r in results}
    strict = by_policy["always"]
    problems = [f"{r.policy}: {p}" for r in results for p in r.problems]
    duplicates = sum(int(r.posts.get("duplicates", 0)) for r in results)
    passed = strict.posts_lost == 0 and strict.raw_lost == 0 and duplicates == 0 and not problems
    figure = "acknowledged writes lost, " + "; ".join(r.line() for r in results)
    return Outcome(
        figure,
        passed,
        measured={r.policy: r.__dict__ | {"posts_lost": r.posts_lost} for r in results},
        notes="; ".join([*problems, NOTES]),
    )


def one_policy(
    stack: LocalStack, policy: str, kills: int, warm_s: int, writers: int, context: SuiteContext
) -> PolicyResult:
    result = PolicyResult(policy)
    result.in_force = switch_policy(stack, policy)
    if result.in_force != policy:
        result.problems.append(f"Redis runs with appendfsync {result.in_force!r}")
    base = stack.layout.gateway_url
    with httpx.Client(base_url=base, timeout=10) as api:
        members = [sign_up(api, f"aof{policy[:3]}") for _ in range(writers)]
    load = WriteLoad(base, [[Step(m)] for m in members], WRITE_PAUSE_S)
    load.start()
    try:
        for number in range(1, kills + 1):
            probe = AckedWrites(stack.layout.redis_url, f"reliability:{policy}:{number}")
            probe.start()
            time.sleep(warm_s)
            context.progress(f"appendfsync {policy}: kill {number} of {kills}")
            kill_redis(stack)
            probe.stop()
            result.kills += 1
            result.raw_acknowledged += probe.acknowledged
            result.raw_lost += probe.missing(stack.layout.redis_url)
            if not wait_gateway_ready(stack):
                result.problems.append("the gateway was not ready again after the restart")
        time.sleep(SETTLE_S)
    finally:
        load.stop()
    report, _ = audit(base, load.recorded, members)
    result.posts = {
        "acknowledged": report.writes.get("ok", 0),
        "accepted": report.writes.get("accepted", 0),
        "unknown": report.writes.get("unknown", 0),
        "lost": report.lost_writes,
        "duplicates": report.duplicate_writes,
        "examples": report.examples,
    }
    result.problems += audit_gaps(report)
    return result


def switch_policy(stack: LocalStack, policy: str) -> str:
    """Restarts Redis cleanly (SIGTERM: it flushes everything) under `policy`; returns the
    policy Redis reports it runs with."""
    stack.redis_appendfsync = policy
    stack.restart("redis")
    if not wait_gateway_ready(stack):
        raise OutageError(f"the gateway was not ready after Redis restarted with {policy}")
    return config_value(stack, "appendfsync")


def kill_redis(stack: LocalStack) -> None:
    stack.send_signal("redis", signal.SIGKILL)
    time.sleep(HOLD_S)
    stack.restart("redis")
    if config_value(stack, "appendonly") != "yes":
        raise OutageError("Redis came back without its append-only file")


def config_value(stack: LocalStack, name: str) -> str:
    client = redis.Redis.from_url(stack.layout.redis_url, socket_timeout=5, decode_responses=True)
    try:
        value: dict[str, str] = client.config_get(name)  # type: ignore[assignment]
        return value.get(name, "")
    finally:
        client.close()


CHECKS = [
    Check(
        2,
        "Redis killed, append-only file",
        "Redis SIGKILLed under writes and restarted from its AOF: with appendfsync always no "
        "acknowledged write is lost; with everysec the loss is measured and reported",
        run,
    )
]
