"""bench/results.json: its shape, the targets, the ratios computed from raw figures, merging a
partial run, the docs table; and the pure computations behind the figures (wrk's output, the
outage's detection and recovery, docker's memory units)."""

import json
from pathlib import Path

import pytest

from bench import results as res
from bench.footprint import mib, summarise
from bench.open_loop import Outcome
from bench.outage import detection, recovery
from bench.wrk import WrkRequest, lua_script, parse_wrk

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:18999/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.92ms    6.89ms  71.89ms   96.65%
  Latency Distribution
     50%    2.62ms
     75%    3.43ms
     90%    4.61ms
     99%    1.20s
  2672 requests in 2.00s, 0.97MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   1334.52
Transfer/sec:    496.53KB
"""


@pytest.mark.parametrize(
    ("value", "target", "met"),
    [(0.5, ">= 0.5", True), (0.49, ">= 0.5", False), (1.0, "<= 1", True), (1.01, "<= 1", False),
     (1535.9, "< 1536", True), (1536, "< 1536", False), (None, ">= 20", None)],
)  # fmt: skip
def test_targets_are_met_on_the_right_side_of_their_bound(
    value: float | None, target: str, met: bool | None
) -> None:
    assert res.meets(value, target) is met


def test_a_target_that_is_not_a_comparison_is_refused() -> None:
    with pytest.raises(ValueError):
        res.meets(1.0, "about 1")


def test_an_entry_holds_value_target_met_and_the_raw_figures() -> None:
    entry = res.figure("read_path_ratio", 612.0 / 1000.0, gateway_rps=612.0, baseline_rps=1000.0)
    assert entry == {
        "value": 0.612,
        "target": ">= 0.5",
        "met": True,
        "gateway_rps": 612.0,
        "baseline_rps": 1000.0,
    }
    unmeasured = res.figure("breaker_detect_s", None, note="never opened")
    assert (unmeasured["value"], unmeasured["met"], unmeasured["note"]) == (
        None, None, "never opened",
    )  # fmt: skip


def test_every_contract_key_has_a_target_and_a_description() -> None:
    assert set(res.KEYS) == set(res.TARGETS) == set(res.WHAT)
    assert len(res.KEYS) == 14


def test_error_ratio_is_off_over_on_when_on_had_errors() -> None:
    value, floored = res.error_ratio(0.30, 2000, 0.01, 1000)
    assert value == pytest.approx(30.0)
    assert floored is False


def test_error_ratio_floors_a_faultless_on_run_at_one_error_over_its_requests() -> None:
    value, floored = res.error_ratio(0.30, 2000, 0.0, 500)
    assert value == pytest.approx(0.30 / (1 / 500))  # a lower bound: 150
    assert floored is True


def test_error_ratio_of_runs_that_counted_nothing_is_none() -> None:
    assert res.error_ratio(0.3, 100, 0.0, 0) == (None, False)
    assert res.ratio(5.0, 0.0) is None
    assert res.ratio(None, 2.0) is None
    assert res.ratio(3.0, 2.0) == 1.5


def test_a_partial_run_keeps_the_other_entries_in_contract_order() -> None:
    previous = {
        "stack_memory_mib": res.figure("stack_memory_mib", 900.0),
        "read_path_ratio": res.figure("read_path_ratio", 0.4),
        "run": {"commit": "old"},
    }
    new = {"read_path_ratio": res.figure("read_path_ratio", 0.6), "run": {"commit": "new"}}
    merged = res.merge(previous, new)
    assert list(merged) == ["read_path_ratio", "stack_memory_mib", "run"]
    assert merged["read_path_ratio"]["value"] == 0.6
    assert merged["stack_memory_mib"]["value"] == 900.0
    assert merged["run"] == {"commit": "new"}


def test_results_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    assert res.load(path) == {}
    data = {"outage_p99_ratio": res.figure("outage_p99_ratio", 1.2), "run": {"quick": True}}
    res.save(path, data)
    assert json.loads(path.read_text()) == data


def test_the_docs_table_replaces_only_its_own_block(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Perf\n\nbefore\n\n{res.MARK_START}\nold table\n{res.MARK_END}\n\nafter\n")
    data = {
        "read_path_ratio": res.figure("read_path_ratio", 0.62),
        "stack_memory_mib": res.figure("stack_memory_mib", 2000.0),
        "run": {"started_at": "then", "commit": "abc"},
    }
    res.write_table(doc, data)
    text = doc.read_text()
    assert text.startswith("# Perf\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text
    assert "| `read_path_ratio` |" in text and "| 0.62 | >= 0.5 | yes |" in text
    assert "| 2000 | < 1536 | **no** |" in text


def test_wrk_output_gives_rate_errors_and_latencies() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.rps == 1334.52
    assert result.requests == 2672
    assert result.errors == 3 + 1 + 2
    assert result.p50_ms == pytest.approx(2.62)
    assert result.p99_ms == pytest.approx(1200.0)


def test_wrk_script_sends_every_request_with_its_headers() -> None:
    script = lua_script([WrkRequest("/a?x=1", {"Authorization": "Bearer t"}), WrkRequest("/b", {})])
    assert 'reqs[1] = wrk.format("GET", "/a?x=1", {["Authorization"] = "Bearer t"})' in script
    assert 'reqs[2] = wrk.format("GET", "/b", {})' in script


def _states(state: str) -> dict[str, str]:
    return {"timeline-1": state, "timeline-2": state, "users": "closed"}


def test_detection_is_the_first_sample_with_every_replica_open() -> None:
    samples = [(9.9, _states("closed")), (10.05, {"timeline-1": "open", "timeline-2": "closed"}),
               (10.12, _states("open")), (10.2, _states("open"))]  # fmt: skip
    assert detection(samples, killed_at=10.0) == pytest.approx(0.12)
    assert detection(samples[:2], killed_at=10.0) is None


def test_recovery_waits_for_breakers_closed_for_good_and_errors_under_half_a_percent() -> None:
    samples = [(20.5, _states("open")), (21.0, _states("closed")), (21.5, _states("open")),
               (22.5, _states("closed")), (23.0, _states("closed"))]  # fmt: skip
    ok = [Outcome(22.0 + n * 0.02, 200, False, 0.01) for n in range(400)]
    assert recovery(ok, samples, restart_at=20.0) == pytest.approx(2.5)
    # An error at 23 s among 400 answers after 22.5 s is 0.3 %: still recovered at 22.5 s.
    one_error = [*ok, Outcome(23.0, 0, False, 1.0)]
    assert recovery(one_error, samples, restart_at=20.0) == pytest.approx(2.5)
    # Errors every half second until 26 s: recovered from the first answer after which they
    # are under 0.5 %: from 25.52 s, the one at 26 s among 225 answers (0.44 %).
    errors = [Outcome(22.5 + n * 0.5, 503, False, 0.01) for n in range(8)]
    assert recovery(ok + errors, samples, restart_at=20.0) == pytest.approx(5.52)
    assert recovery(ok, samples[:3], restart_at=20.0) is None


def test_docker_memory_units_and_the_stack_sum() -> None:
    assert mib("123.4MiB / 23.5GiB") == pytest.approx(123.4)
    assert mib("1.5GiB / 23.5GiB") == pytest.approx(1536.0)
    assert mib("512KiB / 1GiB") == pytest.approx(0.5)
    summary = summarise([{"a": 100.0, "b": 50.0}, {"a": 120.0, "b": 40.0}])
    assert summary["peak_mib"] == 160.0
    assert summary["mean_mib"] == 155.0
    assert summary["peak_by_container_mib"] == {"a": 120.0, "b": 50.0}
