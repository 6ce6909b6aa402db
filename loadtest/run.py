"""One process's share of a load run, and the Locust events that drive it: the options, the
account pool, each run's history, oracles and scoreboard, the final audit, the reports workers
send to the master, and the summary and exit code at the end.

A run starts at Locust's `test_start` and ends at `test_stop` with the final audit. On the
master of a distributed run nothing is recorded: it adds up what the workers report
(loadtest/workers.py), and when Locust is about to quit by itself (headless, or --autoquit) it
stops the workers and waits for their audits before it lets them go.
"""

import logging
import socket
import uuid
import weakref
from pathlib import Path
from typing import Any

import gevent
from locust import runners
from locust.env import Environment
from locust.event import Events
from locust.runners import MasterRunner, WorkerRunner

from loadtest import summary, webui
from loadtest.accounts import Account, AccountPool
from loadtest.audit import run_audit
from loadtest.devices import Device
from loadtest.history import Event, History
from loadtest.options import RUN_OPTION, Settings, add_options
from loadtest.oracles import Oracles
from loadtest.readback import FinalReads
from loadtest.schedule import Ledger
from loadtest.scoreboard import Scoreboard
from loadtest.tally import Violation
from loadtest.workers import WorkerAudits

log = logging.getLogger("loadtest")
LOGGED_VIOLATIONS = 50
SEED_OFFSET_PER_WORKER = 1009  # workers playing a seed file start at different accounts
REPORT_KEY = "failwhale"
DESCRIPTIONS = {
    "lost_writes": "acknowledged write missing after the run",
    "duplicate_writes": "write applied more than once",
    "dm_order_violations": "DM sequence gap, inversion or out of real-time order",
    "timeline_order_violations": "page not newest first",
    "read_your_writes_violations": "device did not read back its own write",
    "phantom_writes": "failed write took effect",
}

_runs: "weakref.WeakKeyDictionary[Environment, LoadRun]" = weakref.WeakKeyDictionary()


class OracleViolation(Exception):
    """How a violation shows in Locust's statistics: a failed request of type ORACLE."""


def run_of(environment: Environment) -> "LoadRun":
    return _runs[environment]


class LoadRun:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.settings = Settings.of(environment.parsed_options)
        self.history: History | None = None
        self.oracles = Oracles()
        self.board = Scoreboard()
        self.generator = Ledger()  # the open loop's schedule kept or not (loadtest/schedule.py)
        self.audits = WorkerAudits()  # master: the workers' reports and audits
        self.run_id = ""
        self._pool: AccountPool | None = None
        self._users = 0
        self._logged = 0
        self._auditing: gevent.Greenlet[..., None] | None = None

    @property
    def is_master(self) -> bool:
        return isinstance(self.environment.runner, MasterRunner)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    @property
    def pool(self) -> AccountPool:
        if self._pool is None:
            if self.settings.accounts_file:
                offset = getattr(self.environment.runner, "worker_index", 0) or 0
                self._pool = AccountPool.from_seed_file(
                    Path(self.settings.accounts_file), offset * SEED_OFFSET_PER_WORKER
                )
            else:
                self._pool = AccountPool()
        return self._pool

    def next_user_number(self) -> int:
        self._users += 1
        return self._users

    def device(self, name: str, session: Any, account: Account) -> Device:
        assert self.history is not None, "a device outside a run"
        return Device(name, session, account, self.history, self.board)

    def dropped_arrival(self) -> None:
        self.board.dropped_arrivals += 1
        self.environment.events.request.fire(
            request_type="OPEN_LOOP", name="dropped arrival", response_time=0,
            response_length=0, exception=OracleViolation("too many actions in flight"),
            context={},
        )  # fmt: skip

    # -- the life of a run ------------------------------------------------------------------------

    def start(self) -> None:
        accounts_file = self.settings.accounts_file
        self.settings = Settings.of(self.environment.parsed_options)
        if self.settings.accounts_file != accounts_file:
            self._pool = None  # the web UI's form named another seed file for this run
        options = self.environment.parsed_options
        if self.is_master:
            self.run_id = uuid.uuid4().hex
            if options is not None:
                setattr(options, RUN_OPTION, self.run_id)
            self.audits.start(self.run_id)
            return
        self.run_id = str(getattr(options, RUN_OPTION, "") or "")
        if self.history is not None:
            self.history.close()
        path = Path(self.settings.history_file) if self.settings.history_file else None
        self.history = History(path)
        self.oracles = Oracles()
        self.board = Scoreboard(self.history.started)
        self.generator = Ledger(self.settings.rate)
        self._logged = 0
        self.history.subscribe(self._observe)

    def finish(self, wait: bool) -> None:
        """Ends the history and runs the final audit (in the background unless `wait`)."""
        if self.history is None or self.history.closed:
            return
        self.history.close()
        self.board.audit_state = "running"
        # the run's own tokens: a next run may play other accounts before this audit is done
        tokens = self._pool.tokens() if self._pool is not None else {}
        if wait:
            self._audit(self.oracles, self.board, tokens)
        else:
            self._auditing = gevent.spawn(self._audit, self.oracles, self.board, tokens)

    def await_audit(self) -> None:
        """Waits for an audit running in the background (quitting must not cut it short)."""
        if self._auditing is not None and not self._auditing.ready():
            self._auditing.join(timeout=self.settings.audit_wait_s)

    def collect_audits(self) -> None:
        """Master, at the run's stop: awaits the workers' audits, stopping the workers first if
        Locust did not (it quits a headless run without stopping them, so they would audit
        nothing). It blocks only when Locust quits next; from the web UI the tab shows them
        as they come."""
        runner = self.environment.runner
        assert isinstance(runner, MasterRunner)
        workers_left_running = runner.user_count > 0 or self.settings.headless
        if workers_left_running:
            runner.send_message("stop")
        self.audits.stop(self.settings.audit_wait_s + 2 * runners.WORKER_REPORT_INTERVAL)
        if workers_left_running or self.settings.autoquit:
            self.audits.wait(gevent.sleep)
            missing = self.audits.missing()
            if missing:
                log.warning("no final audit from %s", ", ".join(missing))

    def _audit(self, oracles: Oracles, board: Scoreboard, tokens: dict[str, str]) -> None:
        """Reads back what the run wrote and gives it to the run's oracles (a new run may have
        started meanwhile: this one's oracles, scoreboard and tokens are passed in)."""
        plan = oracles.plan()
        try:
            if plan.authors or plan.conversations:
                timeout = self.settings.audit_timeout_s
                final = run_audit(self.environment.host or "", plan, tokens, timeout, timeout)
            else:
                final = FinalReads()
            if not final.outbox_drained:
                log.warning("the gateway's outboxes were not empty when the audit read back")
            for unreadable in final.unreadable:
                log.warning("audit: could not read back the %s", unreadable)
            for violation in oracles.finish(final):
                self._report(violation)
            board.audit_state = "done"
        except Exception:
            log.exception("the final audit failed")
            board.audit_state = "failed"
        board.oracles = oracles.report()

    def snapshot(self) -> dict[str, Any]:
        if self.is_master:
            return self.audits.snapshot()
        self.board.oracles = self.oracles.report()
        snapshot = self.board.snapshot()
        snapshot["generator"] = self.generator.snapshot() if self.settings.rate > 0 else None
        if isinstance(self.environment.runner, WorkerRunner):
            index = self.environment.runner.worker_index
            snapshot |= {"run": self.run_id, "worker": f"worker {index} on {socket.gethostname()}"}
        return snapshot

    def _observe(self, event: Event) -> None:
        for violation in self.oracles.observe(event):
            self._report(violation)

    def _report(self, violation: Violation) -> None:
        self.environment.events.request.fire(
            request_type="ORACLE", name=violation.kind, response_time=0, response_length=0,
            exception=OracleViolation(DESCRIPTIONS[violation.kind]), context={},
        )  # fmt: skip
        if self._logged < LOGGED_VIOLATIONS:
            self._logged += 1
            log.warning("oracle %s: %s", violation.kind, violation.detail)


# Heartbeats (one a second) a worker may miss before the master counts it gone. Locust's 3 is
# too few for a worker that spawns users and logs them in on a busy machine: the master then
# stops the run as if the worker had died.
HEARTBEAT_LIVENESS = 15


def install(events: Events) -> None:
    """Wires the load run into Locust's events (called once, by the locustfile)."""
    runners.HEARTBEAT_LIVENESS = max(runners.HEARTBEAT_LIVENESS, HEARTBEAT_LIVENESS)
    events.init_command_line_parser.add_listener(add_options)

    @events.init.add_listener
    def on_init(environment: Environment, **_: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per audit read
        run = _runs[environment] = LoadRun(environment)
        if environment.web_ui is not None:
            webui.install(environment, run.snapshot)
        if run.is_master:
            # added after the runner's own listener, so it runs first (quitting fires in
            # reverse): audits still under way are in before the workers are told to quit
            environment.events.quitting.add_listener(lambda **_: run.audits.wait(gevent.sleep))

    @events.test_start.add_listener
    def on_test_start(environment: Environment, **_: Any) -> None:
        options = environment.parsed_options
        if options is not None and not isinstance(environment.runner, WorkerRunner):
            # the rate is split over the users the run starts with; workers get it from here
            options.open_loop_users = options.num_users
        run_of(environment).start()

    @events.spawning_complete.add_listener
    def on_spawning_complete(**_: Any) -> None:
        for run in list(_runs.values()):
            run.generator.steady()  # the open loop's steady window starts

    @events.test_stop.add_listener
    def on_test_stop(environment: Environment, **_: Any) -> None:
        run = run_of(environment)
        if run.is_master:
            run.collect_audits()
        else:
            run.generator.end()
            run.finish(wait=run.settings.headless and not run.is_worker)

    @events.report_to_master.add_listener
    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        for run in list(_runs.values()):
            if isinstance(run.environment.runner, WorkerRunner):
                data[REPORT_KEY] = run.snapshot()

    @events.worker_report.add_listener
    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        snapshot = data.get(REPORT_KEY)
        for run in list(_runs.values()):
            if run.is_master and snapshot:
                run.audits.record(client_id, snapshot)

    @events.quitting.add_listener
    def on_quitting(environment: Environment, **_: Any) -> None:
        run = run_of(environment)
        if isinstance(environment.runner, WorkerRunner):
            return
        run.finish(wait=True)  # Ctrl-C before the run's end: audit now, before the verdict
        run.await_audit()  # a UI run (--autostart, say) audits in the background
        snapshot = run.snapshot()
        if snapshot["oracles"]["violations"] or snapshot["audit_state"] == "incomplete":
            environment.process_exit_code = 1
        if run.settings.report_file:
            summary.write_report(Path(run.settings.report_file), environment, snapshot)

    @events.quit.add_listener
    def on_quit(exit_code: int, **_: Any) -> None:
        # after Locust's own tables: the summary with the oracles' results
        for run in list(_runs.values()):
            ran = run.audits.reports if run.is_master else run.history is not None
            if ran and not isinstance(run.environment.runner, WorkerRunner):
                print(summary.render(run.environment, run.snapshot()), flush=True)
