"""A Locust plugin (loaded beside the locustfile: `-f loadtest/locustfile.py,chaos/request_log.py`)
that writes one JSON line per request of the load to `--request-log`: when it was sent, its
name, its latency and how it ended, for the chaos verdict's exact per-phase figures.

`error` is what a user would call broken (a failed request: 5xx, timeout, refused); `degraded`
is an answer with `X-Degraded`. Entries that are not requests (oracle violations, dropped
open-loop arrivals) are left out."""

import json
import time
from typing import Any, TextIO

from locust import events

NOT_REQUESTS = {"ORACLE", "OPEN_LOOP"}
_out: list[TextIO] = []


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--request-log", type=str, default="", help="JSON lines, one per request (chaos runs)"
    )


@events.test_start.add_listener
def _open(environment: Any, **_: Any) -> None:
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
    if not _out or request_type in NOT_REQUESTS:
        return
    degraded = bool(response is not None and _header(response, "x-degraded"))
    outcome = "error" if exception is not None else "degraded" if degraded else "ok"
    sent = start_time if start_time else time.time() - response_time / 1000
    line = {"t": round(sent, 4), "name": f"{request_type} {name}",
            "latency_ms": round(response_time, 2), "outcome": outcome}  # fmt: skip
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
