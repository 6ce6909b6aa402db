"""Short headless Locust runs against the real local stack. With no fault no request fails and
no oracle finds a violation, live or in the final audit, closed loop and open loop alike, and
the history the run wrote gives the same verdict when checked again. Through a posts outage,
writes answered 202 from the gateway's outbox all show up afterwards, and degraded answers are
no violation. Posts taken away behind the app's back are found missing, and the run fails."""

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from loadtest.history import read_history
from loadtest.oracles import check
from stack.layout import LocalLayout
from stack.local import LocalStack
from tests.integration.loadgen import locust, run_headless

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

KINDS = (
    "lost_writes",
    "duplicate_writes",
    "dm_order_violations",
    "timeline_order_violations",
    "read_your_writes_violations",
    "phantom_writes",
)


def assert_clean(done: Any, report: dict[str, Any]) -> dict[str, Any]:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert report, "no oracle report written"
    oracles: dict[str, Any] = report["oracles"]
    assert {kind: oracles[kind] for kind in KINDS} == dict.fromkeys(KINDS, 0), oracles["examples"]
    assert oracles["violations"] == 0
    assert report["locust"]["failures"] == 0
    assert report["audit_state"] == "done"
    return oracles


def test_a_clean_closed_loop_run_has_no_failure_and_no_violation(
    layout: LocalLayout, tmp_path: Path
) -> None:
    done, report = run_headless(layout.gateway_url, tmp_path, 12, 25, "--think-time", "0.3")
    oracles = assert_clean(done, report)
    writes = oracles["writes"]
    assert writes["ok"] > 10, writes
    assert writes["fail"] == 0  # (unknown: the few cut short when the run stopped)
    assert oracles["audit"] == {"read_back": writes["ok"], "unverified": 0, "outbox_drained": True}
    assert oracles["reads_checked"] > 50
    assert report["locust"]["requests"] > 100
    assert set(report["answers"]) >= {
        "GET /v1/timeline", "POST /v1/posts", "POST /v1/dms/[handle]", "GET /v1/dms/[handle]",
        "GET /v1/users/[handle]/posts", "PUT /v1/follows/[handle]", "GET /v1/trends",
    }  # fmt: skip
    assert sum(report["degraded"].values()) == 0
    assert "verdict: no violation" in done.stdout
    # the history, checked again after the fact (no final reads): the same counts
    again = check(read_history(tmp_path / "history.jsonl"))
    assert again.violations == 0
    assert again.writes == writes


def test_a_clean_open_loop_run_keeps_its_rate_with_no_violation(
    layout: LocalLayout, tmp_path: Path
) -> None:
    done, report = run_headless(layout.gateway_url, tmp_path, 6, 15, "--rate", "20")
    assert_clean(done, report)
    assert report["locust"]["mode"] == "open loop, 20 actions/s"
    assert report["dropped_arrivals"] == 0
    # 20 actions/s for about 15 s (users start within the first second), each a request or two
    assert report["locust"]["requests"] > 20 * 10


def test_writes_queued_through_a_posts_outage_show_up_and_degraded_answers_are_no_violation(
    stack: LocalStack, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    command = locust(
        stack.layout.gateway_url, "--headless", "--users", "10", "--spawn-rate", "10",
        "--run-time", "30s", "--only-summary", "--think-time", "0.3", "--oracle-report",
        str(report), "--audit-timeout", "60",
    )  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(10)
        stack.send_signal("posts", signal.SIGSTOP)
        time.sleep(8)
    finally:
        stack.send_signal("posts", signal.SIGCONT)
        output, _ = process.communicate(timeout=240)
    data = json.loads(report.read_text())
    oracles = data["oracles"]
    assert oracles["violations"] == 0, (oracles["examples"], output[-3000:])
    assert oracles["writes"]["accepted"] > 0, "no write went to the outbox"
    assert data["reasons"].get("posts=outbox", 0) >= oracles["writes"]["accepted"]
    assert oracles["audit"]["outbox_drained"] is True
    assert oracles["audit"]["unverified"] == 0
    assert oracles["audit"]["read_back"] == oracles["writes"]["ok"]


def acknowledged_posts(history: Path) -> list[int]:
    """Post ids the run so far has been given a 201 for (from its history file)."""
    if not history.exists():
        return []
    ids = []
    for line in history.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if event["f"] == "post" and event["type"] == "ok" and event["value"]["status"] == 201:
            ids.append(int(event["value"]["id"]))
    return ids


def test_posts_lost_behind_the_apps_back_are_found_and_fail_the_run(
    layout: LocalLayout, store: redis.Redis, tmp_path: Path
) -> None:
    history, report = tmp_path / "history.jsonl", tmp_path / "report.json"
    command = locust(
        layout.gateway_url, "--headless", "--users", "8", "--spawn-rate", "8", "--run-time",
        "25s", "--only-summary", "--think-time", "0.3", "--history-file", str(history),
        "--oracle-report", str(report),
    )  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lost: list[int] = []
    try:
        deadline = time.monotonic() + 20
        while len(lost) < 3 and time.monotonic() < deadline:
            time.sleep(1)
            for post_id in acknowledged_posts(history)[:3]:
                if post_id in lost:
                    continue
                author_id = json.loads(store.get(f"posts:{post_id}") or "{}").get("author_id")
                store.zrem(f"posts:user:{author_id}", post_id)
                store.delete(f"posts:{post_id}")
                lost.append(post_id)
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(lost) == 3, "the run acknowledged too few posts to take any away"
    assert process.returncode == 1, output[-3000:]
    oracles = json.loads(report.read_text())["oracles"]
    assert oracles["lost_writes"] == 3, oracles["examples"]
    assert all(str(post_id) in " ".join(oracles["examples"]["lost_writes"]) for post_id in lost)
    assert "ORACLE   lost_writes" in output
    assert "verdict: " in output and "VIOLATIONS" in output
