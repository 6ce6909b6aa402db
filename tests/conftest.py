"""What the selected tests need from the machine, checked once before any of them runs: a
missing redis-server (integration), Chromium and its driver (the browser test) or Docker engine
(e2e) stops the session with one line that names it and how to get it. `make test` installs
them itself as root on Debian or Ubuntu (docker/prerequisites.sh test, docker/engine.sh)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSER_TESTS = {"test_resilience_tab.py", "test_console_browser.py"}


def _missing(needs: set[str]) -> list[str]:
    missing = []
    if "redis" in needs and shutil.which("redis-server") is None:
        missing.append("redis-server is not installed (apt-get install redis-server redis-tools)")
    if "browser" in needs:
        absent = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver") if not Path(p).exists()]
        if absent:
            missing.append(
                f"{' and '.join(absent)} missing (apt-get install chromium chromium-driver)"
            )
    if "docker" in needs:
        check = subprocess.run(
            [str(ROOT / "docker" / "engine.sh"), "--check"], capture_output=True, text=True
        )
        if check.returncode != 0:
            said = "; ".join(line.removeprefix("[engine] ") for line in check.stderr.splitlines())
            missing.append(f"no working Docker engine: {said}")
    return missing


def pytest_collection_finish(session: pytest.Session) -> None:
    needs: set[str] = set()
    for item in session.items:
        if item.get_closest_marker("integration"):
            needs.add("redis")
        if item.get_closest_marker("e2e"):
            needs.add("docker")
        if item.path.name in BROWSER_TESTS:
            needs.add("browser")
    if missing := _missing(needs):
        raise pytest.UsageError("the selected tests need: " + "; ".join(missing))
