"""Setting the duress word at registration: on the web form and in the SMS conversation's optional
last step. The word is kept only as a salted HMAC, and no stored copy of the SMS keeps it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import AuditEvent, InboundMessage, Person, RegistrationConversation
from outreach.registry import duress
from tests.registry.conftest import future, registration

NUMBER = "+85512345679"


def _person(app: Flask) -> Person:
    with app.app_context():
        person = db.session.scalar(sa.select(Person))
        assert person is not None
        db.session.expunge(person)
        return person


def test_web_form_stores_only_the_hash(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/register", data=registration(duress_word="Mango Tree"))
    assert response.status_code == 302
    person = _person(app)
    assert person.duress_hash and "mango" not in person.duress_hash.casefold()
    with app.app_context():
        assert duress.find(person.duress_hash, "1 ok mangotree") is not None
        details = [repr(e.details) for e in db.session.scalars(sa.select(AuditEvent))]
    assert all("mango" not in d.casefold() for d in details)
    assert "mango" not in caplog.text.casefold()


def test_web_form_refuses_a_too_short_word_and_keeps_nothing(app: Flask, client: FlaskClient) -> None:
    response = client.post("/register", data=registration(duress_word="ab"))
    assert response.status_code == 200
    assert 'class="fld bad"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 0


def test_sms_registration_asks_for_the_word_and_blanks_its_message(
    app: Flask, sms: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for text in ("REGISTER", "Kim Minsu", "12", "2", future(9)):
        sms(NUMBER, text)
    done = sms(NUMBER, "YES")
    assert "you are registered" in done and "SKIP" in done
    assert "at least 3" in sms(NUMBER, "xy")  # asked again
    assert "duress word is saved" in sms(NUMBER, "Green Frog")
    person = _person(app)
    with app.app_context():
        assert duress.find(person.duress_hash, "safe greenfrog") is not None
        assert db.session.scalar(sa.select(RegistrationConversation)) is None
        bodies = list(db.session.scalars(sa.select(InboundMessage.body)))
    assert all("frog" not in (b or "").casefold() for b in bodies)
    assert "frog" not in caplog.text.casefold()


def test_sms_duress_step_lets_other_messages_through(app: Flask, sms: Callable[..., str]) -> None:
    for text in ("REGISTER", "Kim Minsu", "12", "1", "YES"):
        sms(NUMBER, text)
    # A safe word or a digit is not a duress word: the step ends and the message is routed as usual.
    reply = sms(NUMBER, "1")
    assert "duress" not in reply
    with app.app_context():
        assert db.session.scalar(sa.select(RegistrationConversation)) is None
        person = db.session.scalar(sa.select(Person))
        assert person is not None and person.duress_hash is None
