"""The chaos console in a real headless Chromium: a local stack of its own, a Locust master with
the console and a worker, and the chaos agent (`uvicorn chaos.console.agent:create_app`, local
backend) that the master reaches with the console token. Start load from Locust's form, open the
Chaos tab, kill both timeline replicas with the hand-fault form, see their breakers leave
`closed` and the degraded share rise on the live charts, revert them from the faults table and
see the breakers close again. The checks read what the charts drew from (data attributes of
#charts), not pixels. Screenshots go to build/test-artifacts/."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from stack.layout import free_layout
from stack.local import LocalStack
from tests.browser import browser, screenshot, screenshot_on_failure
from tests.integration.loadgen import ROOT, free_port, web_ui

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
__all__ = ["browser"]  # the fixture, imported for pytest

TOKEN = "console-browser-test-token-0123456789abcdef"
TIMELINES = ("timeline-1", "timeline-2")
WAIT_S = 90
LOADED = """return performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/stats/requests") && e.responseEnd > 0).length > 0"""


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of this test's own: its timeline replicas are killed and started again."""
    stack = LocalStack(tmp_path_factory.mktemp("console-stack"), free_layout())
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


@contextmanager
def chaos_agent(port: int, stack: LocalStack, locust_url: str, logs: Path) -> Iterator[str]:
    """The real agent on the local backend, acting on `stack`; stopped (its faults reverted)
    afterwards."""
    env = os.environ | {
        "FAILWHALE_CONSOLE_TOKEN": TOKEN,
        "FAILWHALE_CHAOS_BACKEND": "local",
        "FAILWHALE_CHAOS_SCOPE": str(stack.workdir),
        "FAILWHALE_STACK_LOCUST_URL": locust_url,
        "FAILWHALE_REPORTS_DIR": str(logs / "reports"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "uvicorn", "chaos.console.agent:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (logs / "chaos-agent.log").open("wb") as out:
        agent = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert agent.poll() is None, "the chaos agent exited at start (see its log)"
            assert time.monotonic() < deadline, "the chaos agent did not answer in 60 s"
            time.sleep(0.3)
        yield url
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).is_success
    except httpx.HTTPError:
        return False


def charts(driver: WebDriver) -> dict[str, str]:
    """What the console's charts were drawn from, as #charts' data attributes say."""
    shown: dict[str, str] = driver.execute_script(
        "const c = document.querySelector('#charts'); return c ? Object.assign({}, c.dataset) : {}"
    )
    return shown


def breakers(driver: WebDriver) -> dict[str, str]:
    said: dict[str, str] = json.loads(charts(driver).get("breakers") or "{}")
    return said


def active_faults(driver: WebDriver) -> int:
    found = driver.find_elements(By.CSS_SELECTOR, "#faults")
    return int(found[0].get_attribute("data-active") or 0) if found else 0


def faults_left(count: int) -> Callable[[WebDriver], bool]:
    return lambda driver: active_faults(driver) == count


def apply_kill(driver: WebDriver, target: str) -> None:
    wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.3)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fault-kind option[value=kill]"))
    Select(driver.find_element(By.ID, "fault-kind")).select_by_value("kill")
    Select(driver.find_element(By.ID, "fault-target")).select_by_value(target)
    duration = driver.find_element(By.NAME, "duration_s")
    duration.send_keys(Keys.CONTROL, "a")
    duration.send_keys("120")
    before = active_faults(driver)
    driver.find_element(By.ID, "fault-apply").click()
    wait.until(lambda d: active_faults(d) > before or d.find_element(By.ID, "fault-error").text)
    assert not driver.find_element(By.ID, "fault-error").text


def type_into(driver: WebDriver, name: str, text: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def shoot(driver: WebDriver, name: str) -> None:
    """A screenshot of Locust's page with the console's charts in view (from inside the frame)."""
    driver.execute_script("window.scrollTo(0, 0)")
    driver.switch_to.default_content()
    screenshot(driver, name)
    driver.switch_to.frame(driver.find_element(By.ID, "chaos-console"))


def chaos_tab(driver: WebDriver) -> bool:
    tabs = driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
    tab = next((t for t in tabs if t.text.upper() == "CHAOS"), None)
    if tab is not None:
        tab.click()
    return tab is not None


def test_a_hand_kill_of_both_timelines_shows_on_the_console_charts_and_reverts(
    browser: WebDriver, own_stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_port = free_port()
    monkeypatch.setenv("FAILWHALE_CONSOLE_AGENT_URL", f"http://127.0.0.1:{agent_port}")
    monkeypatch.setenv("FAILWHALE_CONSOLE_TOKEN", TOKEN)  # the master's, as compose gives it
    wait = WebDriverWait(browser, WAIT_S, poll_frequency=0.5)
    gateway = own_stack.layout.gateway_url
    with (
        web_ui(gateway, tmp_path) as url,
        chaos_agent(agent_port, own_stack, url, tmp_path),
        screenshot_on_failure(browser, "console"),
    ):
        browser.get(url)
        wait.until(lambda d: d.find_elements(By.NAME, "userCount") and d.execute_script(LOADED))
        type_into(browser, "userCount", "6")
        type_into(browser, "spawnRate", "6")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(chaos_tab)
        frame = wait.until(lambda d: d.find_element(By.ID, "chaos-console"))
        assert frame.is_displayed() and frame.size["height"] >= 800
        browser.switch_to.frame(frame)

        # the console draws the run's series: breakers closed, answers flowing, nothing degraded
        wait.until(lambda d: int(charts(d).get("points") or 0) >= 3)
        wait.until(lambda d: all(breakers(d).get(t) == "closed" for t in TIMELINES))
        wait.until(lambda d: d.find_element(By.ID, "resilience").text == "on")
        assert browser.find_element(By.ID, "backend").text.startswith("local")
        shoot(browser, "console-tab-steady")

        for target in TIMELINES:
            apply_kill(browser, target)
        assert active_faults(browser) == 2
        rows = browser.find_elements(By.CSS_SELECTOR, "#faults tr.active")
        assert sorted(str(r.get_attribute("data-target")) for r in rows) == sorted(TIMELINES)

        # both breakers leave `closed` (or the replica is no longer listed), answers degrade
        def broken(driver: WebDriver) -> bool:
            shown = breakers(driver)
            return all(shown.get(t) in ("open", "half-open", None) for t in TIMELINES)

        wait.until(broken)
        wait.until(lambda d: float(charts(d).get("degradedShare") or 0) > 0.15)
        assert int(charts(browser).get("faultWindows") or 0) >= 2
        shoot(browser, "console-tab-timelines-killed")

        for left in reversed(range(len(TIMELINES))):
            browser.find_element(By.CSS_SELECTOR, "#faults tr.active button.revert").click()
            wait.until(faults_left(left))
        wait.until(lambda d: all(breakers(d).get(t) == "closed" for t in TIMELINES))
        ended = browser.find_elements(By.CSS_SELECTOR, "#faults tr.ended")
        assert len(ended) == 2
        shoot(browser, "console-tab-reverted")
        # the page works on its own too
        browser.get(f"{url}/chaos")
        wait.until(lambda d: int(charts(d).get("points") or 0) >= 10)
        screenshot(browser, "console-page")
