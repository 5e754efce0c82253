"""Item 5 of the security issue: a number typed into the public web form joins audiences only once
its holder confirms it (a reply to the confirmation SMS, or its link); staff-entered numbers at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.alerts.dispatch import materialise
from outreach.extensions import db
from outreach.models import ConsentMethod, Message, Person, PhoneNumber, SourceKind
from outreach.registry.links import make_token
from outreach.registry.operations import PersonInput, phone_inputs, register_person, validate
from tests.alerts.conftest import TODAY, alert_messages, get_alert
from tests.conftest import post_twilio
from tests.registry.conftest import registration

WEB_NUMBER = "+85512345678"  # "012 345 678" on the form


def _alert_addresses(app: Flask, make_alert: Callable[..., int]) -> set[str]:
    """Who a new SMS alert to Phnom Penh would reach (the set-based fan-out itself)."""
    alert_id = make_alert(channels=["sms", "whatsapp"])
    with app.app_context():
        materialise(get_alert(alert_id), today=TODAY, first_run=True)
        db.session.commit()
        return {f"{m.channel}:{m.to_address}" for m in alert_messages(alert_id)}


def _register_on_the_web(client: FlaskClient) -> None:
    response = client.post("/register", data=registration(phone_other=None))
    assert response.status_code == 302


def _confirmation_sms(app: Flask) -> Message:
    with app.app_context():
        message = db.session.scalar(
            sa.select(Message).where(
                Message.source_kind == SourceKind.CONFIRMATION,
                Message.channel == "sms",
                Message.to_address == WEB_NUMBER,
            )
        )
        assert message is not None
        db.session.expunge(message)
        return message


def test_a_web_number_joins_the_audience_only_after_a_reply(
    app: Flask, client: FlaskClient, make_alert: Callable[..., int]
) -> None:
    _register_on_the_web(client)
    with app.app_context():
        phone = db.session.scalar(sa.select(PhoneNumber).where(PhoneNumber.e164 == WEB_NUMBER))
        assert phone is not None and phone.confirmed_at is None
    assert "/register/confirm/" in (_confirmation_sms(app).body or "")
    assert _alert_addresses(app, make_alert) == set()  # neither SMS nor WhatsApp

    params = {"MessageSid": "SM" + "d" * 32, "From": WEB_NUMBER, "To": "+15005550006", "Body": "네"}
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200
    assert "확인" in response.get_data(as_text=True)  # answered in Korean
    assert _alert_addresses(app, make_alert) == {f"sms:{WEB_NUMBER}", f"whatsapp:{WEB_NUMBER}"}


def test_any_reply_confirms_and_still_reaches_its_handler(
    app: Flask, client: FlaskClient, make_alert: Callable[..., int]
) -> None:
    _register_on_the_web(client)
    params = {"MessageSid": "SM" + "e" * 32, "From": WEB_NUMBER, "To": "+15005550006", "Body": "hello?"}
    assert post_twilio(client, "/twilio/sms", params).status_code == 200
    with app.app_context():
        phone = db.session.scalar(sa.select(PhoneNumber).where(PhoneNumber.e164 == WEB_NUMBER))
        assert phone is not None and phone.confirmed_at is not None
    assert f"sms:{WEB_NUMBER}" in _alert_addresses(app, make_alert)


def test_the_link_in_the_sms_confirms_after_the_button(
    app: Flask, client: FlaskClient, make_alert: Callable[..., int]
) -> None:
    _register_on_the_web(client)
    match = re.search(r"https?://\S+(/register/confirm/\S+)", _confirmation_sms(app).body or "")
    assert match is not None
    path = match.group(1)
    assert client.get(path).status_code == 200  # a link preview's GET confirms nothing
    assert _alert_addresses(app, make_alert) == set()
    response = client.post(path, data={})
    assert response.status_code == 302 and "/me/" in response.headers["Location"]
    assert f"sms:{WEB_NUMBER}" in _alert_addresses(app, make_alert)
    assert client.get("/register/confirm/forged-token").status_code == 404


def test_a_staff_entered_number_is_in_the_audience_at_once(
    app: Flask, make_alert: Callable[..., int]
) -> None:
    with app.test_request_context():
        clean = validate(PersonInput(name_latin="KIM", province="KH-12", phones=phone_inputs(WEB_NUMBER)))
        register_person(clean, method=ConsentMethod.STAFF)
        db.session.commit()
    assert _alert_addresses(app, make_alert) == {f"sms:{WEB_NUMBER}"}


def test_a_number_added_on_the_self_service_page_waits_for_its_confirmation(
    app: Flask, client: FlaskClient, make_person: Callable[..., Any], make_alert: Callable[..., int]
) -> None:
    person_id = make_person(phone="+85512000555")
    with app.test_request_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        token = make_token(person)
    page = client.get(f"/me/{token}")
    assert page.status_code == 200
    response = client.post(
        f"/me/{token}",
        data=registration(
            phone="012 000 555", phone_other=WEB_NUMBER, whatsapp=None, consent=None, email=None
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    addresses = _alert_addresses(app, make_alert)
    assert "sms:+85512000555" in addresses
    with app.app_context():
        phone = db.session.scalar(sa.select(PhoneNumber).where(PhoneNumber.e164 == WEB_NUMBER))
        assert phone is not None and phone.confirmed_at is None
    assert "/register/confirm/" in (_confirmation_sms(app).body or "")
