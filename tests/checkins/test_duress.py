"""The duress word: an answer carrying it reads exactly like "safe" to the person, opens an urgent
case and pages the duty officer, and the word is stored nowhere, logged nowhere, shown nowhere."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import Answer, AuditEvent, Case, CaseEvent, CaseStatus, InboundMessage, Person
from outreach.registry import duress
from outreach.registry.links import make_token
from tests.checkins.conftest import case_notifications, code_for, recipient, responses, sms
from tests.conftest import login

WORD = "Blue Bird"
NEEDLES = ("bluebird", "blue bird", "blue-bird")


def _set_word(app: Flask, person_id: int, word: str = WORD) -> None:
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        duress.set_word(person, word, via="web")
        db.session.commit()


def _no_word(text: str) -> None:
    low = text.casefold()
    for needle in NEEDLES:
        assert needle not in low


def test_normalised_and_salted(app: Flask) -> None:
    with app.app_context():
        first, second = duress.hash_word("Blue Bird"), duress.hash_word("bluebird")
        assert first != second  # salted per person
        for stored in (first, second):
            assert "blue" not in stored.casefold()
            assert duress.find(stored, "ok BLUE  bird!") is not None
            assert duress.find(stored, "ok, blue-bird here") is not None
            assert duress.find(stored, "1 safe thanks") is None
        match = duress.find(first, "1 all fine bluebird thanks")
        assert match is not None and match.redacted == "1 all fine thanks"
        with pytest.raises(duress.DuressWordError):
            duress.hash_word(" a ")


@pytest.mark.parametrize("lang", ["ko", "en", "km"])
def test_sms_reply_is_byte_for_byte_safe_and_pages(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: Any,
    caplog: pytest.LogCaptureFixture,
    lang: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    watched = make_person("+85512111001", language=lang)
    free = make_person("+85512111002", language=lang)
    _set_word(app, watched)
    checkin_id = make_checkin()

    plain = sms(client, "+85512111002", "1 all fine")
    coerced = sms(client, "+85512111001", "1 all fine bluebird")
    assert coerced.get_data() == plain.get_data()
    assert coerced.headers["Content-Type"] == plain.headers["Content-Type"]

    with app.app_context():
        # To the person (and to a captor asking STATUS) it is "safe"; to staff it is an urgent case.
        assert recipient(checkin_id, watched).answer == Answer.SAFE
        assert recipient(checkin_id, watched).safe_unverified is True
        assert recipient(checkin_id, free).safe_unverified is False
        case = db.session.scalar(sa.select(Case).where(Case.person_id == watched))
        assert case is not None and case.status == CaseStatus.OPEN
        assert (case.summary or "").endswith("— 1 all fine")  # the rest of the answer, word cut out
        kinds = set(db.session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
        assert "duress" in kinds
        assert db.session.scalar(sa.select(Case).where(Case.person_id == free)) is None
        pages = case_notifications()
        assert [m.to_address for m in pages if m.channel == "sms"] == [officer.phone]
        # Stored nowhere: the answer's text, the inbound copy, the audit trail, the page itself.
        texts = [r.text or "" for r in responses(checkin_id, watched)]
        assert texts == ["1 all fine"]
        bodies = db.session.scalars(sa.select(InboundMessage.body)).all()
        assert bodies and all("bluebird" not in (b or "").casefold() for b in bodies)
        for row in db.session.scalars(sa.select(AuditEvent)):
            _no_word(repr(row.details))
        for message in pages:
            _no_word((message.body or "") + (message.html or ""))
        case_id = case.id
    _no_word(caplog.text)

    login(client, officer)
    for path in (
        f"/staff/cases/{case_id}",
        "/staff/cases",
        "/staff/inbox",
        f"/staff/checkins/{checkin_id}/people",
        f"/staff/people/{watched}",
        f"/staff/checkins/{checkin_id}/call-list.csv",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        _no_word(response.get_data(as_text=True))


def _strip_volatile(html: str, code: str) -> str:
    html = html.replace(code, "CODE")
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "CSRF", html)


def test_one_tap_page_is_byte_for_byte_safe(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    watched = make_person("+85512111003")
    free = make_person("+85512111004")
    _set_word(app, watched)
    checkin_id = make_checkin()
    pages = []
    for person_id, note in ((free, "물 조금"), (watched, "물 조금 blue bird")):
        code = code_for(app, checkin_id, person_id)
        posted = client.post(f"/c/{code}", data={"safe": "1", "note": note, "location": ""})
        assert posted.status_code == 303
        done = client.get(posted.headers["Location"])
        assert done.status_code == 200
        pages.append(
            (
                posted.headers["Location"].replace(code, "CODE"),
                _strip_volatile(done.get_data(as_text=True), code),
            )
        )
    assert pages[0] == pages[1]
    with app.app_context():
        assert recipient(checkin_id, watched).answer == Answer.SAFE
        assert [r.text for r in responses(checkin_id, watched)] == ["물 조금"]
        case = db.session.scalar(sa.select(Case).where(Case.person_id == watched))
        assert case is not None and case.opened_via == "checkin_link"
        assert [m.to_address for m in case_notifications() if m.channel == "sms"] == [officer.phone]
    _no_word(caplog.text)
    login(client, officer)
    _no_word(client.get(f"/staff/checkins/{checkin_id}/people").get_data(as_text=True))


def test_duress_word_on_the_self_service_page_is_never_shown(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    person_id = make_person("+85512111005")
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        token = make_token(person)
    page = client.get(f"/me/{token}").get_data(as_text=True)
    assert 'id="duress"' in page and 'name="remove"' not in page
    saved = client.post(f"/me/{token}/duress", data={"duress_word": "Red Kite"})
    assert saved.status_code == 302
    with app.app_context():
        stored = db.session.get(Person, person_id)
        assert stored is not None and stored.duress_hash
        assert duress.find(stored.duress_hash, "all fine redkite") is not None
    again = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "red kite" not in again.casefold() and "redkite" not in again.casefold()
    assert stored.duress_hash not in again
    assert 'name="remove"' in again  # "remove my duress word" is offered once one is set
