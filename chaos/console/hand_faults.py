"""Faults by hand, and the board of every fault the agent applied or saw a run apply.

A hand fault is validated with the scenario schema's own fault model, refused where the backend
says it cannot be done (`check`), applied through the backend (which journals it and starts the
dead-man timer, as for a run), shown to take effect (`verify`, again until it does), and reverted
at its deadline by the board's keeper thread, whether or not anyone watches. `DELETE` reverts one
early. The journal and the dead-man timer cover an agent that dies before a deadline.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from chaos.backends.base import AppliedFault, Backend, Fault, NotApplied
from chaos.console.fault_kinds import KIND_TAGS, MAX_DURATION_S, MIN_DURATION_S, SPEC
from chaos.console.problems import FieldErrors, field_errors
from chaos.runner import VERIFY_EVERY_S
from services.common.errors import Conflict, DependencyUnavailable, NotFound, Unprocessable

TICK_S = 0.25
RETRY_REVERT_S = 5.0
Source = Literal["hand", "scenario"]


@dataclass
class Tracked:
    fault: AppliedFault
    source: Source
    deadline: float
    verified_at: float = 0.0
    revert_began: float | None = None
    revert_error: str = ""

    def view(self, now: float) -> dict[str, Any]:
        fault = self.fault
        hidden = {"fault", "target", "at_s", "duration_s"}
        params = fault.spec.model_dump(mode="json", exclude=hidden, exclude_none=True)
        return {
            "id": fault.id,
            "fault": fault.kind,
            "target": fault.target,
            "params": params,
            "source": self.source,
            "started_at": fault.started_at,
            "deadline": self.deadline,
            "ended_at": fault.ended_at,
            "left_s": 0.0 if fault.reverted else round(max(0.0, self.deadline - now), 3),
            "took_effect": fault.took_effect,
            "evidence": fault.evidence,
            "revert_evidence": fault.revert_evidence or self.revert_error,
        }


def parse_fault(body: Any) -> Fault:
    """The hand fault a request body asks for (it starts now: at_s is 0), or FieldErrors."""
    if not isinstance(body, dict):
        raise FieldErrors([{"field": "(body)", "message": "a JSON object of the fault's fields"}])
    fields = dict(body)
    if fields.pop("at_s", 0) not in (0, 0.0):
        raise FieldErrors([{"field": "at_s", "message": "a fault by hand starts now: leave out"}])
    try:
        spec: Fault = SPEC.validate_python({**fields, "at_s": 0})
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc, KIND_TAGS)) from None
    if not MIN_DURATION_S <= spec.duration_s <= MAX_DURATION_S:
        message = f"from {MIN_DURATION_S:g} to {MAX_DURATION_S:g} seconds"
        raise FieldErrors([{"field": "duration_s", "message": message}])
    return spec


def refusal_errors(spec: Fault, reason: str) -> FieldErrors:
    """The backend's refusal, beside the field it is about when it names one."""
    peer = getattr(spec, "peer", None)
    field = "target" if spec.target in reason else "peer" if peer and peer in reason else ""
    return FieldErrors([{"field": field, "message": reason}] if field else [], detail=reason)


class FaultBoard:
    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self._faults: dict[str, Tracked] = {}
        self._shown: dict[str, dict[str, Any]] = {}  # a scenario run's faults, by id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="fault-deadlines", daemon=True)

    def start(self) -> None:
        self._keeper.start()

    def close(self) -> None:
        """The agent stops: every hand fault still active is reverted now (revert in finally)."""
        self._stop.set()
        if self._keeper.is_alive():
            self._keeper.join(timeout=5)
        for tracked in self._tracked():
            if tracked.source == "hand" and not tracked.fault.reverted:
                self._revert(tracked)

    # -- the API ------------------------------------------------------------------------------

    def apply(self, body: Any) -> dict[str, Any]:
        spec = parse_fault(body)
        if reason := self.backend.check(spec):
            raise refusal_errors(spec, reason)
        begun = self.clock()
        fault = self.backend.apply(spec)
        fault.begun_at(begun)
        if isinstance(fault, NotApplied):
            fault.revert()
            raise Unprocessable(f"{spec.fault} on {spec.target} did not take hold: {fault.reason}")
        tracked = Tracked(fault, "hand", fault.started_at + spec.duration_s)
        with self._lock:
            self._faults[fault.id] = tracked
        self._verify(tracked)
        return tracked.view(self.clock())

    def revert(self, fault_id: str) -> dict[str, Any]:
        with self._lock:
            tracked = self._faults.get(fault_id)
            shown = self._shown.get(fault_id)
        if shown is not None:
            raise Conflict(f"{fault_id} is a scenario run's: stop the run to revert it now")
        if tracked is None:
            raise NotFound(f"no fault {fault_id!r}")
        self._revert(tracked)
        if not tracked.fault.reverted:
            raise DependencyUnavailable(
                "the chaos engine",
                f"{fault_id} is still applied ({tracked.revert_error}); the agent tries again "
                "at its deadline, and the dead-man timer after it",
            )
        return tracked.view(self.clock())

    def show(self, views: Iterable[dict[str, Any]]) -> None:
        """A scenario run's faults as its process last saw them, listed beside the hand faults
        (the run applies and reverts them)."""
        with self._lock:
            for view in views:
                self._shown[str(view["id"])] = dict(view)

    def listing(self) -> list[dict[str, Any]]:
        """Every fault of the agent's life, hand and scenario, in the order they began."""
        now = self.clock()
        with self._lock:
            shown = [dict(view) for view in self._shown.values()]
        views = [tracked.view(now) for tracked in self._tracked()] + shown
        return sorted(views, key=lambda view: float(view["started_at"]))

    # -- the keeper ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Reverts hand faults past their deadline (each in a thread of its own: a revert that
        waits for a service to be ready holds back no other), verifies those not yet shown."""
        now = self.clock()
        for tracked in self._tracked():
            if tracked.source != "hand" or tracked.fault.reverted:
                continue
            if now >= tracked.deadline:
                began = tracked.revert_began
                if began is None or (tracked.revert_error and now - began >= RETRY_REVERT_S):
                    tracked.revert_began = now
                    threading.Thread(
                        target=self._revert, args=(tracked,), name=f"revert-{tracked.fault.id}",
                        daemon=True,
                    ).start()  # fmt: skip
            elif not tracked.fault.took_effect and now - tracked.verified_at >= VERIFY_EVERY_S:
                self._verify(tracked)

    def _keep(self) -> None:
        while not self._stop.wait(TICK_S):
            self.tick()

    def _tracked(self) -> list[Tracked]:
        with self._lock:
            return list(self._faults.values())

    def _verify(self, tracked: Tracked) -> None:
        tracked.verified_at = self.clock()
        tracked.fault.verify()

    def _revert(self, tracked: Tracked) -> None:
        try:
            if not tracked.fault.took_effect:
                tracked.fault.verify()  # a last look before it is undone, as a run does
            tracked.fault.revert()
            tracked.revert_error = ""
        except Exception as exc:  # the journal keeps it pending: retried, else the dead-man's
            tracked.revert_error = f"revert failed, retried: {exc!r}"
