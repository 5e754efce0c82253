"""The demo's "Try an inbound SMS" page: what staff type goes through the real signed webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import Case, InboundMessage, InboundRoute, OutboxEntry
from tests.conftest import login, run_jobs

OFFICER_PHONE = "+85512000001"


def test_an_sos_typed_on_the_page_opens_a_case_and_pages_the_duty_officer(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> None:
    officer = make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")
    person_id = make_person(phone="+85512345611", language="ko")
    login(client, officer)
    assert "수신 SMS 시험하기" in client.get("/staff/outbox").get_data(as_text=True)
    page = client.post(
        "/staff/demo/inbound-sms", data={"sender": "012 345 611", "channel": "sms", "body": "SOS 도와주세요"}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "당직 영사에게 알렸으며" in html  # the reply the resident's phone would show
    with app.app_context():
        inbound = db.session.scalars(sa.select(InboundMessage)).one()
        # Stored as a real inbound SMS would be: normalised sender, the person found, routed as SOS.
        assert (inbound.from_address, inbound.person_id) == ("+85512345611", person_id)
        assert inbound.routed_to == InboundRoute.KEYWORD and inbound.provider_sid.startswith("SM")
        case = db.session.scalars(sa.select(Case)).one()
        assert case.person_id == person_id and case.opened_via == "sos_keyword"
    run_jobs(app)
    with app.app_context():
        pages = db.session.scalars(
            sa.select(OutboxEntry).where(OutboxEntry.to_address == OFFICER_PHONE)
        ).all()
        assert len(pages) == 1


def test_bad_input_is_answered_on_the_form_and_nothing_is_stored(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    login(client, make_user("officer"))
    html = client.post(
        "/staff/demo/inbound-sms", data={"sender": "hello", "channel": "sms", "body": ""}
    ).get_data(as_text=True)
    assert "전화번호가 아니에요." in html
    assert "체류자가 보내는 메시지를 입력하세요." in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 0


def test_with_a_real_provider_the_page_is_not_there(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    web = make_app(SMS_CHANNEL="twilio")
    client = web.test_client()
    login(client, make_user("officer"))
    assert client.get("/staff/demo/inbound-sms").status_code == 404
    assert "수신 SMS 시험하기" not in client.get("/staff/outbox").get_data(as_text=True)


def test_reps_cannot_use_it(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    login(client, make_user("community_rep"))
    assert client.get("/staff/demo/inbound-sms").status_code == 403
