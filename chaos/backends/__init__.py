"""Backends that apply faults: `docker` (a compose project's containers) and `local` (the
services as local processes). The runner gets one from `backend_for`."""

from pathlib import Path

from chaos.backends.base import AppliedFault, Backend, Fault, FaultError, NotApplied
from chaos.journal import Journal
from stack.local import LocalStack

BACKENDS = ("docker", "local")
DEFAULT_WORKDIR = Path(__file__).resolve().parents[2] / ".local"

__all__ = [
    "BACKENDS",
    "AppliedFault",
    "Backend",
    "Fault",
    "FaultError",
    "NotApplied",
    "backend_for",
]


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
    if name == "docker":
        from chaos.backends.docker.driver import DockerBackend, default_project

        scope = project or default_project()
        return DockerBackend(scope, Journal.for_scope("docker", scope, journal_dir))
    if name == "local":
        from chaos.backends.local.driver import LocalBackend

        journal = None
        if journal_dir is not None:
            where = stack.workdir if stack is not None else workdir or DEFAULT_WORKDIR
            journal = Journal.for_scope("local", str(where.resolve()), journal_dir)
        if stack is not None:
            return LocalBackend(stack, journal)
        return LocalBackend.from_workdir(workdir or DEFAULT_WORKDIR, journal)
    raise FaultError(f"no backend {name!r}: choose one of {', '.join(BACKENDS)}")
