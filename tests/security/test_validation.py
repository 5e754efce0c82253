"""Item 8 of the security issue: dates within sensible bounds, invisible characters out of names."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import Person
from outreach.registry.operations import strip_invisible
from tests.registry.conftest import registration

KHMER_NAME = "សុខ សុភា"  # with combining vowel signs (Mn/Mc) that must survive
HANGUL_NAME = "홍길동"


def test_invisible_characters_are_stripped_and_marks_kept() -> None:
    spoof = "\u202eHONG\u202c\u200b GIL\u2066DONG\u2069\ufeff\u200d"
    assert strip_invisible(spoof) == "HONG GILDONG"
    assert strip_invisible(KHMER_NAME) == KHMER_NAME
    assert strip_invisible(HANGUL_NAME + "\u1100\u1161") == HANGUL_NAME + "\u1100\u1161"  # conjoining jamo


def _english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_registration_stores_names_without_bidi_overrides(client: FlaskClient, app: Flask) -> None:
    response = client.post(
        "/register",
        data=registration(
            name_latin="\u202eGNOH\u202c Gildong", name_ko="홍\u200b길동", district_note="BKK1 \u2067x"
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        person = db.session.scalars(sa.select(Person)).one()
        assert (person.name_latin, person.name_ko, person.district_note) == (
            "GNOH GILDONG",  # Latin names are kept in capitals
            "홍길동",
            "BKK1 x",
        )


def test_a_departure_in_9999_is_refused(client: FlaskClient, app: Flask) -> None:
    response = _english(client).post("/register", data=registration(departure_date="9999-12-31"))
    assert response.status_code == 200
    assert "too far ahead" in response.get_data(as_text=True)
    arrival = _english(client).post("/register", data=registration(arrival_date="1800-01-01"))
    assert "not a plausible date" in arrival.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0
    fine = (date.today() + timedelta(days=365)).isoformat()
    assert client.post("/register", data=registration(departure_date=fine)).status_code == 302
