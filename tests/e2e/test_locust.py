"""Locust in the compose stack: the master's web UI answers with the Resilience tab, a worker is
connected, and a short run started through the UI's own endpoints loads the gateway, shows its
breakers, and ends with a clean final audit reported by the worker."""

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
T = TypeVar("T")


def eventually(probe: Callable[[], T], until: Callable[[T], bool], timeout_s: float = 120) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {timeout_s} s: {result!r}")
        time.sleep(1)


def test_locust_in_the_stack_runs_a_clean_load_with_the_resilience_tab(locust_url: str) -> None:
    with httpx.Client(base_url=locust_url, timeout=10) as ui:
        page = ui.get("/")
        assert page.status_code == 200
        assert (
            '"extended_tabs": [{"key": "resilience", "title": "Resilience"}, '
            '{"key": "chaos", "title": "Chaos"}]'
        ) in page.text
        assert '"host": "http://gateway:8000"' in page.text
        eventually(lambda: ui.get("/worker-count").json()["worker_count"], lambda n: n >= 1)

        def resilience() -> dict[str, Any]:
            body: dict[str, Any] = ui.get("/resilience").json()
            return body

        started = ui.post("/swarm", data={"user_count": 4, "spawn_rate": 4, "run_time": "5m"})
        assert started.json()["success"], started.text
        running = eventually(resilience, lambda r: sum(r["snapshot"]["answers"].values()) >= 40)
        rows = running["rows"]
        breakers = {row["item"]: row["value"] for row in rows if row["what"] == "breaker"}
        assert breakers == dict.fromkeys(
            (
                "users",
                "users-logins",
                "posts",
                "timeline-1",
                "timeline-2",
                "dms",
                "trends",
                "redis",
            ),
            "closed",
        )
        assert running["status"]["resilience"] == "on"

        assert ui.post("/stop").json()["success"]
        audited = eventually(resilience, lambda r: r["snapshot"]["audit_state"] == "done")
        oracles = audited["snapshot"]["oracles"]
        assert oracles["violations"] == 0, oracles["examples"]
        assert oracles["audit"]["read_back"] == oracles["writes"]["ok"] > 0
        stats = ui.get("/stats/requests").json()
        api = [s for s in stats["stats"] if s["method"] not in (None, "ORACLE", "OPEN_LOOP")]
        assert sum(s["num_requests"] for s in api) >= 40
        assert sum(s["num_failures"] for s in api) == 0
