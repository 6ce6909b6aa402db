"""The console's routes in the master's Flask app, against an in-process stand-in of the chaos
agent: the token is added on the way to the agent and never comes back (not in an answer, not in
a log line); a write needs the console's own headers, Host and origin, and is refused while the
UI is published beyond loopback unless FAILWHALE_CONSOLE_REMOTE=on; what the agent answers
(a 422 with field errors, a report file) reaches the browser as it was."""

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loadtest.console import publish_address
from loadtest.console.agent_proxy import AgentProxy, WriteRules
from loadtest.console.routes import TAB_SCRIPT, Console, register
from loadtest.console.series import Sampler
from loadtest.console.settings import ConsoleSettings
from services.common.errors import PROBLEM_BASE, PROBLEM_JSON

TOKEN = "console-token-for-the-proxy-tests-0123456789"
WRITE = {"Content-Type": "application/json", "X-Failwhale-Console": "1"}
HOST = "127.0.0.1:8089"


class StandInAgent:
    """The agent's API as far as the proxy's rules need it; records what it was sent."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"title": "Unauthorized", "status": 401})
        path = request.url.path
        if path == "/v1/echo":  # an agent that says too much: the headers it was sent
            return httpx.Response(200, json={"headers": dict(request.headers)})
        if path == "/v1/faults" and request.method == "POST":
            body = json.loads(request.content)
            if body.get("duration_s", 0) > 3600:
                errors = [{"field": "duration_s", "message": "at most 3600"}]
                problem = {"title": "Unprocessable", "status": 422, "errors": errors}
                return httpx.Response(422, json=problem)
            return httpx.Response(201, json={"id": "f1", **body})
        if path == "/v1/reports/run-1/report.html":
            return httpx.Response(
                200, text="<h1>report</h1>", headers={"content-type": "text/html"}
            )
        return httpx.Response(404, json={"title": "Not found", "status": 404})


@pytest.fixture
def agent() -> StandInAgent:
    return StandInAgent()


def console_app(
    agent: Callable[[httpx.Request], httpx.Response] | None, rules: WriteRules
) -> Flask:
    app = Flask("locust-stand-in")
    locust = Blueprint("locust", __name__)

    @locust.route("/")
    def index() -> str:
        return "<html><body><div id='root'></div></body></html>"

    app.register_blueprint(locust)
    proxy = (
        AgentProxy("http://chaos-agent:8000", TOKEN, httpx.MockTransport(agent)) if agent else None
    )
    sampler = Sampler(lambda: None, dict, lambda: None, lambda: 0.0)
    register(app, Console(sampler, proxy, rules))
    return app


@pytest.fixture
def client(agent: StandInAgent) -> Iterator[FlaskClient]:
    with console_app(agent, WriteRules("127.0.0.1", remote=False)).test_client() as client:
        yield client


def post(client: FlaskClient, path: str, body: object, **headers: str) -> TestResponse:
    return client.post(path, data=json.dumps(body), headers={"Host": HOST, **headers})


def assert_refused(answer: TestResponse, said: str) -> None:
    assert answer.status_code == 403, answer.get_data(as_text=True)
    assert answer.content_type == PROBLEM_JSON
    body = answer.get_json()
    assert body["type"] == PROBLEM_BASE + "console-write-refused" and body["status"] == 403
    assert said in body["detail"]


def test_the_token_is_added_and_the_browsers_own_authorization_is_not_passed(
    client: FlaskClient, agent: StandInAgent
) -> None:
    answer = client.get("/chaos/api/agent/echo", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert answer.status_code == 200
    assert agent.seen[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert agent.seen[-1].url.path == "/v1/echo"


def test_the_token_never_comes_back_to_the_browser_nor_into_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = client.get("/chaos/api/agent/echo")
    text = answer.get_data(as_text=True)
    assert "[console token]" in text and TOKEN not in text
    assert TOKEN not in str(answer.headers)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(AgentProxy("http://a:8000", TOKEN))
    assert TOKEN not in repr(ConsoleSettings(console_token=TOKEN))


def test_a_console_write_reaches_the_agent(client: FlaskClient, agent: StandInAgent) -> None:
    fault = {"fault": "kill", "target": "timeline-1", "duration_s": 30}
    answer = post(client, "/chaos/api/agent/faults", fault, **WRITE)
    assert answer.status_code == 201 and answer.get_json() == {"id": "f1", **fault}
    same_origin = post(client, "/chaos/api/agent/faults", fault, **WRITE, Origin=f"http://{HOST}")
    assert same_origin.status_code == 201
    assert agent.seen[-1].headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "headers, said",
    [
        ({"Content-Type": "application/json"}, "X-Failwhale-Console: 1"),
        ({"Content-Type": "text/plain", "X-Failwhale-Console": "1"}, "Content-Type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
        ({**WRITE, "Host": "evil.example:8089"}, "Host evil.example is not the console's own"),
        ({**WRITE, "Origin": "http://evil.example:8089"}, "another origin"),
        ({**WRITE, "Origin": "null"}, "another origin"),
    ],
)
def test_a_cross_site_write_is_refused_before_the_agent_sees_it(
    client: FlaskClient, agent: StandInAgent, headers: dict[str, str], said: str
) -> None:
    fault = {"fault": "kill", "target": "timeline-1", "duration_s": 30}
    assert_refused(post(client, "/chaos/api/agent/faults", fault, **headers), said)
    assert_refused(client.delete("/chaos/api/agent/faults/f1", headers=headers), said)
    assert agent.seen == []


def test_writes_are_refused_while_published_beyond_loopback_unless_remote_is_on(
    agent: StandInAgent,
) -> None:
    fault = {"fault": "kill", "target": "timeline-1", "duration_s": 30}
    wide = console_app(agent, WriteRules("0.0.0.0", remote=False)).test_client()
    assert_refused(
        post(wide, "/chaos/api/agent/faults", fault, **WRITE), "FAILWHALE_CONSOLE_REMOTE=on"
    )
    assert wide.get("/chaos/api/console").get_json()["writes_refused"]
    assert wide.get("/chaos/api/agent/echo").status_code == 200  # reading is fine
    assert len(agent.seen) == 1
    remote = console_app(agent, WriteRules("0.0.0.0", remote=True)).test_client()
    answer = post(remote, "/chaos/api/agent/faults", fault, **WRITE, Host="lab-server:8089")
    assert answer.status_code == 201


def test_the_agents_field_errors_reach_the_page_as_they_were(client: FlaskClient) -> None:
    fault = {"fault": "kill", "target": "timeline-1", "duration_s": 99999}
    answer = post(client, "/chaos/api/agent/faults", fault, **WRITE)
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [{"field": "duration_s", "message": "at most 3600"}]


def test_no_agent_and_an_agent_that_does_not_answer_are_problems_not_errors() -> None:
    rules = WriteRules("127.0.0.1", remote=False)
    answer = console_app(None, rules).test_client().get("/chaos/api/agent/state")
    assert answer.status_code == 503 and answer.content_type == PROBLEM_JSON
    assert "no chaos agent" in answer.get_json()["detail"]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    answer = console_app(down, rules).test_client().get("/chaos/api/agent/state")
    assert answer.status_code == 502
    assert answer.get_json()["type"] == PROBLEM_BASE + "agent-unreachable"
    assert TOKEN not in answer.get_data(as_text=True)


def test_report_files_are_served_through_the_master_and_paths_stay_inside(
    client: FlaskClient, agent: StandInAgent
) -> None:
    answer = client.get("/chaos/reports/run-1/report.html")
    assert answer.status_code == 200 and answer.content_type.startswith("text/html")
    assert answer.get_data(as_text=True) == "<h1>report</h1>"
    seen = len(agent.seen)
    assert client.get("/chaos/reports/run-1/../../../etc/passwd").status_code == 404
    assert client.get("/chaos/api/agent/reports/x/%2e%2e/secret").status_code == 404
    assert len(agent.seen) == seen


def test_the_series_route_refuses_a_bad_after(client: FlaskClient) -> None:
    answer = client.get("/chaos/api/series?after=nan")
    assert answer.status_code == 400 and answer.content_type == PROBLEM_JSON
    assert client.get("/chaos/api/series?after=12.5").get_json() == {"points": [], "next": 12.5}


def test_locusts_index_page_gets_the_chaos_tab_script_and_the_page_is_served(
    client: FlaskClient,
) -> None:
    index = client.get("/").get_data()
    assert index.count(TAB_SCRIPT) == 1 and index.index(TAB_SCRIPT) < index.index(b"</body>")
    with client.get("/chaos") as page:
        assert page.status_code == 200 and b'id="charts"' in page.get_data()
    with client.get("/chaos/static/vendor/uPlot.iife.min.js") as script:
        assert script.status_code == 200
    with client.get("/chaos/static/../routes.py") as outside:
        assert outside.status_code == 404


def test_settings_read_the_token_file_and_remote_and_where_the_ui_is_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "console_token"
    secret.write_text(TOKEN + "\n")
    monkeypatch.setenv("FAILWHALE_CONSOLE_TOKEN_FILE", str(secret))
    monkeypatch.setenv("FAILWHALE_CONSOLE_REMOTE", "on")
    monkeypatch.setenv("FAILWHALE_CONSOLE_AGENT_URL", "http://chaos-agent:8000")
    settings = ConsoleSettings()
    assert settings.console_token == TOKEN and settings.console_remote and settings.agent
    assert publish_address(ConsoleSettings(publish_address=""), "") == "0.0.0.0"
    assert publish_address(ConsoleSettings(publish_address=""), "127.0.0.1") == "127.0.0.1"
    assert publish_address(ConsoleSettings(publish_address="::1"), "0.0.0.0") == "::1"
