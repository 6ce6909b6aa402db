"""The end of a run, for people and for tools: a text summary (requests, degraded answers per
endpoint, the open loop's schedule kept or not, the oracles' counts and verdict) and the same as
JSON (`open_loop`: the schedule's figures; `generator_behind`: the finding, or null)."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest import schedule
from loadtest.vocabulary import MAX_STALENESS, VIOLATION_KINDS

if TYPE_CHECKING:
    from locust.env import Environment

NOT_API = ("ORACLE", "OPEN_LOOP")  # Locust entries that are not requests to Chirp


def totals(environment: "Environment") -> dict[str, Any]:
    runner = environment.runner
    assert runner is not None
    stats = runner.stats
    api = [e for e in stats.entries.values() if e.method not in NOT_API]
    requests = sum(e.num_requests for e in api)
    failures = sum(e.num_failures for e in api)
    total = stats.total
    duration = max(0.0, (total.last_request_timestamp or total.start_time) - total.start_time)
    options = environment.parsed_options
    rate = float(getattr(options, "rate", 0) or 0)
    return {
        "requests": requests,
        "failures": failures,
        "duration_s": round(duration, 1),
        "rps": round(requests / duration, 1) if duration > 0 else 0.0,
        "users": getattr(options, "num_users", None),
        "mode": f"open loop, {rate:g} actions/s" if rate > 0 else "closed loop",
        "host": environment.host,
    }


def write_report(path: Path, environment: "Environment", snapshot: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"locust": totals(environment)} | snapshot | open_loop(snapshot)
    path.write_text(json.dumps(report, indent=2) + "\n")


def render(environment: "Environment", snapshot: dict[str, Any]) -> str:
    t = totals(environment)
    answers: dict[str, int] = snapshot["answers"]
    degraded: dict[str, int] = snapshot["degraded"]
    oracles: dict[str, Any] = snapshot["oracles"]
    all_answers = sum(answers.values())
    all_degraded = sum(degraded.values())
    lines = [
        "",
        "Chirp load summary",
        f"  {t['mode']}, {t['users']} users, {t['duration_s']} s against {t['host']}",
        f"  {t['requests']} requests, {t['rps']} req/s, {t['failures']} failed",
        f"  degraded answers: {all_degraded} of {all_answers} ({_pct(all_degraded, all_answers)})",
    ]
    for endpoint in sorted(answers):
        if degraded.get(endpoint):
            lines.append(f"    {endpoint:<34} {degraded[endpoint]:>6} of {answers[endpoint]:>7}")
    for reason, count in sorted(snapshot["reasons"].items()):
        lines.append(f"    reason {reason:<27} {count:>6}")
    if snapshot["dropped_arrivals"]:
        lines.append(f"  open loop: {snapshot['dropped_arrivals']} arrivals dropped")
    lines += [f"  {item}: {value} ({detail})" for item, value, detail in open_loop_rows(snapshot)]
    writes = oracles.get("writes", {})
    audit = oracles.get("audit", {})
    lines += [
        f"  writes: {writes.get('invoked', 0)} sent, {writes.get('ok', 0)} acknowledged "
        f"({writes.get('accepted', 0)} queued in an outbox), {writes.get('fail', 0)} failed, "
        f"{writes.get('unknown', 0)} unknown",
        f"  final audit: {snapshot['audit_state']}, {audit.get('read_back', 0)} acknowledged "
        f"writes checked against the read-back, {audit.get('unverified', 0)} unverified"
        + ("" if audit.get("outbox_drained", True) else " (outboxes not drained)"),
        *worker_lines(snapshot),
        "  oracles:",
    ]
    for kind in VIOLATION_KINDS:
        lines.append(f"    {kind:<30} {oracles.get(kind, 0):>6}")
    visibility = oracles.get("visibility", {})
    lines += [
        f"    {MAX_STALENESS:<30} {oracles.get(MAX_STALENESS, 0.0):>6.2f}"
        f"  ({oracles.get('stale_reads', 0)} stale reads; a measure, not a violation)",
        f"    {'home timeline visibility':<30} p50 {visibility.get('p50_s', 0.0):.2f} s, "
        f"max {visibility.get('max_s', 0.0):.2f} s over {visibility.get('posts', 0)} posts",
        f"    {'reads checked':<30} {oracles.get('reads_checked', 0):>6}",
    ]
    for kind, examples in oracles.get("examples", {}).items():
        for example in examples:
            lines.append(f"    e.g. {kind}: {example}")
    violations = oracles.get("violations", 0)
    verdict = "no violation" if not violations else f"{violations} VIOLATIONS"
    if snapshot.get("audit_missing"):
        verdict += f", and NO FINAL AUDIT from {', '.join(snapshot['audit_missing'])}"
    behind = open_loop(snapshot)["generator_behind"]
    if behind is not None:
        verdict += f"; generator_behind ({behind['severity']}): the load offered was not the rate"
    lines.append(f"  verdict: {verdict}")
    return "\n".join(lines)


def open_loop(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The open loop's figures and its `generator_behind` finding (both null in closed loop)."""
    ledger = snapshot.get("generator")
    if not ledger:
        return {"open_loop": None, "generator_behind": None}
    shown = schedule.figures(ledger)
    return {"open_loop": shown, "generator_behind": schedule.finding(shown)}


def open_loop_rows(snapshot: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(item, value, detail) of the open loop for the summary and the Resilience tab: rate
    offered, late arrivals, latency from the start and from the due time, the finding."""
    found = open_loop(snapshot)
    shown, behind = found["open_loop"], found["generator_behind"]
    if shown is None:
        return []
    offered = shown["offered_rate"]
    lateness, plain, corrected = shown["lateness"], shown["latency"], shown["corrected_latency"]
    rows = [
        ("offered", "ramping" if offered is None else f"{offered:g}/s",
         f"of {shown['rate']:g} actions/s once every user had spawned; "
         f"{shown['withheld']} withheld for a Retry-After, {shown['dropped']} dropped"),
        ("late arrivals", f"{shown['late']} of {shown['arrivals']}",
         f"over {shown['late_tolerance_ms']} ms late; lateness p50 {_ms(lateness['p50_ms'])}, "
         f"p99 {_ms(lateness['p99_ms'])}, max {_ms(lateness['max_ms'])}"),
        ("action latency", f"p99 {_ms(plain['p99_ms'])}",
         f"from each action's start: p50 {_ms(plain['p50_ms'])}, max {_ms(plain['max_ms'])}"),
        ("corrected latency", f"p99 {_ms(corrected['p99_ms'])}",
         f"from each action's due time: p50 {_ms(corrected['p50_ms'])}, "
         f"max {_ms(corrected['max_ms'])}"),
    ]  # fmt: skip
    if behind is not None:
        rows.append(("generator_behind", behind["severity"].upper(), "; ".join(behind["reasons"])))
    return rows


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def worker_lines(snapshot: dict[str, Any]) -> list[str]:
    """A distributed run: each worker's share, and whose audit is missing."""
    workers: list[dict[str, Any]] = snapshot.get("workers", [])
    if not workers:
        return []
    audited = sum(w["audit_state"] == "done" for w in workers)
    lines = [f"  workers: {len(workers)}, final audit from {audited} of {len(workers)}"]
    missing = set(snapshot.get("audit_missing", []))
    for w in workers:
        state = "MISSING" if w["name"] in missing else w["audit_state"]
        lines.append(
            f"    {w['name']:<36} audit {state:<8} {w['answers']:>6} answers, "
            f"{w['writes_ok']} writes acknowledged, {w['read_back']} read back, "
            f"{w['unverified']} unverified, {w['violations']} violations"
        )
    return lines


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0.0%"
