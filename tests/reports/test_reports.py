"""Reports from anyone, the guarded lifecycle, the timers, the evidence kit on its tables, disclosures
and need-to-know — through the real pages, the real send pipeline and the fake Twilio server."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Disclosure,
    DisclosureStatus,
    EvidenceFile,
    Message,
    Report,
    ReportEvent,
    ReportKind,
    ReportStage,
    SourceKind,
    User,
    utcnow,
)
from outreach.reports.bundle import LABELS
from outreach.reports.operations import ReportError, ReportInput, create_report, transition
from outreach.reports.timers import escalate_overdue
from tests.checkins.conftest import fake_twilio  # noqa: F401  (fixture)
from tests.conftest import login, run_jobs
from tests.fakes.twilio_server import FakeTwilio
from tests.reports.conftest import photo

OFFICER_PHONE = "+85512000001"
PARENT_PHONE_TYPED = "010-2345-6789"
PARENT_PHONE = "+821023456789"
SON_PHONE = "+85512345678"


@pytest.fixture
def rapp(make_app: Callable[..., Flask], tmp_path: Path, fake_twilio: FakeTwilio) -> Flask:  # noqa: F811
    # No app context is kept pushed: a request inside one would share its ``g`` (and the logged-in
    # user Flask-Login caches there) with the next request.
    return make_app(
        EVIDENCE_DIR=str(tmp_path / "evidence"),
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
    )


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")


@pytest.fixture
def liaison(make_user: Callable[..., Any]) -> User:
    return make_user("liaison", name="Liaison One", phone="+85512000002", language="en")


@pytest.fixture
def liaison2(make_user: Callable[..., Any]) -> User:
    return make_user("liaison", name="Liaison Two", language="en")


def family_form(**extra: Any) -> dict[str, Any]:
    data = {
        "reporter_name": "김영희",
        "reporter_relation": "parent",
        "reporter_phone": PARENT_PHONE_TYPED,
        "subject_name": "김민수",
        "subject_name_latin": "KIM MINSU",
        "subject_birth_date": "1999-04-12",
        "subject_phone": "012 345 678",
        "province_code": "KH-18",
        "area": "Sihanoukville",
        "building": "Golden Fortune compound",
        "coordinates": "10.6104, 103.5236",
        "last_heard_on": "2026-11-20",
        "recruitment": "Telegram job advert: 월 500만원",
        "messenger_handle": "@fastjob_kh",
        "what_said": "여권을 빼앗겼다고 했습니다.",
    }
    data.update(extra)
    return data


def submit(app: Flask, client: FlaskClient, **extra: Any) -> tuple[int, str, str]:
    """File a report through ``/report``; returns (report id, reference, status link path)."""
    response = client.post("/report", data=family_form(**extra), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', text)
    status = re.search(r'id="status-link" href="http://localhost(/report/status/[^"]+)"', text)
    assert reference and status, text
    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == reference.group(1)))
    assert report_id is not None
    return report_id, reference.group(1), status.group(1)


def new_report(**fields: Any) -> Report:
    data = ReportInput(subject_name="김민수", reporter_phone=PARENT_PHONE, **fields)
    return create_report(data, kind=ReportKind.PHONE).report


def get_report(report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    assert report is not None
    return report


def _user(user: User) -> User:
    row = db.session.get(User, user.id)
    assert row is not None
    return row


def count(model: type[Any]) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# --- reports from anyone --------------------------------------------------------------------------


def test_a_family_report_from_korea_links_to_the_registered_person_and_pages_the_duty_officer(
    rapp: Flask,
    make_person: Callable[..., int],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    person_id = make_person(SON_PHONE, name_ko="김민수", name_latin="KIM MINSU")
    client = rapp.test_client()
    page = client.get("/report")
    assert page.status_code == 200 and 'lang="ko"' in page.get_data(as_text=True)

    report_id, reference, status_path = submit(rapp, client)
    with rapp.app_context():
        report = get_report(report_id)
        assert report.reporter_phone == PARENT_PHONE  # a Korean number, typed the Korean way
        assert report.kind == ReportKind.FAMILY and report.stage == ReportStage.REPORTED
        # Found by the son's number: a suggestion until an officer confirms it.
        assert report.person_id == person_id and report.person_confirmed_at is None
        case = db.session.get(Case, report.case_id)
        assert case is not None and case.opened_via == "report" and case.person_id is None
        assert "Golden" not in (case.summary or "")  # the welfare side carries no location
        case_id = case.id
        pages = db.session.scalars(
            sa.select(Message).where(Message.source_kind == SourceKind.CASE_NOTIFY)
        ).all()
        assert {m.channel for m in pages} == {"sms", "email"}

    # The duty officer is paged through the case's paging path: the SMS reaches the fake Twilio.
    run_jobs(rapp)
    sms = fake_twilio.sent_to(OFFICER_PHONE)
    assert len(sms) == 1 and f"/staff/cases/{case_id}" in sms[0]["body"] and "김민수" in sms[0]["body"]

    # The reporter's status page: received, and nothing operational.
    status = client.get(status_path)
    text = status.get_data(as_text=True)
    assert status.status_code == 200 and 'data-state="received"' in text
    assert "Golden" not in text and "김민수" not in text and status.headers["Cache-Control"] == "no-store"
    assert client.get("/report/status/not-a-key").status_code == 404

    # An officer confirms the link; the welfare case then follows the person.
    staff = rapp.test_client()
    login(staff, officer)
    confirm = staff.post(
        f"/staff/reports/{report_id}/link-person", data={"person_id": str(person_id)}, follow_redirects=True
    )
    assert 'class="flash success"' in confirm.get_data(as_text=True)
    with rapp.app_context():
        assert db.session.get(Case, case_id).person_id == person_id  # type: ignore[union-attr]
        assert get_report(report_id).person_confirmed_at is not None
    # The registry record shows that a report exists (its reference and stage).
    person_page = staff.get(f"/staff/people/{person_id}").get_data(as_text=True)
    assert reference in person_page and 'id="has-report"' in person_page


def test_a_report_is_matched_by_name_and_date_of_birth(
    rapp: Flask, make_person: Callable[..., int], officer: User
) -> None:
    make_person(name_ko="이서준")
    other = make_person(name_ko="박지민", name_latin="PARK JIMIN")
    with rapp.app_context():
        from outreach.models import Person

        db.session.get(Person, other).birth_date = date(2000, 1, 2)  # type: ignore[union-attr]
        db.session.commit()
        report = new_report(subject_name_latin="park jimin", subject_birth_date=date(2000, 1, 2))
        assert report.person_id == other
        nobody = new_report(subject_name_latin="PARK JIMIN", subject_birth_date=date(2000, 1, 3))
        assert nobody.person_id is None


def test_bad_report_input_gets_clear_answers_and_records_nothing(rapp: Flask, officer: User) -> None:
    client = rapp.test_client()
    no_contact = client.post("/report?lang=en", data=family_form(reporter_phone="", reporter_email=""))
    assert "Give a phone number or an e-mail address." in no_contact.get_data(as_text=True)
    bad_phone = client.post("/report", data=family_form(reporter_phone="12"))
    assert bad_phone.status_code == 200 and 'class="fld bad"' in bad_phone.get_data(as_text=True)
    exe = client.post(
        "/report",
        data=family_form(photo=(io.BytesIO(b"MZ\x90\x00" + b"\0" * 200), "photo.jpg")),
        content_type="multipart/form-data",
    )
    assert exe.status_code == 200 and 'id="reference"' not in exe.get_data(as_text=True)
    with rapp.app_context():
        assert count(Report) == 0 and count(Case) == 0
    # E-mail alone is enough for a reporter.
    report_id, _ref, _status = submit(rapp, client, reporter_phone="", reporter_email="mother@example.kr")
    with rapp.app_context():
        report = get_report(report_id)
        assert report.reporter_email == "mother@example.kr" and report.reporter_phone is None


def test_staff_enter_a_phone_report_on_the_same_form(rapp: Flask, officer: User) -> None:
    client = rapp.test_client()
    login(client, officer)
    response = client.post(
        "/staff/reports/new",
        data=family_form(photo=(io.BytesIO(photo()), "son.jpg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with rapp.app_context():
        report = db.session.scalar(sa.select(Report))
        assert report is not None and report.kind == ReportKind.PHONE and report.entered_by_id == officer.id
        files = db.session.scalars(sa.select(EvidenceFile).where(EvidenceFile.report_id == report.id)).all()
        assert [(f.role, f.via, f.media_type) for f in files] == [("face_photo", "staff", "image/jpeg")]


def test_sos_and_need_help_cases_become_reports_of_the_same_kind(
    rapp: Flask, make_person: Callable[..., int], officer: User
) -> None:
    from outreach.cases.operations import open_or_reopen_case
    from outreach.models import Person

    pid = make_person()
    with rapp.app_context():
        person = db.session.get(Person, pid)
        call = open_or_reopen_case(person, "sos_keyword", note="locked in")
        db.session.commit()
        report = db.session.scalar(sa.select(Report).where(Report.case_id == call.case.id))
        assert report is not None and report.kind == ReportKind.SOS and report.person_id == pid
        assert report.person_confirmed_at is not None  # they asked for help themselves
        # A repeated call adds to the same report; the paging stays the case's (two messages, not four).
        open_or_reopen_case(person, "checkin_link")
        db.session.commit()
        assert count(Report) == 1
        pages = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.source_kind == SourceKind.CASE_NOTIFY)
        )
        assert pages == 2


# --- lifecycle and timers ----------------------------------------------------------------------------


def test_the_lifecycle_refuses_a_skipped_step_and_follows_the_diagram(rapp: Flask, officer: User) -> None:
    with rapp.app_context(), for_person_language("en"):
        actor = _user(officer)
        report = new_report()
        db.session.commit()
        for skipped in (ReportStage.LOCATED, ReportStage.REFERRED, ReportStage.RESCUED):
            with pytest.raises(ReportError, match="cannot go from"):
                transition(report, skipped, actor=actor)
        assert report.stage == ReportStage.REPORTED
        with pytest.raises(ReportError, match="why"):
            transition(report, ReportStage.CLOSED, actor=actor)  # closing early needs a reason

        path = [
            ReportStage.VERIFYING,
            ReportStage.LOCATED,
            ReportStage.REFERRED,
            ReportStage.RESCUED,
            ReportStage.SUPPORTED,
            ReportStage.REPATRIATED,
            ReportStage.CLOSED,
        ]
        for stage in path:
            transition(report, stage, actor=actor)
            db.session.commit()
        assert report.stage == ReportStage.CLOSED
        assert report.located_at and report.rescued_at and report.repatriated_at and report.closed_at
        case = db.session.get(Case, report.case_id)
        assert case is not None and case.status == CaseStatus.RESOLVED  # the welfare side follows
        stages = db.session.scalars(
            sa.select(ReportEvent.body)
            .where(ReportEvent.report_id == report.id, ReportEvent.kind == "stage")
            .order_by(ReportEvent.id)
        ).all()
        assert stages[0] == "reported → verifying" and len(stages) == len(path)
        with pytest.raises(ReportError, match="already"):
            transition(report, ReportStage.CLOSED, actor=actor)


def test_the_web_refuses_a_skipped_step(rapp: Flask, officer: User) -> None:
    with rapp.app_context():
        report_id = new_report().id
        db.session.commit()
    client = rapp.test_client()
    login(client, officer)
    response = client.post(
        f"/staff/reports/{report_id}/stage", data={"stage": "referred"}, follow_redirects=True
    )
    assert response.status_code == 200
    with rapp.app_context():
        assert get_report(report_id).stage == ReportStage.REPORTED
    ok = client.post(f"/staff/reports/{report_id}/stage", data={"stage": "verifying"})
    assert ok.status_code == 302
    with rapp.app_context():
        assert get_report(report_id).stage == ReportStage.VERIFYING


def _pages(kind: str) -> list[Message]:
    from outreach.models import CaseEvent

    return list(
        db.session.scalars(
            sa.select(Message)
            .join(CaseEvent, CaseEvent.id == Message.source_id)
            .where(Message.source_kind == SourceKind.CASE_NOTIFY, CaseEvent.kind == kind)
        )
    )


def test_timers_page_the_duty_officer_once_each_as_the_clock_moves(
    rapp: Flask,
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    from outreach.cases.notify import TIMER_HEADINGS
    from outreach.reports.operations import add_entry

    with rapp.app_context():
        actor = _user(officer)
        report = new_report()
        db.session.commit()
        t0 = report.reported_at

        assert escalate_overdue(now=t0 + timedelta(hours=1, minutes=59)) == 0
        assert escalate_overdue(now=t0 + timedelta(hours=2, minutes=1)) == 1
        assert escalate_overdue(now=t0 + timedelta(hours=3)) == 0  # once
        assert sorted(m.channel for m in _pages("timer_not_verified")) == ["email", "sms"]

        transition(report, ReportStage.VERIFYING, actor=actor)
        db.session.commit()
        assert escalate_overdue(now=t0 + timedelta(hours=23)) == 0
        assert escalate_overdue(now=t0 + timedelta(hours=24, minutes=1)) == 1
        assert len(_pages("timer_not_located")) == 2

        transition(report, ReportStage.LOCATED, actor=actor)
        transition(report, ReportStage.REFERRED, actor=actor)
        db.session.commit()
        referred = report.last_news_at
        assert referred is not None
        assert escalate_overdue(now=referred + timedelta(hours=47)) == 0
        assert escalate_overdue(now=referred + timedelta(hours=48, minutes=1)) == 1
        assert escalate_overdue(now=referred + timedelta(hours=60)) == 0
        # Word from the task force starts the timer again.
        add_entry(report, "contact", "TF: search planned for Friday", actor=actor)
        db.session.commit()
        news = report.last_news_at
        assert news is not None and news > referred
        assert escalate_overdue(now=news + timedelta(hours=48, minutes=1)) == 1
        assert len(_pages("timer_no_news")) == 4
        with for_person_language("ko"):
            heading = str(TIMER_HEADINGS["timer_not_verified"]) % {"id": report.case_id}

    # The pages reach the officer's phone, in their language, naming the case.
    run_jobs(rapp)
    bodies = [m["body"] for m in fake_twilio.sent_to(OFFICER_PHONE)]
    assert any(heading in b for b in bodies)
    assert len(bodies) == 1 + 4  # the report itself, then four timer pages


# --- evidence kit, bundle and disclosures ---------------------------------------------------------------


def _upload_link(rapp: Flask, client: FlaskClient, report_id: int, fake_twilio: FakeTwilio) -> str:  # noqa: F811
    response = client.post(
        f"/staff/reports/{report_id}/upload-link",
        data={"channel": "sms", "to": PARENT_PHONE, "language": "ko"},
    )
    assert response.status_code == 302
    run_jobs(rapp)
    body = fake_twilio.sent_to(PARENT_PHONE)[-1]["body"]
    match = re.search(r"https?://[^/\s]+(/u/\S+)", body)
    assert match, body
    return match.group(1)


def test_the_upload_link_takes_a_jpeg_and_refuses_an_executable_and_a_50_mb_file(
    rapp: Flask,
    officer: User,
    liaison: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    with rapp.app_context():
        report_id = new_report().id
        db.session.commit()
    client = rapp.test_client()
    login(client, liaison)
    path = _upload_link(rapp, client, report_id, fake_twilio)

    public = rapp.test_client()
    assert public.get(path).status_code == 200
    exe = public.post(
        path,
        data={"face_photo": (io.BytesIO(b"MZ\x90\x00" + b"\0" * 500), "face.jpg")},
        content_type="multipart/form-data",
    )
    assert exe.status_code == 200 and 'id="upload-error"' in exe.get_data(as_text=True)
    big = public.post(
        path,
        data={"passport": (io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * (50 * 1024 * 1024)), "passport.jpg")},
        content_type="multipart/form-data",
    )
    # Past MAX_CONTENT_LENGTH it is refused unread (413), on the upload page with the advice.
    assert big.status_code == 413 and 'id="upload-error"' in big.get_data(as_text=True)
    with rapp.app_context():
        assert count(EvidenceFile) == 0  # nothing kept, and the link is not spent

    ok = public.post(
        path,
        data={"face_photo": (io.BytesIO(photo()), "face.jpg"), "statement": "He is held on the 5th floor."},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200 and 'id="received-count"' in ok.get_data(as_text=True)
    with rapp.app_context():
        row = db.session.scalar(sa.select(EvidenceFile))
        assert row is not None and row.media_type == "image/jpeg" and row.via == "upload_link"
        stored = Path(rapp.config["EVIDENCE_DIR"]) / row.stored_path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == row.sha256
        assert not stored.resolve().is_relative_to(Path(rapp.static_folder or "static").resolve())
        assert get_report(report_id).statement == "He is held on the 5th floor."
    # Once only.
    assert public.post(path, data={"statement": "again"}).status_code == 410


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


DISCLOSURE = {
    "purpose": "Rescue of KIM MINSU",
    "recipient_agency": "Cambodian National Police, anti-trafficking",
    "recipient_officer": "Lt. Sok Dara",
    "legal_basis": "Personal Information Protection Act art. 18(2)3: life in danger",
}


def test_the_bundle_needs_an_approved_disclosure_and_leaves_once_on_record(
    rapp: Flask,
    officer: User,
    liaison: User,
    liaison2: User,
    make_user: Callable[..., Any],
    tmp_path: Path,
) -> None:
    report_id, reference, _status = submit(
        rapp, rapp.test_client(), photo=(io.BytesIO(photo(seed=7)), "son.jpg")
    )
    client = rapp.test_client()
    login(client, liaison)
    assert client.post(f"/staff/reports/{report_id}/disclosures", data=DISCLOSURE).status_code == 302
    with rapp.app_context():
        disclosure = db.session.scalar(sa.select(Disclosure))
        assert disclosure is not None and disclosure.status == DisclosureStatus.PENDING
        assert disclosure.files and all(len(f["sha256"]) == 64 for f in disclosure.files)
        disclosure_id, disclosure_ref = disclosure.id, disclosure.reference

    # Not without approval; not approved by the one who asked.
    assert client.post(f"/staff/disclosures/{disclosure_id}/download").status_code == 403
    client.post(f"/staff/disclosures/{disclosure_id}/approve")
    with rapp.app_context():
        assert db.session.get(Disclosure, disclosure_id).status == DisclosureStatus.PENDING  # type: ignore[union-attr]
    # An officer without the liaison role can neither approve nor download.
    other = rapp.test_client()
    login(other, officer)
    assert other.post(f"/staff/disclosures/{disclosure_id}/approve").status_code == 403
    second = rapp.test_client()
    login(second, liaison2)
    assert second.post(f"/staff/disclosures/{disclosure_id}/approve").status_code == 302
    assert other.post(f"/staff/disclosures/{disclosure_id}/download").status_code == 403

    download = client.post(f"/staff/disclosures/{disclosure_id}/download")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    data = download.get_data()
    with rapp.app_context():
        disclosure = db.session.get(Disclosure, disclosure_id)
        assert disclosure is not None and disclosure.status == DisclosureStatus.DISCLOSED
        assert disclosure.decided_by_id == liaison2.id
        assert disclosure.disclosed_by_id == liaison.id and disclosure.disclosed_at is not None
        assert disclosure.files[0]["sha256"] == hashlib.sha256(data).hexdigest()  # what left, by hash
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"disclosure.request", "disclosure.approved", "disclosure.hand_over"} <= actions
    assert client.post(f"/staff/disclosures/{disclosure_id}/download").status_code == 403  # once

    archive = zipfile.ZipFile(io.BytesIO(data))
    pdf_name = next(n for n in archive.namelist() if n.endswith(".pdf"))
    pdf = tmp_path / "bundle.pdf"
    pdf.write_bytes(archive.read(pdf_name))
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "김민수" in text and disclosure_ref in text and "Golden Fortune" in text
    with rapp.app_context():
        with for_person_language("ko"):
            korean = str(LABELS["title"])
        with for_person_language("km"):
            khmer = str(LABELS["nationality"])
    assert korean != "Rescue request" and flat(korean) in flat(text)
    assert khmer != "Nationality" and flat(khmer) in flat(text)
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert len(images.strip().splitlines()) >= 3  # two header lines, then the photo
    assert any(n.startswith("files/") and n.endswith(".jpg") for n in archive.namelist())

    # Shown on the case and in the admin's report.
    page = client.get(f"/staff/reports/{report_id}").get_data(as_text=True)
    assert disclosure_ref in page and 'data-status="disclosed"' in page
    admin = rapp.test_client()
    login(admin, make_user("admin"))
    log = admin.get("/staff/disclosures").get_data(as_text=True)
    assert disclosure_ref in log and "Lt. Sok Dara" in log and reference in log
    assert other.get("/staff/disclosures").status_code == 403


# --- need-to-know ---------------------------------------------------------------------------------------


def test_representatives_and_officers_without_liaison_cannot_read_task_force_details(
    rapp: Flask, officer: User, liaison: User, make_user: Callable[..., Any]
) -> None:
    report_id, _ref, _status = submit(rapp, rapp.test_client(), photo=(io.BytesIO(photo(seed=3)), "son.jpg"))
    with rapp.app_context():
        evidence_id = db.session.scalar(sa.select(EvidenceFile.id))
    assert evidence_id is not None

    rep = rapp.test_client()
    login(rep, make_user("community_rep"))
    for url in ("/staff/reports", f"/staff/reports/{report_id}", f"/staff/reports/evidence/{evidence_id}"):
        assert rep.get(url).status_code == 403

    plain = rapp.test_client()
    login(plain, officer)
    page = plain.get(f"/staff/reports/{report_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "김민수" in text  # the welfare side: who and how to reach
    for secret in ("Golden Fortune", "@fastjob_kh", "10.6104", 'id="task-force"', "여권을 빼앗겼다고"):
        assert secret not in text
    assert plain.get(f"/staff/reports/evidence/{evidence_id}").status_code == 403
    assert (
        plain.post(f"/staff/reports/{report_id}/task-force-reference", data={"reference": "X"}).status_code
        == 403
    )
    assert plain.post(f"/staff/reports/{report_id}/disclosures", data=DISCLOSURE).status_code == 403

    full = rapp.test_client()
    login(full, liaison)
    text = full.get(f"/staff/reports/{report_id}").get_data(as_text=True)
    assert "Golden Fortune" in text and "@fastjob_kh" in text
    assert full.get(f"/staff/reports/evidence/{evidence_id}").status_code == 200


# --- figures ---------------------------------------------------------------------------------------------


def test_the_dashboard_and_the_weekly_summary(rapp: Flask, officer: User) -> None:
    with rapp.app_context():
        actor = _user(officer)
        first = new_report(province_code="KH-18")
        second = new_report(province_code="KH-12")
        db.session.commit()
        transition(first, ReportStage.VERIFYING, actor=actor)
        transition(first, ReportStage.LOCATED, actor=actor)
        db.session.commit()
        refs = (first.reference, second.reference)
        assert utcnow() - first.reported_at < timedelta(hours=1)
    client = rapp.test_client()
    login(client, officer)
    board = client.get("/staff/reports").get_data(as_text=True)
    assert refs[0] in board and refs[1] in board
    assert 'data-stage="located">1<' in board and 'data-stage="reported">1<' in board
    summary = client.get("/staff/reports/summary")
    text = summary.get_data(as_text=True)
    assert summary.status_code == 200 and "<svg" in text and "<script" not in text
    csv_text = client.get("/staff/reports/summary.csv").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("week_start,reports,located,rescued,repatriated")
    assert lines[-1].split(",")[1:5] == ["2", "1", "0", "0"]


# --- abuse ---------------------------------------------------------------------------------------------


def test_the_public_form_is_rate_limited_and_needs_its_csrf_token(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="2 per minute", EVIDENCE_DIR=str(tmp_path / "evidence")
    )
    client = app.test_client()
    codes = [
        client.post("/report?lang=en", data=family_form(reporter_phone="12")).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert "Too many attempts" in client.post("/report?lang=en", data=family_form()).get_data(as_text=True)

    guarded = make_app(WTF_CSRF_ENABLED=True, EVIDENCE_DIR=str(tmp_path / "evidence"))
    response = guarded.test_client().post("/report", data=family_form())
    assert response.status_code == 400
    with guarded.app_context():
        assert count(Report) == 0
