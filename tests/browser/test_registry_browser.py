"""A person registers on a phone in Korean; an officer finds them in the registry."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, expect

from outreach.accounts import create_user
from outreach.extensions import db
from outreach.models import utcnow
from tests.browser.conftest import pass_second_factor

PASSWORD = "correct horse battery"


def test_register_on_a_phone_in_korean_then_an_officer_finds_them(
    live_server: Any, phone_page: Page, page: Page
) -> None:
    with live_server.app.app_context():
        create_user(
            email="officer@browser.test", role="officer", name="이영사", password=PASSWORD, language="ko"
        )
        db.session.commit()
    departure = (utcnow().date() + timedelta(days=6)).isoformat()

    phone = phone_page
    phone.goto(live_server.url + "/register")
    expect(phone.locator("html")).to_have_attribute("lang", "ko")
    expect(phone.locator("h1")).to_have_text("대사관 안전 등록")
    # Built for a small screen: nothing wider than the viewport, big tap targets.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    submit = phone.locator("form.card button[type=submit]")
    assert (submit.bounding_box() or {}).get("height", 0) >= 44

    phone.fill("input[name=name_ko]", "김서연")
    phone.fill("input[name=name_latin]", "kim seoyeon")
    phone.fill("input[name=phone]", "010-2345-6789")
    phone.fill("input[name=email]", "seoyeon@example.org")
    phone.select_option("select[name=province]", "KH-17")
    phone.check("input[name=status][value=traveler]")
    phone.fill("input[name=departure_date]", departure)
    phone.check("input[name=consent]")
    phone.screenshot(path="/tmp/register-phone.png", full_page=True)
    submit.click()
    expect(phone).to_have_url(live_server.url + "/register/done")
    expect(phone.locator("h1")).to_have_text("감사합니다")

    page.goto(live_server.url + "/staff/people")
    page.fill("input[name=email]", "officer@browser.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    pass_second_factor(page)
    expect(page).to_have_url(re.compile(r"/staff/people$"))
    page.fill("input[name=q]", "서연")
    page.select_option("select[name=province]", "KH-17")
    page.check("input[name=present]")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("김서연")
    expect(rows.first).to_contain_text("+821023456789")
    rows.first.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("KIM SEOYEON")
    expect(page.locator("body")).to_contain_text(departure)
    page.screenshot(path="/tmp/registry-person.png", full_page=True)
