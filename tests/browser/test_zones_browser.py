"""In a real browser: an officer raises Bavet to level 4, an admin approves it, the officer sees the people
inside on the map and by permit state, and sends the prepared alert; the public page shows the new
level on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from outreach.accounts import create_user
from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.models import ConsentMethod, Person, PhoneNumber, utcnow
from tests.browser.conftest import PHONE, TIMEOUT_MS, pass_second_factor
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN, run_jobs
from tests.fakes.twilio_server import FakeTwilio

PASSWORD = "correct horse battery"
INSIDE = {"+85512770001": "2008", "+85512770002": "200802", "+85512770003": "2008"}
OUTSIDE = {"+85512770009": "2003", "+85512770010": None}


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN) as fake:
        yield fake


@pytest.fixture
def live_server_overrides(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": True, "SMS_CHANNEL": "twilio", "TWILIO_API_BASE_URL": fake_twilio.base_url}


def _seed(app: Any) -> dict[str, int]:
    with app.app_context():
        create_user(
            email="officer@zones.test", role="officer", name="김영사", password=PASSWORD, language="ko"
        )
        create_user(email="admin@zones.test", role="admin", name="박관리", password=PASSWORD, language="ko")
        ids = {}
        for i, (phone, area) in enumerate({**INSIDE, **OUTSIDE}.items()):
            person = Person(
                name_ko=f"홍길동{i}",
                name_latin=f"HONG GILDONG {i}",
                language="ko",
                province_code="KH-20",
                area_code=area,
                consent_at=utcnow(),
                consent_method=ConsentMethod.WEB,
                consent_version="test",
            )
            person.phones.append(PhoneNumber(e164=phone, is_primary=True))
            db.session.add(person)
            db.session.flush()
            ids[phone] = person.id
        db.session.commit()
        return ids


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    pass_second_factor(page)  # officers and admins enrol an authenticator at their first sign-in
    expect(page).to_have_url(base + "/staff/")


def test_raise_bavet_to_level_4_see_who_is_inside_and_send_the_prepared_alert(
    live_server: Any, browser: Browser, page: Page, phone_page: Page, fake_twilio: FakeTwilio
) -> None:
    base = live_server.url
    ids = _seed(live_server.app)
    today = cambodia_today().isoformat()

    # 1. The officer asks for level 4 for Bavet: a travel ban waits for an admin.
    _log_in(page, base, "officer@zones.test")
    page.goto(base + "/staff/zones")
    page.select_option("select[name=area_code]", "2008")
    page.select_option("select[name=level]", "4")
    page.fill("input[name=effective_from]", today)
    page.fill("textarea[name=reason]", "스캠 단지와 납치 피해")
    page.click("form.stack button[type=submit]")
    expect(page.locator("#pending")).to_be_visible()
    zone_url = page.url

    # 2. An admin approves it.
    context = browser.new_context(locale="ko-KR", timezone_id="Asia/Phnom_Penh")
    context.set_default_timeout(TIMEOUT_MS)
    admin = context.new_page()
    try:
        _log_in(admin, base, "admin@zones.test")
        admin.goto(zone_url)
        admin.click("#pending button[value=approve]")
        expect(admin.locator(".flash.success")).to_be_visible()
        expect(admin.locator("#pending")).to_have_count(0)

        # 3. The officer sees the people inside on the map and by permit state, records a permit.
        page.goto(base + "/staff/")
        marker = page.locator("#zone-map g.marker[data-code='2008']")
        expect(marker).to_have_attribute("data-level", "4")
        expect(page.locator("#zone-map g.count text")).to_contain_text(["3"])
        page.goto(zone_url)
        expect(page.locator("a[data-state=none]")).to_contain_text("(3)")
        expect(page.locator("tr[data-person]")).to_have_count(3)
        page.click("#record-permit summary")
        page.fill("input[name=person_id]", str(ids["+85512770002"]))
        page.fill("input[name=number]", "M-2025-0042")
        page.fill("input[name=valid_from]", today)
        page.fill("input[name=valid_to]", "2099-12-31")
        page.click("form[action$='/permits'] button[type=submit]")
        expect(page.locator("a[data-state=valid]")).to_contain_text("(1)")
        expect(page.locator("a[data-state=none]")).to_contain_text("(2)")
        expect(page.locator(f"tr[data-person='{ids['+85512770002']}']")).to_have_attribute(
            "data-state", "valid"
        )
        page.screenshot(path="/tmp/zone-bavet.png", full_page=True)

        # 4. The prepared alert: the officer submits it, and being Extreme, a second person approves it.
        page.click("#prepared a")
        expect(page.locator(".text-ko pre.sms")).to_contain_text("바벳")
        page.click("button[name=submit]")
        expect(page.locator(".alert-status")).to_have_attribute("data-status", "pending_approval")
        admin.goto(page.url)
        admin.click("button[name=approve_send]")
        expect(admin).to_have_url(page.url + "/progress")
    finally:
        context.close()
    run_jobs(live_server.app)
    assert sorted(m["to"] for m in fake_twilio.sent()) == sorted(INSIDE)
    assert all("바벳" in m["body"] for m in fake_twilio.sent())

    # 5. The public advisory page on a phone, in English, shows Bavet at level 4 (and no counts).
    phone_page.goto(base + "/advisories?lang=en")
    bavet = phone_page.locator("li[data-area='2008']")
    expect(bavet).to_contain_text("Level 4: travel ban")
    expect(bavet).to_contain_text("Since " + today)
    expect(phone_page.locator("svg.advisory-map g.marker[data-code='2008']")).to_have_attribute(
        "data-level", "4"
    )
    expect(phone_page.locator("svg.advisory-map g.count")).to_have_count(0)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"]  # type: ignore[index]
    phone_page.screenshot(path="/tmp/advisories-phone.png", full_page=True)


def test_a_tap_shares_the_phones_location_with_the_answer(live_server: Any, browser: Browser) -> None:
    from datetime import timedelta

    from outreach.checkins.operations import create_checkin, on_checkin_dispatch
    from outreach.models import CheckInRecipient, User

    app = live_server.app
    ids = _seed(app)
    person_id = ids["+85512770010"]  # registered in Svay Rieng without a district
    with app.app_context():
        officer = db.session.scalar(db.select(User).where(User.email == "officer@zones.test"))
        checkin = create_checkin(
            title="Safe?",
            questions={"ko": "안전하신가요?"},
            audience={},
            channels=["sms"],
            deadline=utcnow() + timedelta(hours=12),
            actor=officer,
        )
        on_checkin_dispatch(checkin.alert_id)
        db.session.commit()
        code = db.session.scalar(
            db.select(CheckInRecipient.code).where(
                CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.person_id == person_id
            )
        )
    context = browser.new_context(
        locale="ko-KR",
        timezone_id="Asia/Phnom_Penh",
        permissions=["geolocation"],
        geolocation={"latitude": 11.0712, "longitude": 106.1601, "accuracy": 30},
        **PHONE,
    )
    context.set_default_timeout(TIMEOUT_MS)
    phone = context.new_page()
    try:
        phone.goto(f"{live_server.url}/c/{code}")
        phone.click("#share-location")
        expect(phone.locator("#latitude")).to_have_value("11.071200")
        phone.locator("button[name=safe]").first.click()
        expect(phone.locator("p.ok")).to_be_visible()
    finally:
        context.close()
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        assert (person.located_province_code, person.located_area_code) == ("KH-20", "2008")
