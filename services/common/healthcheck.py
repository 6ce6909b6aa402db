"""`python -m services.common.healthcheck URL` exits 0 when URL answers 2xx (for container
healthchecks: the images need no curl)."""

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/readyz"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return 0 if 200 <= answer.status < 300 else 1
    except (urllib.error.URLError, OSError):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
