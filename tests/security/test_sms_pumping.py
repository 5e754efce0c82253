"""Item 5 of the security issue (the part that is done): only ALLOWED_PHONE_COUNTRIES may register
themselves, on the web and by SMS; staff-entered numbers stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import OutboxEntry, Person, RegistrationConversation
from outreach.registry.operations import PersonInput, phone_inputs, validate
from tests.conftest import post_twilio
from tests.registry.conftest import registration

#: Iridium (+881), Cuba (+53), Somalia (+252): each took an SMS at once before.
FOREIGN = ["+8816 3141 5926", "+53 5 123 4567", "+252 61 234 5678"]


@pytest.mark.parametrize("number", FOREIGN)
def test_the_web_form_refuses_numbers_from_other_countries(
    client: FlaskClient, app: Flask, number: str
) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/register", data=registration(phone=number, phone_other=None, whatsapp=None))
    assert response.status_code == 200
    assert "cannot register here" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry)) == 0  # no SMS


def test_the_setting_decides(make_app: Callable[..., Flask]) -> None:
    app = make_app(ALLOWED_PHONE_COUNTRIES="KH")
    client = app.test_client()
    response = client.post(
        "/register", data=registration(phone="010-1234-5678", phone_other=None, whatsapp=None)
    )
    assert response.status_code == 200  # Korean numbers refused when only KH is allowed
    assert client.post("/register", data=registration(phone_other=None, whatsapp=None)).status_code == 302


def test_sms_registration_from_a_satellite_number_gets_no_conversation_and_no_reply(
    client: FlaskClient, app: Flask
) -> None:
    params = {
        "MessageSid": "SM" + "c" * 32,
        "From": "+881631415926",
        "To": "+15005550006",
        "Body": "REGISTER",
    }
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200 and "<Message>" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RegistrationConversation)) == 0


def test_staff_entered_numbers_are_not_limited(app: Flask, make_user: Callable[..., Any]) -> None:
    with app.test_request_context():
        clean = validate(
            PersonInput(name_latin="KIM", province="KH-12", phones=phone_inputs("+53 5 123 4567"))
        )
        assert [p.e164 for p in clean.phones] == ["+5351234567"]
