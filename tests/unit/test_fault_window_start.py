"""A fault's window starts when the engine began to apply it, not when the apply returned: what
the stack shows of a kill can be sampled while the call is still on its way back, and a sample
taken then must count as after the fault began (else a detection is missed, time_to_detect_s
None)."""

import time
from pathlib import Path
from typing import Any

from chaos.backends.base import AppliedFault, NotApplied
from chaos.journal import Journal
from chaos.runner import apply_all
from chaos.scenario import Kill

APPLY_S = 0.3


class SlowEngine:
    """Applies a fault in APPLY_S seconds: the fault's object is made when the call is over."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def apply(self, spec: Any) -> AppliedFault:
        time.sleep(APPLY_S)
        return NotApplied(spec, f"kill-{spec.target}", "test", self.journal, "a test engine")


def test_the_window_of_each_fault_applied_together_starts_before_the_apply(
    tmp_path: Path,
) -> None:
    engine = SlowEngine(Journal.for_scope("test", "windows", tmp_path))
    due = [Kill(fault="kill", target=t, at_s=0, duration_s=5) for t in ("timeline-1", "posts")]
    before = time.time()
    faults = apply_all(engine, due)  # type: ignore[arg-type]
    after = time.time()
    assert after - before >= APPLY_S
    for fault in faults:
        assert before <= fault.started_at <= before + APPLY_S / 3
        assert fault.window(before).start_s < APPLY_S / 3
