"""In a real browser: an officer composes an alert, a second officer approves it, and the progress page
fills to "completed" while a real worker process sends through the fake Twilio (status callbacks included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from outreach.accounts import create_user
from outreach.extensions import db
from outreach.models import ConsentMethod, Person, PhoneNumber, utcnow
from tests import conftest as root_conftest
from tests.browser.conftest import TIMEOUT_MS, pass_second_factor
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN
from tests.fakes.twilio_server import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
KOREAN = "프놈펜 시내 시위로 교통이 통제됩니다. 안전한 곳에 머무르세요."
PEOPLE = 40

pytestmark = pytest.mark.postgres_only  # a worker process shares the database with the live server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN, latency=0.05) as fake:
        fake.auto_callbacks = ["sent", "delivered"]
        yield fake


@pytest.fixture
def live_server_overrides(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return {
        "WTF_CSRF_ENABLED": True,
        "SMS_CHANNEL": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
    }


def _seed(app: Any) -> None:
    with app.app_context():
        create_user(
            email="author@browser.test", role="officer", name="김영사", password=PASSWORD, language="ko"
        )
        create_user(
            email="approver@browser.test", role="officer", name="이승인", password=PASSWORD, language="ko"
        )
        for i in range(PEOPLE):
            person = Person(
                name_ko=f"홍길동{i}",
                language="ko",
                province_code="KH-12",
                consent_at=utcnow(),
                consent_method=ConsentMethod.WEB,
                consent_version="test",
            )
            person.phones.append(PhoneNumber(e164=f"+8551288{i:04d}", is_primary=True))
            db.session.add(person)
        db.session.commit()


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    pass_second_factor(page)
    expect(page).to_have_url(base + "/staff/")


@pytest.fixture
def worker_process(
    live_server: Any, database_url: str, fake_twilio: FakeTwilio
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SEND_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "REDIS_URL": root_conftest.TEST_REDIS_URL,
            "SECRET_KEY": "test-secret-key",
            "PUBLIC_BASE_URL": live_server.url,
            "SMS_CHANNEL": "twilio",
            "TWILIO_ACCOUNT_SID": TWILIO_TEST_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
            "TWILIO_FROM": "+15005550006",
            "TWILIO_API_BASE_URL": fake_twilio.base_url,
            "TWILIO_MAX_SEGMENTS_PER_SECOND": "100",
            "SEND_BATCH_SIZE": "10",
            "SEND_CONCURRENCY": "2",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "worker.py", "--simple"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_compose_approve_and_watch_the_progress(
    live_server: Any,
    browser: Browser,
    page: Page,
    fake_twilio: FakeTwilio,
    worker_process: subprocess.Popen[bytes],
) -> None:
    base = live_server.url
    _seed(live_server.app)

    # 1. The author composes a Severe alert: it needs a second officer.
    _log_in(page, base, "author@browser.test")
    page.goto(base + "/staff/alerts/new")
    page.fill("input[name=title]", "Protest in Phnom Penh")
    page.select_option("select[name=severity]", "Severe")
    page.fill("textarea[name=body_ko]", KOREAN)
    page.check("input[name=provinces][value='KH-12']")
    expect(page.locator("input[name=channels][value=sms]")).to_be_checked()
    page.click("form.stack button[type=submit]")

    # The preview: recipients by province and language, the SMS as sent, its segments and cost.
    expect(page.locator("#recipient-total")).to_have_text(str(PEOPLE))
    expect(page.locator("#by-province")).to_contain_text("프놈펜")
    expect(page.locator(".text-ko pre.sms")).to_have_text(f"[주캄보디아대사관] {KOREAN}")
    expect(page.locator("#cost")).to_contain_text(str(PEOPLE))
    page.click("button[name=submit]")
    expect(page.locator(".flash.success")).to_be_visible()
    expect(page.locator(".alert-status")).to_have_attribute("data-status", "pending_approval")
    expect(page.locator("button[name=approve_send]")).to_have_count(0)  # not for the author
    alert_url = page.url

    # 2. A second officer sees exactly what will go out and approves it.
    context = browser.new_context(locale="ko-KR", timezone_id="Asia/Phnom_Penh")
    context.set_default_timeout(TIMEOUT_MS)
    approver = context.new_page()
    try:
        _log_in(approver, base, "approver@browser.test")
        approver.goto(alert_url)
        expect(approver.locator(".text-ko pre.sms")).to_have_text(f"[주캄보디아대사관] {KOREAN}")
        expect(approver.locator("#by-language")).to_contain_text(str(PEOPLE))
        approver.screenshot(path="/tmp/alert-approve.png", full_page=True)
        approver.click("button[name=approve_send]")

        # 3. The progress page updates itself (no reload) until the broadcast is complete.
        expect(approver).to_have_url(alert_url + "/progress")
        approver.evaluate("window.__sameDocument = true")
        expect(approver.locator("#alert-status")).to_have_attribute(
            "data-status", "completed", timeout=90_000
        )
        expect(approver.locator("#done")).to_have_text(str(PEOPLE))
        expect(approver.locator("#bar-fill")).to_have_attribute("style", "width: 100%;")
        assert approver.evaluate("window.__sameDocument") is True
        expect(approver.locator("#count-pending")).to_have_text("0")
        approver.screenshot(path="/tmp/alert-progress.png", full_page=True)
    finally:
        context.close()

    assert len(fake_twilio.sent()) == PEOPLE
    assert fake_twilio.stats()["duplicates"] == {}
