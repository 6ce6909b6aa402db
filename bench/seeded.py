"""A local stack of the benchmarks' own, on free ports, seeded with accounts, follows and posts,
with every post fanned out before the measuring starts."""

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt

from services.common.auth import SERVICE_HEADER, TokenKeys, issue_service_token
from stack.layout import free_layout
from stack.local import LocalStack
from stack.seed import seed_stack

FANOUT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Reader:
    id: int
    token: str


@dataclass(frozen=True)
class Member:
    """An account a benchmark signed up (or issued a token for), with its bearer header."""

    id: int
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class CheckoutStack(LocalStack):
    """A local stack whose services run the code of another checkout (bench.ab). `-P` and
    `--app-dir`: the current directory must not come first on the services' sys.path (uvicorn
    puts its app directory, by default the current one, first), the checkout must."""

    def __init__(self, checkout: Path, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir, free_layout(), env=env)
        self.checkout = checkout

    def start_service(self, name: str) -> None:
        spec = self._spec(name)
        command = [
            sys.executable, "-P", "-m", "uvicorn", f"{spec.module}:create_app", "--factory",
            "--host", self.layout.host, "--port", str(spec.port), "--no-access-log",
            "--app-dir", str(self.checkout),
        ]  # fmt: skip
        env = self.layout.environment(name) | self.env | {"PYTHONPATH": str(self.checkout)}
        self._spawn(name, command, os.environ.copy() | env)


NEVER_HEAVY = 1 << 40


@contextmanager
def local_stack(
    resilience: str = "on", env: dict[str, str] | None = None, checkout: Path | None = None
) -> Iterator[LocalStack]:
    """A local stack in a folder of its own (running `checkout`'s code, if given), always taken
    down."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{resilience}-") as workdir:
        # Every post fanned out on write (no heavy accounts) unless `env` says otherwise: the
        # read benchmarks compare with a baseline that reads the home set alone.
        extra = {
            "FAILWHALE_RESILIENCE": resilience,
            "FAILWHALE_LOG_LEVEL": "WARNING",
            "FAILWHALE_HEAVY_FOLLOWERS": str(NEVER_HEAVY),
        }
        settings = extra | (env or {})
        stack = (
            CheckoutStack(checkout, Path(workdir), settings)
            if checkout is not None
            else LocalStack(Path(workdir), free_layout(), env=settings)
        )
        stack.up()
        try:
            yield stack
        finally:
            stack.down()


async def seed_readers(
    stack: LocalStack, users: int, posts_each: int, seed: int = 11
) -> list[Reader]:
    """Accounts and follows (failwhale seed), `posts_each` posts per account, all fanned out."""
    url = stack.layout.gateway_url
    seeded = Path(stack.workdir) / "seed.json"
    await seed_stack(url, users, seed=seed, out=seeded, show_progress=False)
    tokens = [str(a["token"]) for a in json.loads(seeded.read_text())["accounts"]]
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def post(n: int, token: str) -> None:
            async with limit:
                for attempt in range(3):  # keyed: a retry cannot make a second post
                    try:
                        answer = await client.post(
                            "/v1/posts",
                            json={"text": f"bench post {n} #bench"},
                            headers={
                                "Authorization": f"Bearer {token}",
                                "Idempotency-Key": f"b{n}",
                            },
                        )
                        answer.raise_for_status()
                        return
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(0.5)

        await asyncio.gather(
            *(post(i * posts_each + k, t) for i, t in enumerate(tokens) for k in range(posts_each))
        )
    await wait_fanned_out(stack)
    return [Reader(_user_id(t), t) for t in tokens]


async def wait_fanned_out(stack: LocalStack, timeout_s: float = FANOUT_TIMEOUT_S) -> None:
    """Until the timeline replicas' consumer group has no post event left to deliver."""
    keys = TokenKeys(stack.layout.token_secret, stack.layout.internal_secret)
    headers = {SERVICE_HEADER: issue_service_token(keys, "bench")}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5, headers=headers) as client:
        while time.monotonic() < deadline:
            status = await client.get(stack.layout.url("timeline-1") + "/internal/fanout")
            if status.status_code == 200 and status.json()["lag"] == 0:
                return
            await asyncio.sleep(0.5)
    raise TimeoutError(f"fan-out not done after {timeout_s:.0f} s")


def _user_id(token: str) -> int:
    return int(jwt.decode(token, options={"verify_signature": False})["sub"])
