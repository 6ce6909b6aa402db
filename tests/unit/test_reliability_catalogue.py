"""The suite has the ten checks of its contract, numbered 1 to 10, each with a promise."""

from reliability.checks import CATALOGUE


def test_the_catalogue_holds_checks_one_to_ten_in_order() -> None:
    assert [check.number for check in CATALOGUE] == list(range(1, 11))


def test_every_check_states_its_promise_and_only_containment_needs_docker() -> None:
    assert all(check.promise and check.name for check in CATALOGUE)
    assert [check.number for check in CATALOGUE if check.needs_docker] == [10]
