"""The final audit: once the load has stopped, wait for the gateway's outboxes to drain (writes
answered 202 are acknowledged and must show up), then read back the posts of every author and
every conversation the run wrote to. Degraded answers do not count as read back: a stale copy
cannot prove a write is there or not.

Plain httpx, no Locust: the chaos engine audits its runs with the same function.
"""

import time
from collections.abc import Mapping
from typing import Any

import httpx

from loadtest.history import key_in
from loadtest.readback import AuditPlan, FinalReads

PAGE = 100
RETRY_PAUSE_S = 0.25
MAX_PAGES = 1000


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.end


def run_audit(
    base_url: str,
    plan: AuditPlan,
    tokens: Mapping[str, str],
    drain_timeout_s: float = 30.0,
    read_timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> FinalReads:
    """Reads back what `plan` names, with the readers' `tokens` (handle -> bearer token)."""
    with httpx.Client(base_url=base_url, timeout=5.0, transport=transport) as http:
        drained = wait_for_outboxes(http, _Deadline(drain_timeout_s))
        final = FinalReads(outbox_drained=drained)
        deadline = _Deadline(read_timeout_s)
        for author, floor in sorted(plan.authors.items()):
            token = tokens.get(author) or next(iter(tokens.values()), "")
            posts = _read_posts(http, author, floor, token, deadline)
            if posts is None:
                final.unreadable.append(f"posts of {author}")
            else:
                final.posts[author] = posts
        for conversation, reader in sorted(plan.conversations.items()):
            peer = conversation[1] if conversation[0] == reader else conversation[0]
            messages = _read_conversation(http, reader, peer, tokens.get(reader, ""), deadline)
            if messages is None:
                final.unreadable.append(f"conversation {'/'.join(conversation)}")
            else:
                final.conversations[conversation] = messages
    return final


def wait_for_outboxes(http: httpx.Client, deadline: _Deadline) -> bool:
    """True once every outbox of the gateway is empty; False if the deadline came first."""
    while True:
        try:
            answer = http.get("/v1/status")
            depths = answer.json().get("outbox_depth", {}) if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            depths = None
        if depths is not None and all(depth == 0 for depth in depths.values()):
            return True
        if deadline.passed():
            return False
        time.sleep(RETRY_PAUSE_S)


def _read_posts(
    http: httpx.Client, author: str, floor: int, token: str, deadline: _Deadline
) -> list[tuple[int, str | None]] | None:
    found: list[tuple[int, str | None]] = []
    before: int | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, int] = {"limit": PAGE} | ({"before": before} if before else {})
        page = _get(http, f"/v1/users/{author}/posts", params, token, deadline)
        if page is None:
            return None
        for item in page["items"]:
            found.append((int(item["id"]), key_in(str(item["text"]))))
        before = page.get("next")
        if before is None or (found and found[-1][0] < floor):
            return found
    return None


def _read_conversation(
    http: httpx.Client, reader: str, peer: str, token: str, deadline: _Deadline
) -> list[tuple[int, str | None]] | None:
    found: list[tuple[int, str | None]] = []
    after = 0
    for _ in range(MAX_PAGES):
        params = {"after_seq": after, "limit": PAGE}
        page = _get(http, f"/v1/dms/{peer}", params, token, deadline)
        if page is None:
            return None
        items = page["items"]
        for item in items:
            found.append((int(item["seq"]), key_in(str(item["text"]))))
        if len(items) < PAGE:
            return found
        after = max(after, int(items[-1]["seq"]))
    return None


def _get(
    http: httpx.Client, path: str, params: Mapping[str, int], token: str, deadline: _Deadline
) -> dict[str, Any] | None:
    """A fresh (not degraded) 200 answer, retried until the deadline; None if there was none."""
    while True:
        try:
            answer = http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200 and "x-degraded" not in answer.headers:
                body: dict[str, Any] = answer.json()
                return body
            if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                return None  # asking again will not help
        except (httpx.HTTPError, ValueError):
            pass
        if deadline.passed():
            return None
        time.sleep(RETRY_PAUSE_S)
