"""A repeatable social graph: a few accounts with many followers, most with few.

Whom each account follows is drawn from a Zipf-like popularity (rank r weighs 1 / r^s), and how
many accounts it follows from a heavy-tailed distribution, all from one seeded random generator:
the same seed and size always give the same graph.
"""

import hashlib
import random
from dataclasses import dataclass

ZIPF_EXPONENT = 1.1
MEAN_FOLLOWING = 12
MAX_FOLLOWING_SHARE = 0.5


@dataclass(frozen=True)
class SeedAccount:
    handle: str
    password: str


@dataclass(frozen=True)
class SocialGraph:
    accounts: list[SeedAccount]
    follows: list[tuple[int, int]]  # (follower index, followee index)

    def followers_of(self, index: int) -> int:
        return sum(1 for _, followee in self.follows if followee == index)


def build_graph(users: int, seed: int) -> SocialGraph:
    if users < 2:
        raise ValueError("a social graph needs at least two accounts")
    rng = random.Random(seed)
    accounts = [
        SeedAccount(handle=f"s{seed}_u{i:05d}", password=_password(seed, i)) for i in range(users)
    ]
    # Popularity rank is independent of the account's number.
    ranking = list(range(users))
    rng.shuffle(ranking)
    weights = [0.0] * users
    for rank, index in enumerate(ranking, start=1):
        weights[index] = 1.0 / rank**ZIPF_EXPONENT

    cap = max(1, int((users - 1) * MAX_FOLLOWING_SHARE))
    follows: list[tuple[int, int]] = []
    for follower in range(users):
        wanted = min(cap, max(1, int(rng.paretovariate(1.6) * MEAN_FOLLOWING / 2.7)))
        chosen: set[int] = set()
        while len(chosen) < wanted:
            followee = rng.choices(range(users), weights=weights)[0]
            if followee != follower:
                chosen.add(followee)
        follows.extend((follower, followee) for followee in sorted(chosen))
    return SocialGraph(accounts, follows)


def _password(seed: int, index: int) -> str:
    return "pw-" + hashlib.sha256(f"failwhale-seed:{seed}:{index}".encode()).hexdigest()[:20]
