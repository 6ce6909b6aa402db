"""Check 4: DMs sent while the dms service is SIGKILLed and restarted (the gateway queues them
per conversation in its outbox): once it is quiet, every conversation reads back with no
inversion, no duplicate, no gap, and no acknowledged message lost."""

import time

import httpx

from loadtest.readback import pair
from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import sign_up
from reliability.conversation_order import OrderAnomalies, anomalies
from reliability.outages import repeated_outages, wait_gateway_ready
from reliability.write_load import Step, WriteLoad, audit, audit_gaps, write_counts

WRITE_PAUSE_S = 0.05
SETTLE_S = 2.0


def run(context: SuiteContext) -> Outcome:
    conversations = context.size(3, 6)
    kills = context.size(2, 5)
    every_s = context.size(4, 15)
    hold_s = context.size(1, 3)
    stack = context.local_stack("dms-kill")
    try:
        stack.up(context.progress)
        base = stack.layout.gateway_url
        with httpx.Client(base_url=base, timeout=10) as api:
            pairs = [(sign_up(api, "dmer"), sign_up(api, "dmer")) for _ in range(conversations)]
        # Both participants write, in turn, from one lane: real-time order is the lane's order.
        lanes = [[Step(a, b), Step(b, a)] for a, b in pairs]
        load = WriteLoad(base, lanes, WRITE_PAUSE_S)
        load.start()
        try:
            outages = repeated_outages(stack, "dms", kills, every_s, hold_s, context.progress)
            time.sleep(SETTLE_S)
        finally:
            load.stop()
        wait_gateway_ready(stack)
        context.progress("draining the DM outbox and reading every conversation back")
        members = [m for p in pairs for m in p]
        report, final = audit(base, load.recorded, members)
    finally:
        stack.down()
    total = OrderAnomalies()
    worst: dict[str, OrderAnomalies] = {}
    for (a, b), log in zip(pairs, load.logs, strict=True):
        found = anomalies(final.conversations.get(pair(a.handle, b.handle), []), log.acknowledged)
        total += found
        if found != OrderAnomalies():
            worst[f"{a.handle}/{b.handle}"] = found
    accepted = report.writes.get("accepted", 0)
    problems = audit_gaps(report)
    if accepted == 0:
        problems.append("no DM was answered 202: the kills never reached a writer")
    if report.dm_order_violations and total == OrderAnomalies():
        seen = report.dm_order_violations
        problems.append(f"the load test's oracles saw {seen} order violations")
    lost = report.lost_writes
    figure = (
        f"inversions/duplicates/gaps {total.inversions}/{total.duplicates}/{total.gaps} over "
        f"{conversations} conversations, acknowledged DMs lost {lost} of "
        f"{report.writes.get('ok', 0)} ({accepted} answered 202, {len(outages)} kills)"
    )
    return Outcome(
        figure,
        passed=total == OrderAnomalies() and lost == 0 and not problems,
        measured={
            "kills": len(outages),
            "down_s": [round(o.down_s, 2) for o in outages],
            "inversions": total.inversions,
            "duplicates": total.duplicates,
            "gaps": total.gaps,
            "lost": lost,
            "oracle_order_violations": report.dm_order_violations,
            "oracle_duplicates": report.duplicate_writes,
            "writes": report.writes,
            "audit": report.audit,
            "anomalous_conversations": {k: v.__dict__ for k, v in worst.items()},
            "summary": write_counts(report),
        },
        notes="; ".join(problems + [f"{k}: {v}" for k, v in report.examples.items()]),
    )


CHECKS = [
    Check(
        4,
        "DMs across dms kills",
        "DMs sent while dms is SIGKILLed and restarted: after quiet, no conversation has an "
        "inversion, a duplicate or a gap, and no acknowledged DM is lost",
        run,
    )
]
