"""The yardstick of bench/loadgen.py: plain Locust FastHttpUser, no think time, reading the home
timeline of a seeded account, with nothing of Failwhale's (no personas, histories, oracles or
request records). The seed file comes in FAILWHALE_LOADGEN_ACCOUNTS."""

import itertools
import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

_accounts = itertools.count()


class PlainReader(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        seeded = json.loads(Path(os.environ["FAILWHALE_LOADGEN_ACCOUNTS"]).read_text())
        accounts = seeded["accounts"]
        token = accounts[next(_accounts) % len(accounts)]["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def read_timeline(self) -> None:
        self.client.get("/v1/timeline?limit=20", name="/v1/timeline", headers=self.headers)
