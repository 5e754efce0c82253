"""Family enquiries ("is my son safe?"): the person is asked in their language through the send
pipeline; the family hears only what the person allowed; silence or "I need help" becomes a report;
every answer given to a family is a disclosure."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import (
    Case,
    EnquiryStatus,
    FamilyEnquiry,
    Message,
    Report,
    ReportKind,
    SourceKind,
    User,
    WelfareDisclosure,
)
from outreach.reports.enquiries import escalate_unanswered
from tests.checkins.conftest import fake_twilio  # noqa: F401  (fixture)
from tests.conftest import run_jobs
from tests.fakes.twilio_server import FakeTwilio

OFFICER_PHONE = "+85512000001"
MOTHER_PHONE = "+821023456789"
SON_PHONE = "+85512345678"


@pytest.fixture
def eapp(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> Flask:  # noqa: F811
    return make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url)


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")


def enquire(client: FlaskClient, **extra: str) -> str:
    """Send the public enquiry form; returns the family's status page path."""
    data = {
        "enquirer_name": "김영희",
        "enquirer_relation": "parent",
        "enquirer_phone": "010-2345-6789",
        "subject_name": "김민수",
        "subject_phone": "012 345 678",
    } | extra
    response = client.post("/report/enquiry", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    found = re.search(
        r'id="status-link" href="http://localhost(/report/enquiry/status/[^"]+)"', response.text
    )
    assert found is not None, response.text
    return found.group(1)


def answer_link(fake: FakeTwilio) -> str:
    [sms] = fake.sent_to(SON_PHONE)
    found = re.search(r"http://localhost(/e/[A-Za-z0-9_-]+)", sms["body"])
    assert found is not None, sms["body"]
    return found.group(1)


def status_of(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="status" data-state="([a-z_]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_yes_tells_the_family_safe_and_records_a_disclosure(
    eapp: Flask,
    make_person: Callable[..., int],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    son = make_person(SON_PHONE, name_ko="김민수", language="km")
    client = eapp.test_client()
    status_path = enquire(client)
    # Before the son answers the family learns nothing (not even that he is registered).
    assert status_of(client, status_path) == "passed_on"
    run_jobs(eapp)
    [question] = fake_twilio.sent_to(SON_PHONE)
    assert "김영희" in question["body"] and "ស្ថានទូត" in question["body"]  # in his language (Khmer)
    link = answer_link(fake_twilio)
    page = client.get(link)
    assert page.status_code == 200 and 'lang="km"' in page.text
    assert client.post(link, data={"yes": "1"}).status_code == 200
    assert status_of(client, status_path) == "reported_safe"
    run_jobs(eapp)
    [told] = fake_twilio.sent_to(MOTHER_PHONE)
    assert "김민수" in told["body"] and "안전" in told["body"]
    with eapp.app_context():
        enquiry = db.session.scalars(sa.select(FamilyEnquiry)).one()
        assert (enquiry.status, enquiry.person_id) == (EnquiryStatus.ALLOWED, son)
        [disclosure] = db.session.scalars(sa.select(WelfareDisclosure)).all()
        assert (disclosure.told, disclosure.basis, disclosure.recipient) == (
            "reported_safe",
            "person_allowed",
            MOTHER_PHONE,
        )
        assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0
    # Answered once: a second tap changes nothing.
    again = client.post(link, data={"no": "1"})
    assert again.status_code == 200 and 'id="answer-no"' not in again.text
    with eapp.app_context():
        assert db.session.scalars(sa.select(FamilyEnquiry)).one().status == EnquiryStatus.ALLOWED


def test_no_tells_the_family_nothing_about_the_person(
    eapp: Flask,
    make_person: Callable[..., int],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    make_person(SON_PHONE, name_ko="김민수")
    client = eapp.test_client()
    status_path = enquire(client)
    run_jobs(eapp)
    assert client.post(answer_link(fake_twilio), data={"no": "1"}).status_code == 200
    card = re.search(r'<div class="card">(.*?)</div>', client.get(status_path).text, re.S)
    assert card is not None and "김민수" not in card.group(1) and "안전" not in card.group(1)
    assert status_of(client, status_path) == "passed_on"
    run_jobs(eapp)
    [told] = fake_twilio.sent_to(MOTHER_PHONE)
    assert "전달" in told["body"] and "안전" not in told["body"]
    with eapp.app_context():
        [disclosure] = db.session.scalars(sa.select(WelfareDisclosure)).all()
        assert (disclosure.told, disclosure.basis) == ("passed_on", "person_refused")
        assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0


def test_i_need_help_becomes_a_report_and_pages(
    eapp: Flask,
    make_person: Callable[..., int],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    son = make_person(SON_PHONE, name_ko="김민수")
    client = eapp.test_client()
    status_path = enquire(client)
    run_jobs(eapp)
    assert client.post(answer_link(fake_twilio), data={"help": "1"}).status_code == 200
    assert status_of(client, status_path) == "passed_on"
    run_jobs(eapp)
    assert fake_twilio.sent_to(OFFICER_PHONE)  # the duty officer was paged
    with eapp.app_context():
        enquiry = db.session.scalars(sa.select(FamilyEnquiry)).one()
        assert enquiry.status == EnquiryStatus.NEED_HELP and enquiry.report_id is not None
        report = db.session.get(Report, enquiry.report_id)
        assert report is not None and report.person_id == son and report.kind == ReportKind.FAMILY
        case = db.session.get(Case, report.case_id)
        assert case is not None and case.opened_via == "enquiry"


def test_silence_for_24_hours_opens_a_report(
    eapp: Flask,
    make_person: Callable[..., int],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    make_person(SON_PHONE, name_ko="김민수")
    client = eapp.test_client()
    status_path = enquire(client)
    with eapp.app_context():
        asked_at = db.session.scalars(sa.select(FamilyEnquiry)).one().asked_at
        assert asked_at is not None
        assert escalate_unanswered(now=asked_at + timedelta(hours=23, minutes=59)) == 0
        assert escalate_unanswered(now=asked_at + timedelta(hours=24, minutes=1)) == 1
        db.session.commit()
        assert escalate_unanswered(now=asked_at + timedelta(hours=30)) == 0  # once
        enquiry = db.session.scalars(sa.select(FamilyEnquiry)).one()
        assert enquiry.status == EnquiryStatus.ESCALATED
        report = db.session.get(Report, enquiry.report_id)
        assert report is not None and report.reporter_phone == MOTHER_PHONE
        pages = db.session.scalars(sa.select(Message).where(Message.source_kind == SourceKind.CASE_NOTIFY))
        assert [m.to_address for m in pages if m.channel == "sms"] == [OFFICER_PHONE]
    assert status_of(client, status_path) == "passed_on"
    # The late answer link no longer takes an answer.
    run_jobs(eapp)
    late = client.post(answer_link(fake_twilio), data={"yes": "1"})
    assert 'id="answer-yes"' not in late.text
    assert status_of(client, status_path) == "passed_on"


def test_an_enquiry_about_someone_not_registered_asks_nobody(
    eapp: Flask,
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    client = eapp.test_client()
    status_path = enquire(client)
    run_jobs(eapp)
    assert fake_twilio.sent_to(SON_PHONE) == []
    assert status_of(client, status_path) == "passed_on"  # the same page as for a registered person
    with eapp.app_context():
        assert db.session.scalars(sa.select(FamilyEnquiry)).one().status == EnquiryStatus.UNMATCHED
    assert client.get("/report/enquiry/status/nope").status_code == 404
    bad = client.post("/report/enquiry", data={"enquirer_name": "김영희", "subject_name": "김민수"})
    assert bad.status_code == 200 and 'class="fld bad"' in bad.text
