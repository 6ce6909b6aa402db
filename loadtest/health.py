"""`python -m loadtest.health MASTER_URL` exits 0 when this host's Locust worker is connected to
the master whose web UI answers at MASTER_URL (the worker container's healthcheck: a worker has
no port of its own to ask)."""

import json
import socket
import sys
import urllib.error
import urllib.request


def connected(master_url: str, hostname: str) -> bool:
    with urllib.request.urlopen(f"{master_url.rstrip('/')}/stats/requests", timeout=3) as answer:
        workers = json.load(answer).get("workers", [])
    # Locust names a worker "<hostname>_<random hex>"
    return any(str(w.get("id", "")).startswith(f"{hostname}_") for w in workers)


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://locust-master:8089"
    try:
        return 0 if connected(url, socket.gethostname()) else 1
    except (urllib.error.URLError, OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
