"""Writes sent the way an unlucky client sends them: retried with one Idempotency-Key after
timeouts, or raced (many requests with one key at once), with every answer kept."""

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx

from reliability.chirp_client import Member

# Shorter than the gateway's deadline on posts (2 s): while posts is paused, some attempts time
# out on the client's side and their retry meets the first request still in flight.
CLIENT_TIMEOUT_S = 1.0
IN_PROGRESS_WAIT_S = 0.3
SETTLE_S = 10.0
TIMEOUT = "timeout"
ACCEPTED = (201, 202)


@dataclass
class KeyedWrite:
    """One post and every answer its attempts got (a status, or `timeout`)."""

    key: str
    text: str
    statuses: list[int | str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    @property
    def acknowledged_id(self) -> int | None:
        return self.ids[0] if self.ids else None

    @property
    def consistent(self) -> bool:
        """Every attempt that was answered with a post was answered with the same post."""
        return len(set(self.ids)) <= 1

    async def send(self, api: httpx.AsyncClient, author: Member) -> httpx.Response | None:
        try:
            return await api.post(
                "/v1/posts",
                json={"text": self.text},
                headers=author.auth | {"Idempotency-Key": self.key},
                timeout=CLIENT_TIMEOUT_S,
            )
        except httpx.TimeoutException:
            return None

    def record(self, answer: httpx.Response | None) -> None:
        if answer is None:
            self.statuses.append(TIMEOUT)
            return
        self.statuses.append(answer.status_code)
        if answer.status_code in ACCEPTED:
            self.ids.append(int(answer.json()["id"]))


async def write_with_retries(
    api: httpx.AsyncClient, author: Member, key: str, text: str, attempts: int
) -> KeyedWrite:
    """Sends the same write `attempts` times, also after a success (the answer may be lost on
    its way back, the client cannot tell); waits a little after a 409 (in progress)."""
    write = KeyedWrite(key, text)
    for _ in range(attempts):
        answer = await write.send(api, author)
        write.record(answer)
        if answer is not None and answer.status_code == 409:
            await asyncio.sleep(IN_PROGRESS_WAIT_S)
    return write


async def retry_until_answered(
    api: httpx.AsyncClient, author: Member, write: KeyedWrite, within_s: float = SETTLE_S
) -> None:
    """Retries once more, and again while the first request is still in progress (409) or the
    answer does not come, as a client does that must know what became of its write."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        answer = await write.send(api, author)
        write.record(answer)
        if (answer is not None and answer.status_code != 409) or loop.time() > deadline:
            return
        await asyncio.sleep(IN_PROGRESS_WAIT_S)


@dataclass
class RaceResult:
    """Many requests with one key at once: at most one writes; the others must be refused
    (409, in progress) or get the first answer again."""

    text: str
    statuses: list[int] = field(default_factory=list)
    written: int = 0  # answers that say they wrote (not replays)
    refused: int = 0
    replayed: int = 0
    posts_written: int = 0  # read back afterwards


async def race(api: httpx.AsyncClient, author: Member, width: int) -> RaceResult:
    key = f"race-{uuid.uuid4().hex}"
    result = RaceResult(text=f"race {key}")
    headers = author.auth | {"Idempotency-Key": key}

    async def one() -> httpx.Response:
        return await api.post("/v1/posts", json={"text": result.text}, headers=headers, timeout=10)

    answers = await asyncio.gather(*(one() for _ in range(width)))
    first = next(
        (a.json() for a in answers if a.status_code == 201 and not replayed(a)),
        None,
    )
    for answer in answers:
        result.statuses.append(answer.status_code)
        if answer.status_code == 409:
            result.refused += 1
        elif answer.status_code == 201 and replayed(answer) and answer.json() == first:
            result.replayed += 1
        elif answer.status_code == 201 and not replayed(answer):
            result.written += 1
    return result


def replayed(answer: httpx.Response) -> bool:
    return bool(answer.headers.get("Idempotent-Replayed") == "true")
