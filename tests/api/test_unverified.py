"""Unverified "safe": a "safe" from someone with an open report or case counts apart, on the dashboard
and in the API, until an officer confirms it (web or API, audited, once)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import AuditEvent, CheckInRecipient, ReportKind
from outreach.reports.operations import ReportInput, create_report
from tests.api.conftest import Api, assert_problem
from tests.api.test_checkins_cases import _answer, _checkin_body
from tests.conftest import login, run_jobs


def _family_report_about(app: Flask, phone: str) -> None:
    with app.app_context():
        create_report(
            ReportInput(
                reporter_name="어머니",
                reporter_relation="mother",
                reporter_phone="+821012345678",
                subject_name="김민수",
                subject_phone=phone,
            ),
            kind=ReportKind.FAMILY,
        )
        db.session.commit()


def test_safe_from_a_person_reported_missing_is_unverified_until_confirmed(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    missing = make_person("+85512555001", province_code="KH-12")
    ordinary = make_person("+85512555002", province_code="KH-12")
    helped = make_person("+85512555003", province_code="KH-12")
    _family_report_about(app, "+85512555001")
    officer = api_as("officer")
    checkin = officer.post("/checkins", json=_checkin_body()).get_json()
    cid = checkin["id"]
    officer.post(f"/alerts/{checkin['alert_id']}/submit")
    officer.post(f"/alerts/{checkin['alert_id']}/send")
    run_jobs(app)

    _answer(app, missing, "safe")
    _answer(app, ordinary, "safe")
    _answer(app, helped, "need_help", "trapped")
    _answer(app, helped, "safe", "ok now")  # an open case (their own call for help) counts too

    read = officer.get(f"/checkins/{cid}").get_json()
    assert read["totals"]["safe"] == 3 and read["unverified"] == 2
    listed = officer.get(f"/checkins/{cid}/responses?unverified=true").get_json()
    assert {r["person_id"] for r in listed["items"]} == {missing, helped}
    assert all(r["safe_unverified"] for r in listed["items"])
    everyone = {r["person_id"]: r for r in officer.get(f"/checkins/{cid}/responses").get_json()["items"]}
    assert everyone[ordinary]["safe_unverified"] is False

    # Confirmed in the web dashboard by one officer …
    client = officer.client
    login(client, officer.user)  # type: ignore[attr-defined]
    page = client.get(f"/staff/checkins/{cid}/people?answer=unverified").get_data(as_text=True)
    assert f"/people/{missing}/confirm" in page and f"/people/{helped}/confirm" in page
    assert f"/people/{ordinary}/" not in page
    posted = client.post(
        f"/staff/checkins/{cid}/people/{missing}/confirm", data={"how": "call", "note": "video"}
    )
    assert posted.status_code == 302
    # … and through the API for the other; a second confirmation is refused.
    confirmed = officer.post(f"/checkins/{cid}/responses/{helped}/confirm", json={"how": "video"})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert (
        confirmed.get_json()["safe_unverified"] is False and confirmed.get_json()["verified_how"] == "video"
    )
    assert_problem(officer.post(f"/checkins/{cid}/responses/{helped}/confirm", json={"how": "call"}), 409)
    assert_problem(officer.post(f"/checkins/{cid}/responses/{ordinary}/confirm", json={"how": "call"}), 409)
    assert (
        officer.post(f"/checkins/{cid}/responses/{helped}/confirm", json={"how": "pigeon"}).status_code == 422
    )

    assert officer.get(f"/checkins/{cid}").get_json()["unverified"] == 0
    with app.app_context():
        rows = db.session.scalars(sa.select(CheckInRecipient).where(CheckInRecipient.checkin_id == cid))
        how = {r.person_id: r.verified_how for r in rows}
        assert how == {missing: "call", helped: "video", ordinary: None}
        audits = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "checkin.confirm_safe"))
        assert len(list(audits)) == 2

    # A new "safe" from someone still reported missing is unverified again.
    _answer(app, missing, "safe", "still fine")
    assert officer.get(f"/checkins/{cid}").get_json()["unverified"] == 1
