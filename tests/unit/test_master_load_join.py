"""A chaos run never stops a load it did not start: against a Locust master that is running a
load (started from its web UI), a run refuses with the reason and `--join` named, and posts
nothing to the master; asked to join, it acts on that load without stopping or restarting it,
and counts the oracles' findings since it joined."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chaos.load_master import LoadBusy, MasterLoad, since_join
from chaos.runner import ChaosRun, SetupError
from chaos.scenario import Load, load_scenario

CATALOGUE = Path(__file__).resolve().parents[2] / "chaos" / "scenarios"


class Master:
    """A stand-in for the master's web API: its state, the records and snapshot endpoints, and
    every POST it received."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.posts: list[str] = []
        self.violations = 3
        master = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body: Any = {}
                if path == "/stats/requests":
                    body = {"state": master.state}
                elif path == "/failwhale/requests":
                    body = {"records": [], "next": 7}
                elif path == "/resilience":
                    oracles = {"violations": master.violations, "max_staleness_s": 2.5}
                    body = {"snapshot": {"oracles": oracles, "audit_state": "running"}}
                self._answer(json.dumps(body).encode())

            def do_POST(self) -> None:
                master.posts.append(self.path)
                self._answer(b'{"success": true}')

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def running() -> Iterator[Master]:
    master = Master("running")
    yield master
    master.close()


LOAD = Load(users=2, duration_s=0.2)


def test_a_run_refuses_a_load_it_did_not_start_and_stops_nothing(
    running: Master, tmp_path: Path
) -> None:
    load = MasterLoad(running.url, LOAD, tmp_path)
    with pytest.raises(LoadBusy, match=r"is running a load started elsewhere.*--join"):
        load.start()
    load.stop()  # as the runner's `finally` does
    assert running.posts == []


def test_a_joined_load_is_neither_stopped_nor_restarted_and_counts_since_the_join(
    running: Master, tmp_path: Path
) -> None:
    load = MasterLoad(running.url, LOAD, tmp_path, join=True)
    load.start()
    assert load.joined
    running.violations = 5  # two found while the run acted on the load
    assert load.wait() == 1  # no final audit
    load.stop()
    assert running.posts == []
    saved = json.loads((tmp_path / "oracles.json").read_text())
    assert saved["joined"] and saved["oracles"]["violations"] == 2
    assert saved["oracles"]["max_staleness_s"] == 2.5


def test_with_no_load_running_a_join_brings_the_scenarios_own(tmp_path: Path) -> None:
    master = Master("ready")
    try:
        load = MasterLoad(master.url, LOAD, tmp_path, join=True)
        load.start()
        assert not load.joined
        load.stop()
        assert master.posts == ["/stop", "/swarm", "/stop"]
    finally:
        master.close()


def test_counts_since_the_join_keep_maxima_and_what_is_not_a_count() -> None:
    at_join = {"violations": 1, "max_staleness_s": 9.0, "audit": {"state": "x"}}
    final = {"violations": 4, "max_staleness_s": 3.0, "audit": {"state": "y"}, "lost_writes": 2}
    assert since_join(at_join, final) == {
        "violations": 3,
        "max_staleness_s": 3.0,
        "audit": {"state": "y"},
        "lost_writes": 2,
    }


class Engine:
    """A backend whose stack runs its own Locust master: all the preflight asks first."""

    name = "some-engine"
    gateway_url = "http://127.0.0.1:9"

    def __init__(self, locust: str) -> None:
        self.locust = locust

    def stack_locust_url(self) -> str:
        return self.locust


def test_a_terminal_run_refuses_before_touching_anything_unless_it_joins(
    running: Master, tmp_path: Path
) -> None:
    scenario = load_scenario(CATALOGUE / "timeline-outage.yaml")
    refused = ChaosRun(scenario, Engine(running.url), "on", tmp_path)  # type: ignore[arg-type]
    with pytest.raises(SetupError, match="--join"):
        refused.preflight()
    joining = ChaosRun(scenario, Engine(running.url), "on", tmp_path, join=True)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):  # past the load check, on to the faults' checks
        joining.preflight()
    assert running.posts == []
