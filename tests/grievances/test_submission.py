"""Submitting a grievance: the form in Korean and English, validation, the reference code, what is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.grievances import operations
from outreach.grievances.errors import NotAllowed, ValidationError
from outreach.models import Grievance, GrievanceEntry, SourceKind, User
from tests.grievances.conftest import audit_actions, client_for, load, messages_to, valid_data


def test_form_is_in_korean_and_english(app: Flask, ko_rep: User) -> None:
    korean = client_for(app, ko_rep).get("/rep/grievances/new")  # the rep's language is Korean
    assert korean.status_code == 200
    html = korean.get_data(as_text=True)
    assert '<html lang="ko">' in html
    assert "고충 제출" in html  # "Submit a grievance"
    assert "경찰" in html  # the police-sharing question
    english = client_for(app, ko_rep).get("/rep/grievances/new?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "May the embassy share this grievance with the Cambodian police?" in english
    # The rep's own province is preselected.
    assert re.search(r'<option selected value="KH-12">|<option value="KH-12" selected>', english)


def test_rep_submits_and_sees_the_reference(app: Flask, rep: User) -> None:
    client = client_for(app, rep)
    resp = client.post("/rep/grievances/new", data=valid_data())
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        grievance = db.session.scalars(sa.select(Grievance)).one()
        year = grievance.created_at.year
        assert grievance.reference == f"G-{year}-{grievance.id:06d}"
        assert re.fullmatch(r"G-\d{4}-\d{6}", grievance.reference)
        assert grievance.organisation_id == db.session.get(User, rep.id).organisation_id  # type: ignore[union-attr]
        assert grievance.submitted_by_id == rep.id
        assert grievance.category.value == "scam_recruitment"
        assert grievance.province_code == "KH-18"
        assert grievance.people_affected == 12
        assert grievance.urgency.value == "high"
        assert grievance.police_sharing_consent is True
        assert grievance.contact_consent is False and grievance.contact_info is None
        assert grievance.status.value == "received"
        reference = grievance.reference
    assert f"Your grievance was submitted. Its reference is {reference}." in page
    assert reference in page
    assert audit_actions(app, grievance.id) == ["grievance.submit"]
    # The confirmation e-mail is queued for the rep, in their language, with the reference.
    (mail,) = messages_to(app, rep)
    assert mail.channel == "email" and mail.to_address == rep.email
    assert mail.source_kind == SourceKind.GRIEVANCE
    assert mail.subject == f"[{reference}] Your grievance was received"
    assert reference in (mail.body or "")


def test_police_sharing_must_be_answered_explicitly(app: Flask, rep: User) -> None:
    client = client_for(app, rep)
    data = valid_data()
    del data["police_sharing_consent"]
    resp = client.post("/rep/grievances/new", data=data)
    assert resp.status_code == 422
    assert "Answer whether this grievance may be shared with the police." in resp.get_data(as_text=True)
    resp = client.post("/rep/grievances/new", data=valid_data(police_sharing_consent="no"))
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.scalars(sa.select(Grievance.police_sharing_consent)).one() is False


def test_contact_details_only_with_consent(app: Flask, rep: User) -> None:
    client = client_for(app, rep)
    resp = client.post("/rep/grievances/new", data=valid_data(contact_info="+855 12 345 678"))
    assert resp.status_code == 422
    assert (
        "Leave the contact details empty unless the affected people agree to be contacted."
        in resp.get_data(as_text=True)
    )
    resp = client.post(
        "/rep/grievances/new", data=valid_data(contact_info="+855 12 345 678", contact_consent="y")
    )
    assert resp.status_code == 303
    with app.app_context():
        grievance = db.session.scalars(sa.select(Grievance)).one()
        assert grievance.contact_consent is True and grievance.contact_info == "+855 12 345 678"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "x" * 201, "The title is too long (at most 200 characters)."),
        ("description", "y" * 5001, "The description is too long (at most 5000 characters)."),
        ("contact_info", "z" * 501, "The contact details are too long (at most 500 characters)."),
        ("people_affected", "0", "Enter the number of people affected (1 to 100000)."),
        ("title", "   ", "Give the grievance a short title."),
        ("category", "kidnapping", "Not a valid choice."),
    ],
)
def test_limits_get_clear_messages(app: Flask, rep: User, field: str, value: str, message: str) -> None:
    extra = {"contact_consent": "y"} if field == "contact_info" else {}
    resp = client_for(app, rep).post("/rep/grievances/new", data=valid_data(**{field: value}, **extra))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Grievance)) == 0


def test_operation_validates_like_the_form(app: Flask, rep: User) -> None:
    """The API calls the operation directly: it checks every field itself."""
    with app.app_context():
        me = db.session.get(User, rep.id)
        assert me is not None
        with pytest.raises(ValidationError) as caught:
            operations.submit_grievance(
                me,
                {
                    "category": "nope",
                    "province_code": "KH-99",
                    "title": "",
                    "description": "d" * 5001,
                    "people_affected": True,
                    "urgency": "whenever",
                    "contact_info": "call me",
                },
            )
        assert set(caught.value.errors) == {
            "category",
            "province_code",
            "title",
            "description",
            "people_affected",
            "urgency",
            "contact_info",
            "police_sharing_consent",
        }
        db.session.rollback()
        grievance = operations.submit_grievance(
            me, valid_data(police_sharing_consent=False, people_affected=3)
        )
        assert grievance.police_sharing_consent is False and grievance.people_affected == 3
        entries = list(db.session.scalars(sa.select(GrievanceEntry)))
        assert [(e.kind, e.from_status, e.to_status, e.internal) for e in entries] == [
            ("status", None, "received", False)
        ]


def test_only_reps_with_an_organisation_submit(
    app: Flask, officer: User, make_user: Callable[..., Any]
) -> None:
    with app.app_context():
        staff = db.session.get(User, officer.id)
        assert staff is not None
        with pytest.raises(NotAllowed):
            operations.submit_grievance(staff, valid_data())


def test_references_are_unique_and_sequential(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    ids = [submit(rep) for _ in range(3)]
    refs = [load(app, i).reference for i in ids]
    assert len(set(refs)) == 3
    assert [int(r.rsplit("-", 1)[1]) for r in refs if r] == ids
