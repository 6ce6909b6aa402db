"""The chaos console's page (`/chaos`, shown in the "Chaos" tab of Locust's UI) as the browser
tests read and drive it: what the charts were drawn from (the data attributes of #charts), the
faults table, the hand-fault form, the run box, and the tab itself. Shared by the integration
test against a local stack and the end-to-end test against the compose stack."""

import json
from collections.abc import Callable

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import screenshot

WAIT_S = 90
FRAME = "chaos-console"
LOADED = """return performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/stats/requests") && e.responseEnd > 0).length > 0"""
IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth)"


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
    driver.switch_to.frame(driver.find_element(By.ID, FRAME))


def chaos_tab(driver: WebDriver) -> bool:
    tabs = driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
    tab = next((t for t in tabs if t.text.upper() == "CHAOS"), None)
    if tab is not None:
        tab.click()
    return tab is not None


def start_load_and_open_the_tab(driver: WebDriver, url: str) -> None:
    """Locust's page, a run started from its form unless one runs, the Chaos tab opened and
    the console's frame entered."""
    wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.5)
    driver.get(url)
    wait.until(lambda d: d.execute_script(LOADED))
    if driver.find_elements(By.NAME, "userCount"):
        # no tabs before the first run: the console is a link beside the form
        link = wait.until(lambda d: d.find_element(By.ID, "chaos-console-link"))
        assert link.is_displayed() and str(link.get_attribute("href")).endswith("/chaos")
        type_into(driver, "userCount", "6")
        type_into(driver, "spawnRate", "6")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(chaos_tab)
    frame = wait.until(lambda d: d.find_element(By.ID, FRAME))
    assert frame.is_displayed() and frame.size["height"] >= 800
    driver.switch_to.frame(frame)


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
