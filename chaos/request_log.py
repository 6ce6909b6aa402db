"""A Locust plugin (loaded beside the locustfile: `-f loadtest/locustfile.py,chaos/request_log.py`)
that records every request of the load: when it was sent, its name, its latency and how it
ended, for the chaos verdict's exact per-phase figures. A single process writes them to
`--request-log`; in a distributed run the workers send theirs to the master with their
periodic reports, and the master serves them at `/failwhale/requests?after=N`.

`error` is what a user would call broken (a failed request: 5xx, timeout, refused); `degraded`
is an answer with `X-Degraded`; `shed` an answer the gateway shed (503 /overloaded), refused
quickly by design, not an error. Entries that are not requests (oracle violations, dropped
open-loop arrivals) are left out."""

import json
import time
from typing import Any, TextIO

from flask import jsonify, request
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadtest.shed import SHED

NOT_REQUESTS = {"ORACLE", "OPEN_LOOP"}
REPORT_KEY = "failwhale_requests"
_out: list[TextIO] = []
_to_master: list[dict[str, Any]] = []  # a worker's records since its last report
_collected: list[dict[str, Any]] = []  # the master's records of the current run
_role: dict[str, bool] = {"worker": False}


@events.init.add_listener
def _init(environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    _role["worker"] = isinstance(runner, WorkerRunner)
    if isinstance(runner, MasterRunner) and web_ui is not None:

        @web_ui.app.route("/failwhale/requests")
        def requests_since() -> Any:
            after = max(0, int(request.args.get("after", "0") or 0))
            return jsonify({"next": len(_collected), "records": _collected[after:]})


@events.report_to_master.add_listener
def _ship(client_id: str, data: dict[str, Any]) -> None:
    data[REPORT_KEY] = _to_master[:]
    _to_master.clear()


@events.worker_report.add_listener
def _gather(client_id: str, data: dict[str, Any]) -> None:
    _collected.extend(data.get(REPORT_KEY, []))


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--request-log", type=str, default="", help="JSON lines, one per request (chaos runs)"
    )


@events.test_start.add_listener
def _open(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        _collected.clear()  # a new run
    path = getattr(environment.parsed_options, "request_log", "")
    if path and not _out:
        _out.append(open(path, "a", buffering=1))  # noqa: SIM115 - open for the whole run


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    exception: BaseException | None = None,
    response: Any = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    if request_type in NOT_REQUESTS or not (_out or _role["worker"]):
        return
    degraded = bool(response is not None and _header(response, "x-degraded"))
    shed = exception is not None and str(exception).startswith(SHED)
    outcome = "shed" if shed else "error" if exception else "degraded" if degraded else "ok"
    sent = start_time if start_time else time.time() - response_time / 1000
    line = {"t": round(sent, 4), "name": f"{request_type} {name}",
            "latency_ms": round(response_time, 2), "outcome": outcome}  # fmt: skip
    if _role["worker"]:
        _to_master.append(line)
    if _out:
        _out[0].write(json.dumps(line) + "\n")


@events.test_stop.add_listener
def _close(**_: Any) -> None:
    while _out:
        _out.pop().close()


def _header(response: Any, name: str) -> str:
    headers = getattr(response, "headers", None)
    if headers is None:
        return ""
    try:
        return str(headers.get(name) or "")
    except Exception:  # an odd response object must not break the load
        return ""
