"""The open loop's ledger on a fake clock: late arrivals and how late, latency from each action's
start and from its due time (coordinated omission corrected), the rate offered once every user
spawned, workers added up, and the `generator_behind` finding with its severity."""

from typing import Any

import gevent
import gevent.event

from chaos.verdict import exit_code, judge
from loadtest.open_loop import MAX_IN_FLIGHT, OpenLoop
from loadtest.schedule import Histogram, Ledger, figures, finding, merge
from loadtest.summary import open_loop, open_loop_rows
from tests.unit.observations import scenario
from tests.unit.test_verdict import outage


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def loop_at(clock: FakeClock, rate: float, first_due: float) -> tuple[OpenLoop, list[int]]:
    drops: list[int] = []
    loop = OpenLoop(rate, lambda: drops.append(1), lambda exc: None, clock=clock,
                    ledger=Ledger(rate, clock))  # fmt: skip
    loop.arrivals.next_due = first_due  # no random phase
    return loop, drops


def taking(clock: FakeClock, seconds: float) -> Any:
    def action() -> None:
        clock.now += seconds

    return action


def test_an_arrival_issued_after_its_due_time_is_late_by_that_much() -> None:
    clock = FakeClock(0.0)
    loop, _ = loop_at(clock, rate=10.0, first_due=0.1)
    assert loop.wait() == 0.1
    clock.now = 0.1
    loop.spawn(taking(clock, 0.02))  # on time
    loop.in_flight.join()
    clock.now = 0.5  # the generator was busy elsewhere
    assert loop.wait() == 0.0  # due at 0.2: no sleep, issued 300 ms late
    loop.spawn(taking(clock, 0.02))
    loop.in_flight.join()
    shown = figures(loop.ledger.snapshot())
    assert shown["arrivals"] == 2 and shown["late"] == 1
    assert shown["lateness"] == {"p50_ms": 0.0, "p99_ms": 300.0, "max_ms": 300.0}
    # from the action's start: 20 ms each; from its due time, the late one waited 300 ms more
    assert shown["latency"]["max_ms"] == 20.0
    assert shown["corrected_latency"]["max_ms"] == 320.0


def test_a_first_action_is_due_when_issued_and_a_small_lateness_is_on_time() -> None:
    clock = FakeClock(5.0)
    loop, _ = loop_at(clock, rate=1.0, first_due=5.5)
    loop.spawn(taking(clock, 0.01))  # before any wait: Locust runs the first task at once
    loop.in_flight.join()
    loop.wait()
    clock.now = 5.54  # 40 ms after its due time: within the tolerance
    loop.spawn(taking(clock, 0.01))
    loop.in_flight.join()
    shown = figures(loop.ledger.snapshot())
    assert shown["late"] == 0 and shown["lateness"]["max_ms"] == 40.0


def test_a_dropped_arrival_is_counted_but_not_offered_and_has_no_latency() -> None:
    clock = FakeClock(0.0)
    loop, drops = loop_at(clock, rate=100.0, first_due=0.0)
    loop.ledger.steady()
    blocker = gevent.event.Event()
    for _ in range(MAX_IN_FLIGHT):
        loop.in_flight.spawn(blocker.wait)
    loop.spawn(taking(clock, 0.01))
    assert drops == [1]
    clock.now = 1.0
    snapshot = loop.ledger.snapshot()
    assert (snapshot["arrivals"], snapshot["dropped"], snapshot["lateness"]) == (1, 1, {})
    assert snapshot["steady_arrivals"] == 0  # the rate offered does not count it
    blocker.set()
    loop.in_flight.join()


def test_an_arrival_withheld_for_a_retry_after_kept_the_schedule() -> None:
    clock = FakeClock(0.0)
    loop, drops = loop_at(clock, rate=10.0, first_due=0.1)
    loop.ledger.steady()
    loop.wait()
    clock.now = 0.9  # withheld, and 800 ms after its due time: the schedule slipped
    loop.withhold()
    loop.wait()
    clock.now = 1.0
    snapshot = loop.ledger.snapshot()
    assert (snapshot["arrivals"], snapshot["withheld"], snapshot["late"]) == (1, 1, 1)
    assert snapshot["offered_rate"] == 1.0 and snapshot["lateness"] == {"800": 1}
    assert snapshot["latency"] == {} and not drops  # nothing was sent
    assert loop.arrivals.take_due(5.0) == 0.2  # the next one is due on its schedule


def test_the_offered_rate_counts_the_steady_window_only() -> None:
    clock = FakeClock(0.0)
    ledger = Ledger(10.0, clock)
    for t in range(20):  # ramping: 10 arrivals a second for 2 s, not counted in the window
        clock.now = t / 10
        ledger.arrival()
    clock.now = 2.0
    ledger.steady()
    for n in range(40):  # then 4 a second for 10 s: the generator fell behind
        clock.now = 2.0 + n / 4
        ledger.arrival()
    clock.now = 12.0
    ledger.end()
    ledger.arrival()  # after the end: not in the window
    shown = figures(ledger.snapshot())
    assert (shown["ramp_s"], shown["steady_s"], shown["offered_rate"]) == (2.0, 10.0, 4.0)
    assert shown["offered_share"] == 0.4 and shown["arrivals"] == 61


def ledger_of(rate: float, offered: float, late: int, started: int) -> dict[str, Any]:
    """A worker's snapshot: `started` actions, `late` of them 500 ms late, the rest on time."""
    lateness = Histogram({0: started - late, 500: late}) if started else Histogram()
    return {"rate": rate, "run_s": 12.0, "steady_s": 10.0, "ramp_s": 2.0,
            "arrivals": started, "steady_arrivals": int(offered * 10), "offered_rate": offered,
            "dropped": 0, "late": late, "lateness": lateness.to_dict(),
            "latency": {"20": started},
            "corrected": {"20": started - late, "520": late}}  # fmt: skip


def test_workers_add_up_their_rates_counts_and_histograms() -> None:
    merged = merge([ledger_of(100.0, 50.0, 0, 500), None, ledger_of(100.0, 48.0, 9, 480)])
    assert merged is not None
    shown = figures(merged)
    assert (shown["offered_rate"], shown["arrivals"], shown["late"]) == (98.0, 980, 9)
    assert shown["corrected_latency"]["max_ms"] == 520.0
    assert finding(shown) is None  # 98 % offered, 0.9 % late: on schedule
    assert merge([None, None]) is None
    still_ramping = ledger_of(100.0, 50.0, 0, 500) | {"steady_s": None, "offered_rate": None}
    merged = merge([ledger_of(100.0, 50.0, 0, 500), still_ramping])
    assert merged is not None and merged["offered_rate"] is None


def test_generator_behind_is_a_warning_when_close_and_invalid_when_far_off() -> None:
    assert finding(figures(ledger_of(100.0, 99.0, 0, 990))) is None
    late = finding(figures(ledger_of(100.0, 99.0, 50, 990)))
    assert late is not None and late["severity"] == "warning"
    assert "50 arrivals (5.1 %) issued more than 50 ms late" in late["reasons"][0]
    slow = finding(figures(ledger_of(100.0, 80.0, 0, 800)))
    assert slow is not None and slow["severity"] == "warning" and slow["offered_share"] == 0.8
    far = finding(figures(ledger_of(1600.0, 392.0, 0, 3920)))
    assert far is not None and far["severity"] == "invalid"
    assert far["reasons"] == ["offered 392 actions/s of 1600 (24 % once every user had spawned)"]
    ramping = finding(figures(ledger_of(100.0, 50.0, 0, 500) | {"steady_s": None}))
    assert ramping is not None and ramping["severity"] == "invalid"


def test_the_summary_shows_both_latencies_and_names_the_finding() -> None:
    snapshot = {"generator": ledger_of(1600.0, 392.0, 3000, 3920)}
    rows = {item: (value, detail) for item, value, detail in open_loop_rows(snapshot)}
    assert rows["offered"][0] == "392/s"
    assert rows["late arrivals"][0] == "3000 of 3920"
    assert rows["action latency"][0] == "p99 20 ms"
    assert rows["corrected latency"][0] == "p99 520 ms"
    assert rows["generator_behind"][0] == "INVALID"
    assert open_loop({"generator": None}) == {"open_loop": None, "generator_behind": None}
    assert open_loop_rows({"generator": None}) == []


def test_histogram_percentiles_round_like_locust() -> None:
    histogram = Histogram()
    for ms in [1.2, 2.6, 150.0, 1234.0]:
        histogram.add(ms)
    assert histogram.to_dict() == {"1": 1, "3": 1, "150": 1, "1200": 1}
    assert histogram.percentile(0.5) == 3.0 and histogram.percentile(0.99) == 1200.0
    assert Histogram().figures() == {"p50_ms": None, "p99_ms": None, "max_ms": None}


def test_the_chaos_verdict_names_a_generator_behind_and_voids_a_run_far_off_its_rate() -> None:
    hypothesis = {"metric": "lost_writes", "max": 0}
    on_time = outage()
    on_time.generator = ledger_of(100.0, 99.0, 0, 990)
    judged = judge(scenario(hypothesis), on_time)
    assert (judged.verdict, judged.generator_behind) == ("pass", None)
    assert judged.reason == "all 1 hypotheses held"
    close = outage()
    close.generator = ledger_of(100.0, 99.0, 50, 990)
    judged = judge(scenario(hypothesis), close)
    assert judged.verdict == "pass"  # the warning stands beside the verdict
    assert judged.generator_behind is not None
    assert judged.reason.startswith("all 1 hypotheses held; generator_behind: 50 arrivals")
    far = outage()
    far.generator = ledger_of(1600.0, 392.0, 0, 3920)
    judged = judge(scenario(hypothesis), far)
    assert judged.verdict == "invalid" and all(h.passed for h in judged.hypotheses)
    assert judged.reason.startswith("the load generator fell far behind")
    assert exit_code(judged.verdict) == 1
    assert judge(scenario(hypothesis), outage()).generator_behind is None  # closed loop
