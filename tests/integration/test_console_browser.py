"""The chaos console in a real headless Chromium: a local stack of its own, a Locust master with
the console and a worker, and the chaos agent (`uvicorn chaos.console.agent:create_app`, local
backend) that the master reaches with the console token. Start load from Locust's form, open the
Chaos tab, kill both timeline replicas with the hand-fault form, see their breakers leave
`closed` and the degraded share rise on the live charts, revert them from the faults table and
see the breakers close again; then run timeline-outage from the catalogue to its verdict, open
its report and compare it with a CLI run's. The checks read what the charts drew from (data
attributes of #charts), not pixels. Screenshots go to build/test-artifacts/."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from stack.layout import free_layout
from stack.local import LocalStack
from tests.browser import browser, screenshot, screenshot_on_failure
from tests.console_page import (
    IMAGES_LOADED,
    WAIT_S,
    active_faults,
    apply_kill,
    breakers,
    charts,
    click,
    faults_left,
    run_phase,
    shoot,
    start_load_and_open_the_tab,
)
from tests.integration.loadgen import ROOT, free_port, web_ui

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
__all__ = ["browser"]  # the fixture, imported for pytest

TOKEN = "console-browser-test-token-0123456789abcdef"
TIMELINES = ("timeline-1", "timeline-2")
REQUEST_LOG = ROOT / "chaos" / "request_log.py"  # as the stack's master loads it, for runs


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
