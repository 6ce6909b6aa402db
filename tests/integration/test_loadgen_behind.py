"""A generator starved on purpose: real Locust, headless, against the real local stack, asked for
an open-loop rate far above what two users' greenlets in one process can issue. The run says so:
its report carries `generator_behind` with the rate it really offered and its late arrivals,
the summary names it, and the chaos verdict of the same ledger voids the run."""

from pathlib import Path

import pytest

from chaos.load import LoadFiles, read_generator
from chaos.observation import Observation
from chaos.verdict import judge
from stack.layout import LocalLayout
from tests.integration.loadgen import run_headless
from tests.unit.observations import scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# actions/s: far beyond one process, whatever the machine, even where the gateway sheds and the
# users withhold arrivals (a withheld arrival costs the generator little, but not nothing)
RATE = 200_000


def test_a_starved_open_loop_reports_generator_behind_in_its_summary_and_verdict(
    layout: LocalLayout, tmp_path: Path
) -> None:
    done, report = run_headless(
        layout.gateway_url, tmp_path, 2, 6, "--rate", str(RATE), "--audit-timeout", "10"
    )
    assert report, done.stdout[-3000:] + done.stderr[-3000:]
    shown, behind = report["open_loop"], report["generator_behind"]
    assert shown["rate"] == RATE
    assert shown["offered_rate"] is not None and shown["offered_rate"] < RATE / 2
    assert shown["late"] > 0 and shown["lateness"]["max_ms"] > 50
    # latency from the due time includes the wait the generator imposed; from the start it
    # does not
    assert shown["corrected_latency"]["p99_ms"] >= shown["latency"]["p99_ms"]
    assert behind is not None and behind["severity"] == "invalid"
    assert any(reason.startswith("offered ") for reason in behind["reasons"])
    assert "generator_behind: INVALID" in done.stdout
    assert "generator_behind (invalid)" in done.stdout  # on the verdict line too

    # the chaos engine reads the same ledger from the load's oracle report
    (tmp_path / "oracles.json").write_text((tmp_path / "report.json").read_text())
    obs = Observation("starved", "local", "on", 6.0)
    obs.generator = read_generator(LoadFiles(tmp_path))
    judged = judge(scenario({"metric": "lost_writes", "max": 1_000_000}, faults=0), obs)
    assert judged.verdict == "invalid" and judged.generator_behind is not None
    assert "generator_behind: offered" in judged.reason
