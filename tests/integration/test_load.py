"""Short headless Locust runs against the real local stack, with no fault: no request fails and
no oracle finds a violation, live or in the final audit, closed loop and open loop alike; the
history the run wrote gives the same verdict when checked again."""

from pathlib import Path
from typing import Any

import pytest

from failwhale.layout import LocalLayout
from loadtest.history import read_history
from loadtest.oracles import check
from tests.integration.loadgen import run_headless

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
