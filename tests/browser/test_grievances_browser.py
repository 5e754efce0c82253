"""End to end in a real browser: a rep submits a grievance, an officer replies, the rep reads the reply."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from outreach.accounts import create_user
from outreach.extensions import db
from tests.browser.conftest import pass_second_factor

PASSWORD = "correct horse battery"
DESCRIPTION = '열두 명이 가짜 채용 공고에 속아 단지에 갇혀 있습니다. <script>alert("x")</script>'
REPLY = "경찰과 함께 현장을 확인하고 있습니다. 곧 다시 연락드리겠습니다."


def _seed(app: Any) -> None:
    with app.app_context():
        create_user(
            email="rep@ngo.example",
            role="community_rep",
            name="김대표",
            password=PASSWORD,
            language="ko",
            organisation="Phnom Penh Korean Association",
            province_code="KH-12",
        )
        create_user(
            email="officer@embassy.example", role="officer", name="박영사", password=PASSWORD, language="ko"
        )
        db.session.commit()


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    if not email.startswith("rep@"):
        pass_second_factor(page)


def test_rep_submits_officer_replies_rep_reads_the_reply(
    live_server: Any, page: Page, browser: Browser
) -> None:
    _seed(live_server.app)
    base = live_server.url
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # The representative submits a grievance (the form carries a CSRF token; the live app checks it).
    _log_in(page, base, "rep@ngo.example")
    expect(page).to_have_url(base + "/rep/")
    page.goto(base + "/rep/grievances/new")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.select_option("select[name=category]", "scam_recruitment")
    page.select_option("select[name=province_code]", "KH-18")
    page.fill("input[name=title]", "시아누크빌 단지 감금")
    page.fill("textarea[name=description]", DESCRIPTION)
    page.fill("input[name=people_affected]", "12")
    page.check("input[name=urgency][value=critical]")
    page.check("input[name=police_sharing_consent][value=yes]")
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/rep/grievances/\d+$"))
    reference = page.locator("strong.reference").inner_text()
    assert re.fullmatch(r"G-\d{4}-\d{6}", reference)
    expect(page.locator(".flash.success")).to_contain_text(reference)
    # The description is shown as text: the script tag is visible, and nothing ran.
    expect(page.locator(".description")).to_contain_text('<script>alert("x")</script>')
    grievance_url = page.url

    # An officer finds it in the queue and replies, in a separate browser session.
    context = browser.new_context(locale="ko-KR", timezone_id="Asia/Phnom_Penh")
    try:
        officer = context.new_page()
        _log_in(officer, base, "officer@embassy.example")
        officer.goto(base + "/staff/grievances")
        row = officer.locator(f'tr.grievance[data-reference="{reference}"]')
        expect(row).to_have_count(1)
        row.locator("a").click()
        expect(officer.locator("h1")).to_contain_text(reference)
        officer.fill("#reply-form textarea[name=body]", REPLY)
        officer.click("#reply-form button[type=submit]")
        expect(officer.locator(".flash.success")).to_be_visible()
        officer.fill("#note-form textarea[name=body]", "내부 메모: 고용주 정보 확인됨")
        officer.click("#note-form button[type=submit]")
        officer.click("button[name=to_status][value=in_review]")
        expect(officer.locator(".timeline")).to_contain_text(REPLY)
    finally:
        context.close()

    # The representative sees the reply and the new status, but not the internal note.
    page.goto(grievance_url)
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text(REPLY)
    expect(timeline).to_contain_text("검토 중")
    expect(page.locator("body")).not_to_contain_text("내부 메모")
    page.screenshot(path="/tmp/grievance_rep.png", full_page=True)
    assert dialogs == []
