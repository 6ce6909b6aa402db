"""The chaos console in a real headless Chromium: a local stack of its own, a Locust master with
the console and a worker, and the chaos agent (`uvicorn chaos.console.agent:create_app`, local
backend) that the master reaches with the console token. Start load from Locust's form, open the
Chaos tab, kill both timeline replicas with the hand-fault form, see their breakers leave
`closed` and the degraded share rise on the live charts, revert them from the faults table and
see the breakers close again. The checks read what the charts drew from (data attributes of
#charts), not pixels. Screenshots go to build/test-artifacts/."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
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
REQUEST_LOG = ROOT / "chaos" / "request_log.py"  # as the stack's master loads it, for runs
WAIT_S = 90
IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth)"
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


def click(driver: WebDriver, css: str) -> None:
    """Clicks the element, found again if the page re-rendered it meanwhile (the faults table
    is rebuilt when the agent's evidence changes)."""

    def clicked(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    WebDriverWait(driver, 10, 0.2, ignored_exceptions=(StaleElementReferenceException,)).until(
        clicked
    )


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


def shoot(driver: WebDriver, name: str, part: str = "") -> None:
    """A screenshot of Locust's page with the console's charts (or its element `#part`) in
    view, taken from inside the frame."""
    if part:
        driver.execute_script(f"document.getElementById('{part}').scrollIntoView()")
    else:
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


@pytest.fixture(scope="module")
def console_url(own_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Locust's web UI (a master with the console and a worker) and the chaos agent it calls
    (its reports in `console-logs*/reports` of the session's temporary folder)."""
    logs = tmp_path_factory.mktemp("console-logs")
    agent_port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FAILWHALE_CONSOLE_AGENT_URL", f"http://127.0.0.1:{agent_port}")
        env.setenv("FAILWHALE_CONSOLE_TOKEN", TOKEN)  # the master's, as compose gives it
        with (
            web_ui(own_stack.layout.gateway_url, logs, plugins=(REQUEST_LOG,)) as url,
            chaos_agent(agent_port, own_stack, url, logs),
        ):
            yield url


def start_load_and_open_the_tab(driver: WebDriver, url: str) -> None:
    """Locust's page, a run started from its form unless one runs, the Chaos tab opened and
    the console's frame entered."""
    wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.5)
    driver.get(url)
    wait.until(lambda d: d.execute_script(LOADED))
    if driver.find_elements(By.NAME, "userCount"):
        type_into(driver, "userCount", "6")
        type_into(driver, "spawnRate", "6")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(chaos_tab)
    frame = wait.until(lambda d: d.find_element(By.ID, "chaos-console"))
    assert frame.is_displayed() and frame.size["height"] >= 800
    driver.switch_to.frame(frame)


def test_a_hand_kill_of_both_timelines_shows_on_the_console_charts_and_reverts(
    browser: WebDriver, console_url: str
) -> None:
    wait = WebDriverWait(browser, WAIT_S, poll_frequency=0.5)
    url = console_url
    with screenshot_on_failure(browser, "console"):
        start_load_and_open_the_tab(browser, url)

        # the console draws the run's series: breakers closed, answers flowing, nothing degraded
        wait.until(lambda d: int(charts(d).get("points") or 0) >= 3)
        wait.until(lambda d: all(breakers(d).get(t) == "closed" for t in TIMELINES))
        wait.until(lambda d: d.find_element(By.ID, "resilience").text == "on")
        assert browser.find_element(By.ID, "backend").text.startswith("local")
        shoot(browser, "console-tab-steady")

        # the agent's validation, shown beside the field it refuses
        Select(browser.find_element(By.ID, "fault-kind")).select_by_value("latency")
        Select(browser.find_element(By.ID, "fault-target")).select_by_value("users")
        browser.find_element(By.ID, "fault-apply").click()
        beside = '.field-error[data-field="delay_ms"]'
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, beside).text)
        assert active_faults(browser) == 0
        form = browser.find_element(By.ID, "fault-form")
        assert form.get_attribute("data-builds") == "1"  # never rebuilt under the user's hands

        for target in TIMELINES:
            apply_kill(browser, target)
        assert active_faults(browser) == 2
        targets = (
            "return [...document.querySelectorAll('#faults tr.active')].map(r => r.dataset.target)"
        )
        assert sorted(browser.execute_script(targets)) == sorted(TIMELINES)

        # both breakers leave `closed` (or the replica is no longer listed), answers degrade
        def broken(driver: WebDriver) -> bool:
            shown = breakers(driver)
            return all(shown.get(t) in ("open", "half-open", None) for t in TIMELINES)

        wait.until(broken)
        wait.until(lambda d: float(charts(d).get("degradedShare") or 0) > 0.15)
        assert int(charts(browser).get("faultWindows") or 0) >= 2
        shoot(browser, "console-tab-timelines-killed")

        for left in reversed(range(len(TIMELINES))):
            click(browser, "#faults tr.active button.revert")
            wait.until(faults_left(left))
        wait.until(lambda d: all(breakers(d).get(t) == "closed" for t in TIMELINES))
        ended = browser.find_elements(By.CSS_SELECTOR, "#faults tr.ended")
        assert len(ended) == 2
        shoot(browser, "console-tab-reverted")
        # the page works on its own too
        browser.get(f"{url}/chaos")
        wait.until(lambda d: int(charts(d).get("points") or 0) >= 10)
        screenshot(browser, "console-page")


def run_phase(driver: WebDriver, attribute: str, timeout: float, value: str | None = None) -> None:
    """Waits for the run box's data-<attribute> (to be `value`, or anything); on a timeout the
    error says what the box showed."""

    def shown(d: WebDriver) -> bool:
        got = d.find_element(By.ID, "run").get_attribute(f"data-{attribute}")
        return bool(got) if value is None else got == value

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(shown)
    except TimeoutException:
        said = driver.find_element(By.ID, "run").text
        raise AssertionError(f"run {attribute} {value or '(any)'} not shown: {said}") from None


def test_a_scenario_run_from_the_catalogue_ends_with_its_verdict_and_report(
    browser: WebDriver, console_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wait = WebDriverWait(browser, WAIT_S, poll_frequency=0.5)
    with screenshot_on_failure(browser, "console-run"):
        start_load_and_open_the_tab(browser, console_url)
        # the console says the load runs (the run then joins it rather than bringing its own)
        wait.until(lambda d: d.find_element(By.ID, "load").text.startswith("running"))
        run = '[data-scenario="timeline-outage"] button.run'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, run))
        click(browser, run)
        run_phase(browser, "phase", WAIT_S)
        # the run joins the load started from the form, counts down, and reaches its fault
        agent_said = "const s = window.chaosConsole.state; return JSON.stringify([s.run, s.load])"
        joined = browser.find_element(By.CSS_SELECTOR, "#run h3").text
        assert "joined" in joined, browser.execute_script(agent_said)
        run_phase(browser, "phase", WAIT_S, "fault")
        assert not browser.find_element(By.CSS_SELECTOR, run).is_enabled()  # one at a time
        assert browser.find_element(By.ID, "run-left").text.endswith(" s")
        wait.until(lambda d: int(charts(d).get("faultWindows") or 0) >= 2)
        shoot(browser, "console-run-fault")
        run_phase(browser, "verdict", 180)
        verdict = browser.find_element(By.ID, "run-verdict").text
        shoot(browser, "console-run-verdict")
        shoot(browser, "console-run-panel", "run")
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, run).is_enabled())
        assert browser.find_element(By.ID, "run").get_attribute("data-verdict") == "pass", verdict
        link = browser.find_element(By.ID, "run-report")
        report = str(link.get_attribute("href"))
        assert report.startswith(f"{console_url}/chaos/reports/") and report.endswith(
            "/report.html"
        )
        name = report.split("/")[-2]
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#reports tr[data-report="{name}"]'))

        # a run of the CLI into the same reports folder is listed too, and the two compare
        folder = next(tmp_path_factory.getbasetemp().glob("console-logs*/reports"))
        shutil.copytree(folder / name, folder / f"{name}-cli")
        row = f'#reports tr[data-report="{name}-cli"] input.pick'
        WebDriverWait(browser, 30, 0.5).until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
        click(browser, row)
        click(browser, f'#reports tr[data-report="{name}"] input.pick')
        browser.find_element(By.ID, "compare").click()
        compared = wait.until(lambda d: d.find_elements(By.ID, "compare-link"))[0]
        comparison = str(compared.get_attribute("href"))
        shoot(browser, "console-reports", "reports")

    for page, shot in ((report, "console-run-report"), (comparison, "console-compare-report")):
        browser.get(page)  # report.html and its plots, served through the master
        with screenshot_on_failure(browser, shot):
            assert browser.find_elements(By.TAG_NAME, "img"), f"{page} shows no plots"
            wait.until(lambda d: d.execute_script(IMAGES_LOADED))
            assert "timeline-outage" in browser.page_source
            screenshot(browser, shot)
