"""Check 1: the posts service SIGKILLed again and again under a load of posts loses no
acknowledged post and duplicates none, once the gateway's outbox has drained."""

import time

import httpx

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import sign_up
from reliability.outages import repeated_outages, wait_gateway_ready
from reliability.write_load import Step, WriteLoad, audit, audit_gaps, write_counts

WRITE_PAUSE_S = 0.05
SETTLE_S = 2.0  # writes after the last restart, so that posts served again are part of the run


def run(context: SuiteContext) -> Outcome:
    writers = context.size(3, 6)
    kills = context.size(2, 5)
    every_s = context.size(4, 20)
    hold_s = 1.0
    stack = context.local_stack("posts-kill")
    try:
        stack.up(context.progress)
        base = stack.layout.gateway_url
        with httpx.Client(base_url=base, timeout=10) as api:
            members = [sign_up(api, "poster") for _ in range(writers)]
        load = WriteLoad(base, [[Step(m)] for m in members], WRITE_PAUSE_S)
        load.start()
        try:
            outages = repeated_outages(stack, "posts", kills, every_s, hold_s, context.progress)
            context.progress(f"writing {SETTLE_S:.0f} s more")
            time.sleep(SETTLE_S)
        finally:
            load.stop()
        wait_gateway_ready(stack)
        context.progress("draining the outbox and reading every post back")
        report, _ = audit(base, load.recorded, members)
    finally:
        stack.down()
    lost, duplicates = report.lost_writes, report.duplicate_writes
    acknowledged = report.writes.get("ok", 0)
    accepted = report.writes.get("accepted", 0)
    problems = audit_gaps(report)
    if accepted == 0:
        problems.append("no post was answered 202: the kills never reached a writer")
    if report.phantom_writes:
        problems.append(f"{report.phantom_writes} posts refused yet stored")
    figure = (
        f"acknowledged posts lost {lost} of {acknowledged} ({len(outages)} kills), "
        f"duplicates {duplicates}; {accepted} answered 202 from the outbox"
    )
    notes = "; ".join(problems + [f"{k}: {v}" for k, v in report.examples.items()])
    return Outcome(
        figure,
        passed=lost == 0 and duplicates == 0 and not problems,
        measured={
            "kills": len(outages),
            "down_s": [round(o.down_s, 2) for o in outages],
            "writes": report.writes,
            "lost": lost,
            "duplicates": duplicates,
            "phantoms": report.phantom_writes,
            "audit": report.audit,
            "summary": write_counts(report),
        },
        notes=notes,
    )


CHECKS = [
    Check(
        1,
        "posts service killed under load",
        "posts SIGKILLed every 20 s under a load of keyed posts: no acknowledged post (201, "
        "or 202 from the outbox) is lost and none is duplicated once the outbox has drained",
        run,
    )
]
