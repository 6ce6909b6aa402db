"""The console's way to the chaos agent: the browser calls `/chaos/api/agent/<path>`, the master
calls the agent's `/v1/<path>` with the stack's console token. The token stays in the master:
it is never sent to the browser, never logged, and blotted out of anything the agent answers.

Writes (POST, DELETE) apply faults, so they must come from the console's own page: JSON content
type and the `X-Failwhale-Console: 1` header (a cross-site form can send neither, and a script of
another origin cannot without the UI's consent), a Host header that names the UI itself (not a
foreign name resolving to it), and a UI published only on loopback unless
FAILWHALE_CONSOLE_REMOTE=on. A refused write is 403 problem+json.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from services.common.errors import PROBLEM_BASE, PROBLEM_JSON

CONSOLE_HEADER = "X-Failwhale-Console"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
WRITES = frozenset({"POST", "DELETE"})
TIMEOUT_S = 30.0  # a revert or a run's start may take the engine a while
SAFE_PATH = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~%-]+)*$")
PASSED_HEADERS = ("content-type", "content-disposition", "cache-control", "location")
BLOTTED = "[console token]"


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    headers: dict[str, str]


def problem(status: int, slug: str, title: str, detail: str) -> Answer:
    """An RFC 9457 problem, typed as the services type theirs."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    headers = {"content-type": PROBLEM_JSON}
    return Answer(status, json.dumps(body).encode(), headers)


def host_name(value: str) -> str:
    """The host part of a Host header or an address (`[::1]:8089` -> `::1`)."""
    value = value.strip().lower()
    if not value:
        return ""
    return urlsplit(f"//{value}").hostname or ""


def published_beyond_loopback(publish_address: str) -> bool:
    return host_name(publish_address) not in LOOPBACK


@dataclass(frozen=True)
class WriteRules:
    """Who may write. `publish_address`: where the web UI is published
    (FAILWHALE_PUBLISH_ADDRESS, else the address Locust's web UI binds); `remote`:
    FAILWHALE_CONSOLE_REMOTE."""

    publish_address: str
    remote: bool

    def published_refusal(self) -> str | None:
        """Why no write is taken at all (the UI is published too widely), else None."""
        if published_beyond_loopback(self.publish_address) and not self.remote:
            return (
                f"the web UI is published on {self.publish_address or 'all addresses'}, beyond "
                "loopback: the console applies no faults unless FAILWHALE_CONSOLE_REMOTE=on "
                "(anyone who reaches the UI could then break the stack)"
            )
        return None

    def refusal(self, headers: dict[str, str]) -> str | None:
        """Why this write is refused (None: allowed). `headers` with lower-case names."""
        if refused := self.published_refusal():
            return refused
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" or headers.get(CONSOLE_HEADER.lower()) != "1":
            return f"a console write needs Content-Type: application/json and {CONSOLE_HEADER}: 1"
        host = host_name(headers.get("host", ""))
        if not self.remote and host not in LOOPBACK | {host_name(self.publish_address)}:
            return f"Host {host or '(none)'} is not the console's own"
        origin = headers.get("origin")  # a sandboxed or file: page says "null": refused too
        own = headers.get("host", "").strip().lower()
        if origin is not None and urlsplit(origin).netloc.lower() != own:
            return f"a write from another origin ({origin})"
        return None


class AgentProxy:
    """Calls the agent at `base_url` with `token`; answers what the agent answered, or a
    problem+json when the agent cannot be reached."""

    def __init__(
        self, base_url: str, token: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = httpx.Client(
            base_url=self.base_url, timeout=TIMEOUT_S, transport=transport, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"AgentProxy({self.base_url!r})"

    def call(
        self, method: str, path: str, body: bytes = b"", query: str = "", content_type: str = ""
    ) -> Answer:
        if not SAFE_PATH.match(path) or any(part in (".", "..") for part in path.split("/")):
            return problem(404, "not-found", "Not Found", "no such agent path")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json, */*"}
        if content_type:
            headers["Content-Type"] = content_type
        url = f"/v1/{path}" + (f"?{query}" if query else "")
        try:
            answer = self._client.request(method, url, content=body or None, headers=headers)
        except httpx.HTTPError as exc:
            detail = f"the chaos agent at {self.base_url} did not answer ({type(exc).__name__})"
            return problem(502, "agent-unreachable", "Bad Gateway", detail)
        passed = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        return Answer(answer.status_code, self._blot(answer.content), passed)

    def _blot(self, content: bytes) -> bytes:
        token = self._token.encode()
        return content.replace(token, BLOTTED.encode()) if token else content

    def close(self) -> None:
        self._client.close()
