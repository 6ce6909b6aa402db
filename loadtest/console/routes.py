"""The console's routes on the Locust master's web app: the page (`/chaos`) and its files, the
live series, the chaos agent's API behind the master (`/chaos/api/agent/<path>`, token added),
the agent's report files (`/chaos/reports/<name>/<path>`), and a "Chaos" tab in Locust's own UI
whose panel shows the page in a frame (a small script added to Locust's index page)."""

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_from_directory

from loadtest.console.agent_proxy import WRITES, AgentProxy, Answer, WriteRules, problem
from loadtest.console.series import Sampler

STATIC = Path(__file__).resolve().parent / "static"
TAB = "chaos"
TAB_SCRIPT = b'<script src="./chaos/static/tab.js" defer></script>'
NO_AGENT = "no chaos agent in this stack (FAILWHALE_CONSOLE_AGENT_URL is not set)"
Decorator = Callable[[Callable[..., Response]], Callable[..., Response]]


def _no_auth(view: Callable[..., Response]) -> Callable[..., Response]:
    return view


class Console:
    """What the routes answer from: the sampler's series, the agent (None: no agent) and the
    rules for writes."""

    def __init__(self, sampler: Sampler, agent: AgentProxy | None, rules: WriteRules) -> None:
        self.sampler, self.agent, self.rules = sampler, agent, rules

    def info(self) -> dict[str, Any]:
        """What the page needs to know before it asks the agent anything."""
        return {
            "agent": self.agent is not None,
            "no_agent": None if self.agent else NO_AGENT,
            "writes_refused": self.rules.published_refusal(),
        }

    def series(self, after: str | None) -> Answer:
        try:
            t = float(after) if after else 0.0
        except ValueError:
            t = math.nan
        if not math.isfinite(t):
            return problem(
                400, "bad-request", "Bad Request", "after must be a number of epoch seconds"
            )
        return Answer(200, json.dumps(self.sampler.answer(t)).encode(), _JSON)

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes, query: str = ""
    ) -> Answer:
        if self.agent is None:
            return problem(503, "no-chaos-agent", "Service Unavailable", NO_AGENT)
        if method in WRITES and (refused := self.rules.refusal(headers)):
            return problem(403, "console-write-refused", "Forbidden", refused)
        content_type = headers.get("content-type", "") if method in WRITES else ""
        return self.agent.call(method, path, body, query, content_type)

    def report_file(self, name: str, path: str) -> Answer:
        if self.agent is None:
            return problem(503, "no-chaos-agent", "Service Unavailable", NO_AGENT)
        return self.agent.call("GET", f"reports/{name}/{path}")


_JSON = {"content-type": "application/json"}


def _response(answer: Answer) -> Response:
    response = Response(answer.content, status=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask, console: Console, auth: Decorator = _no_auth) -> None:
    """Adds the console's routes to `app`; `auth` is the web UI's login check, if any."""

    @app.route("/chaos")
    @auth
    def chaos_page() -> Response:
        return send_from_directory(STATIC, "console.html", max_age=0)

    @app.route("/chaos/static/<path:name>")
    @auth
    def chaos_static(name: str) -> Response:
        return send_from_directory(STATIC, name, max_age=0)

    @app.route("/chaos/api/console")
    @auth
    def chaos_info() -> Response:
        return _response(Answer(200, json.dumps(console.info()).encode(), _JSON))

    @app.route("/chaos/api/series")
    @auth
    def chaos_series() -> Response:
        return _response(console.series(request.args.get("after")))

    @app.route("/chaos/api/agent/<path:path>", methods=["GET", "POST", "DELETE"])
    @auth
    def chaos_agent(path: str) -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        query = request.query_string.decode()
        answer = console.forward(request.method, path, headers, request.get_data(), query)
        return _response(answer)

    @app.route("/chaos/reports/<name>/<path:path>")
    @auth
    def chaos_report(name: str, path: str) -> Response:
        return _response(console.report_file(name, path))

    @app.after_request
    def add_chaos_tab(response: Response) -> Response:
        """Locust's index page gets the script that shows the console in the Chaos tab."""
        if request.endpoint != "locust.index" or response.mimetype != "text/html":
            return response
        page = response.get_data()
        if TAB_SCRIPT not in page and b"</body>" in page:
            response.set_data(page.replace(b"</body>", TAB_SCRIPT + b"\n</body>", 1))
        return response
