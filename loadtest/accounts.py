"""The accounts the virtual users play: those of a seed file written by `failwhale seed` (logged
in at start, since tokens expire), or accounts registered on start. Each user takes the next
account of the pool; its DM buddy is its neighbour (positions 2k and 2k+1), so that both sides
of a conversation are usually played and DMs go both ways.

Celebrities: the first `CELEBRITIES` accounts of a registered pool are followed by every account
that registers after them, so that with the testbed's threshold (10 followers) they are heavy
accounts, merged into home timelines on read (docs/architecture.md). A seed file's graph has its
own celebrities (a few accounts with many followers)."""

import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "load-test-password"
CELEBRITIES = 2


@dataclass
class Account:
    handle: str
    password: str
    token: str = ""  # the latest token one of its devices got (the audit reads with it)
    ready: bool = False  # exists and may be written to by others


class AccountPool:
    def __init__(self, accounts: list[Account] | None = None, offset: int = 0) -> None:
        """`accounts` given: users take them in turn from `offset` on (workers of a
        distributed run use different offsets). None: every user registers a new account."""
        self.seeded = accounts is not None
        self.accounts: list[Account] = accounts if accounts is not None else []
        self.offset = offset
        self.prefix = f"lt_{secrets.token_hex(4)}"
        self._claimed = 0

    @classmethod
    def from_seed_file(cls, path: Path, offset: int = 0) -> "AccountPool":
        data = json.loads(path.read_text())
        accounts = [
            Account(str(a["handle"]), str(a["password"]), ready=True) for a in data["accounts"]
        ]
        if not accounts:
            raise ValueError(f"{path} holds no accounts")
        return cls(accounts, offset)

    def claim(self) -> int:
        """The position of the account the next user plays."""
        n = self._claimed
        self._claimed += 1
        if self.seeded:
            return (self.offset + n) % len(self.accounts)
        self.accounts.append(Account(f"{self.prefix}_{n}", PASSWORD))
        return n

    def __getitem__(self, index: int) -> Account:
        return self.accounts[index]

    def buddy(self, index: int) -> Account | None:
        other = index ^ 1
        if other < len(self.accounts) and self.accounts[other].ready and other != index:
            return self.accounts[other]
        return None

    def others(self, index: int, rng: random.Random, count: int) -> list[Account]:
        """Up to `count` ready accounts other than `index`, at random."""
        ready = [a for i, a in enumerate(self.accounts) if a.ready and i != index]
        return rng.sample(ready, min(count, len(ready)))

    def celebrities(self, index: int) -> list[Account]:
        """The celebrities a newly registered account follows: the ready ones other than itself
        (none in a seeded pool, whose graph was made by the seed)."""
        if self.seeded:
            return []
        chosen = self.accounts[:CELEBRITIES]
        return [a for i, a in enumerate(chosen) if a.ready and i != index]

    def tokens(self) -> dict[str, str]:
        return {a.handle: a.token for a in self.accounts if a.token}
