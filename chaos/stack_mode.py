"""Switching the running stack between resilience on and off, for `failwhale chaos compare`:
the same services, data and load, with only the layer taken away."""

import os
import subprocess
from pathlib import Path

import httpx

from chaos.backends.base import Backend
from failwhale.localstack import LocalStack

REPO = Path(__file__).resolve().parents[1]


class ModeError(RuntimeError):
    pass


def current_mode(backend: Backend) -> str:
    try:
        mode = httpx.get(f"{backend.gateway_url}/v1/status", timeout=5).json()["resilience"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ModeError(f"no stack answers at {backend.gateway_url}: {exc}") from exc
    return str(mode)


def switch_mode(backend: Backend, mode: str, workdir: Path | None = None) -> None:
    """Restarts the stack's services with FAILWHALE_RESILIENCE=mode (nothing if already so)."""
    if current_mode(backend) == mode:
        return
    if backend.name == "local":
        stack = LocalStack(workdir or REPO / ".local", env={"FAILWHALE_RESILIENCE": mode})
        stack.down()
        stack.up()
    else:
        env = os.environ | {"FAILWHALE_RESILIENCE": mode}
        done = subprocess.run(["make", "-C", str(REPO), "up"], env=env, check=False)
        if done.returncode != 0:
            raise ModeError(f"`make up` with FAILWHALE_RESILIENCE={mode} failed")
    if current_mode(backend) != mode:
        raise ModeError(f"the stack did not come back with resilience {mode}")
