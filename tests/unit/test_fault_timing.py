"""Faults due together start and end together: `at_once` runs each in a thread of its own."""

import threading

import pytest

from chaos.runner import at_once


def test_actions_run_side_by_side_and_results_keep_the_items_order() -> None:
    both_started = threading.Barrier(3, timeout=5)  # broken (an error) if they ran one by one

    def action(item: int) -> int:
        both_started.wait()
        return item * 10

    assert at_once(action, [1, 2, 3]) == [10, 20, 30]


def test_every_action_runs_even_when_one_fails_then_the_error_is_raised() -> None:
    done: list[str] = []

    def action(item: str) -> None:
        if item == "bad":
            raise RuntimeError("revert failed")
        done.append(item)

    with pytest.raises(RuntimeError, match="revert failed"):
        at_once(action, ["bad", "a", "b"])
    assert sorted(done) == ["a", "b"]


def test_a_single_fault_runs_in_the_callers_thread() -> None:
    assert at_once(lambda _: threading.current_thread().name, ["x"]) == [
        threading.current_thread().name
    ]
