"""Seeds a running stack with a social graph through the public API.

Registering an account that exists already logs it in instead, so seeding twice with the same
seed is harmless. The accounts, their passwords and tokens are written to a JSON file that the
load generator reads.
"""

import asyncio
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.progress import Progress

from stack.social_graph import SeedAccount, SocialGraph, build_graph

CONCURRENCY = 16


@dataclass
class SeedResult:
    users: int
    follows: int
    max_followers: int
    median_followers: float
    out: Path


async def seed_stack(
    gateway_url: str, users: int, seed: int, out: Path, show_progress: bool = True
) -> SeedResult:
    graph = build_graph(users, seed)
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task("accounts", total=len(graph.accounts))

            async def account(acct: SeedAccount) -> dict[str, object]:
                async with limit:
                    entry = await _register_or_log_in(client, acct)
                progress.advance(task)
                return entry

            entries = await asyncio.gather(*(account(a) for a in graph.accounts))
            task = progress.add_task("follows", total=len(graph.follows))

            async def follow(follower: int, followee: int) -> None:
                async with limit:
                    token = entries[follower]["token"]
                    handle = graph.accounts[followee].handle
                    answer = await client.put(
                        f"/v1/follows/{handle}", headers={"Authorization": f"Bearer {token}"}
                    )
                    answer.raise_for_status()
                progress.advance(task)

            await asyncio.gather(*(follow(a, b) for a, b in graph.follows))

    _write(out, graph, entries, seed)
    counts = [graph.followers_of(i) for i in range(users)]
    return SeedResult(users, len(graph.follows), max(counts), statistics.median(counts), out)


async def _register_or_log_in(client: httpx.AsyncClient, acct: SeedAccount) -> dict[str, object]:
    body = {"handle": acct.handle, "password": acct.password}
    answer = await client.post("/v1/users", json=body)
    if answer.status_code == 409:
        answer = await client.post("/v1/sessions", json=body)
    answer.raise_for_status()
    return {"handle": acct.handle, "password": acct.password, "token": answer.json()["token"]}


def _write(out: Path, graph: SocialGraph, entries: list[dict[str, object]], seed: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    follows = [[graph.accounts[a].handle, graph.accounts[b].handle] for a, b in graph.follows]
    out.write_text(json.dumps({"seed": seed, "accounts": entries, "follows": follows}, indent=1))


def run_seed(gateway_url: str, users: int, seed: int, out: Path) -> SeedResult:
    return asyncio.run(seed_stack(gateway_url, users, seed, out))
