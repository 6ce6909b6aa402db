"""A device: one HTTP client of its own, logged in to an account, that speaks Chirp's public API.
Every call is a Locust request (named by its route, marked a failure or not by what Chirp
promises), counted on the scoreboard (degraded or not), and every write and checked read is
recorded in the operation history for the oracles.

A write carries an idempotency key and is sent again, with the same key, when its outcome is
unknown (no answer, a 5xx, a 409 while the first attempt is still running). An answer shed by
the gateway (503 /overloaded) is none of these: it took no effect, it is counted as `shed` (not
an error), and the device sends nothing more until its Retry-After has passed.
"""

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loadtest.accounts import Account
from loadtest.history import Event, History, key_in, outcome_of, tagged
from loadtest.scoreboard import Scoreboard
from loadtest.shed import SHED, is_shed, retry_after_s

if TYPE_CHECKING:  # locust monkey-patches on import: the tests of devices run without it
    from locust.contrib.fasthttp import FastHttpSession

PAGE = 20
DM_PAGE = 50
WRITE_ATTEMPTS = 2


@dataclass
class Answer:
    status: int  # 0: no answer (timeout, refused, reset)
    body: Any = None
    degraded: list[str] = field(default_factory=list)
    shed: bool = False

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (self.body or {}).get("items", [])
        return items


class Device:
    def __init__(
        self,
        name: str,
        session: "FastHttpSession",
        account: Account,
        history: History,
        board: Scoreboard,
    ) -> None:
        self.name = name
        self.session = session
        self.account = account
        self.history = history
        self.board = board
        self.token = ""
        self.dm_cursors: dict[str, int] = {}  # peer -> highest seq this device has read
        self.quiet_until = 0.0  # a shed answer's Retry-After: nothing is sent before then

    def backoff_s(self) -> float:
        """How long this device still holds off, as a shed answer's Retry-After asked."""
        return max(0.0, self.quiet_until - time.time())

    @property
    def handle(self) -> str:
        return self.account.handle

    # -- accounts -------------------------------------------------------------------------------

    def register(self) -> bool:
        body = {"handle": self.handle, "password": self.account.password}
        answer = self._call("POST", "/v1/users", "/v1/users", (201, 409), body, auth=False)
        if answer.status == 409:
            return self.log_in()
        return self._took_token(answer)

    def log_in(self) -> bool:
        body = {"handle": self.handle, "password": self.account.password}
        answer = self._call("POST", "/v1/sessions", "/v1/sessions", (200,), body, auth=False)
        return self._took_token(answer)

    def _took_token(self, answer: Answer) -> bool:
        if answer.status not in (200, 201):
            return False
        self.token = str(answer.body["token"])
        self.account.token = self.token
        return True

    def follow(self, handle: str, follow: bool = True) -> None:
        f = "follow" if follow else "unfollow"
        invoked = self.history.invoke(f, self.handle, self.name, {"handle": handle})
        method = "PUT" if follow else "DELETE"
        answer = self._call(method, f"/v1/follows/{handle}", "/v1/follows/[handle]", (204,))
        self.history.complete(invoked, outcome_of(answer.status), {"status": answer.status})

    # -- writes ---------------------------------------------------------------------------------

    def post(self, text: str) -> int | None:
        """Posts; returns the post id when created (201), None otherwise."""
        key = self.history.new_key()
        text = tagged(text, key)
        invoked = self.history.invoke("post", self.handle, self.name, {"key": key, "text": text})
        answer = self._write("/v1/posts", "/v1/posts", {"text": text}, key)
        outcome = "fail" if answer.shed else outcome_of(answer.status)
        value: dict[str, Any] = {"status": answer.status}
        if outcome == "ok":
            if isinstance(answer.body, dict) and "id" in answer.body:
                value["id"] = int(answer.body["id"])
            else:
                outcome = "unknown"
        self.history.complete(invoked, outcome, value)
        return value.get("id") if answer.status == 201 else None

    def send_dm(self, peer: str, text: str) -> int | None:
        """Sends a DM; returns its seq when delivered at once (201), None otherwise."""
        key = self.history.new_key()
        text = tagged(text, key)
        value = {"key": key, "peer": peer, "text": text}
        invoked = self.history.invoke("dm", self.handle, self.name, value)
        answer = self._write(f"/v1/dms/{peer}", "/v1/dms/[handle]", {"text": text}, key)
        outcome = "fail" if answer.shed else outcome_of(answer.status)
        done: dict[str, Any] = {"status": answer.status}
        if outcome == "ok":
            if isinstance(answer.body, dict) and "seq" in answer.body:
                done["seq"] = answer.body["seq"]
            else:
                outcome = "unknown"
        self.history.complete(invoked, outcome, done)
        seq = done.get("seq")
        return int(seq) if answer.status == 201 and seq is not None else None

    def _write(self, path: str, name: str, body: dict[str, Any], key: str) -> Answer:
        answer = Answer(0)
        for _ in range(WRITE_ATTEMPTS):
            answer = self._call("POST", path, name, (201, 202), body, key=key)
            if answer.shed or outcome_of(answer.status) != "unknown":
                break
        return answer

    # -- reads ----------------------------------------------------------------------------------

    def read_timeline(self, before: int | None = None) -> int | None:
        """Reads a page of the home timeline; returns the `before` of the next page."""
        query = {"limit": PAGE} | ({"before": before} if before else {})
        invoked = self.history.invoke("read_timeline", self.handle, self.name, query)
        answer = self._call("GET", f"/v1/timeline?{urlencode(query)}", "/v1/timeline", (200,))
        value = self._page_value(answer)
        if value is not None:
            value["ids"] = [int(item["id"]) for item in answer.items]
        self._complete_read(invoked, answer, value)
        return value.get("next") if value else None

    def read_posts(self, author: str, before: int | None = None) -> int | None:
        """Reads a page of an author's posts; returns the `before` of the next page."""
        query = {"limit": PAGE} | ({"before": before} if before else {})
        value = {"author": author} | query
        invoked = self.history.invoke("read_posts", self.handle, self.name, value)
        path = f"/v1/users/{author}/posts?{urlencode(query)}"
        answer = self._call("GET", path, "/v1/users/[handle]/posts", (200,))
        done = self._page_value(answer)
        if done is not None:
            done["items"] = [[int(i["id"]), key_in(str(i["text"]))] for i in answer.items]
        self._complete_read(invoked, answer, done)
        return done.get("next") if done else None

    def read_dms(self, peer: str, after_seq: int | None = None) -> list[tuple[int, str]]:
        """Reads a conversation from this device's cursor (or `after_seq`); returns the new
        messages as (seq, sender)."""
        after = self.dm_cursors.get(peer, 0) if after_seq is None else after_seq
        query = {"after_seq": after, "limit": DM_PAGE}
        invoked = self.history.invoke("read_dms", self.handle, self.name, {"peer": peer} | query)
        path = f"/v1/dms/{peer}?{urlencode(query)}"
        answer = self._call("GET", path, "/v1/dms/[handle]", (200,))
        done = self._page_value(answer)
        if done is not None:
            done["items"] = [[int(i["seq"]), key_in(str(i["text"]))] for i in answer.items]
        self._complete_read(invoked, answer, done)
        if done is None:
            return []
        messages = [(int(i["seq"]), str(i["sender"])) for i in answer.items]
        if messages:
            self.dm_cursors[peer] = max(self.dm_cursors.get(peer, 0), messages[-1][0])
        return messages

    def trends(self) -> None:
        self._call("GET", "/v1/trends", "/v1/trends", (200,))

    def _page_value(self, answer: Answer) -> dict[str, Any] | None:
        if answer.status != 200 or not isinstance(answer.body, dict):
            return None
        return {"status": 200, "degraded": bool(answer.degraded), "next": answer.body.get("next")}

    def _complete_read(self, invoked: Event, answer: Answer, value: dict[str, Any] | None) -> None:
        if value is None:
            outcome = outcome_of(answer.status)
            self.history.complete(invoked, "fail" if outcome == "ok" else outcome,
                                  {"status": answer.status})  # fmt: skip
        else:
            self.history.complete(invoked, "ok", value)

    # -- the wire -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        name: str,
        expected: tuple[int, ...],
        body: dict[str, Any] | None = None,
        key: str | None = None,
        auth: bool = True,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        with self.session.request(
            method, path, name=name, json=body, headers=headers, catch_response=True
        ) as response:
            status = int(response.status_code or 0)
            raw = response.headers.get("X-Degraded") if response.headers else None
            degraded = [r.strip() for r in raw.split(",") if r.strip()] if raw else []
            try:
                parsed = json.loads(response.text) if response.text else None
            except ValueError:
                parsed = None
            shed = is_shed(status, parsed)
            if status in expected:
                response.success()
            elif shed:
                self.quiet_until = time.time() + retry_after_s(response.headers)
                response.failure(f"{SHED}: 503 Overloaded")
            elif status == 0:
                error = getattr(response, "error", None)
                response.failure(f"no answer: {type(error).__name__}")
            else:
                title = parsed.get("title") if isinstance(parsed, dict) else None
                response.failure(f"{status} {title or ''}".strip())
        self.board.answered(f"{method} {name}", degraded)
        return Answer(status, parsed, degraded, shed)
