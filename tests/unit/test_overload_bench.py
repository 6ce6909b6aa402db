"""The overload benchmark's arithmetic: goodput counts answers that came soon enough after they
were due, shed answers are apart from the accepted ones, recovery is the first moment from
which every half-second is served, and peak goodput is the best seen anywhere in the run."""

from typing import Any

from bench.overload import STAGES, recovery_s, summarise
from bench.overload_client import GOOD_WITHIN_S, Answer, Step


def answer(due: float, status: int = 200, latency_s: float = 0.01, shed: bool = False) -> Answer:
    return Answer(due, status, shed, False, latency_s, latency_s)


def test_goodput_counts_timely_2xx_and_shed_answers_are_not_accepted_ones() -> None:
    step = Step(rate=10, started=0.0, duration_s=2.0, issued=20, late=[0.5])
    step.answers = [
        *(answer(0.1 * i) for i in range(10)),
        answer(1.0, latency_s=GOOD_WITHIN_S + 1),  # answered, too late to be goodput
        *(answer(1.1 + 0.1 * i, status=503, latency_s=0.004, shed=True) for i in range(5)),
        *(answer(1.6 + 0.1 * i, status=0, latency_s=5.0) for i in range(4)),
    ]
    figures = step.figures(settle_s=0.0)
    assert figures["goodput_rps"] == 5.0  # 10 good answers over 2 s
    assert figures["shed"] == 5 and figures["errors"] == 4
    assert figures["shed_p99_ms"] == 4.0
    assert figures["accepted_p99_ms"] == 5000.0
    assert figures["late_arrivals"] == 1 and figures["late_max_ms"] == 500.0
    assert figures["achieved_rps"] == 10.0


def test_recovery_is_the_first_half_second_from_which_every_one_is_served() -> None:
    rate = 20.0
    step = Step(rate=rate, started=100.0, duration_s=5.0)
    for i in range(int(rate * 5)):
        due = 100.0 + i / rate
        served = not (due < 101.5 or 102.0 <= due < 102.5)  # down, up, down again, then up
        step.answers.append(answer(due, status=200 if served else 503, shed=not served))
    assert recovery_s(step) == 2.5


def test_recovery_is_none_when_the_stage_never_recovers() -> None:
    step = Step(rate=10.0, started=0.0, duration_s=3.0)
    step.answers = [answer(i / 10, status=0, latency_s=5.0) for i in range(30)]
    assert recovery_s(step) is None


def test_goodput_ratios_are_over_the_best_goodput_seen_in_the_run() -> None:
    def stage(goodput: float, p99: float) -> dict[str, Any]:
        return {"goodput_rps": goodput, "accepted_p99_ms": p99, "shed_p99_ms": 20.0}

    side: dict[str, Any] = {"capacity_rps": 200.0, "recovery_s": 1.0}
    side.update(zip([n for n, _ in STAGES], [stage(100, 10), stage(240, 25), stage(180, 30),
                                               stage(100, 10)], strict=True))  # fmt: skip
    figures = summarise(side)
    assert figures["peak_goodput_rps"] == 240
    assert figures["goodput_2x"] == 1.0
    assert figures["goodput_4x"] == 0.75
    assert figures["accepted_p99_ratio"] == 2.5
