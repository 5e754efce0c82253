"""``/api/v1/checkins`` and ``/api/v1/cases``: ask, read counts and answers, follow the calls for help."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import AnswerVia, CheckInRecipient, utcnow
from tests.api.conftest import Api, assert_problem
from tests.conftest import run_jobs


def _checkin_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Are you safe after the flood?",
        "question": {"ko": "안전하신가요?", "en": "Are you safe?"},
        "channels": ["sms"],
        "audience": {"provinces": ["KH-12", "KH-17"]},
        "deadline": (utcnow() + timedelta(hours=12)).isoformat(),
        "reminder_hours": [2, 6],
        "escalation": [{"after_hours": 8, "action": "email"}],
    }
    return body | overrides


def _answer(app: Flask, person_id: int, answer: str, text: str | None = None) -> None:
    from outreach.checkins.operations import record_answer

    with app.app_context():
        recipient = db.session.scalars(
            sa.select(CheckInRecipient).where(CheckInRecipient.person_id == person_id)
        ).one()
        record_answer(recipient, answer, AnswerVia.LINK, text)
        db.session.commit()


def test_checkin_counts_answers_and_the_case_it_opens(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    safe = make_person(province_code="KH-12")
    help_ = make_person(province_code="KH-17")
    silent = make_person(province_code="KH-17")
    officer = api_as("officer")

    created = officer.post("/checkins", json=_checkin_body())
    assert created.status_code == 201, created.get_json()
    checkin = created.get_json()
    assert checkin["status"] == "draft" and checkin["reminder_hours"] == [2, 6]
    assert checkin["deadline"].endswith("+00:00")
    cid, aid = checkin["id"], checkin["alert_id"]

    assert officer.post(f"/alerts/{aid}/submit").get_json()["status"] == "approved"
    assert officer.post(f"/alerts/{aid}/send").status_code == 200
    run_jobs(app)
    _answer(app, safe, "safe")
    _answer(app, help_, "need_help", "water in the house")

    counts = officer.get(f"/checkins/{cid}").get_json()
    assert counts["totals"] == {"safe": 1, "need_help": 1, "no_response": 1, "total": 3}
    by_code = {p["code"]: p for p in counts["provinces"]}
    assert (by_code["KH-17"]["need_help"], by_code["KH-17"]["no_response"]) == (1, 1)
    assert by_code["KH-12"]["safe"] == 1

    need_help = officer.get(f"/checkins/{cid}/responses?answer=need_help").get_json()
    assert [(r["person_id"], r["note"], r["answered_via"]) for r in need_help["items"]] == [
        (help_, "water in the house", "link")
    ]
    everyone = officer.get(f"/checkins/{cid}/responses").get_json()
    assert {r["person_id"] for r in everyone["items"]} == {safe, help_, silent}
    assert officer.get(f"/checkins/{cid}/responses?province=KH-12").get_json()["total"] == 1

    # The call for help opened a case, which the API follows to the end.
    cases = officer.get("/cases?status=open").get_json()
    assert cases["total"] == 1
    case = cases["items"][0]
    assert case["person"]["id"] == help_ and case["checkin_id"] == cid
    case_id = case["id"]

    acknowledged = officer.patch(f"/cases/{case_id}", json={"status": "acknowledged"}).get_json()
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["assigned_to_id"] == officer.user.id  # type: ignore[attr-defined]
    noted = officer.patch(
        f"/cases/{case_id}", json={"note": "Called; family is on the roof, police informed."}
    )
    assert noted.get_json()["events"][-1]["kind"] == "note"
    assert_problem(officer.patch(f"/cases/{case_id}", json={"status": "acknowledged"}), 409)
    resolved = officer.patch(f"/cases/{case_id}", json={"status": "resolved", "note": "Rescued"}).get_json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert officer.get(f"/cases/{case_id}").get_json()["events"][-1]["body"] == "Rescued"
    assert officer.get("/cases?status=open").get_json()["total"] == 0


def test_checkin_validation(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    past = _checkin_body(deadline=(utcnow() - timedelta(hours=1)).isoformat())
    assert assert_problem(officer.post("/checkins", json=past), 422)["errors"][0]["field"] == "deadline"
    naive = _checkin_body(deadline="2030-01-01T00:00:00")
    assert assert_problem(officer.post("/checkins", json=naive), 422)["errors"][0]["field"] == "deadline"
    disorder = _checkin_body(
        escalation=[{"after_hours": 9, "action": "email"}, {"after_hours": 3, "action": "community_rep"}]
    )
    assert assert_problem(officer.post("/checkins", json=disorder), 422)["errors"][0]["field"] == "escalation"
    no_korean = _checkin_body(question={"ko": " "})
    assert (
        assert_problem(officer.post("/checkins", json=no_korean), 422)["errors"][0]["field"] == "question.ko"
    )


def test_case_updates_validate(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    from outreach.cases.operations import open_or_reopen_case
    from outreach.models import Person

    pid = make_person()
    with app.app_context():
        case_id = open_or_reopen_case(db.session.get(Person, pid), "sos_keyword", note="help").case.id
        db.session.commit()
    officer, rep = api_as("officer"), api_as("community_rep")
    assert_problem(officer.patch(f"/cases/{case_id}", json={}), 422)
    assert_problem(officer.patch(f"/cases/{case_id}", json={"status": "closed"}), 422)
    assert_problem(officer.patch(f"/cases/{case_id}", json={"assigned_to_id": rep.user.id}), 422)  # type: ignore[attr-defined]
    assigned = officer.patch(f"/cases/{case_id}", json={"assigned_to_id": officer.user.id}).get_json()  # type: ignore[attr-defined]
    assert assigned["assigned_to_id"] == officer.user.id  # type: ignore[attr-defined]
    assert officer.get(f"/cases?assigned_to_id={officer.user.id}").get_json()["total"] == 1  # type: ignore[attr-defined]
    assert_problem(rep.get("/cases"), 403)
    assert_problem(rep.get(f"/cases/{case_id}"), 403)
    assert_problem(rep.patch(f"/cases/{case_id}", json={"note": "x"}), 403)
    assert_problem(rep.post("/checkins", json=_checkin_body()), 403)


def test_staff_answer_close_and_list(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    asked = make_person(province_code="KH-12")
    stranger = make_person(province_code="KH-1")
    officer = api_as("officer")
    checkin = officer.post("/checkins", json=_checkin_body(audience={"provinces": ["KH-12"]})).get_json()
    officer.post(f"/alerts/{checkin['alert_id']}/submit")
    officer.post(f"/alerts/{checkin['alert_id']}/send")
    run_jobs(app)
    cid = checkin["id"]

    recorded = officer.post(
        f"/checkins/{cid}/responses", json={"person_id": asked, "answer": "need_help", "note": "by phone"}
    )
    assert recorded.status_code == 201, recorded.get_json()
    assert (recorded.get_json()["answer"], recorded.get_json()["answered_via"]) == ("need_help", "staff")
    assert officer.get("/cases").get_json()["items"][0]["person"]["id"] == asked
    assert_problem(
        officer.post(f"/checkins/{cid}/responses", json={"person_id": stranger, "answer": "safe"}), 404
    )
    assert_problem(
        officer.post(f"/checkins/{cid}/responses", json={"person_id": asked, "answer": "no_response"}), 422
    )

    listed = officer.get("/checkins").get_json()
    assert [c["id"] for c in listed["items"]] == [cid]
    closed = officer.post(f"/checkins/{cid}/close").get_json()
    assert closed["closed_at"]
    assert_problem(officer.post(f"/checkins/{cid}/close"), 409)


def test_open_a_case_through_the_api(api_as: Callable[..., Api], make_person: Callable[..., int]) -> None:
    pid = make_person()
    officer = api_as("officer")
    opened = officer.post("/cases", json={"person_id": pid, "note": "Family called the hotline"})
    assert opened.status_code == 201, opened.get_json()
    case = opened.get_json()
    assert case["status"] == "open" and case["opened_via"] == "api" and case["person"]["id"] == pid
    again = officer.post("/cases", json={"person_id": pid, "note": "Called again"}).get_json()
    assert again["id"] == case["id"]  # the open case gets the new call, no second case
    assert_problem(officer.post("/cases", json={"person_id": 999}), 422)
    assert_problem(api_as("community_rep").post("/cases", json={"person_id": pid}), 403)
