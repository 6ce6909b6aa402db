"""Chirp under load, with oracles that know right from wrong (docs/load.md).

locust -f loadtest/locustfile.py --host http://127.0.0.1:8080             # web UI on :8089
locust -f loadtest/locustfile.py --host ... --headless -u 20 -t 60s        # closed loop
locust -f loadtest/locustfile.py --host ... --headless -u 20 -t 60s --rate 50  # open loop
"""

from locust import events

from loadtest import run
from loadtest.personas import Chatter, Networker, Poster, Scroller

run.install(events)

__all__ = ["Chatter", "Networker", "Poster", "Scroller"]
