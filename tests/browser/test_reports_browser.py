"""End to end in a real browser: a parent in Korea files a report on a phone, in Korean; a liaison
officer verifies and refers it and sends an upload link; the photos arrive through the link; a second
officer approves the disclosure and the bundle is downloaded; the parent's status page says "in progress".
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from outreach.accounts import create_user
from outreach.extensions import db
from outreach.models import Disclosure, DisclosureStatus, EvidenceFile, Message, Report, SourceKind
from tests.browser.conftest import TIMEOUT_MS, pass_second_factor
from tests.reports.conftest import photo

PASSWORD = "correct horse battery"


@pytest.fixture
def live_server_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": True, "EVIDENCE_DIR": str(tmp_path / "evidence")}


def _seed(app: Any) -> None:
    with app.app_context():
        for email, name in (("liaison1@browser.test", "연락관 하나"), ("liaison2@browser.test", "연락관 둘")):
            create_user(
                email=email, role="liaison", name=name, password=PASSWORD, language="ko", on_duty=True
            )
        db.session.commit()


def _log_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    pass_second_factor(page)  # liaison officers enrol an authenticator at their first sign-in
    expect(page.locator("form.logout")).to_be_visible()


def _move(page: Page, stage: str) -> None:
    page.select_option("#stage-form select[name=stage]", stage)
    page.click("#stage-form button[type=submit]")
    expect(page.locator("#report-stage")).to_have_attribute("data-stage", stage)


def test_a_parent_reports_on_a_phone_and_the_case_goes_to_the_task_force(
    live_server: Any, browser: Browser, page: Page, phone_page: Page, tmp_path: Path
) -> None:
    _seed(live_server.app)
    url = live_server.url

    # The parent, in Korea, on a small phone: the form is Korean and fits the screen.
    phone_page.goto(url + "/report")
    expect(phone_page.locator("html")).to_have_attribute("lang", "ko")
    expect(phone_page.locator("h1")).to_contain_text("캄보디아")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360
    phone_page.fill("input[name=reporter_name]", "김영희")
    phone_page.fill("input[name=reporter_phone]", "010-2345-6789")
    phone_page.fill("input[name=subject_name]", "김민수")
    phone_page.fill("input[name=subject_name_latin]", "KIM MINSU")
    phone_page.select_option("select[name=province_code]", "KH-18")
    phone_page.fill("input[name=building]", "Golden Fortune compound")
    phone_page.fill("textarea[name=what_said]", "아들이 여권을 빼앗겼다고 했습니다.")
    phone_page.locator("form.card button[type=submit]").tap()
    reference = phone_page.locator("#reference").inner_text()
    assert re.fullmatch(r"R-\d{4}-[A-Z0-9]{6}", reference)
    status_url = phone_page.locator("#status-link").get_attribute("href")
    assert status_url and "/report/status/" in status_url
    phone_page.goto(status_url)
    expect(phone_page.locator("#status")).to_have_attribute("data-state", "received")

    # A liaison officer verifies it, finds the place, refers it, and sends an upload link.
    with live_server.app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == reference))
    _log_in(page, url, "liaison1@browser.test")
    page.goto(f"{url}/staff/reports/{report_id}")
    expect(page.locator("#task-force")).to_contain_text("Golden Fortune compound")
    for stage in ("verifying", "located", "referred"):
        _move(page, stage)
    page.select_option("#upload-link-form select[name=channel]", "email")
    page.fill("#upload-link-form input[name=to]", "mother@example.kr")
    page.click("#upload-link-form button[type=submit]")
    expect(page.locator(".flash.success")).to_be_visible()
    with live_server.app.app_context():
        body = db.session.scalar(sa.select(Message.body).where(Message.source_kind == SourceKind.REPORT))
    assert body is not None
    link = re.search(r"(https?://\S+/u/\S+)", body)
    assert link, body

    # The parent opens the link on the phone and sends a photo and a statement.
    face = tmp_path / "face.jpg"
    face.write_bytes(photo(800, 600, seed=9))
    phone_page.goto(link.group(1))
    phone_page.set_input_files("input[name=face_photo]", str(face))
    phone_page.fill("textarea[name=statement]", "He is held on the 5th floor of building B.")
    phone_page.locator("form.card button[type=submit]").tap()
    expect(phone_page.locator("#received-count")).to_contain_text("1")
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EvidenceFile)) == 1

    # The first officer asks to hand the bundle over; a second officer approves.
    page.goto(f"{url}/staff/reports/{report_id}")
    expect(page.locator("#evidence")).to_contain_text("face_photo")
    page.fill("#disclosure-form textarea[name=purpose]", "Rescue of KIM MINSU")
    page.fill("#disclosure-form input[name=recipient_agency]", "Cambodian National Police")
    page.fill("#disclosure-form input[name=recipient_officer]", "Lt. Sok Dara")
    page.fill("#disclosure-form input[name=legal_basis]", "PIPA art. 18(2)3")
    page.click("#disclosure-form button[type=submit]")
    expect(page.locator("#disclosures tr[data-status=pending]")).to_be_visible()
    expect(page.locator("#disclosures button.approve")).to_have_count(0)  # not the one who asked

    second = browser.new_context(locale="ko-KR", timezone_id="Asia/Phnom_Penh")
    second.set_default_timeout(TIMEOUT_MS)
    approver = second.new_page()
    _log_in(approver, url, "liaison2@browser.test")
    approver.goto(f"{url}/staff/reports/{report_id}")
    approver.click("#disclosures button.approve")
    expect(approver.locator("#disclosures tr[data-status=approved]")).to_be_visible()
    second.close()

    page.reload()
    with page.expect_download() as download_info:
        page.click("#disclosures button.download")
    saved = tmp_path / "bundle.zip"
    download_info.value.save_as(saved)
    names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
    assert any(n.endswith(".pdf") for n in names) and "SHA256SUMS" in names
    with live_server.app.app_context():
        disclosure = db.session.scalar(sa.select(Disclosure))
        assert disclosure is not None and disclosure.status == DisclosureStatus.DISCLOSED

    # The parent's status page shows "in progress", and nothing else.
    phone_page.goto(status_url)
    expect(phone_page.locator("#status")).to_have_attribute("data-state", "in_progress")
    expect(phone_page.locator("#status")).to_have_text("진행 중")
    expect(phone_page.locator("main")).not_to_contain_text("Golden")
    phone_page.screenshot(path="/tmp/report-status-phone.png", full_page=True)
