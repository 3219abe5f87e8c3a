"""Issue 9, item 8: the reset page in a real browser (headless Chromium driven by Selenium).

The link comes from a real mail caught by devmail after a real reset request; the browser fills
and submits the form, sees the success page, and the new password then logs in. The page's CSP
is shown to block an inline script injected into it, next to a page without CSP where the same
injection runs. Debian's `chromium` and `chromium-driver` are a system dependency (.ci/run installs
them): without them this test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.e2e.live import Live, live

__all__ = ["live"]

PASSWORD = "rabbit-hole-2026"
NEW_PASSWORD = "through-the-looking-glass-7"
ALICE = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "username": "alice",
    "email": "alice@example.com",
    "password": PASSWORD,
}
INJECT = """
const marker = arguments[0];
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__violations.push(e.effectiveDirective));
const s = document.createElement('script');
s.textContent = 'window.' + marker + ' = true;';
document.body.appendChild(s);
"""


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    absent = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if absent:
        return (
            f"{' and '.join(absent)} not found: install Debian's chromium and chromium-driver "
            "packages (apt-get install -y chromium chromium-driver; .ci/run does it)"
        )
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser test to run: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=str(shutil.which("chromedriver")))
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll `check` until it is truthy. While the form submits, the old page goes away and the
    new one is not there yet: an element looked up in between is missing or stale, which means
    "not yet", not a failure (the caller asserts on what it finally reads)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _injected_script_ran(driver: Any, marker: str) -> tuple[bool, list[str]]:
    """Inject an inline <script> that would set window[marker]; report whether it ran and which
    CSP directives the page reported as violated."""
    driver.execute_script(INJECT, marker)
    _eventually(
        lambda: driver.execute_script(
            f"return window.{marker} === true || window.__violations.length > 0"
        ),
        timeout=5,
    )
    ran = driver.execute_script(f"return window.{marker} === true")
    return bool(ran), list(driver.execute_script("return window.__violations"))


def _reset_in_browser(driver: Any, link: str) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    seen: dict[str, Any] = {}
    driver.get("data:text/html,<!doctype html><title>no CSP</title><p>control</p>")
    seen["control"] = _injected_script_ran(driver, "__controlRan")

    driver.get(link)
    seen["title"] = driver.title
    seen["page"] = _injected_script_ran(driver, "__injectedRan")
    seen["console"] = [entry["message"] for entry in driver.get_log("browser")]
    seen["button_color"] = driver.find_element(By.TAG_NAME, "button").value_of_css_property(
        "background-color"
    )
    driver.find_element(By.ID, "new_password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "re_new_password").send_keys(NEW_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _eventually(lambda: "changed" in driver.find_element(By.TAG_NAME, "h1").text)
    seen["after"] = driver.find_element(By.TAG_NAME, "h1").text
    seen["after_url"] = driver.current_url
    return seen


async def test_reset_link_opened_filled_and_submitted_in_chromium(live: Live, browser: Any) -> None:
    started = await live.call("POST", "/api/auth/signup/", 202, json=ALICE)
    mail = await live.latest_mail(ALICE["email"])
    body = {"signup_id": started["signup_id"], "code": mail["Codes"][0]}
    await live.call("POST", "/api/auth/signup/verify/", 201, json=body)
    await live.call("POST", "/api/auth/password/reset/", 202, json={"email": ALICE["email"]})
    link_mail = await live.latest_mail(ALICE["email"], after=mail["ID"])
    (link,) = [x for x in link_mail["Links"] if "/reset-password/" in x]
    assert link.startswith(live.url)

    # Selenium blocks; the service answering the browser runs on this test's event loop.
    seen = await asyncio.to_thread(_reset_in_browser, browser, link)

    assert seen["control"] == (True, []), "the injection itself does not work"
    assert seen["title"].startswith("Choose a new password")
    ran, violations = seen["page"]
    assert not ran, "an injected inline script ran on the reset page"
    assert "script-src-elem" in violations, violations
    assert any("Content Security Policy" in m for m in seen["console"]), seen["console"]
    assert "31, 79, 191" in seen["button_color"], "the page's own style sheet was blocked"
    assert seen["after"] == "Your password was changed"
    assert seen["after_url"] == link

    new_login = {"username": "alice", "password": NEW_PASSWORD}
    await live.call("POST", "/api/token/", 200, json=new_login)
    await live.call("POST", "/api/token/", 401, json={**new_login, "password": PASSWORD})
    await live.call("GET", link.removeprefix(live.url), 409)  # the link is spent now


def test_without_the_browser_the_reason_names_the_debian_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = _missing()
    assert reason is not None
    assert "chromium and chromedriver not found" in reason and "chromium-driver" in reason
