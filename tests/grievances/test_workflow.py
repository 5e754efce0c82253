"""The lifecycle: the allowed-transition table, the officer's actions, the timeline and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.grievances import operations
from outreach.grievances.errors import NotAllowed, TransitionError, ValidationError
from outreach.grievances.workflow import ALLOWED_TRANSITIONS, allowed_next, transition
from outreach.i18n import for_person_language
from outreach.models import AuditEvent, Grievance, GrievanceEntry, GrievanceStatus, User
from tests.grievances.conftest import audit_actions, client_for, load, messages_to

S = GrievanceStatus
EXPECTED = {
    (S.RECEIVED, S.IN_REVIEW),
    (S.IN_REVIEW, S.REFERRED),
    (S.IN_REVIEW, S.RESOLVED),
    (S.REFERRED, S.RESOLVED),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.IN_REVIEW),  # re-open
    (S.CLOSED, S.IN_REVIEW),  # re-open
}


def test_the_table_is_the_documented_lifecycle() -> None:
    assert {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets} == EXPECTED
    assert allowed_next("resolved") == [S.IN_REVIEW, S.CLOSED]


def test_every_pair_is_allowed_or_refused_by_the_table(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    with app.app_context():
        staff = db.session.get(User, officer.id)
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        for start, target in product(S, S):
            grievance.status = start
            db.session.flush()
            if (start, target) in EXPECTED:
                entry = transition(grievance, target, staff)
                assert grievance.status == target
                assert (entry.from_status, entry.to_status) == (start.value, target.value)
            else:
                with pytest.raises(TransitionError):
                    transition(grievance, target, staff)
                assert grievance.status == start
        with pytest.raises(TransitionError):
            transition(grievance, "archived", staff)
        db.session.rollback()


def test_only_staff_move_a_grievance(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    gid = submit(rep)
    with app.app_context():
        me = db.session.get(User, rep.id)
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        with pytest.raises(NotAllowed):
            transition(grievance, S.IN_REVIEW, me)
        with pytest.raises(NotAllowed):
            operations.add_reply(grievance, me, "hi")
        with pytest.raises(NotAllowed):
            operations.add_note(grievance, me, "hi")
        with pytest.raises(NotAllowed):
            operations.assign(grievance, None, me)


def test_a_stale_copy_cannot_move_the_grievance(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    """Two officers act at once: the second, working from what it read before, is refused."""
    gid = submit(rep)
    with app.app_context():
        staff = db.session.get(User, officer.id)
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        # Another transaction moves it on.
        with db.engine.begin() as conn:
            conn.execute(sa.update(Grievance).where(Grievance.id == gid).values(status=S.IN_REVIEW.value))
        assert grievance.status == S.RECEIVED  # this session still believes "received"
        with (
            for_person_language("en"),
            pytest.raises(TransitionError, match="Someone else changed this grievance"),
        ):
            transition(grievance, S.IN_REVIEW, staff)
        db.session.rollback()
    assert load(app, gid).status == S.IN_REVIEW


def test_full_workflow_through_the_staff_pages(
    app: Flask, rep: User, officer: User, admin: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    client = client_for(app, officer)
    base = f"/staff/grievances/{gid}"
    page = client.get(base)
    assert page.status_code == 200 and "Move to “In review”" in page.get_data(as_text=True)

    assert client.post(f"{base}/assign", data={"assignee_id": str(officer.id)}).status_code == 303
    assert (
        client.post(f"{base}/note", data={"body": "Called the labour ministry contact."}).status_code == 303
    )
    steps = [
        ("in_review", ""),
        ("referred", "Passed to the anti-trafficking police."),
        ("resolved", "The twelve workers are free."),
        ("closed", ""),
        ("in_review", "Re-opened: two workers still lack passports."),
    ]
    for to_status, message in steps:
        resp = client.post(f"{base}/status", data={"to_status": to_status, "message": message})
        assert resp.status_code == 303, to_status
    assert client.post(f"{base}/reply", data={"body": "We are working with the police."}).status_code == 303

    # A move the table does not allow is refused with a clear message, and nothing changes.
    resp = client.post(f"{base}/status", data={"to_status": "closed"})
    assert resp.status_code == 409
    assert "A grievance cannot go from “In review” to “Closed”." in resp.get_data(as_text=True)

    grievance = load(app, gid)
    assert grievance.status == S.IN_REVIEW
    assert grievance.assignee_id == officer.id
    assert grievance.first_response_at is not None
    assert grievance.resolved_at is None and grievance.closed_at is None  # cleared by the re-open
    with app.app_context():
        entries = list(
            db.session.scalars(
                sa.select(GrievanceEntry)
                .where(GrievanceEntry.grievance_id == gid)
                .order_by(GrievanceEntry.id)
            )
        )
        assert [(e.kind, e.to_status, e.internal) for e in entries] == [
            ("status", "received", False),
            ("assign", None, True),
            ("note", None, True),
            ("status", "in_review", False),
            ("status", "referred", False),
            ("status", "resolved", False),
            ("status", "closed", False),
            ("status", "in_review", False),
            ("reply", None, False),
        ]
        assert entries[4].body == "Passed to the anti-trafficking police."
        assert {e.author_id for e in entries[1:]} == {officer.id}
    assert audit_actions(app, gid) == [
        "grievance.submit",
        "grievance.assign",
        "grievance.note",
        "grievance.status",
        "grievance.status",
        "grievance.status",
        "grievance.status",
        "grievance.reopen",
        "grievance.reply",
    ]
    # The representative is e-mailed for the submission, each of the five status changes and the reply;
    # never for the note or the assignment.
    mails = messages_to(app, rep)
    assert len(mails) == 7
    assert all("Called the labour ministry" not in (m.body or "") for m in mails)

    # The rep sees the public history and the reply, not the internal note or the assignment.
    rep_page = client_for(app, rep).get(f"/rep/grievances/{gid}").get_data(as_text=True)
    assert "We are working with the police." in rep_page
    assert "Passed to the anti-trafficking police." in rep_page
    assert "Status changed: Resolved → Closed" in rep_page
    assert "Called the labour ministry contact." not in rep_page
    assert "Officer Park" not in rep_page and "Internal note" not in rep_page
    # Staff see everything, the note marked internal.
    staff_page = client.get(base).get_data(as_text=True)
    assert "Called the labour ministry contact." in staff_page and "Internal note" in staff_page


def test_reply_and_note_need_text_within_limits(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    client = client_for(app, officer)
    resp = client.post(f"/staff/grievances/{gid}/reply", data={"body": "   "})
    assert resp.status_code == 422 and "Write the reply first." in resp.get_data(as_text=True)
    resp = client.post(f"/staff/grievances/{gid}/note", data={"body": "n" * 5001})
    assert resp.status_code == 422
    assert "The text is too long (at most 5000 characters)." in resp.get_data(as_text=True)
    resp = client.post(
        f"/staff/grievances/{gid}/status", data={"to_status": "in_review", "message": "m" * 5001}
    )
    assert resp.status_code == 422
    assert load(app, gid).status == S.RECEIVED
    with app.app_context():
        staff = db.session.get(User, officer.id)
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        with pytest.raises(ValidationError):
            operations.add_reply(grievance, staff, "")


def test_assignment_only_to_active_staff(
    app: Flask, rep: User, officer: User, submit: Callable[..., int], make_user: Callable[..., User]
) -> None:
    gid = submit(rep)
    client = client_for(app, officer)
    resp = client.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": str(rep.id)})
    assert resp.status_code == 303
    assert load(app, gid).assignee_id is None
    follow = client.get(f"/staff/grievances/{gid}").get_data(as_text=True)
    assert "A grievance can only be assigned to an active officer or admin." in follow
    assert client.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": "abc"}).status_code == 400
    assert client.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": "99999"}).status_code == 400
    other = make_user("officer")
    client.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": str(other.id)})
    assert load(app, gid).assignee_id == other.id
    client.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": ""})
    assert load(app, gid).assignee_id is None
    assert audit_actions(app, gid).count("grievance.assign") == 2


def test_unknown_grievance_is_404_for_staff(app: Flask, officer: User) -> None:
    client = client_for(app, officer)
    assert client.get("/staff/grievances/4242").status_code == 404
    assert client.post("/staff/grievances/4242/reply", data={"body": "x"}).status_code == 404


def test_every_change_leaves_an_audit_event_with_its_actor(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    client = client_for(app, officer)
    client.post(f"/staff/grievances/{gid}/status", data={"to_status": "in_review"})
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "grievance.status", AuditEvent.target_id == gid)
        ).one()
        assert event.actor_id == officer.id
        assert event.details == {"from_status": "received", "to_status": "in_review"}
