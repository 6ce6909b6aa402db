"""The report of a run: valid PNG plots, a self-contained report.html that shows the verdict, every
hypothesis, the faults and escapes what it shows, and the run folder with everything in it."""

import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from chaos.observation import FaultWindow, Observation
from chaos.report.folder import default_out_dir, write_run
from chaos.report.html import render_report
from chaos.report.plots import PLOTS, render_plots
from chaos.report.result import RunResult
from chaos.report.seconds import per_second
from tests.unit.observations import scenario, timeline_outage

HYPOTHESES = (
    {"metric": "error_rate", "phase": "fault", "max": 0.05, "name": "timeline <b>survives</b>"},
    {"metric": "p99_ms", "phase": "fault", "max": 100},
    {"metric": "lost_writes", "max": 0},
)


@pytest.fixture(scope="module")
def result() -> RunResult:
    """The realistic timeline outage with resilience on, judged and plotted once for the module
    (plotting is the slow part)."""
    return RunResult.of(scenario(*HYPOTHESES, faults=2), timeline_outage("on"))


def test_every_plot_is_a_valid_png_of_a_readable_size(result: RunResult) -> None:
    assert set(result.plots) == set(PLOTS)
    for name, data in result.plots.items():
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        image = Image.open(io.BytesIO(data))
        image.verify()
        assert image.width >= 1000 and image.height >= 250, name


def test_plots_of_an_empty_run_still_render() -> None:
    obs = Observation("nothing", "local", "off", 10.0)
    obs.faults = [FaultWindow("kill", "posts", 2.0, None, False)]
    pngs = render_plots(obs)
    assert all(p.startswith(b"\x89PNG") for p in pngs.values())


def test_per_second_buckets_count_outcomes_and_exact_percentiles() -> None:
    obs = timeline_outage("on")
    s = per_second(obs)
    assert len(s.t) == 90
    assert sum(s.ok) + sum(s.degraded) + sum(s.errors) == len(obs.requests)
    in_second_40 = sorted(r.latency_ms for r in obs.requests if 40 <= r.t < 41)
    assert s.p50[40] == in_second_40[(len(in_second_40) + 1) // 2 - 1]
    assert s.degraded[40] > 0 and s.degraded[10] == 0


def test_report_html_is_self_contained(result: RunResult) -> None:
    html = render_report(result)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    assert html.count("data:image/png;base64,") == len(PLOTS)


def test_report_html_shows_the_verdict_and_every_hypothesis(result: RunResult) -> None:
    html = render_report(result)
    assert result.summary.verdict == "fail"  # p99 during the fault is over 100 ms
    assert '<div class="badge fail">FAIL</div>' in html
    assert "1 of 3 hypotheses did not hold" in html
    for h in result.summary.hypotheses:
        assert (h.name.replace("<", "&lt;").replace(">", "&gt;")) in html
    assert "timeline &lt;b&gt;survives&lt;/b&gt;" in html  # escaped, not markup
    assert "did not hold" in html and "held" in html


def test_report_html_shows_faults_phases_oracles_and_the_four_signals(result: RunResult) -> None:
    html = render_report(result)
    for text in ("timeline-1 exited (137)", "Latency", "Inconsistencies between devices",
                 "Ordering", "Unavailable ancillary services", "Lost writes",
                 "read_your_writes_violations", "phantom_writes", "How to read this report",
                 "gateway → timeline-1", "52.77 %"):  # fmt: skip
        assert text in html, text


def test_report_escapes_what_comes_from_the_run() -> None:
    obs = timeline_outage("on")
    obs.faults[0].evidence = '<img src="http://evil.example/x.png">'
    obs.notes.append("<script>alert(1)</script>")
    html = render_report(RunResult.of(scenario(*HYPOTHESES, faults=2), obs, plots=False))
    assert "<script>alert" not in html and '<img src="http' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_invalid_run_says_so_at_the_top() -> None:
    obs = timeline_outage("on")
    obs.faults[1].took_effect = False
    html = render_report(RunResult.of(scenario(*HYPOTHESES, faults=2), obs, plots=False))
    assert '<div class="badge invalid">INVALID</div>' in html
    assert "proves nothing" in html


def test_run_folder_holds_summary_report_plots_and_csvs(tmp_path: Path, result: RunResult) -> None:
    out = tmp_path / "run"
    files = write_run(result, out)
    names = {p.name for p in out.iterdir()}
    assert names == {"summary.json", "details.json", "report.html", "requests.csv",
                     "samples.csv"} | {f"{p}.png" for p in PLOTS}  # fmt: skip
    assert set(files) == names
    assert json.loads((out / "summary.json").read_text())["verdict"] == "fail"
    lines = (out / "requests.csv").read_text().splitlines()
    assert lines[0] == "t,name,latency_ms,outcome"
    assert len(lines) == 1 + len(result.obs.requests)
    samples = (out / "samples.csv").read_text().splitlines()
    assert "gateway>timeline-1=open" in samples[40]


def test_default_run_folder_is_reports_utc_time_and_scenario() -> None:
    local = datetime(2026, 3, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))
    assert default_out_dir("posts-outage", local) == Path("reports/20260228-230203-posts-outage")
    now = default_out_dir("baseline")
    assert now.parent == Path("reports") and now.name.endswith("-baseline")
    assert datetime.strptime(now.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC) <= datetime.now(
        UTC
    )


def test_a_baseline_report_says_there_was_no_fault_instead_of_empty_phases() -> None:
    obs = timeline_outage("on")
    obs.faults = []
    html = render_report(RunResult.of(scenario(*HYPOTHESES, faults=0), obs, plots=False))
    assert "no fault: the steady state alone" in html
    assert "(no fault in this run)" in html
    assert "GET /v1/trends in the steady state: errors" in html


def test_signals_with_violations_are_marked(result: RunResult) -> None:
    obs = timeline_outage("off")  # four read-your-writes violations
    html = render_report(RunResult.of(scenario(*HYPOTHESES, faults=2), obs, plots=False))
    row = re.search(r'<tr class="bad"><td><b>Inconsistencies between devices</b>.*?</tr>', html)
    assert row is not None and "read-your-writes violations 4" in row.group(0)
    assert "<tr><td><b>Lost writes</b>" in html  # none lost: not marked
