"""Item 7 of the security issue: bad input answers 4xx with a reason, never 500, and loses nothing.

Ids past 2³¹−1 (PostgreSQL ``integer``) are 404s on every route; a NUL character in a form or query is
a 400 that says so; an inbound SMS with a NUL or over 1,600 characters is stored, cleaned and cut;
bodies over ``MAX_CONTENT_LENGTH`` are 413s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter

from outreach.extensions import db
from outreach.models import InboundMessage, Person
from outreach.registry.links import make_token
from outreach.web.inputs import MAX_ID
from tests.conftest import login, post_twilio
from tests.registry.conftest import registration

HUGE = str(2**31)


def test_every_id_route_answers_404_past_the_id_range(app: Flask, make_user: Callable[..., Any]) -> None:
    client = app.test_client()
    login(client, make_user("admin"))
    checked = []
    for rule in app.url_map.iter_rules():
        ints = [n for n in rule.arguments if isinstance(rule._converters[n], IntegerConverter)]
        if not ints:
            continue
        path = _fill(rule.rule, {n: (HUGE if n in ints else _other(rule, n)) for n in rule.arguments})
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        method = "GET" if "GET" in methods else sorted(methods)[0]
        response = client.open(path, method=method)
        assert response.status_code == 404, (path, response.status_code)
        checked.append(path)
    assert "/alerts/" + HUGE in checked
    assert "/alerts/" + HUGE + "/cap.xml" in checked
    assert len(checked) > 20


def _other(rule: Any, name: str) -> str:
    items = getattr(rule._converters[name], "items", None)
    return sorted(items)[0] if items else "x"


def _fill(template: str, values: dict[str, str]) -> str:
    out, rest = "", template
    while "<" in rest:
        before, _, tail = rest.partition("<")
        spec, _, rest = tail.partition(">")
        out += before + values[spec.split(":")[-1]]
    return out + rest


def test_the_largest_id_still_routes(app: Flask) -> None:
    # 2³¹−1 is a valid id: routed to the view (which finds no such alert), not refused by the URL map.
    response = app.test_client().get(f"/alerts/{MAX_ID}")
    assert response.status_code == 404
    assert str(MAX_ID) in response.get_data(as_text=True)


def test_nul_in_the_public_form_is_a_clear_400(en_client: FlaskClient, app: Flask) -> None:
    response = en_client.post("/register", data=registration(name_latin="Hong\x00Gildong"))
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0


def test_nul_in_login_and_query_is_a_clear_400(en_client: FlaskClient) -> None:
    login_response = en_client.post("/login", data={"email": "a@b.example\x00", "password": "x" * 12})
    assert login_response.status_code == 400
    assert "NUL character" in login_response.get_data(as_text=True)
    search = en_client.get("/register?lang=en%00")
    assert search.status_code == 400


def test_nul_in_self_service_is_a_clear_400(
    en_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    pid = make_person(name_latin="HONG")
    with app.app_context():
        person = db.session.get(Person, pid)
        assert person is not None
        token = make_token(person)
    response = en_client.post(f"/me/{token}", data=registration(name_latin="KIM\x00"))
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Person, pid).name_latin == "HONG"  # type: ignore[union-attr]


@pytest.fixture
def en_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_an_inbound_sms_with_nul_is_stored_without_it(client: FlaskClient, app: Flask) -> None:
    params = {
        "MessageSid": "SM" + "a" * 32,
        "From": "+85512345678\x00",
        "To": "+15005550006",
        "Body": "hi\x00 there",
    }
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200
    with app.app_context():
        stored = db.session.scalars(sa.select(InboundMessage)).one()
        assert (stored.body, stored.from_address) == ("hi there", "+85512345678")


def test_an_inbound_sms_is_cut_at_twilios_1600_characters(client: FlaskClient, app: Flask) -> None:
    params = {
        "MessageSid": "SM" + "b" * 32,
        "From": "+85512345678",
        "To": "+15005550006",
        "Body": "가" * 5000,
    }
    assert post_twilio(client, "/twilio/sms", params).status_code == 200
    with app.app_context():
        stored = db.session.scalars(sa.select(InboundMessage)).one()
        assert stored.body == "가" * 1600


def test_bodies_over_max_content_length_are_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_CONTENT_LENGTH=10_000)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/register", data=registration(district_note="x" * 20_000))
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0
