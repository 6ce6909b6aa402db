"""Resilience on and off side by side: the ratios (off over on) per phase, with zero and
unmeasured figures guarded and explained, and the comparison folder."""

import json
import re
from pathlib import Path

import pytest

from chaos.report.compare import compare, ratio, report_compare
from chaos.report.result import RunResult
from tests.unit.observations import scenario, timeline_outage

HYPOTHESES = ({"metric": "error_rate", "phase": "fault", "max": 0.05},)


def test_ratio_is_off_over_on() -> None:
    r = ratio(on=0.02, off=0.5)
    assert r.off_over_on == pytest.approx(25.0)
    assert r.note == ""


def test_ratio_of_zero_in_both_runs_is_null_and_says_no_difference() -> None:
    r = ratio(on=0.0, off=0.0)
    assert r.off_over_on is None
    assert "zero in both" in r.note


def test_ratio_over_zero_with_resilience_on_is_null_and_says_why() -> None:
    r = ratio(on=0.0, off=0.3)
    assert (r.on, r.off, r.off_over_on) == (0.0, 0.3, None)
    assert "zero with resilience on" in r.note


def test_ratio_with_an_unmeasured_side_is_null_and_names_the_side() -> None:
    assert ratio(on=None, off=0.1).note == "not measured with resilience on"
    assert ratio(on=5.0, off=None).note == "not measured with resilience off"
    assert ratio(on=None, off=None).off_over_on is None


def judged(resilience: str) -> RunResult:
    return RunResult.of(scenario(*HYPOTHESES, faults=2), timeline_outage(resilience), plots=False)


def test_comparison_ratios_per_phase_come_from_the_two_summaries() -> None:
    on, off = judged("on"), judged("off")
    c = compare(on, off)
    assert c.verdicts == {"on": "pass", "off": "fail"}
    fault = c.ratios["fault"]
    on_rate, off_rate = on.summary.phases.fault.error_rate, off.summary.phases.fault.error_rate
    assert on_rate is not None and off_rate is not None
    assert fault["error_rate"].off_over_on == pytest.approx(off_rate / on_rate, rel=1e-5)
    assert off_rate / on_rate > 10
    assert fault["p99_ms"].off == 30_000.0
    assert set(c.ratios) == {"steady", "fault", "recovery"}
    assert c.exit_code == 0


def test_comparison_refuses_runs_in_the_wrong_order_or_of_other_scenarios() -> None:
    on, off = judged("on"), judged("off")
    with pytest.raises(ValueError, match="resilience on, then"):
        compare(off, on)
    other = timeline_outage("off")
    other.scenario = "posts-outage"
    with pytest.raises(ValueError, match="not one scenario"):
        compare(on, RunResult.of(scenario(*HYPOTHESES, faults=2), other, plots=False))


def test_comparison_fails_when_the_run_without_resilience_is_invalid() -> None:
    on = judged("on")
    obs = timeline_outage("off")
    obs.faults[0].took_effect = False
    c = compare(on, RunResult.of(scenario(*HYPOTHESES, faults=2), obs, plots=False))
    assert c.verdicts["off"] == "invalid" and c.exit_code == 1


def test_compare_folder_has_both_runs_one_report_and_the_ratios(tmp_path: Path) -> None:
    s = scenario(*HYPOTHESES, faults=2)
    c = report_compare(s, timeline_outage("on"), timeline_outage("off"), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"on", "off", "report.html", "compare.json",
                                                    "compare.png"}  # fmt: skip
    assert json.loads((tmp_path / "on" / "summary.json").read_text())["resilience"] == "on"
    assert json.loads((tmp_path / "off" / "summary.json").read_text())["resilience"] == "off"
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["verdicts"] == {"on": "pass", "off": "fail"}
    assert data["ratios"]["steady"]["p99_ms"]["off_over_on"] == 1.0  # the same made-up steady
    assert (
        data["ratios"]["fault"]["error_rate"]["off_over_on"]
        == c.ratios["fault"]["error_rate"].off_over_on
    )
    html = (tmp_path / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert html.count("data:image/png;base64,") == 11  # the overlay and five plots a side
    assert "resilience off" in html and "Ratios (off over on)" in html
    assert (tmp_path / "compare.png").read_bytes().startswith(b"\x89PNG")
