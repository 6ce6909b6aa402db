"""Visibility of fanned-out posts as a follower's home timeline shows them (reliability
check 5)."""

import pytest

from reliability.home_watch import repeated, visibility


def test_each_post_and_follower_gives_one_delay_from_the_acknowledgement() -> None:
    seen = visibility(
        {1: 100.0, 2: 101.0},
        {"ann": {1: 100.5, 2: 101.25}, "bob": {1: 102.0, 2: 101.5}},
    )
    assert sorted(seen.delays_s) == [0.25, 0.5, 0.5, 2.0]
    assert seen.missing == 0


def test_a_post_seen_before_its_answer_arrived_counts_as_seen_at_once() -> None:
    assert visibility({1: 100.0}, {"ann": {1: 99.9}}).delays_s == [0.0]


def test_a_post_a_follower_never_saw_is_missing_for_that_follower_only() -> None:
    seen = visibility({1: 100.0, 2: 100.0}, {"ann": {1: 100.1}, "bob": {1: 100.2, 2: 100.3}})
    assert seen.missing == 1
    assert seen.delays_s == pytest.approx([0.1, 0.2, 0.3])


def test_repeated_counts_every_entry_after_the_first_of_an_id() -> None:
    assert repeated([5, 4, 4, 3, 4]) == 2
    assert repeated([]) == 0
