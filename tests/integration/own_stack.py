"""A stack of a test module's own, for tests that kill, pause or reconfigure its processes (or
only its redis-server, for tests that run a service's parts in process), and the
author-and-reader pair those tests read and write with."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from stack.layout import LocalLayout, free_layout
from stack.local import LocalStack
from tests.integration.chirp import Member, eventually, follow, post, sign_up, timeline_ids


@contextmanager
def own_stack(folder: Path, env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    local = LocalStack(folder, free_layout(), env=env)
    local.up()
    try:
        yield local
    finally:
        local.down()


@contextmanager
def own_redis(folder: Path) -> Iterator[LocalLayout]:
    """A redis-server of the caller's own on a free port; its layout names it."""
    local = LocalStack(folder, free_layout())
    local.start_redis()
    try:
        yield local.layout
    finally:
        local.stop("redis")


def author_and_reader(api: httpx.Client, first_text: str) -> tuple[Member, Member]:
    """An author and a reader who follows them, with a first post already fanned out."""
    author, reader = sign_up(api, "author"), sign_up(api, "reader")
    follow(api, reader, author)
    first = post(api, author, first_text)
    eventually(lambda: timeline_ids(api, reader), lambda ids: first["id"] in ids)
    return author, reader
