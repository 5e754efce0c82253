"""The browser rig: Playwright's sync API driving Debian's Chromium against ``live_server``.

Browsers are never downloaded: Playwright launches the system Chromium (``apt-get install chromium
fonts-nanum fonts-khmeros``). Every test in this folder is marked ``browser`` automatically, and the
live app runs with CSRF protection on, as in production.

Playwright's sync API runs an asyncio event loop in a greenlet of the main thread; while the browser is
open, asyncio sees that loop as running in this thread, so ``asyncio.run()`` elsewhere would fail. The
browser is session-scoped (starting Chromium costs about a second), so browser tests are moved to the end
of the run, and the loop is shut down and closed by Playwright itself when the session ends — no warning
has to be silenced for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("OUTREACH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A small Android phone: what many residents and community reps will use.
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
#: Generous for a loaded 2-core machine, still far below pytest's own timeout.
TIMEOUT_MS = 15_000


def _is_browser_test(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(HERE)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = []
    other_items = []
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            browser_items.append(item)
        else:
            other_items.append(item)
    # Last, so that Playwright's event loop (see the module docstring) exists only after every other test.
    items[:] = other_items + browser_items


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium fonts-nanum)"
        )
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def live_server_overrides() -> dict[str, Any]:
    """The browser talks to the app as a person would: with CSRF protection on."""
    return {"WTF_CSRF_ENABLED": True}


def _new_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    context = browser.new_context(locale="ko-KR", timezone_id="Asia/Phnom_Penh", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (no cookies shared between tests)."""
    yield from _new_page(browser)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A fresh page on a 360×740 touch phone."""
    yield from _new_page(browser, **PHONE)


def pass_second_factor(page: Page) -> None:
    """After an admin's or officer's password: set up the authenticator as a person would (read the key
    on the enrolment page, type the app's code), then continue past the recovery codes."""
    page.wait_for_url(re.compile(r"/login/enrol$"))
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("form.card button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("#recovery-continue")
