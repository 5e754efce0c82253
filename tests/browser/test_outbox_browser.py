"""End to end in a real browser: log in through the form (CSRF on), read the Outbox."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from outreach.accounts import create_user
from outreach.extensions import db
from outreach.messaging.outbound import queue_one
from outreach.models import Message, MessageStatus, SourceKind
from tests.browser.conftest import pass_second_factor
from tests.conftest import run_jobs

PASSWORD = "correct horse battery"
PHONE = "+85512345678"
KOREAN_BODY = "[대사관] 프놈펜 시내 시위로 교통이 통제됩니다. 안전한 곳에 머무르세요."


def _seed(app: Any) -> None:
    with app.app_context():
        create_user(email="admin@browser.test", role="admin", name="김영사", password=PASSWORD, language="ko")
        db.session.commit()


def _send_through_console(app: Any) -> None:
    """A one-off SMS through the real pipeline: queued, sent by a worker, recorded by the console channel."""
    with app.app_context():
        queue_one(channel="sms", to=PHONE, body=KOREAN_BODY, source_kind=SourceKind.TEST, source_id=1)
        db.session.commit()
    run_jobs(app)
    with app.app_context():
        assert db.session.scalars(sa.select(Message.status)).all() == [MessageStatus.SENT]


def _log_in(page: Page, email: str, password: str) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form.card button[type=submit]")


def test_admin_logs_in_and_sees_the_outbox(live_server: Any, page: Page) -> None:
    _seed(live_server.app)
    _send_through_console(live_server.app)

    page.goto(live_server.url + "/staff/outbox")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fstaff%2Foutbox$"))
    # The form carries a CSRF token and the live app checks it.
    assert page.locator("input[name=csrf_token]").get_attribute("value")

    _log_in(page, "admin@browser.test", PASSWORD)
    pass_second_factor(page)

    expect(page).to_have_url(live_server.url + "/staff/outbox")
    row = page.locator("tr.outbox-entry")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(PHONE)
    expect(row).to_contain_text(KOREAN_BODY)
    # A Korean-language admin reads the page in Korean.
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("h1")).to_have_text("발신함")
    page.screenshot(path="/tmp/outbox.png", full_page=True)


def test_wrong_password_is_refused_in_the_browser(live_server: Any, page: Page) -> None:
    _seed(live_server.app)
    page.goto(live_server.url + "/login")
    _log_in(page, "admin@browser.test", "not the password")
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.locator(".flash.error")).to_be_visible()
    page.goto(live_server.url + "/staff/outbox")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_log_out_from_a_phone(live_server: Any, phone_page: Page) -> None:
    _seed(live_server.app)
    phone_page.goto(live_server.url + "/login?next=/staff/")
    _log_in(phone_page, "admin@browser.test", PASSWORD)
    pass_second_factor(phone_page)
    expect(phone_page).to_have_url(live_server.url + "/staff/")
    # The page fits the phone's width: nothing to scroll sideways.
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    # Logging out is a POST carrying the CSRF token from the header form.
    phone_page.click("form.logout button[type=submit]")
    expect(phone_page).to_have_url(live_server.url + "/login")
    phone_page.goto(live_server.url + "/staff/")
    expect(phone_page).to_have_url(re.compile(r"/login\?next="))
