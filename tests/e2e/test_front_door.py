"""What `make up` promises a user of the compose stack: both published ports (the gateway and
Locust's web UI) bind to 127.0.0.1 unless FAILWHALE_PUBLISH_ADDRESS says otherwise, and accounts
made by `failwhale seed` can be played by the stack's Locust, named in its web UI's form."""

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.seed import run_seed
from tests.e2e.conftest import PROJECT, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SEED_DIR = ROOT / ".local"  # mounted read-only as /seed in the Locust containers


def published(service: str) -> list[str]:
    """`docker port` of the project's container of `service`: lines like 8000/tcp -> 1.2.3.4:5."""
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--filter", f"label=com.docker.compose.service={service}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(ids) == 1, f"{service} of {PROJECT}: {ids}"
    ports = subprocess.run(["docker", "port", ids[0]], capture_output=True, text=True, check=True)
    return ports.stdout.splitlines()


def test_both_published_ports_bind_to_the_loopback_address(
    gateway_url: str, locust_url: str
) -> None:
    gateway, locust = published("gateway"), published("locust-master")
    assert gateway == [f"8000/tcp -> 127.0.0.1:{httpx.URL(gateway_url).port}"]
    assert locust == [f"8089/tcp -> 127.0.0.1:{httpx.URL(locust_url).port}"]


@pytest.fixture
def seed_file(gateway_url: str) -> Iterator[tuple[Path, list[str]]]:
    """Four accounts seeded in the stack, their file in the seed directory Locust mounts."""
    SEED_DIR.mkdir(exist_ok=True)
    path = SEED_DIR / f"e2e-seed-{secrets.token_hex(4)}.json"
    seed = secrets.randbelow(10**6) + 100
    try:
        for attempt in range(3):  # seeding again is harmless: a known account logs in
            try:
                run_seed(gateway_url, 4, seed, path)
                break
            except httpx.HTTPStatusError as exc:  # a 503 while a busy machine catches up
                if exc.response.status_code != 503 or attempt == 2:
                    raise
                time.sleep(5)
        handles = [str(a["handle"]) for a in json.loads(path.read_text())["accounts"]]
        yield path, handles
    finally:
        path.unlink(missing_ok=True)


def post_counts(gateway_url: str, token: str, handles: list[str]) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as api:
        return {h: len(api.get(f"/v1/users/{h}/posts").json()["items"]) for h in handles}


def test_the_stacks_locust_plays_seeded_accounts_named_in_its_web_ui(
    gateway_url: str, locust_url: str, seed_file: tuple[Path, list[str]]
) -> None:
    path, handles = seed_file
    reader = json.loads(path.read_text())["accounts"][0]["token"]
    with httpx.Client(base_url=locust_url, timeout=10) as ui:
        page = ui.get("/").text
        assert '"extra_options": {"accounts": {' in page  # the form shows the option
        ui.post("/stop").raise_for_status()
        form = {"user_count": 4, "spawn_rate": 4, "run_time": "5m", "think_time": 0.3,
                "accounts": f"/seed/{path.name}"}  # fmt: skip
        started = ui.post("/swarm", data=form)
        assert started.json()["success"], started.text
        try:
            deadline = time.monotonic() + 120
            while sum((counts := post_counts(gateway_url, reader, handles)).values()) < 3:
                assert time.monotonic() < deadline, f"seeded accounts posted too little: {counts}"
                time.sleep(2)
        finally:
            # later runs from the UI (and chaos runs) go back to signing up their own accounts
            ui.post("/stop").raise_for_status()
            again = ui.post("/swarm", data={"user_count": 1, "spawn_rate": 1, "accounts": ""})
            assert again.json()["success"], again.text
            ui.post("/stop").raise_for_status()
            # Stopped as soon as started: Locust's master may ask the worker to quit (a late
            # message of the worker's); the worker is restarted and registers again.
            deadline = time.monotonic() + 90
            while ui.get("/worker-count").json()["worker_count"] < 1:
                assert time.monotonic() < deadline, "the stack's Locust worker did not come back"
                time.sleep(1)
