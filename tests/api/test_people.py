"""``/api/v1/people``: search, register, read, change, delete — the registry's rules, over JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import AuditEvent, Person, PhoneNumber
from tests.api.conftest import Api, assert_problem

NEW_PERSON = {
    "name_ko": "김철수",
    "name_latin": "Kim Cheolsu",
    "phones": [{"number": "012 345 678", "whatsapp": True}, {"number": "010-1234-5678"}],
    "province_code": "KH-17",
    "language": "en",
    "email": "cheolsu@example.com",
    "consent": True,
}


def test_register_read_change_delete(app: Flask, api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    created = officer.post("/people", json=NEW_PERSON)
    assert created.status_code == 201, created.get_json()
    person = created.get_json()
    assert person["name_latin"] == "KIM CHEOLSU"
    assert [p["e164"] for p in person["phones"]] == ["+85512345678", "+821012345678"]
    assert person["phones"][0] == {"e164": "+85512345678", "kind": "kh", "primary": True, "whatsapp": True}
    assert person["consent_method"] == "api" and person["consent_at"]
    pid = person["id"]

    assert officer.get(f"/people/{pid}").get_json()["email"] == "cheolsu@example.com"

    changed = officer.patch(f"/people/{pid}", json={"district_note": "Sihanoukville port", "language": "km"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["language"] == "km"
    assert changed.get_json()["email"] == "cheolsu@example.com"  # untouched fields stay

    cleared = officer.patch(f"/people/{pid}", json={"email": None, "phones": [{"number": "+855 12 345 678"}]})
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["email"] is None
    assert [p["e164"] for p in cleared.get_json()["phones"]] == ["+85512345678"]

    assert officer.delete(f"/people/{pid}").status_code == 204
    assert_problem(officer.get(f"/people/{pid}"), 404)
    assert_problem(officer.delete(f"/people/{pid}"), 404)
    with app.app_context():
        tombstone = db.session.get(Person, pid)
        assert tombstone is not None and tombstone.deleted_at is not None and tombstone.name_ko is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 0
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target_id == pid)))
        assert {"person.register", "person.update", "person.delete"} <= actions
        delete = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "person.delete"))
        assert delete is not None and delete.actor_id == officer.user.id  # type: ignore[attr-defined]


def test_registry_rules_answer_422_with_fields(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    bad = {
        "name_ko": "Kim",  # not Hangul
        "phones": [{"number": "023 123 456"}],  # a landline
        "province_code": "Atlantis",
        "status": "traveler",  # without a departure date
        "consent": True,
    }
    body = assert_problem(officer.post("/people", json=bad), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"name_ko", "phones.0.number", "province_code", "departure_date"} <= fields


def test_consent_is_required(api_as: Callable[..., Api]) -> None:
    body = assert_problem(api_as("officer").post("/people", json={**NEW_PERSON, "consent": False}), 422)
    assert body["errors"][0]["field"] == "consent"


def test_a_number_that_belongs_to_someone_is_refused(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    make_person(phone="+85512345678")
    body = assert_problem(api_as("officer").post("/people", json=NEW_PERSON), 422)
    assert body["errors"] == [
        {"field": "phones.0.number", "message": "This number is already registered to another person."}
    ]
    korean = api_as("officer").post("/people", json=NEW_PERSON, headers={"Accept-Language": "ko"})
    assert assert_problem(korean, 422)["errors"][0]["message"] != body["errors"][0]["message"]


def test_clearing_a_required_field_is_refused(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    pid = make_person(name_latin=None)
    body = assert_problem(api_as("officer").patch(f"/people/{pid}", json={"name_ko": None}), 422)
    assert body["errors"][0]["field"] == "name_ko"


def test_search_filters(api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    today = date.today()
    phnom_penh = make_person(province_code="KH-12", name_ko="박지민", language="ko")
    siem_reap = make_person(province_code="KH-17", name_ko="이서연", language="en")
    left = make_person(province_code="KH-17", status="traveler", departure_date=today - timedelta(days=3))
    officer = api_as("officer")

    def ids(**query: str) -> set[int]:
        response = officer.get("/people", query_string=query)
        assert response.status_code == 200, response.get_json()
        return {p["id"] for p in response.get_json()["items"]}

    assert ids() == {phnom_penh, siem_reap, left}
    assert ids(province="KH-17") == {siem_reap, left}
    assert ids(language="en") == {siem_reap}
    assert ids(status="traveler") == {left}
    assert ids(present="true") == {phnom_penh, siem_reap}
    assert ids(q="지민") == {phnom_penh}
    assert ids(q="+855 12 700 002") == {siem_reap}


def test_lists_are_paginated(api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    for _ in range(55):
        make_person()
    officer = api_as("officer")
    first = officer.get("/people").get_json()
    assert (first["page"], first["pages"], first["total"], len(first["items"])) == (1, 2, 55, 50)
    second = officer.get("/people?page=2").get_json()
    assert len(second["items"]) == 5
    assert not {p["id"] for p in first["items"]} & {p["id"] for p in second["items"]}
    assert officer.get("/people?page=9").get_json()["items"] == []


def test_admin_has_the_same_rights(api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    pid = make_person()
    assert api_as("admin").get(f"/people/{pid}").status_code == 200


def test_reps_never_see_the_registry(api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    pid = make_person()
    rep = api_as("community_rep")
    for method, path in (
        ("GET", "/people"),
        ("GET", f"/people/{pid}"),
        ("PATCH", f"/people/{pid}"),
        ("DELETE", f"/people/{pid}"),
    ):
        assert_problem(rep.call(method, path, json={"language": "en"}), 403)
    assert_problem(rep.post("/people", json=NEW_PERSON), 403)


def test_merge_a_duplicate(app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    keep = make_person(email=None)
    drop = make_person(email="dup@example.com")
    officer = api_as("officer")
    merged = officer.post(f"/people/{keep}/merge", json={"drop_id": drop})
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["email"] == "dup@example.com"
    assert len(merged.get_json()["phones"]) == 2
    assert_problem(officer.get(f"/people/{drop}"), 404)
    assert_problem(officer.post(f"/people/{keep}/merge", json={"drop_id": drop}), 422)
    assert_problem(officer.post(f"/people/{keep}/merge", json={"drop_id": keep}), 409)
