"""One scenario run for the agent, in a process of its own: `python -m chaos.console.run_worker
SCENARIO RESILIENCE OUT`. It is the CLI's run (`ChaosRun`, with `join=True`: it acts on the load
the stack's Locust master runs, else brings its own), and it tells the agent what happens as
JSON lines on its standard output: progress with the run's faults once a second, then the
result, a stop or an error. Everything else it prints goes to its standard error.

A process, not a thread of the agent: the runner reverts its faults on SIGTERM through a signal
handler (only a main thread may set one), which is also how the agent stops a run early.
"""

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import IO, Any

from chaos.backends.base import AppliedFault, FaultError
from chaos.console.catalogue import scenario_named
from chaos.console.hand_faults import Tracked
from chaos.console.settings import AgentSettings, open_backend
from chaos.runner import ChaosRun, Progress, SetupError
from services.common.errors import ChirpError


class Channel:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.applied: list[AppliedFault] = []

    def send(self, **message: Any) -> None:
        now = time.time()
        faults = [Tracked(f, "scenario", f.started_at + f.spec.duration_s) for f in self.applied]
        message["faults"] = [tracked.view(now) for tracked in faults]
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def progress(self, progress: Progress) -> None:
        self.send(progress={"phase": progress.phase, "elapsed_s": progress.elapsed_s,
                            "left_s": progress.left_s, "active": progress.active})  # fmt: skip


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt("stopped by hand")


def main(argv: list[str]) -> int:
    name, resilience, out = argv[1], argv[2], Path(argv[3])
    # The agent reads the channel; a stray print (of the load, of a library) must not reach it.
    channel = Channel(os.fdopen(os.dup(1), "w"))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, _stop)
    began = time.time()
    try:
        backend = open_backend(AgentSettings())
        try:
            run = ChaosRun(scenario_named(name), backend, resilience, out,
                           report=channel.progress, join=True)  # fmt: skip
            channel.applied = run.applied
            result = run.run()
        finally:
            backend.close()
    except KeyboardInterrupt:
        channel.send(stopped=f"stopped by hand after {time.time() - began:.0f} s")
        return 0
    except (SetupError, FaultError, ChirpError) as exc:
        channel.send(error=str(exc))
        return 2
    except Exception as exc:  # the agent shows it; the runner reverted in finally
        traceback.print_exc()
        channel.send(error=f"the run failed: {exc!r}")
        return 1
    summary = result.summary
    channel.send(result={"verdict": summary.verdict, "reason": result.judgement.reason,
                         "report": out.name})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
