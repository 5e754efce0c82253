"""End to end in a real browser: a resident answers their one-tap link on a small phone (CSRF on,
no log-in), and the officer's dashboard, already open, shows the answer without a reload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from outreach.accounts import create_user
from outreach.checkins.operations import create_checkin, on_checkin_dispatch
from outreach.extensions import db
from outreach.models import (
    Case,
    CheckInRecipient,
    ConsentMethod,
    Person,
    PhoneKind,
    PhoneNumber,
    utcnow,
)
from tests.browser.conftest import pass_second_factor

PASSWORD = "correct horse battery"


@pytest.fixture
def live_server_overrides() -> dict[str, Any]:
    # CSRF on, as in production; the dashboard polls every half second so the test need not wait long.
    return {"WTF_CSRF_ENABLED": True, "CHECKIN_DASHBOARD_POLL_MS": 500}


def _seed(app: Any) -> tuple[int, str]:
    with app.app_context():
        officer = create_user(
            email="duty@browser.test",
            role="officer",
            name="당직영사",
            password=PASSWORD,
            language="ko",
            on_duty=True,
        )
        for n, province in enumerate(["KH-12", "KH-12", "KH-17"]):
            person = Person(
                name_ko=f"홍길동{n}",
                name_latin=f"HONG {n}",
                language="ko",
                province_code=province,
                consent_at=utcnow(),
                consent_method=ConsentMethod.WEB,
            )
            person.phones.append(PhoneNumber(e164=f"+8551230000{n}", kind=PhoneKind.KH, is_primary=True))
            db.session.add(person)
        db.session.flush()
        checkin = create_checkin(
            title="홍수 안부 확인",
            questions={"ko": "[대사관] 홍수 피해는 없으신가요? 안전하신지 알려 주세요."},
            audience={},
            channels=["sms"],
            deadline=utcnow() + timedelta(hours=12),
            actor=officer,
        )
        on_checkin_dispatch(checkin.alert_id)
        db.session.commit()
        code = db.session.scalar(
            sa.select(CheckInRecipient.code)
            .join(Person, Person.id == CheckInRecipient.person_id)
            .where(Person.name_ko == "홍길동0")
        )
        assert code is not None
        return checkin.id, code


def _log_in(page: Page, url: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", "duty@browser.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    pass_second_factor(page)


def test_resident_answers_on_a_phone_and_the_dashboard_shows_it(
    live_server: Any, page: Page, phone_page: Page
) -> None:
    checkin_id, code = _seed(live_server.app)

    # The officer has the dashboard open on a desktop.
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/staff/checkins/{checkin_id}")
    need_help = page.locator('.tiles strong[data-k="|need_help"]')
    expect(need_help).to_have_text("0")
    expect(page.locator('.tiles strong[data-k="|no_response"]')).to_have_text("3")
    expect(page.locator("svg.chart g")).to_have_count(2)  # Phnom Penh and Siem Reap

    # The resident opens the link from their SMS on a small phone.
    response = phone_page.goto(f"{live_server.url}/c/{code}")
    assert response is not None and response.status == 200
    assert len(response.body()) < 20 * 1024
    expect(phone_page.locator("html")).to_have_attribute("lang", "ko")
    expect(phone_page.locator(".q")).to_contain_text("홍수 피해는 없으신가요")
    # Nothing wider than the phone: no sideways scrolling to find the buttons.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360
    help_button = phone_page.get_by_role("button", name="도움이 필요합니다").first
    expect(help_button).to_be_visible()
    phone_page.fill("#note", "1층이 물에 잠겼어요")
    phone_page.fill("#location", "Chbar Ampov, street 369")
    phone_page.get_by_role("button", name="도움이 필요합니다").last.tap()
    expect(phone_page.locator("[role=status]")).to_contain_text("당직 영사에게 알렸으며")
    expect(phone_page.locator("body")).to_contain_text("117")

    # The dashboard updates itself (no reload): one person needs help, in Phnom Penh.
    expect(need_help).to_have_text("1")
    expect(page.locator('.tiles strong[data-k="|no_response"]')).to_have_text("2")
    expect(page.locator('td[data-k="KH-12|need_help"]')).to_have_text("1")
    page.reload()
    expect(page.locator("#need-help")).to_contain_text("1층이 물에 잠겼어요")
    expect(page.locator("#need-help")).to_contain_text("Chbar Ampov, street 369")

    # And a case is waiting for the officer.
    with live_server.app.app_context():
        case = db.session.scalar(sa.select(Case))
        assert case is not None and case.opened_via == "checkin_link"
    page.goto(f"{live_server.url}/staff/cases/{case.id}")
    expect(page.locator("h1")).to_contain_text("사건")
    expect(page.locator("ul.tl")).to_contain_text("1층이 물에 잠겼어요")
    page.click("text=접수 확인")
    expect(page.locator(".flash.success")).to_be_visible()
    page.screenshot(path="/tmp/checkin-case.png", full_page=True)
    phone_page.screenshot(path="/tmp/checkin-phone.png", full_page=True)
