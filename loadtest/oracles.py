"""Correctness oracles over an operation history: live, as each event is recorded, and at the
end, over what the final audit read back. Pure: no Locust, no network, so the chaos engine and
the tests use them as they are.

    report = check(read_history(path), final_reads)

What each count means (docs/load.md): lost_writes, acknowledged writes missing after the run;
duplicate_writes, writes applied more than once; dm_order_violations, DM sequence gaps,
inversions and messages out of real-time order; timeline_order_violations, pages not newest
first; read_your_writes_violations, a device not reading back what it just created;
phantom_writes, writes that failed yet took effect. max_staleness_s is a measure, not a
violation.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from loadtest.history import WRITES, Event
from loadtest.readback import AuditPlan, FinalReads
from loadtest.reads import ReadChecks
from loadtest.tally import EXAMPLES_PER_KIND, KINDS, Tally, Violation
from loadtest.writes import WriteLog


@dataclass
class OracleReport:
    """The load's full account; its counts are those of `loadtest.vocabulary` (a test holds
    the two together), with the details the chaos summary has no room for."""

    lost_writes: int = 0
    duplicate_writes: int = 0
    dm_order_violations: int = 0
    timeline_order_violations: int = 0
    read_your_writes_violations: int = 0
    phantom_writes: int = 0
    max_staleness_s: float = 0.0
    stale_reads: int = 0
    reads_checked: int = 0
    # invoked, ok (of which accepted: queued in an outbox), fail, unknown
    writes: dict[str, int] = field(default_factory=dict)
    audited: bool = False
    # read_back, unverified, outbox_drained
    audit: dict[str, Any] = field(default_factory=dict)
    # home timeline visibility of acknowledged posts: posts, p50_s, max_s
    visibility: dict[str, float | int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def violations(self) -> int:
        return sum(getattr(self, kind) for kind in KINDS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"violations": self.violations}


class Oracles:
    def __init__(self) -> None:
        self.tally = Tally()
        self.writes = WriteLog()
        self.reads = ReadChecks(self.writes, self.tally)
        self._invoked: dict[int, Event] = {}
        self._outbox_drained: bool | None = None
        self._last_time = 0.0

    def observe(self, event: Event) -> list[Violation]:
        """Takes the next event of the history; returns the violations it revealed."""
        self._last_time = max(self._last_time, event.time)
        if event.type == "invoke":
            self._invoked[event.op] = event
            if event.f in WRITES:
                self.writes.invoked(event)
        else:
            invoked = self._invoked.pop(event.op, None)
            if invoked is not None:
                if event.f in WRITES:
                    self.writes.completed(event)
                else:
                    self.reads.observe(invoked, event)
        return self.tally.take_new()

    def plan(self) -> AuditPlan:
        return self.writes.plan()

    def finish(self, final: FinalReads) -> list[Violation]:
        """Checks every write against what was read back after the load stopped."""
        self._outbox_drained = final.outbox_drained
        self.writes.check(final, self.tally, self._last_time)
        return self.tally.take_new()

    def report(self) -> OracleReport:
        audit: dict[str, Any] = dict(self.writes.audit)
        if self._outbox_drained is not None:
            audit["outbox_drained"] = self._outbox_drained
        return OracleReport(
            **self.tally.counts,
            max_staleness_s=round(self.reads.staleness.max_s, 3),
            stale_reads=self.reads.staleness.stale_reads,
            reads_checked=self.reads.checked,
            writes=dict(self.writes.counts),
            audited=self.writes.audited,
            audit=audit,
            visibility=self.reads.visibility.summary(),
            examples={k: list(v) for k, v in self.tally.examples.items() if v},
        )


def check(history: Iterable[Event], final_reads: FinalReads | None = None) -> OracleReport:
    """The oracles' verdict on a whole history and, when given, the final audit's reads."""
    oracles = Oracles()
    for event in history:
        oracles.observe(event)
    if final_reads is not None:
        oracles.finish(final_reads)
    else:
        oracles.writes.close()
    return oracles.report()


def combine(reports: Iterable[OracleReport]) -> OracleReport:
    """One report for several histories (the workers of a distributed run)."""
    total = OracleReport(audited=True)
    any_report = False
    for report in reports:
        any_report = True
        for kind in (*KINDS, "stale_reads", "reads_checked"):
            setattr(total, kind, getattr(total, kind) + getattr(report, kind))
        total.max_staleness_s = max(total.max_staleness_s, report.max_staleness_s)
        total.audited = total.audited and report.audited
        for name, count in report.writes.items():
            total.writes[name] = total.writes.get(name, 0) + count
        for name, value in report.audit.items():
            if isinstance(value, bool):
                total.audit[name] = bool(total.audit.get(name, True)) and value
            else:
                total.audit[name] = int(total.audit.get(name, 0)) + int(value)
        posts = int(total.visibility.get("posts", 0)) + int(report.visibility.get("posts", 0))
        total.visibility = {
            "posts": posts,
            "p50_s": max(total.visibility.get("p50_s", 0.0), report.visibility.get("p50_s", 0.0)),
            "max_s": max(total.visibility.get("max_s", 0.0), report.visibility.get("max_s", 0.0)),
        }
        for kind, examples in report.examples.items():
            kept = total.examples.setdefault(kind, [])
            kept.extend(examples[: max(0, EXAMPLES_PER_KIND - len(kept))])
    if not any_report:
        total.audited = False
    return total


def report_from_dict(data: dict[str, Any]) -> OracleReport:
    fields = {k: v for k, v in data.items() if k in OracleReport.__dataclass_fields__}
    return OracleReport(**fields)
