"""Cases: opened or re-opened by a call for help, the guarded workflow, the officer's page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.cases.jobs import renotify_unacknowledged_cases
from outreach.cases.operations import CaseError, open_or_reopen_case, transition
from outreach.checkins.operations import record_answer
from outreach.extensions import db
from outreach.models import (
    Answer,
    AnswerVia,
    AuditEvent,
    Case,
    CaseEvent,
    CaseStatus,
    Person,
    User,
    utcnow,
)
from tests.checkins.conftest import case_notifications, recipient, sms
from tests.conftest import login


def _person(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    assert person is not None
    return person


def _case() -> Case:
    case = db.session.scalar(sa.select(Case).order_by(Case.id.desc()))
    assert case is not None
    return case


def _kinds(case_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    )


def test_open_repeat_and_reopen(app: Flask, make_person: Callable[..., int], officer: User) -> None:
    person_id = make_person()
    with app.app_context():
        first = open_or_reopen_case(_person(person_id), "sos_keyword", note="flood")
        db.session.commit()
        assert (first.outcome, first.notified) == ("opened", True)
        assert len(case_notifications()) == 2

        # Pressing again a minute later adds to the timeline without paging everyone again.
        again = open_or_reopen_case(_person(person_id), "checkin_link")
        db.session.commit()
        assert (again.outcome, again.notified, again.case.id) == ("help_again", False, first.case.id)
        assert len(case_notifications()) == 2

        # Later, a repeated call pages again.
        first.case.last_notified_at = utcnow() - timedelta(minutes=11)
        db.session.commit()
        later = open_or_reopen_case(_person(person_id), "sos_keyword")
        db.session.commit()
        assert (later.outcome, later.notified) == ("help_again", True)
        assert len(case_notifications()) == 4

        actor = db.session.get(User, officer.id)
        assert actor is not None
        transition(later.case, CaseStatus.RESOLVED, actor=actor)
        db.session.commit()
        reopened = open_or_reopen_case(_person(person_id), "checkin_sms", note="again")
        db.session.commit()
        assert (reopened.outcome, reopened.case.id, reopened.case.status) == (
            "reopened",
            first.case.id,
            CaseStatus.OPEN,
        )
        assert reopened.case.resolved_at is None
        assert len(case_notifications()) == 6
        assert _kinds(first.case.id) == [
            "opened", "notified", "help_again", "help_again", "notified", "resolved", "reopened", "notified",
        ]  # fmt: skip
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_transitions_are_guarded(app: Flask, make_person: Callable[..., int], officer: User) -> None:
    person_id = make_person()
    with app.app_context():
        actor = db.session.get(User, officer.id)
        assert actor is not None
        case = open_or_reopen_case(_person(person_id), "staff", actor=actor).case
        db.session.commit()
        transition(case, CaseStatus.ACKNOWLEDGED, actor=actor)
        db.session.commit()
        assert case.assigned_to_id == actor.id and case.acknowledged_at is not None
        with pytest.raises(CaseError):
            transition(case, CaseStatus.OPEN, actor=actor)  # acknowledged → open is not a move
        with pytest.raises(CaseError):
            transition(case, CaseStatus.ACKNOWLEDGED, actor=actor)
        # Another officer resolves it meanwhile; this officer's request still holds the old status.
        stale = db.session.get(Case, case.id)
        assert stale is not None and stale.status == CaseStatus.ACKNOWLEDGED
        db.session.close()  # keeps the loaded (now stale) attributes
        with db.engine.begin() as other:
            other.execute(sa.update(Case).where(Case.id == case.id).values(status=CaseStatus.RESOLVED.value))
        db.session.add(stale)
        case = stale
        with pytest.raises(CaseError, match="그사이"):  # "changed meanwhile", in Korean (the default)
            transition(case, CaseStatus.RESOLVED, actor=actor)
        db.session.rollback()
        actions = set(
            db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target_type == "case"))
        )
        assert {"case.open", "case.acknowledged"} <= actions


def test_nobody_on_duty_pages_every_officer(
    app: Flask, make_person: Callable[..., int], make_user: Callable[..., Any]
) -> None:
    make_user("officer", phone="+85512000011", on_duty=False)
    make_user("admin", phone="+85512000012", on_duty=False)
    make_user("community_rep", phone="+85512000013", province_code="KH-12")
    person_id = make_person()
    with app.app_context():
        open_or_reopen_case(_person(person_id), "sos_keyword")
        db.session.commit()
        phones = {m.to_address for m in case_notifications() if m.channel == "sms"}
        assert phones == {"+85512000011", "+85512000012"}  # never a community representative


def test_unacknowledged_case_pages_again(app: Flask, make_person: Callable[..., int], officer: User) -> None:
    person_id = make_person()
    with app.app_context():
        call = open_or_reopen_case(_person(person_id), "sos_keyword")
        db.session.commit()
        assert renotify_unacknowledged_cases() == 0
        call.case.last_notified_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
        assert renotify_unacknowledged_cases() == 1
        assert renotify_unacknowledged_cases() == 0  # once per period
        assert len(case_notifications()) == 4
        assert "unacknowledged" in _kinds(call.case.id)


def test_officer_page_shows_the_person_and_one_timeline(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
    make_user: Callable[..., Any],
) -> None:
    make_person(
        phone="+85512700001",
        language="ko",
        name_ko="김철수",
        name_latin="KIM CHEOLSU",
        email="kim@example.com",
        district_note="Toul Kork, street 289",
        emergency_name="김영희",
        emergency_relation="어머니",
        emergency_phone="+821012341234",
        emergency_contact_consent=True,
    )
    make_checkin()
    sms(client, "+85512700001", "2 집에 물이 찼어요")
    sms(client, "+85512700001", "아이도 같이 있어요")  # an unclear follow-up: inbox, and on the timeline
    login(client, officer)
    listing = client.get("/staff/cases").get_data(as_text=True)
    assert "김철수" in listing
    with app.app_context():
        case_id = _case().id
    html = client.get(f"/staff/cases/{case_id}").get_data(as_text=True)
    for expected in (
        "김철수", "KIM CHEOLSU", "+85512700001", "kim@example.com", "Toul Kork, street 289",
        "김영희", "+821012341234", "연락 가능",  # emergency contact, consent given
        "집에 물이 찼어요", "아이도 같이 있어요", "응답: 도움 필요", "사건 열림", "당직 영사에게 알림",
    ):  # fmt: skip
        assert expected in html, expected

    second = make_user("officer", name="Park Officer")
    assert client.post(f"/staff/cases/{case_id}/acknowledge").status_code == 302
    assert (
        client.post(f"/staff/cases/{case_id}/note", data={"body": "전화 연결됨, 구조대 출동"}).status_code
        == 302
    )
    assert client.post(f"/staff/cases/{case_id}/assign", data={"assignee": str(second.id)}).status_code == 302
    assert client.post(f"/staff/cases/{case_id}/resolve").status_code == 302
    # A second resolve is refused with a message, not an error page.
    refused = client.post(f"/staff/cases/{case_id}/resolve", follow_redirects=True)
    assert refused.status_code == 200 and "이미" in refused.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        assert case.status == CaseStatus.RESOLVED and case.assigned_to_id == second.id
        assert _kinds(case_id)[-4:] == ["acknowledged", "note", "assigned", "resolved"]
    html = client.get(f"/staff/cases/{case_id}").get_data(as_text=True)
    assert "전화 연결됨, 구조대 출동" in html


def test_staff_open_a_case_for_a_person(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], officer: User
) -> None:
    person_id = make_person()
    login(client, officer)
    response = client.post("/staff/cases/open", data={"person_id": str(person_id), "note": "family called"})
    assert response.status_code == 302
    with app.app_context():
        case = _case()
        assert (case.person_id, case.opened_via) == (person_id, "staff")
    bad = client.post("/staff/cases/open", data={"person_id": "999999"}, follow_redirects=True)
    assert bad.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_reps_cannot_see_cases(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    rep = make_user("community_rep", province_code="KH-12")
    login(client, rep)
    assert client.get("/staff/cases").status_code == 403


def test_answer_safe_after_help_is_on_the_case(
    app: Flask, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person()
    checkin_id = make_checkin()
    with app.app_context():
        record_answer(recipient(checkin_id, person_id), Answer.NEED_HELP, AnswerVia.LINK, "help")
        record_answer(recipient(checkin_id, person_id), Answer.SAFE, AnswerVia.LINK, "rescued")
        db.session.commit()
        case = _case()
        assert case.status == CaseStatus.OPEN  # an officer closes it, having checked
        assert _kinds(case.id)[-1] == "answered_safe"
