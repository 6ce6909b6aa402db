"""Switching the running stack between resilience on and off, for `failwhale chaos compare`,
and the orchestrator's self-healing on and off for a scenario that requires one: the same
services, ports, secrets and data, with only the layer taken away.

The switch is the backend's own (`Backend.switch_resilience`, `Backend.set_self_healing`), through
the backend object the runs use: a local stack is restarted by that backend, so the process ids
it signals afterwards are those of the restarted processes; a compose project is brought up again
with the variables its containers were created with; a swarm stack's services are updated in
place. A backend that has no such switch says so (FaultError), and that is the error here.
"""

import contextlib
import time
from collections.abc import Iterator

import httpx

from chaos.backends.base import Backend, FaultError

RESILIENCE = "FAILWHALE_RESILIENCE"


class ModeError(RuntimeError):
    pass


def current_mode(backend: Backend) -> str:
    try:
        mode = httpx.get(f"{backend.gateway_url}/v1/status", timeout=5).json()["resilience"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ModeError(f"no stack answers at {backend.gateway_url}: {exc}") from exc
    return str(mode)


def switch_mode(backend: Backend, mode: str) -> None:
    """Restarts the stack's services with FAILWHALE_RESILIENCE=mode (nothing if already so; a
    stack that does not answer at all is started in that mode)."""
    try:
        if current_mode(backend) == mode:
            return
    except ModeError:
        pass
    try:
        backend.switch_resilience(mode)
    except FaultError as exc:
        raise ModeError(str(exc)) from exc
    _wait_answers(backend)
    if current_mode(backend) != mode:
        raise ModeError(f"the stack did not come back with resilience {mode}")


def _wait_answers(backend: Backend, timeout_s: float = 120.0) -> None:
    """Until the gateway answers its status again (its tasks were replaced)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            current_mode(backend)
            return
        except ModeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def self_healing_of(backend: Backend) -> str | None:
    """on, off (or mixed) on a backend whose orchestrator replaces dead tasks; None elsewhere."""
    return backend.self_healing()


def switch_self_healing(backend: Backend, mode: str) -> None:
    """Every service of the stack restarts any dead task (on) or none (off); returns once the
    services have their new tasks and the gateway answers."""
    if self_healing_of(backend) == mode:
        return
    try:
        backend.set_self_healing(mode)
    except FaultError as exc:
        raise ModeError(str(exc)) from exc
    _wait_answers(backend)


@contextlib.contextmanager
def self_healing_as(backend: Backend, mode: str | None) -> Iterator[None]:
    """The stack with self-healing `mode` (None: as it is) while the block runs, as before after."""
    if mode is None:
        yield
        return
    before = self_healing_of(backend)
    switch_self_healing(backend, mode)
    try:
        yield
    finally:
        if before in ("on", "off") and before != mode:
            switch_self_healing(backend, before)
