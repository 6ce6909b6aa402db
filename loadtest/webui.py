"""The Resilience tab of the Locust web UI, built with Locust's own extension hooks: a tab and
its table in the page's template arguments, and rows added to the `/stats/requests` answer that
the UI polls every two seconds while a run goes on. It shows each dependency's breaker as the
gateway's `/v1/status` reports it, the outbox depths, the share of degraded answers (overall,
lately and per endpoint) and the oracles' counts as they come in; in a distributed run, the
workers' counts added up and a row per worker with its share and its final audit.

`/resilience` answers the same rows as JSON, `/resilience/csv` as CSV.
"""

import csv
import io
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from flask import Response, jsonify, make_response, request

from loadtest import console
from loadtest.scoreboard import RecentRate
from loadtest.summary import open_loop_rows
from loadtest.tally import KINDS

if TYPE_CHECKING:
    from locust.env import Environment

TAB = "resilience"
COLUMNS = (("what", "What"), ("item", "Item"), ("value", "Now"), ("detail", "Detail"))
STATUS_TTL_S = 1.0
STATUS_TIMEOUT_S = 0.5
Row = dict[str, str]


class GatewayStatus:
    """The gateway's `/v1/status`, fetched at most once a second, and since when each breaker
    has been in its state."""

    def __init__(self, base_url: Callable[[], str | None], clock: Callable[[], float]) -> None:
        self.base_url = base_url
        self.clock = clock
        self.latest: dict[str, Any] | None = None
        self.error: str | None = None
        self.since: dict[str, tuple[str, float]] = {}
        self._fetched = -STATUS_TTL_S
        # one client for every fetch: a new one per fetch builds an SSL context each time, which
        # was most of the master's CPU under load (the console samples once a second)
        self._http: httpx.Client | None = None

    def get(self) -> dict[str, Any] | None:
        now = self.clock()
        if now - self._fetched < STATUS_TTL_S:
            return self.latest
        self._fetched = now
        url = (self.base_url() or "").rstrip("/") + "/v1/status"
        try:
            if self._http is None:
                self._http = httpx.Client(timeout=STATUS_TIMEOUT_S)
            answer = self._http.get(url)
            answer.raise_for_status()
            self.latest, self.error = answer.json(), None
        except (httpx.HTTPError, ValueError) as exc:
            self.latest, self.error = None, f"{url}: {type(exc).__name__}"
            return None
        assert self.latest is not None
        for dependency in self.latest.get("dependencies", []):
            name, state = str(dependency["name"]), str(dependency["breaker"])
            if self.since.get(name, ("", 0.0))[0] != state:
                self.since[name] = (state, now)
        return self.latest


def rows(
    snapshot: dict[str, Any],
    status: dict[str, Any] | None,
    status_error: str | None,
    since: dict[str, tuple[str, float]],
    recent: float | None,
    now: float,
) -> list[Row]:
    """The tab's table: breakers and outboxes, the degraded share of all answers, the oracles,
    then degraded answers per endpoint and per reason."""
    table: list[Row] = []
    if status is None:
        table.append(_row("gateway", "status", "unreachable", status_error or ""))
    else:
        window = f"error rates over the last {status.get('window_s', 0):g} s"
        table.append(_row("gateway", "resilience", str(status.get("resilience", "?")), window))
        for dep in status.get("dependencies", []):
            state = str(dep["breaker"])
            held = now - since.get(str(dep["name"]), (state, now))[1]
            calls = int(dep["calls"])
            errors = f"{100 * float(dep['error_rate']):.1f}% errors of {calls} calls"
            detail = f"for {held:.0f} s; " + (errors if calls else "no calls counted")
            if dep["degraded"]:
                detail += "; answered by a fallback"
            value = state.upper() if state in ("open", "half-open") else state
            table.append(_row("breaker", str(dep["name"]), value, detail))
        for outbox, depth in sorted((status.get("outbox_depth") or {}).items()):
            shown = "?" if depth is None else str(depth)
            table.append(_row("outbox", outbox, shown, "writes waiting for delivery"))
    answers: dict[str, int] = snapshot["answers"]
    degraded: dict[str, int] = snapshot["degraded"]
    total, total_degraded = sum(answers.values()), sum(degraded.values())
    lately = "-" if recent is None else f"{100 * recent:.1f}%"
    table.append(_row("degraded", "all answers", _pct(total_degraded, total),
                      f"{total_degraded} of {total}; last 10 s: {lately}"))  # fmt: skip
    oracles: dict[str, Any] = snapshot["oracles"]
    examples: dict[str, list[str]] = oracles.get("examples", {})
    for kind in KINDS:
        table.append(_row("oracle", kind, str(oracles.get(kind, 0)),
                          (examples.get(kind) or [""])[0]))  # fmt: skip
    table.append(_row("oracle", "max_staleness_s", f"{oracles.get('max_staleness_s', 0):.2f}",
                      f"{oracles.get('stale_reads', 0)} stale reads of "
                      f"{oracles.get('reads_checked', 0)} checked"))  # fmt: skip
    audit = oracles.get("audit", {})
    table.append(_row("oracle", "final audit", str(snapshot["audit_state"]),
                      f"{audit.get('read_back', 0)} acknowledged writes checked, "
                      f"{audit.get('unverified', 0)} unverified"))  # fmt: skip
    table += worker_rows(snapshot)
    for endpoint in sorted(answers):
        count = degraded.get(endpoint, 0)
        table.append(_row("degraded", endpoint, _pct(count, answers[endpoint]),
                          f"{count} of {answers[endpoint]}"))  # fmt: skip
    for reason, count in sorted(snapshot["reasons"].items()):
        table.append(_row("degraded", f"reason {reason}", str(count), "answers"))
    if snapshot["dropped_arrivals"]:
        table.append(_row("open loop", "dropped arrivals", str(snapshot["dropped_arrivals"]),
                          "too many actions in flight"))  # fmt: skip
    table += [_row("open loop", *row) for row in open_loop_rows(snapshot)]
    return table


def worker_rows(snapshot: dict[str, Any]) -> list[Row]:
    """A distributed run: each worker's share of the counts above, and its audit."""
    table: list[Row] = []
    missing = set(snapshot.get("audit_missing", []))
    for worker in snapshot.get("workers", []):
        name, state = str(worker["name"]), str(worker["audit_state"])
        detail = (
            f"{worker['answers']} answers, {worker['writes_ok']} writes acknowledged, "
            f"{worker['read_back']} read back, {worker['violations']} violations"
        )
        if name in missing:
            state, detail = "NO AUDIT", f"its writes were not read back (audit {state}); {detail}"
        table.append(_row("worker", name, state, detail))
    return table


def install(environment: "Environment", snapshot: Callable[[], dict[str, Any]]) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    web_ui.template_args["extended_tabs"] = [{"title": "Resilience", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./resilience/csv", "title": "Download resilience CSV"}
    ]
    status = GatewayStatus(lambda: environment.host, time.monotonic)
    recent = RecentRate()

    def table(snap: dict[str, Any] | None = None) -> list[Row]:
        snap = snapshot() if snap is None else snap
        gateway = status.get()
        now = time.monotonic()
        lately = recent.update(now, sum(snap["answers"].values()), sum(snap["degraded"].values()))
        return rows(snap, gateway, status.error, status.since, lately, now)

    @web_ui.app.after_request
    def add_resilience(response: Response) -> Response:
        if not request.path.endswith("/stats/requests"):
            return response
        data = response.get_json(silent=True)
        if isinstance(data, dict):
            data["extended_stats"] = [{"key": TAB, "data": in_order(table())}]
            response.set_data(json.dumps(data))
        return response

    @web_ui.app.route("/resilience")
    @web_ui.auth_required_if_enabled
    def resilience() -> Response:
        snap = snapshot()  # the rows and the snapshot shown beside them are one moment's
        return jsonify({"rows": table(snap), "snapshot": snap, "status": status.latest})

    @web_ui.app.route("/resilience/csv")
    @web_ui.auth_required_if_enabled
    def resilience_csv() -> Response:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[key for key, _ in COLUMNS])
        writer.writeheader()
        writer.writerows(table())
        answer = make_response(out.getvalue())
        answer.headers["Content-Type"] = "text/csv"
        answer.headers["Content-Disposition"] = "attachment;filename=resilience.csv"
        return answer

    console.install(environment, snapshot, status.get)  # the Chaos tab, its charts and agent


def _row(what: str, item: str, value: str, detail: str) -> Row:
    return {"what": what, "item": item, "value": value, "detail": detail}


def in_order(table: list[Row]) -> list[Row]:
    """The UI sorts a table by its rows' `name` unless a column head is clicked: a hidden
    `name` keeps breakers, outboxes, degraded answers and oracles in the order given."""
    return [row | {"name": f"{i:04d}"} for i, row in enumerate(table)]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0.0%"
