"""What every backend offers the runner: refuse what it cannot do before the run (`check`), apply a
fault and hand back an `AppliedFault` that can show it took effect (`verify`) and undo it
(`revert`), and undo whatever a killed runner left (`sweep`, and `undo` of one journal record).
An engine's driver module offers `open_backend(where)` and `reopen(journal)` (`Engine`)."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from chaos.fault_specs import (
    Cpu,
    Drain,
    HttpErrors,
    Kill,
    Latency,
    Loss,
    Partition,
    Pause,
    Restart,
    RollingRestart,
    Scale,
    Stop,
)
from chaos.observation import FaultWindow

if TYPE_CHECKING:
    from chaos.journal import Journal
    from chaos.undo import UndoRecord
    from stack.local import LocalStack

Fault = (
    Kill | Stop | Pause | Restart | Latency | Loss | Partition | HttpErrors | Cpu | Scale
    | RollingRestart | Drain
)  # fmt: skip


class FaultError(RuntimeError):
    """The backend itself is unusable (no daemon, no stack): nothing was applied."""


def fault_id(spec: Fault) -> str:
    """Unique, and readable where it shows up (container names, iptables comments)."""
    return f"{spec.fault}-{spec.target}-{secrets.token_hex(3)}"


class AppliedFault(ABC):
    """A fault as applied. `verify()` says whether it can be shown to have taken effect (the
    first positive answer sticks: a fault that was shown to act did act); `revert()` undoes it,
    any number of times, and leaves `revert_evidence` (e.g. how long the service took to be
    ready again). Times are epoch seconds; `apply_s`/`revert_s` are how long each step took."""

    def __init__(self, spec: Fault, fault_id: str, mechanism: str, journal: Journal) -> None:
        self.spec = spec
        self.id = fault_id
        self.mechanism = mechanism
        self.journal = journal
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.apply_s = 0.0
        self.revert_s: float | None = None
        self.took_effect = False
        self.evidence = ""
        self.revert_evidence = ""
        self._verified_once = False
        self._lock = threading.Lock()
        self._reverted = False

    @property
    def kind(self) -> str:
        return self.spec.fault

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def peer(self) -> str | None:
        return self.spec.peer if isinstance(self.spec, Partition) else None

    @property
    def reverted(self) -> bool:
        return self._reverted

    def begun_at(self, at: float) -> None:
        """The fault's window starts when the engine began to apply it: a kill acts during the
        call, before this object exists, and what the stack shows of it may be sampled then."""
        self.started_at = min(self.started_at, at)

    def verify(self) -> tuple[bool, str]:
        try:
            ok, evidence = self._verify()
        except Exception as exc:  # a probe that breaks is no evidence, not a crash of the run
            ok, evidence = False, f"could not verify: {exc!r}"
        if ok or not self.took_effect:
            self.took_effect, self.evidence = ok, evidence
        self._verified_once = True
        return ok, evidence

    def revert(self) -> None:
        with self._lock:
            if self._reverted:
                return
            began = time.monotonic()
            # The dead-man timer leaves a fault being reverted to its runner.
            with contextlib.suppress(KeyError):
                self.journal.update(self.id, state="reverting")
            self.revert_evidence = self._revert()
            self.revert_s = time.monotonic() - began
            self.ended_at = time.time()
            self._reverted = True
            self.journal.mark_reverted(self.id, self.revert_evidence)

    def window(self, run_started_at: float) -> FaultWindow:
        """The fault as the observer, verdict and reports see it (times from the run's start)."""
        return FaultWindow(
            kind=self.kind,
            target=self.target,
            peer=self.peer,
            start_s=self.started_at - run_started_at,
            end_s=None if self.ended_at is None else self.ended_at - run_started_at,
            took_effect=self.took_effect,
            evidence=self.evidence,
            mechanism=self.mechanism,
        )

    @abstractmethod
    def _verify(self) -> tuple[bool, str]: ...

    @abstractmethod
    def _revert(self) -> str: ...


class NotApplied(AppliedFault):
    """A fault that could not take hold (the process had already exited, the hook is off, a rule
    was refused): it verifies as not taken effect, with the reason, so the verdict is `invalid`."""

    def __init__(self, spec: Fault, fault_id: str, mechanism: str, journal: Journal, reason: str):
        super().__init__(spec, fault_id, mechanism, journal)
        self.reason = reason
        self.evidence = reason

    def _verify(self) -> tuple[bool, str]:
        return False, self.reason

    def _revert(self) -> str:
        return "nothing to undo: " + self.reason


class Backend(Protocol):
    """The interface the runner calls. `check` is cheap and refuses only what is known not to
    work (it may look at the running stack: a missing container, a fault hook that is off)."""

    name: str
    journal: Journal

    @property
    def gateway_url(self) -> str: ...

    def services(self) -> dict[str, str]:
        """Base URL of each service (`redis://host:port` for Redis), as this host reaches it."""
        ...

    def check(self, spec: Fault) -> str | None: ...

    def apply(self, spec: Fault) -> AppliedFault: ...

    def sweep(self) -> list[str]:
        """Undo what the journal says is still applied, and (docker) what a scan finds; returns
        one line per thing undone."""
        ...

    def close(self) -> None: ...

    def undo(self, record: UndoRecord) -> str:
        """Undo one journal record of this engine's kinds; says what it did."""
        ...

    # -- what the stack offers beside faults: the runner and `compare` ask, never check names

    def stack_locust_url(self) -> str | None:
        """The web UI of the Locust master the stack runs itself, which then drives a run's
        load; None when the stack has none (the run brings its own Locust)."""
        ...

    def switch_resilience(self, mode: str) -> None:
        """Run the stack's services with FAILWHALE_RESILIENCE=mode, with the same ports,
        secrets and data; FaultError when it cannot."""
        ...

    def self_healing(self) -> str | None:
        """Whether the engine replaces dead tasks (on, off, mixed); None without an
        orchestrator."""
        ...

    def set_self_healing(self, mode: str) -> list[str]:
        """Every service restarts dead tasks (on) or none (off); one line per service changed.
        FaultError without an orchestrator."""
        ...


@dataclass(frozen=True)
class Where:
    """Where an engine finds the stack it breaks: a compose or swarm project (`project`), a
    local stack (`stack`, or the one left in `workdir`); and where its journal goes."""

    project: str | None = None
    workdir: Path | None = None
    stack: LocalStack | None = None
    journal_dir: Path | None = None


class Engine(Protocol):
    """What an engine's driver module offers the registry (`chaos.backends.ENGINES`)."""

    def open_backend(self, where: Where) -> Backend:
        """The backend for that stack; FaultError when it cannot be used at all."""
        ...

    def reopen(self, journal: Journal) -> Backend:
        """The backend that wrote `journal`, from the origin the journal names."""
        ...


def undo_pending(journal: Journal, undo: Callable[[UndoRecord], str]) -> list[str]:
    """Undo what the journal says is still applied (a sweep's first step), then forget it;
    one line per entry."""
    done = []
    for entry in journal.pending():
        try:
            done.append(f"{entry.id}: {undo(entry.undo)}")
        except Exception as exc:  # a scan that follows gets another go at it
            done.append(f"{entry.id}: undo failed ({exc!r}); left to the scan")
        journal.mark_reverted(entry.id, "swept")
    journal.forget_reverted()
    return done
