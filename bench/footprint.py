"""Footprint: the memory of the whole compose stack (Redis, the seven services, Locust master
and worker) under load, from `docker stats`, summed over the project's containers: peak and
mean over the samples, and each container's peak.

The stack comes up under a project of its own (failwhale-bench, free host ports), the stack's
own Locust drives its users against the gateway, and the project is taken down with its volume
at the end. Needs the images (`make images`).

    .venv/bin/python -m bench.footprint [--duration 60] [--users 50]
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PROJECT = "failwhale-bench"
_UNITS = {"B": 1 / 2**20, "KiB": 1 / 2**10, "kB": 1e3 / 2**20, "MiB": 1.0, "MB": 1e6 / 2**20,
          "GiB": 2**10, "GB": 1e9 / 2**20}  # fmt: skip


def mib(usage: str) -> float:
    """The used part of docker stats' MemUsage ("123.4MiB / 23.5GiB"), in MiB."""
    match = re.match(r"\s*([\d.]+)\s*([A-Za-z]+)", usage)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a memory usage: {usage!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def compose_stack(project: str = PROJECT) -> Iterator[tuple[str, str]]:
    """The stack up under `project`; yields the gateway's and Locust's URLs; always down."""
    gateway, locust = _free_port(), _free_port()
    env = os.environ | {
        "COMPOSE_PROJECT_NAME": project,
        "FAILWHALE_GATEWAY_PORT": str(gateway),
        "FAILWHALE_LOCUST_PORT": str(locust),
    }
    stack = str(REPO / "docker" / "stack.sh")
    try:
        subprocess.run([stack, "up"], cwd=REPO, env=env, check=True, capture_output=True)
        yield f"http://127.0.0.1:{gateway}", f"http://127.0.0.1:{locust}"
    finally:
        subprocess.run([stack, "down", "--volumes"], cwd=REPO, env=env, capture_output=True)


def containers(project: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return listed.stdout.split()


def sample(ids: list[str]) -> dict[str, float]:
    """MiB used by each container now."""
    shown = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *ids],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    used = {}
    for line in shown.stdout.splitlines():
        name, usage = line.split("\t", 1)
        used[name] = mib(usage)
    return used


def summarise(samples: list[dict[str, float]]) -> dict[str, Any]:
    totals = [sum(s.values()) for s in samples]
    names = sorted({n for s in samples for n in s})
    return {
        "peak_mib": round(max(totals), 1),
        "mean_mib": round(statistics.fmean(totals), 1),
        "samples": len(samples),
        "containers": len(names),
        "peak_by_container_mib": {n: round(max(s.get(n, 0.0) for s in samples), 1) for n in names},
    }


def measure(
    duration_s: float = 60.0,
    users: int = 50,
    project: str = PROJECT,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    progress(f"compose project {project}: building and starting")
    with compose_stack(project) as (_, locust_url):
        ids = containers(project)
        at_rest = sample(ids)
        with httpx.Client(base_url=locust_url, timeout=10) as locust:
            form = {"user_count": users, "spawn_rate": 10, "host": "http://gateway:8000"}
            locust.post("/swarm", data=form).raise_for_status()
            samples: list[dict[str, float]] = []
            deadline = time.monotonic() + duration_s
            try:
                while time.monotonic() < deadline:
                    samples.append(sample(ids))
                    total = sum(samples[-1].values())
                    progress(f"{users} Locust users: {total:.0f} MiB in {len(ids)} containers")
                rps = locust.get("/stats/requests").json().get("total_rps", 0.0)
            finally:
                locust.post("/stop")
        figures = summarise(samples)
        return {
            **figures,
            "at_rest_mib": round(sum(at_rest.values()), 1),
            "users": users,
            "duration_s": duration_s,
            "load_rps": round(float(rps), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(measure(args.duration, args.users, progress=print), indent=2))


if __name__ == "__main__":
    main()
