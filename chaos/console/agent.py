"""The chaos agent's app: `uvicorn chaos.console.agent:create_app --factory`. The composition
root: settings (refused without a console token), the backend the CLI would use for the same
stack, the board of faults, the scenario runs, the reports; a sweep of what an earlier agent or
run left behind when it starts, and every hand fault reverted when it stops."""

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from pydantic import ValidationError

from chaos.backends.base import Backend, FaultError
from chaos.backends.local import processes as proc
from chaos.console.hand_faults import FaultBoard
from chaos.console.problems import install_problems
from chaos.console.routes import health, v1
from chaos.console.scenario_runs import ScenarioRuns, Spawn, spawn_worker
from chaos.console.settings import AgentSettings, ConsoleTokenMissing, open_backend, worker_env
from chaos.console.stack_view import StackView
from services.common.body_limit import BodySizeLimit
from services.common.logs import configure_logging
from services.common.service_app import NO_TELEMETRY
from services.common.settings import UnsafeSecrets

log = logging.getLogger("failwhale.chaos.agent")


def create_app(
    settings: AgentSettings | None = None,
    backend: Callable[[AgentSettings], Backend] = open_backend,
    spawn: Spawn | None = None,
    stack_http: httpx.Client | None = None,
) -> FastAPI:
    """The agent for the stack `settings` name (default: from the environment). `backend`,
    `spawn` (a scenario run's process) and `stack_http` (how the stack's gateway and master
    are asked) are the engine's own unless a test gives its fakes."""
    try:
        settings = settings or AgentSettings()
        settings.require_token()  # before anything else: no token, no agent
    except (ConsoleTokenMissing, UnsafeSecrets, ValidationError) as exc:
        raise SystemExit(f"chaos agent: {exc}") from None
    try:
        engine = backend(settings)
    except FaultError as exc:  # no Docker daemon, no swarm manager, no stack: said in one line
        raise SystemExit(f"chaos agent: the {settings.chaos_backend} backend: {exc}") from None
    board = FaultBoard(engine)
    view = StackView(engine, stack_http)
    spawn = spawn or spawn_worker(worker_env(settings))
    runs = ScenarioRuns(engine, view, board, settings.reports_dir, spawn)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging("chaos-agent")
        sweep(engine)
        board.start()
        try:
            yield
        finally:
            runs.close()
            board.close()
            view.close()
            engine.close()

    app = FastAPI(
        title="Failwhale chaos agent",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.backend = engine
    app.state.board = board
    app.state.view = view
    app.state.runs = runs
    install_problems(app)
    app.include_router(health)
    app.include_router(v1)
    app.add_middleware(BodySizeLimit)  # before the token is checked, a body is read
    return app


def sweep(engine: Backend) -> None:
    """What an earlier agent (or a run of it) left applied is undone before this one applies
    anything: each fault its journal still lists, unless the process that applied it still
    lives (a CLI run beside the agent, on a local stack that shares the journal: that fault is
    its owner's). Not `failwhale chaos sweep`'s scan of the whole stack, which would also undo
    a CLI run's faults (it keeps a journal of its own) and fails on containers the stack is
    still starting. An undo that fails stays pending, for the dead-man timer or a sweep."""
    try:
        pending = engine.journal.pending()
    except Exception as exc:  # an unreadable journal: the agent still serves, and says so
        log.warning("the journal could not be read at start: %r", exc)
        return
    for entry in pending:
        if entry.owner_pid != os.getpid() and proc.alive(entry.owner_pid):
            continue
        try:
            note = engine.undo(entry.undo)
        except Exception as exc:
            log.warning("%s could not be undone at start: %r", entry.id, exc)
            continue
        engine.journal.mark_reverted(entry.id, f"undone by the chaos agent at its start: {note}")
        log.info("undone at start: %s: %s", entry.id, note)
    engine.journal.forget_reverted()
