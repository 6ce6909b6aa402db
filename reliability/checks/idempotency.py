"""3. Idempotency: a post retried with its Idempotency-Key is written once, also when the retries
happen while posts is paused (SIGSTOP) and the gateway answers from its outbox; a key reused with
another body is refused (422); many requests with one key at once write once (the others get 409
or the first answer); and a key is the sender's own (another member's identical key is theirs)."""

import asyncio
import signal
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import (
    Member,
    UnexpectedAnswer,
    all_items,
    eventually,
    follow,
    sign_up,
)
from reliability.idempotent_writes import (
    CLIENT_TIMEOUT_S,
    KeyedWrite,
    RaceResult,
    race,
    retry_until_answered,
    write_with_retries,
)
from stack.local import LocalStack

RESUMED_WAIT_S = 30.0


@dataclass
class Tally:
    """What the check counted, and its one-line figure."""

    writes: list[KeyedWrite] = field(default_factory=list)
    duplicates: int = 0
    lost: int = 0
    inconsistent: int = 0
    other_body: Counter[int] = field(default_factory=Counter)
    other_body_written: int = 0
    races: list[RaceResult] = field(default_factory=list)
    cross_user: int = 0
    cross_user_leaks: int = 0
    cross_user_refused: int = 0

    @property
    def unacknowledged(self) -> int:
        """Writes no attempt got a post for, even after the resume: the check proves nothing
        about those."""
        return sum(w.acknowledged_id is None for w in self.writes)

    @property
    def from_outbox(self) -> int:
        """Answers 202: the pause really sent writes to the gateway's outbox."""
        return sum(s == 202 for w in self.writes for s in w.statuses)

    @property
    def race_requests(self) -> int:
        return sum(len(r.statuses) - 1 for r in self.races)

    @property
    def race_held(self) -> int:
        """Requests of a race, beyond the one that wrote, that got 409 or the first answer."""
        return sum(r.refused + r.replayed for r in self.races)

    @property
    def race_extra_posts(self) -> int:
        return sum(max(0, r.posts_written - 1) + (r.posts_written == 0) for r in self.races)

    def passed(self) -> bool:
        return (
            bool(self.writes)
            and self.unacknowledged == 0
            and self.from_outbox > 0
            and self.duplicates == self.lost == self.inconsistent == 0
            and self.other_body[422] == sum(self.other_body.values()) > 0
            and self.other_body_written == 0
            and self.race_held == self.race_requests > 0
            and self.race_extra_posts == 0
            and self.cross_user > 0
            and self.cross_user_leaks == self.cross_user_refused == 0
        )

    def figure(self) -> str:
        statuses = ", ".join(f"{s} x{n}" for s, n in sorted(self.other_body.items()))
        return (
            f"duplicates {self.duplicates} of {len(self.writes)} (lost {self.lost}, "
            f"unacknowledged {self.unacknowledged}, answers changed {self.inconsistent}, "
            f"{self.from_outbox} answers 202); other body {statuses or 'none'}; "
            f"concurrent 409/first answer x{self.race_held}/{self.race_requests}, "
            f"extra posts {self.race_extra_posts}; cross-user leaks "
            f"{self.cross_user_leaks + self.cross_user_refused} of {self.cross_user}"
        )


async def retries_while_paused(
    api: httpx.AsyncClient, context: SuiteContext, author: Member, tally: Tally
) -> None:
    """Every write is sent `attempts` times with one key, as a client that never hears back."""
    count, attempts = context.size(20, 120), context.size(3, 4)
    run = uuid.uuid4().hex[:8]
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> KeyedWrite:
        async with limit:
            return await write_with_retries(api, author, f"{run}-{i}", f"idem {run} {i}", attempts)

    tally.writes = list(await asyncio.gather(*(one(i) for i in range(count))))


def ids_by_text(url: str, reader: Member, path: str) -> dict[str, list[int]]:
    """The ids under which each text appears in a paged list, read right now."""
    found: dict[str, list[int]] = {}
    with httpx.Client(base_url=url, timeout=10) as sync:
        for item in all_items(sync, reader, path):
            found.setdefault(item["text"], []).append(int(item["id"]))
    return found


async def read_back(url: str, author: Member, reader: Member, tally: Tally) -> None:
    """Each acknowledged write appears exactly once, under the id it was answered with, in the
    author's posts and in a follower's home timeline (once the outbox has drained)."""

    Seen = tuple[dict[str, list[int]], dict[str, list[int]]]

    def both() -> Seen | None:
        try:
            own = ids_by_text(url, author, f"/v1/users/{author.handle}/posts")
            return own, ids_by_text(url, reader, "/v1/timeline")
        except UnexpectedAnswer as refused:
            if refused.status == 503:  # posts' breaker not yet closed again: not yet
                return None
            raise

    def complete(seen: Seen | None) -> bool:
        return seen is not None and all(
            w.text in seen[0] and w.text in seen[1] for w in tally.writes if w.acknowledged_id
        )

    seen, _ = await asyncio.to_thread(eventually, both, complete, RESUMED_WAIT_S, 0.5)
    if seen is None:
        raise RuntimeError(f"posts still unavailable {RESUMED_WAIT_S:.0f} s after resuming it")
    own, home = seen
    for write in tally.writes:
        for ids in (own.get(write.text, []), home.get(write.text, [])):
            tally.duplicates += max(0, len(ids) - 1)
            if write.acknowledged_id is not None:
                tally.lost += not ids
                tally.inconsistent += any(i != write.acknowledged_id for i in ids)
        tally.inconsistent += not write.consistent


async def reuse_with_other_body(
    url: str, api: httpx.AsyncClient, author: Member, tally: Tally
) -> None:
    for write in tally.writes[:20]:
        answer = await api.post(
            "/v1/posts",
            json={"text": f"{write.text} (edited)"},
            headers=author.auth | {"Idempotency-Key": write.key},
        )
        tally.other_body[answer.status_code] += 1
    texts = await asyncio.to_thread(ids_by_text, url, author, f"/v1/users/{author.handle}/posts")
    tally.other_body_written = sum(t.endswith("(edited)") for t in texts)


async def count_race_posts(url: str, author: Member, tally: Tally) -> None:
    texts = await asyncio.to_thread(ids_by_text, url, author, f"/v1/users/{author.handle}/posts")
    for result in tally.races:
        result.posts_written = len(texts.get(result.text, []))


async def key_of_another_member(
    api: httpx.AsyncClient, author: Member, stranger: Member, tally: Tally
) -> None:
    """The stranger sends the author's keys (with the author's text): each must be a new post
    of the stranger's own, never the author's answer, never refused."""
    for write in tally.writes[:20]:
        if write.acknowledged_id is None:
            continue
        answer = await api.post(
            "/v1/posts",
            json={"text": write.text},
            headers=stranger.auth | {"Idempotency-Key": write.key},
        )
        tally.cross_user += 1
        if answer.status_code not in (201, 202):
            tally.cross_user_refused += 1
            continue
        body = answer.json()
        tally.cross_user_leaks += (
            body.get("id") == write.acknowledged_id or body.get("author") != stranger.handle
        )


def run(context: SuiteContext) -> Outcome:
    stack = context.local_stack("idempotency")
    stack.up(context.progress)
    try:
        return asyncio.run(_run(context, stack))
    finally:
        stack.down()


async def _run(context: SuiteContext, stack: LocalStack) -> Outcome:
    tally = Tally()
    url = stack.layout.gateway_url
    async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S) as api:
        with httpx.Client(base_url=url, timeout=10) as sync:
            author, reader, stranger = (sign_up(sync, p) for p in ("author", "reader", "stranger"))
            follow(sync, reader, author)
        context.progress("3. retries while posts is paused")
        stack.send_signal("posts", signal.SIGSTOP)
        try:
            await retries_while_paused(api, context, author, tally)
        finally:
            stack.send_signal("posts", signal.SIGCONT)
        context.progress("3. reading back after posts resumed")
        # A retry after the resume must still be the first answer.
        for write in tally.writes:
            await retry_until_answered(api, author, write)
        await read_back(url, author, reader, tally)
        await reuse_with_other_body(url, api, author, tally)
        context.progress("3. concurrent requests with one key")
        for _ in range(context.size(5, 20)):
            tally.races.append(await race(api, author, context.size(10, 20)))
        await count_race_posts(url, author, tally)
        await key_of_another_member(api, author, stranger, tally)
    return Outcome(
        tally.figure(),
        tally.passed(),
        {
            "writes": len(tally.writes),
            "attempts": sum(len(w.statuses) for w in tally.writes),
            "attempt_statuses": dict(Counter(s for w in tally.writes for s in w.statuses)),
            "never_acknowledged": [w.statuses for w in tally.writes if w.acknowledged_id is None],
            "duplicates": tally.duplicates,
            "lost": tally.lost,
            "answers_changed": tally.inconsistent,
            "other_body": dict(tally.other_body),
            "other_body_written": tally.other_body_written,
            "race_requests": tally.race_requests,
            "race_held": tally.race_held,
            "race_extra_posts": tally.race_extra_posts,
            "cross_user": tally.cross_user,
            "cross_user_leaks": tally.cross_user_leaks,
            "cross_user_refused": tally.cross_user_refused,
        },
    )


CHECKS = [
    Check(
        3,
        "Idempotency",
        "a write retried with its key is applied once, also while posts is paused; another body "
        "422; concurrent reuse 409 or the first answer; a key is its sender's own",
        run,
    )
]
