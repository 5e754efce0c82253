"""A person's area: chosen at web registration, by a numbered SMS menu and by staff; a check-in tap may
share the phone's location, which then decides the person's zone now. Also: a check-in to a zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from html import unescape
from itertools import count

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import CheckInRecipient, CheckInResponse, Person, User, utcnow
from outreach.zones import inside
from outreach.zones.location import locate, parse
from tests.checkins.conftest import code_for
from tests.conftest import login, post_twilio
from tests.registry.conftest import registration
from tests.zones.conftest import set_level

_sids = count(1)


def _sms(client: FlaskClient, sender: str, body: str) -> str:
    params = {
        "MessageSid": f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumSegments": "1",
    }
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200
    match = re.search(r"<Message>(.*?)</Message>", response.data.decode(), flags=re.S)
    return unescape(match.group(1)) if match else ""


def _person(app: Flask, **where: object) -> Person:
    with app.app_context():
        person = db.session.scalar(sa.select(Person).filter_by(**where))
        assert person is not None
        db.session.expunge(person)
        return person


def test_web_registration_takes_an_area_inside_the_province(app: Flask, client: FlaskClient) -> None:
    assert client.post("/register", data=registration(province="KH-20", area="2008")).status_code in (
        200,
        302,
    )
    person = _person(app, name_ko="홍길동")
    assert (person.province_code, person.area_code) == ("KH-20", "2008")

    # An area that is not in the chosen province is refused on the field, and nothing is saved.
    response = client.post(
        "/register?lang=en",
        data=registration(
            province="KH-12",
            area="0110",
            phone="012 999 001",
            phone_other=None,
            whatsapp=None,
            name_ko="김철수",
            email="other@example.org",
        ),
    )
    assert response.status_code == 200  # the form again, with the error on its field
    assert "This district or commune is not in the province you chose." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 1


def test_staff_edit_sets_the_area(app: Flask, make_person: Callable[..., int], officer: User) -> None:
    person_id = make_person(province_code="KH-1")
    client = app.test_client()
    login(client, officer)
    page = client.get(f"/staff/people/{person_id}/edit")
    assert 'value="0110"' in page.get_data(as_text=True)  # Poipet in the list
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        form = {
            "name_ko": person.name_ko or "",
            "name_latin": "HONG GILDONG",
            "phone": person.primary_phone.e164 if person.primary_phone else "",
            "language": "ko",
            "province": "KH-1",
            "area": "0110",
            "status": "resident",
        }
    response = client.post(f"/staff/people/{person_id}/edit", data=form)
    assert response.status_code == 302, re.findall(r"<li>[^<]*</li>", response.get_data(as_text=True))
    assert _person(app, id=person_id).area_code == "0110"
    shown = client.get(f"/staff/people/{person_id}?lang=en").get_data(as_text=True)
    assert "Poipet, Banteay Meanchey" in shown


def test_sms_registration_asks_for_the_area_where_a_zone_covers_part_of_the_province(
    app: Flask, client: FlaskClient, admin: User, today: date
) -> None:
    with app.app_context():
        set_level(admin, "2008", "4", since=today)
        db.session.commit()
    number = "+85512888001"
    _sms(client, number, "REGISTER")
    _sms(client, number, "KIM MINSU")
    menu = _sms(client, number, "20")  # Svay Rieng
    assert menu.splitlines()[1] == "1 Bavet", menu
    assert "Please send a number" in _sms(client, number, "99")
    assert "live in Cambodia" in _sms(client, number, "1")
    _sms(client, number, "1")  # resident
    assert "registered" in _sms(client, number, "YES")
    person = _person(app, name_latin="KIM MINSU")
    assert (person.province_code, person.area_code) == ("KH-20", "2008")

    # Elsewhere (no zone inside the province) the step is not asked.
    other = "+85512888002"
    _sms(client, other, "REGISTER")
    _sms(client, other, "LEE JIHO")
    assert "live in Cambodia" in _sms(client, other, "12")


def test_locate_puts_a_point_in_its_province_and_named_place() -> None:
    assert locate(11.07, 106.16).area_code == "2008"  # Bavet
    assert locate(11.07, 106.16, accuracy_m=20_000).area_code is None  # too vague for the town
    assert locate(11.56, 104.92).province_code == "KH-12"
    assert locate(37.57, 126.98).province_code is None  # Seoul
    assert parse("91", "104", None) is None and parse("x", "1", None) is None
    assert parse("11.5", "104.9", "-3") == (11.5, 104.9, None)


def test_a_shared_location_on_the_one_tap_page_decides_the_zone_now(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    admin: User,
    today: date,
) -> None:
    # Registered in Phnom Penh, but the phone is in Bavet.
    person_id = make_person(province_code="KH-12", language="en")
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)
    with app.app_context():
        bavet_zone = set_level(admin, "2008", "4", since=today).zone_id
        db.session.commit()
        assert inside.counts_by_zone(today=today, now=utcnow()) == {}
    page = client.get(f"/c/{code}").get_data(as_text=True)
    assert 'id="share-location"' in page
    client.post(
        f"/c/{code}", data={"safe": "1", "latitude": "11.0712", "longitude": "106.1601", "accuracy": "25"}
    )
    with app.app_context():
        response = db.session.scalar(sa.select(CheckInResponse).where(CheckInResponse.person_id == person_id))
        assert response is not None and (response.latitude, response.longitude) == (11.0712, 106.1601)
        person = db.session.get(Person, person_id)
        assert person is not None
        assert (person.located_province_code, person.located_area_code) == ("KH-20", "2008")
        assert person.area_code is None  # what they registered is not overwritten
        assert inside.zone_now_of(person_id, today=today, now=utcnow()).id == bavet_zone  # type: ignore[union-attr]
    # Without a tap nothing is recorded.
    client.post(f"/c/{code}", data={"need_help": "1"})
    with app.app_context():
        rows = db.session.scalars(sa.select(CheckInResponse.latitude).order_by(CheckInResponse.id)).all()
        assert rows[-1] is None


def test_a_check_in_can_target_the_people_inside_a_zone(
    app: Flask, make_person: Callable[..., int], make_checkin: Callable[..., int], admin: User, today: date
) -> None:
    inside_id = make_person(province_code="KH-1", area_code="0110")
    make_person(province_code="KH-1", area_code="0102")
    with app.app_context():
        # Since yesterday: check-ins judge presence by the UTC date, which may still be yesterday here.
        zone_id = set_level(admin, "0110", "3", since=today - timedelta(days=1)).zone_id
        db.session.commit()
    checkin_id = make_checkin(audience={"zones": [zone_id]})
    with app.app_context():
        people = db.session.scalars(
            sa.select(CheckInRecipient.person_id).where(CheckInRecipient.checkin_id == checkin_id)
        ).all()
        assert list(people) == [inside_id]


def test_deleting_a_registration_erases_its_area_location_and_permits(
    app: Flask, make_person: Callable[..., int], admin: User, today: date
) -> None:
    from outreach.models import Permit
    from outreach.registry.operations import delete_registration
    from outreach.zones import operations

    person_id = make_person(province_code="KH-20", area_code="2008")
    with app.app_context():
        zone_id = set_level(admin, "2008", "4", since=today).zone_id
        actor = db.session.get(User, admin.id)
        assert actor is not None
        operations.add_permit(operations.PermitInput(person_id, zone_id, "P-1", today, today), actor=actor)
        operations.add_grace(zone_id, today, actor=actor, person_id=person_id)
        person = db.session.get(Person, person_id)
        assert person is not None
        person.located_area_code, person.located_province_code, person.located_at = "2008", "KH-20", utcnow()
        db.session.commit()
        delete_registration(person)
        db.session.commit()
        assert (person.area_code, person.located_area_code, person.located_at) == (None, None, None)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Permit)) == 0
        assert inside.counts_by_zone(today=today, now=utcnow()) == {}
