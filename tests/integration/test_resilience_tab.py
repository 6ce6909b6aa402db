"""The Resilience tab in a real headless Chromium (Debian's `chromium` and `chromium-driver`):
load Locust's web UI (a master and a worker, against the local stack), start a run from the
form, open the tab and watch it update with the gateway's breakers, the degraded-answer rate and
the oracles' counts; stop the run and see the final audit. Screenshots are kept in
build/test-artifacts/."""

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from stack.layout import LocalLayout
from tests.browser import browser, screenshot_on_failure
from tests.integration.loadgen import ARTIFACTS, web_ui

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
__all__ = ["browser"]  # the fixture, imported for pytest

WAIT_S = 60


def tab_rows(driver: WebDriver) -> dict[tuple[str, str], tuple[str, str]]:
    """The Resilience table as shown: (what, item) -> (value, detail)."""
    shown: dict[tuple[str, str], tuple[str, str]] = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        if len(cells) == 4:
            shown[(cells[0], cells[1])] = (cells[2], cells[3])
    return shown


def answers_shown(driver: WebDriver) -> int:
    """How many answers the tab's 'all answers' row counts (0 while it is not there)."""
    value = tab_rows(driver).get(("degraded", "all answers"), ("", ""))[1]
    found = re.match(r"(\d+) of (\d+)", value)
    return int(found.group(2)) if found else 0


LOADED = """return performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/stats/requests") && e.responseEnd > 0).length > 0"""


def resilience_tab(driver: WebDriver) -> WebElement | None:
    tabs = driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
    return next((t for t in tabs if t.text.upper() == "RESILIENCE"), None)


def type_into(driver: WebDriver, name: str, text: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def test_the_resilience_tab_shows_breakers_degraded_rate_and_oracles_live(
    browser: WebDriver, layout: LocalLayout, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, WAIT_S, poll_frequency=0.5)
    with web_ui(layout.gateway_url, tmp_path) as url, screenshot_on_failure(browser, "tab"):
        browser.get(url)
        # the page asks the server for its state once as it loads: wait for that answer, or it
        # could arrive after the run started and put the page back on the form
        wait.until(lambda d: d.find_elements(By.NAME, "userCount") and d.execute_script(LOADED))
        type_into(browser, "userCount", "4")
        type_into(browser, "spawnRate", "4")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: resilience_tab(d) is not None)
        tab = resilience_tab(browser)
        assert tab is not None
        tab.click()
        wait.until(lambda d: answers_shown(d) > 0)
        first = answers_shown(browser)
        wait.until(lambda d: answers_shown(d) > first)  # the tab updates by itself

        shown = tab_rows(browser)
        for dependency in ("users", "posts", "timeline-1", "timeline-2", "dms", "trends"):
            assert shown[("breaker", dependency)][0] == "closed", shown
        assert shown[("gateway", "resilience")][0] == "on"
        assert shown[("degraded", "all answers")][0] == "0.0%"
        for kind in ("lost_writes", "duplicate_writes", "dm_order_violations",
                     "timeline_order_violations", "read_your_writes_violations"):  # fmt: skip
            assert shown[("oracle", kind)][0] == "0", (kind, shown[("oracle", kind)])
        assert shown[("oracle", "final audit")][0] == "not run"
        browser.save_screenshot(str(ARTIFACTS / "resilience-tab-running.png"))

        buttons = browser.find_elements(By.TAG_NAME, "button")
        next(b for b in buttons if b.text.upper() == "STOP").click()

        # the UI stops polling once the run is stopped: a reload shows the final audit
        def audited(driver: WebDriver) -> bool:
            driver.get(f"{url}/?tab=resilience")
            wait_rows = WebDriverWait(driver, 10, poll_frequency=0.5)
            wait_rows.until(lambda d: ("oracle", "final audit") in tab_rows(d))
            return tab_rows(driver)[("oracle", "final audit")][0] == "done"

        wait.until(audited)
        final = tab_rows(browser)
        assert final[("oracle", "lost_writes")][0] == "0"
        assert final[("oracle", "final audit")][1].endswith("0 unverified")
        browser.save_screenshot(str(ARTIFACTS / "resilience-tab-audited.png"))
