"""The chaos console in the Locust web UI: a page of the project's own served by the master's
web app at /chaos and shown in a "Chaos" tab, with live charts sampled by the master and the
chaos agent's API behind it (docs/load.md, "How the console is built").

`install` is called once the master's web UI exists; the sampler then takes a point a second
and starts a new series at each new run.
"""

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent

from loadtest.console.agent_proxy import AgentProxy, WriteRules
from loadtest.console.routes import TAB, Console, register
from loadtest.console.series import Sampler, Stats
from loadtest.console.settings import ConsoleSettings

if TYPE_CHECKING:
    from locust.env import Environment

log = logging.getLogger("loadtest.console")
ALL_ADDRESSES = "0.0.0.0"


def publish_address(settings: ConsoleSettings, web_host: str | None) -> str:
    """Where the web UI can be reached from: FAILWHALE_PUBLISH_ADDRESS, else the address the UI
    binds (Locust's empty or `*` --web-host binds them all)."""
    if settings.publish_address.strip():
        return settings.publish_address.strip()
    return ALL_ADDRESSES if web_host in (None, "", "*") else web_host


def install(
    environment: "Environment",
    snapshot: Callable[[], dict[str, Any]],
    status: Callable[[], dict[str, Any] | None],
    settings: ConsoleSettings | None = None,
) -> Console:
    """Adds the console to the master's web UI and starts its sampler."""
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    settings = settings or ConsoleSettings()
    tabs = web_ui.template_args.setdefault("extended_tabs", [])
    tabs.append({"title": "Chaos", "key": TAB})

    def stats() -> Stats | None:
        runner = environment.runner
        return None if runner is None else runner.stats

    sampler = Sampler(stats, snapshot, status, time.time)
    agent = None
    if settings.agent:
        agent = AgentProxy(settings.console_agent_url, settings.console_token)
    web_host = getattr(environment.parsed_options, "web_host", None)
    rules = WriteRules(publish_address(settings, web_host), settings.console_remote)
    console = Console(sampler, agent, rules)
    register(web_ui.app, console, web_ui.auth_required_if_enabled)
    new_run = environment.events.test_start  # a new run, a new series
    new_run.add_listener(lambda **_: sampler.reset())  # type: ignore[no-untyped-call]
    gevent.spawn(sample_every_second, sampler)
    return console


def sample_every_second(sampler: Sampler) -> None:
    """Takes a point at each whole second, for the life of the process."""
    while True:
        gevent.sleep(1.0 - time.time() % 1.0)
        try:
            sampler.sample()
        except Exception:  # a sampler that stops would freeze the charts: log, go on
            log.exception("the console's sampler failed")
