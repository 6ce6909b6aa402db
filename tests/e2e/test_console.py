"""The chaos console against the compose stack, as a user drives it in a real headless Chromium:
start a load from Locust's form, kill both timeline replicas from the Chaos tab and watch their
breakers open and the degraded share rise on the charts, revert and watch them close, then run
`timeline-outage` from the catalogue (it joins the running load) to a `pass` verdict and open its
report from the link. Screenshots are kept in build/test-artifacts/ (e2e-console-*.png).

Before that, at the API: the chaos agent publishes no port, and answers only with the token, from
inside the stack's network (a `docker exec` into the Locust master, which holds the token).
"""

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import ROOT, browser, screenshot, screenshot_on_failure
from tests.e2e.conftest import PROJECT, stop_load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
__all__ = ["browser"]  # the fixture, imported for pytest

T = TypeVar("T")
TIMELINES = ("timeline-1", "timeline-2")
SCENARIO = "timeline-outage"
WAIT_S = 120
RUN_WAIT_S = 600  # the scenario's 70 s, its audit and report, on a busy machine
LOADED = """return performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/stats/requests") && e.responseEnd > 0).length > 0"""
# Inside the Locust master: the agent's answer to a call with the token, a wrong one and none.
PROBE = """
import json, os, urllib.error, urllib.request
def status(path, token=None):
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    request = urllib.request.Request("http://chaos-agent:8000" + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type"), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()
token = os.environ["FAILWHALE_CONSOLE_TOKEN"]
print(json.dumps({
    "healthz": status("/healthz"),
    "none": status("/v1/state"),
    "wrong": status("/v1/state", "x" * len(token)),
    "right": status("/v1/state", token)[:2],
}))
"""


def container(service: str) -> str:
    """The id of the stack's one container of `service`."""
    listed = subprocess.run(
        [
            "docker", "ps", "-q",
            "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--filter", f"label=com.docker.compose.service={service}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(listed) == 1, f"{service} of {PROJECT}: {listed}"
    return listed[0]


def inspect(container_id: str) -> dict[str, Any]:
    out = subprocess.run(
        ["docker", "inspect", container_id], capture_output=True, text=True, check=True
    )
    found: list[dict[str, Any]] = json.loads(out.stdout)
    return found[0]


def test_the_agent_publishes_no_port_and_refuses_a_call_without_the_token(
    locust_url: str,
) -> None:
    agent = inspect(container("chaos-agent"))
    assert agent["State"]["Health"]["Status"] == "healthy"
    assert not agent["HostConfig"]["PortBindings"]
    bound = [b for b in (agent["NetworkSettings"]["Ports"] or {}).values() if b]
    assert bound == [], f"the chaos agent publishes {bound}"
    mounts = {m["Destination"]: m for m in agent["Mounts"]}
    assert mounts["/var/run/docker.sock"]["Type"] == "bind"
    assert mounts["/app/reports"]["Source"] == str(ROOT / "reports")
    assert mounts["/app/.local/chaos"]["Type"] == "volume"
    # it runs as the user who started the stack, with the socket's group
    assert agent["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"

    probe = subprocess.run(
        ["docker", "exec", container("locust-master"), "python", "-c", PROBE],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    answers = json.loads(probe.stdout)
    assert answers["healthz"][0] == 200 and json.loads(answers["healthz"][2]) == {"status": "ok"}
    for case in ("none", "wrong"):
        status, content_type, body = answers[case]
        assert status == 401, answers[case]
        assert content_type == "application/problem+json"
        assert json.loads(body)["status"] == 401
    assert answers["right"] == [200, "application/json"]
    # the token never reaches the page the browser loads
    token = subprocess.run(
        ["docker", "exec", container("locust-master"), "printenv", "FAILWHALE_CONSOLE_TOKEN"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert len(token) >= 32
    for path in ("/", "/chaos", "/chaos/api/console", "/chaos/api/agent/state"):
        assert token not in httpx.get(locust_url + path, timeout=10).text, path


# --- the browser ---


def until(driver: WebDriver, check: Callable[[WebDriver], T], timeout_s: float = WAIT_S) -> T:
    # the page redraws its parts: an element read as it is replaced is looked for again
    ignored = (NoSuchElementException, StaleElementReferenceException)
    wait = WebDriverWait(driver, timeout_s, poll_frequency=0.5, ignored_exceptions=ignored)
    result: T = wait.until(check)
    return result


def type_into(driver: WebDriver, name: str, text: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def button(driver: WebDriver, label: str) -> Any:
    """The button of that label (False while there is none, for waits)."""
    found = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.upper() == label]
    return found[0] if found else False


def tab(driver: WebDriver, label: str) -> Any:
    found = [
        t for t in driver.find_elements(By.CSS_SELECTOR, "[role=tab]") if t.text.upper() == label
    ]
    return found[0] if found else False


def start_load(driver: WebDriver, users: int) -> None:
    """Starts a run from Locust's form (after an earlier run the form opens with NEW)."""
    # the page asks for its state once as it loads: wait for that answer, or it could arrive
    # after the run started and put the page back on the form
    until(driver, lambda d: d.execute_script(LOADED))
    if not driver.find_elements(By.NAME, "userCount"):
        until(driver, lambda d: button(d, "NEW")).click()
    until(driver, lambda d: d.find_elements(By.NAME, "userCount"))
    type_into(driver, "userCount", str(users))
    type_into(driver, "spawnRate", str(users))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(driver, lambda d: button(d, "STOP"))


def open_chaos_tab(driver: WebDriver) -> None:
    """Clicks Locust's Chaos tab and moves into the console's frame in its panel."""
    driver.switch_to.default_content()
    until(driver, lambda d: tab(d, "CHAOS")).click()
    frame = until(driver, lambda d: d.find_element(By.ID, "chaos-console"))
    until(driver, lambda d: frame.is_displayed())
    driver.switch_to.frame(frame)
    until(driver, lambda d: d.find_elements(By.ID, "fault-kind"))


def charts(driver: WebDriver) -> dict[str, Any]:
    """What the live charts show at their last point (their data attributes)."""
    node = driver.find_element(By.ID, "charts")
    return {
        "points": int(node.get_attribute("data-points") or 0),
        "degraded_share": float(node.get_attribute("data-degraded-share") or 0),
        "breakers": json.loads(node.get_attribute("data-breakers") or "{}"),
    }


def apply_kill(driver: WebDriver, target: str, duration_s: int) -> None:
    Select(driver.find_element(By.ID, "fault-kind")).select_by_value("kill")
    Select(driver.find_element(By.ID, "fault-target")).select_by_value(target)
    type_into(driver, "duration_s", str(duration_s))
    driver.find_element(By.ID, "fault-apply").click()
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr.active[data-target="{target}"]'))
    assert driver.find_element(By.ID, "fault-error").text == ""


def more_points(driver: WebDriver, count: int) -> None:
    """Waits until the charts have `count` more points (a point a second)."""
    have = charts(driver)["points"]
    until(driver, lambda d: charts(d)["points"] >= have + count)


def picture(driver: WebDriver, name: str) -> None:
    """A screenshot of the console from its top (the charts, the faults and the run)."""
    driver.execute_script("window.scrollTo(0, 0)")
    screenshot(driver, name)


def phase(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "run").get_attribute("data-phase") or ""


def active_faults(driver: WebDriver) -> int:
    return int(driver.find_element(By.ID, "faults").get_attribute("data-active") or 0)


@pytest.fixture
def stopped_load(locust_url: str) -> Iterator[None]:
    """Whatever the test leaves running in Locust is stopped after it (the chaos tests after this
    one refuse to start while a load runs)."""
    yield
    stop_load(locust_url)


def test_the_console_breaks_the_timeline_and_runs_a_scenario_to_a_verdict(
    browser: WebDriver, locust_url: str, stopped_load: None
) -> None:
    browser.set_window_size(1400, 2000)
    with screenshot_on_failure(browser, "e2e-console"):
        browser.get(locust_url)
        start_load(browser, 20)

        open_chaos_tab(browser)
        # the charts fill with the load; before any fault nothing is degraded and all is closed
        until(browser, lambda d: charts(d)["points"] >= 20 and charts(d)["breakers"])
        until(browser, lambda d: charts(d)["degraded_share"] < 0.01)
        before = charts(browser)
        assert all(before["breakers"].get(t) == "closed" for t in TIMELINES), before
        assert browser.find_element(By.ID, "resilience").text == "on"

        # both timeline replicas killed by hand, for longer than the test waits: reverted by hand
        for target in TIMELINES:
            apply_kill(browser, target, 300)
        assert active_faults(browser) == 2
        until(browser, lambda d: _degraded_and_open(charts(d)))
        more_points(browser, 10)
        picture(browser, "e2e-console-timeline-killed")

        for revert in browser.find_elements(By.CSS_SELECTOR, "tr.active button.revert"):
            revert.click()
        until(browser, lambda d: active_faults(d) == 0)
        evidence = browser.find_element(By.CSS_SELECTOR, "#faults tr.ended .evidence").text
        assert "now running" in evidence, evidence
        until(browser, lambda d: all(charts(d)["breakers"].get(t) == "closed" for t in TIMELINES))
        more_points(browser, 10)
        picture(browser, "e2e-console-timeline-reverted")

        # the scenario from the catalogue, against the load that runs: it joins it
        run_button = until(browser, lambda d: d.find_element(
            By.CSS_SELECTOR, f'article[data-scenario="{SCENARIO}"] button.run'
        ))  # fmt: skip
        run_button.click()
        until(browser, phase)
        assert "joined the running load" in browser.find_element(By.CSS_SELECTOR, "#run h3").text
        until(browser, lambda d: phase(d) == "fault")
        more_points(browser, 8)
        picture(browser, "e2e-console-scenario-fault")
        until(browser, lambda d: phase(d) in ("done", "error"), RUN_WAIT_S)
        run = browser.find_element(By.ID, "run")
        verdict = browser.find_element(By.ID, "run-verdict").text
        assert run.get_attribute("data-verdict") == "pass", verdict
        link = until(browser, lambda d: d.find_element(By.ID, "run-report"))
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#reports tbody tr[data-report]"))
        picture(browser, "e2e-console-scenario-pass")

        report_name = str(link.get_attribute("href")).split("/reports/")[1].split("/")[0]
        own = browser.current_window_handle
        link.click()
        until(browser, lambda d: len(d.window_handles) == 2)
        browser.switch_to.window(next(h for h in browser.window_handles if h != own))
        until(browser, lambda d: SCENARIO in d.find_element(By.TAG_NAME, "body").text)
        page = browser.find_element(By.TAG_NAME, "body").text.lower()
        assert "pass" in page
        images = browser.find_elements(By.TAG_NAME, "img")
        assert images and all(
            browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images
        ), "a plot of the report did not load through the console"
        screenshot(browser, "e2e-console-report")
        browser.close()
        browser.switch_to.window(own)

    # the report is the user's own file, beside the CLI's reports
    folder = ROOT / "reports" / report_name
    assert (folder / "report.html").is_file()
    assert (folder / "report.html").stat().st_uid == os.getuid()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["verdict"] == "pass", summary


def _degraded_and_open(shown: dict[str, Any]) -> bool:
    """Both timeline breakers open (or the replicas ejected: gone from the gateway's breakers)
    and at least 5 % of the answers degraded, at the charts' last point."""
    breakers = shown["breakers"]
    down = all(breakers.get(t, "ejected") in ("open", "ejected") for t in TIMELINES)
    return down and shown["degraded_share"] >= 0.05
