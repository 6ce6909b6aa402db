"""The load's celebrities: the first accounts a run registers, followed by every later account,
so that they are heavy accounts at the testbed's threshold; a seeded pool has none of its own."""

from pathlib import Path

from loadtest.accounts import CELEBRITIES, AccountPool
from stack.layout import STACK_HEAVY_FOLLOWERS


def test_the_first_registered_accounts_are_the_celebrities_once_ready() -> None:
    pool = AccountPool()
    slots = [pool.claim() for _ in range(5)]
    assert pool.celebrities(slots[4]) == []  # none has signed up yet
    for slot in slots:
        pool[slot].ready = True
    assert pool.celebrities(slots[4]) == pool.accounts[:CELEBRITIES]
    assert pool.celebrities(0) == [pool[1]]  # a celebrity does not follow itself


def test_a_seeded_pool_leaves_celebrities_to_its_graph(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        '{"accounts": [{"handle": "a", "password": "p"}, {"handle": "b", "password": "p"}]}'
    )
    pool = AccountPool.from_seed_file(seed)
    assert pool.celebrities(1) == []


def test_a_run_of_the_default_size_makes_its_celebrities_heavy() -> None:
    users = 20  # make load's and the chaos scenarios' default
    followers_each = users - 1  # every other account follows each celebrity
    assert CELEBRITIES >= 1 and followers_each >= int(STACK_HEAVY_FOLLOWERS)
