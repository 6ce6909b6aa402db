"""Backends that apply faults, one package per engine: `docker` (a compose project's containers)
and `local` (the services as local processes). The runner gets one from `backend_for`; a dead-man
timer or a sweep rebuilds the one that wrote a journal with `backend_from_journal`.

An engine is one entry in `ENGINES`: its driver module (an `Engine`: `open_backend`, `reopen`),
imported only when that engine is asked for, so one engine's dependencies never load another's.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from chaos.backends.base import Engine, FaultError, Where

if TYPE_CHECKING:
    from chaos.backends.base import Backend
    from chaos.journal import Journal
    from stack.local import LocalStack

ENGINES: dict[str, str] = {
    "docker": "chaos.backends.docker.driver",
    "local": "chaos.backends.local.driver",
    "swarm": "chaos.backends.swarm.driver",
}
BACKENDS = tuple(ENGINES)

__all__ = [
    "BACKENDS",
    "ENGINES",
    "STACK_GATEWAY_URL",
    "STACK_LOCUST_URL",
    "backend_for",
    "backend_from_journal",
    "engine",
    "inside_url",
]

# Set where a backend runs inside the stack's own network (the chaos agent): how it reaches the
# gateway and the Locust master there. Unset (the CLI on the host): the host's published ports.
STACK_GATEWAY_URL = "FAILWHALE_STACK_GATEWAY_URL"
STACK_LOCUST_URL = "FAILWHALE_STACK_LOCUST_URL"


def inside_url(variable: str) -> str | None:
    """The URL `variable` (STACK_GATEWAY_URL, STACK_LOCUST_URL) gives, without a trailing
    slash; None when unset."""
    return os.environ.get(variable, "").rstrip("/") or None


def engine(name: str) -> Engine:
    if name not in ENGINES:
        raise FaultError(f"no backend {name!r}: choose one of {', '.join(ENGINES)}")
    return cast(Engine, importlib.import_module(ENGINES[name]))


def backend_for(
    name: str,
    *,
    project: str | None = None,
    workdir: Path | None = None,
    stack: LocalStack | None = None,
    journal_dir: Path | None = None,
) -> Backend:
    """`docker`: the compose project `project` (default COMPOSE_PROJECT_NAME, else failwhale).
    `local`: `stack` if given, else the stack `failwhale up --backend local` left in `workdir`
    (default .local). The journal goes to `journal_dir` (default .local/chaos, or the local
    stack's workdir/chaos). Raises FaultError when the backend cannot be used at all."""
    return engine(name).open_backend(Where(project, workdir, stack, journal_dir))


def backend_from_journal(journal: Journal) -> Backend:
    """The backend that wrote the journal (its origin names the engine and the scope)."""
    return engine(journal.origin.get("backend", "")).reopen(journal)
