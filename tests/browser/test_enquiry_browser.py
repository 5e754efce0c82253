"""End to end in a real browser: a mother in Korea asks on her phone, in Korean, whether her son is
safe; he answers "yes" through his one-tap link; her status page says he reported himself safe."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from outreach.extensions import db
from outreach.models import Message, SourceKind, WelfareDisclosure

SON_PHONE = "+85512345671"


def test_a_mother_enquires_and_her_son_answers_yes(
    live_server: Any, page: Page, phone_page: Page, make_person: Callable[..., int]
) -> None:
    make_person(SON_PHONE, name_ko="김민수", language="ko")
    url = live_server.url

    # The mother, on a small phone: from the report page to the enquiry form, in Korean.
    phone_page.goto(url + "/report")
    expect(phone_page.locator("html")).to_have_attribute("lang", "ko")
    phone_page.locator("#enquiry-link").tap()
    expect(phone_page.locator("h1")).to_contain_text("안전한지")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360
    phone_page.fill("input[name=enquirer_name]", "김영희")
    phone_page.fill("input[name=enquirer_phone]", "010-2345-6789")
    phone_page.fill("input[name=subject_name]", "김민수")
    phone_page.fill("input[name=subject_phone]", "012 345 671")
    phone_page.locator("form.card button[type=submit]").tap()
    reference = phone_page.locator("#reference").inner_text()
    assert re.fullmatch(r"E-\d{4}-[A-Z0-9]{6}", reference)
    status_url = phone_page.locator("#status-link").get_attribute("href")
    assert status_url
    phone_page.goto(status_url)
    expect(phone_page.locator("#status")).to_have_attribute("data-state", "passed_on")

    # The son gets the question by SMS (through the send pipeline) and answers yes on his phone.
    with live_server.app.app_context():
        body = db.session.scalar(sa.select(Message.body).where(Message.source_kind == SourceKind.ENQUIRY))
    assert body is not None and "김영희" in body
    link = re.search(r"(https?://\S+/e/\S+)", body)
    assert link, body
    page.goto(link.group(1))
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.locator("#answer-yes").click()
    expect(page.locator("#answered")).to_be_visible()

    # Her status page now says he reported himself safe.
    phone_page.reload()
    expect(phone_page.locator("#status")).to_have_attribute("data-state", "reported_safe")
    expect(phone_page.locator("#status")).to_contain_text("김민수 님이 직접 안전하다고 알려 왔어요")
    with live_server.app.app_context():
        told = db.session.scalars(sa.select(WelfareDisclosure.told)).all()
    assert told == ["reported_safe"]
