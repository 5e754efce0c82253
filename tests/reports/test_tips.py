"""Recruitment tips: public page, SMS keyword, staff; two tips naming the same handle are linked, a
report mentioning it is found, and a warning drafted from a tip reaches exactly its audience."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import Alert, AlertStatus, Message, ReportKind, SourceKind, Tip, TipStatus, User, utcnow
from outreach.reports.operations import ReportInput, create_report
from outreach.reports.tips import TipInput, create_tip, normalise_handle, related_reports, related_tips
from tests.checkins.conftest import fake_twilio, sms, twiml_text  # noqa: F401  (fixture)
from tests.conftest import login, run_jobs
from tests.fakes.twilio_server import FakeTwilio


@pytest.fixture
def tapp(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> Flask:  # noqa: F811
    return make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url)


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="Officer", phone="+85512000001", on_duty=True, language="en")


def test_handles_are_normalised() -> None:
    for raw in ("@Fast_Job", "t.me/fast_job", " fast_job ", "https://t.me/FAST_JOB/"):
        assert normalise_handle(raw) == "fast_job"
    assert normalise_handle("@x") is None


def test_two_tips_naming_the_same_handle_are_linked_and_the_report_is_found(
    tapp: Flask, client: FlaskClient, officer: User
) -> None:
    with tapp.app_context():
        report = create_report(
            ReportInput(
                subject_name="김민수",
                reporter_phone="+821023456789",
                messenger_handle="텔레그램 @Fast_Job",
                recruitment="월 500만원, 연락처 012 987 654",
            ),
            kind=ReportKind.PHONE,
        ).report
        report_id = report.id
        db.session.commit()
    # One tip on the public page, the other by SMS, writing the handle differently.
    page = client.post(
        "/tip",
        data={
            "advert_text": "고수익 알바 텔레그램 t.me/fast_job",
            "company": "Golden Dragon",
            "place": "Sihanoukville",
        },
    )
    assert page.status_code == 200 and "T-" in page.text
    reply = twiml_text(sms(client, "+85512777001", "제보 @FAST_JOB 에서 월 500 약속, 시아누크빌"))
    assert "T-" in reply
    with tapp.app_context():
        first, second = db.session.scalars(sa.select(Tip).order_by(Tip.id)).all()
        assert first.handles == second.handles == ["fast_job"]
        assert (first.via, second.via, second.contact) == ("public", "sms", "+85512777001")
        assert second.duplicate_of_id == first.id and first.duplicate_of_id is None
        assert [t.id for t in related_tips(first)] == [second.id]
        assert [r.id for r in related_reports(first)] == [report_id]
        # A number written in a report the way people type it is found too.
        by_number = create_tip(TipInput(phones=["+855 12 987 654"]), via="staff")
        assert [r.id for r in related_reports(by_number)] == [report_id]
        assert related_tips(by_number) == []
        first_id, second_reference = first.id, second.reference
        db.session.commit()
    login(client, officer)
    detail = client.get(f"/staff/tips/{first_id}").text
    assert f"/staff/reports/{report_id}" in detail and second_reference in detail
    assert client.post("/tip", data={"advert_text": ""}).status_code == 400  # nothing to go on


def test_a_warning_from_a_tip_reaches_exactly_its_audience(
    tapp: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_user: Callable[..., Any],
    officer: User,
    fake_twilio: FakeTwilio,  # noqa: F811
) -> None:
    today = utcnow().date()
    make_person("+85512600001", arrival_date=today - timedelta(days=3), province_code="KH-18")
    make_person("+85512600002", arrival_date=today - timedelta(days=20), province_code="KH-18")
    make_person("+85512600003", arrival_date=today - timedelta(days=2), province_code="KH-12")
    make_person("+85512600004", arrival_date=None, province_code="KH-18")
    with tapp.app_context():
        tip = create_tip(
            TipInput(
                handles=["@fast_job"], company="Golden Dragon", job="월 500만원 콜센터", place="시아누크빌"
            ),
            via="staff",
        )
        db.session.commit()
        tip_id = tip.id
    login(client, officer)
    drafted = client.post(
        f"/staff/tips/{tip_id}/warning", data={"arrived_within_days": "7", "provinces": ["KH-18"]}
    )
    assert drafted.status_code == 302
    with tapp.app_context():
        tip_row = db.session.get(Tip, tip_id)
        assert tip_row is not None and tip_row.status == TipStatus.WARNED
        alert = db.session.get(Alert, tip_row.alert_id)
        assert alert is not None and alert.status == AlertStatus.DRAFT and alert.public
        assert alert.audience["arrived_within_days"] == 7 and alert.audience["provinces"] == ["KH-18"]
        ko = alert.content_for("ko")
        assert ko is not None and "Golden Dragon" in ko.body and "시아누크빌" in ko.body
        alert_id = alert.id
    # A second draft from the same tip is refused.
    client.post(f"/staff/tips/{tip_id}/warning", data={"arrived_within_days": "7"})
    with tapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Alert.id))) == 1
    # The normal approval path: submitted by one officer, approved by another, sent.
    assert client.post(f"/staff/alerts/{alert_id}/submit").status_code == 302
    approver = make_user("officer", name="Second", language="en")
    login(client, approver)
    client.post(f"/staff/alerts/{alert_id}/approve")
    client.post(f"/staff/alerts/{alert_id}/send")
    run_jobs(tapp)
    with tapp.app_context():
        sent = db.session.scalars(
            sa.select(Message.to_address).where(
                Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id
            )
        ).all()
    assert sent == ["+85512600001"]
    assert fake_twilio.count_to("+85512600001") == 1
    for other in ("+85512600002", "+85512600003", "+85512600004"):
        assert fake_twilio.count_to(other) == 0
