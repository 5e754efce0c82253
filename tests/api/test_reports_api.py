"""``/api/v1/reports``: taking a report, the guarded stage moves, and the same need-to-know as the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from outreach.extensions import db
from outreach.models import Case, Report
from tests.api.conftest import Api, assert_problem

REPORT = {
    "reporter_name": "김영희",
    "reporter_relation": "parent",
    "reporter_phone": "+82 10-2345-6789",
    "subject_name": "김민수",
    "subject_phone": "012 345 678",
    "province_code": "KH-18",
    "building": "Golden Fortune compound",
    "messenger_handle": "@fastjob_kh",
    "latitude": 10.6104,
    "longitude": 103.5236,
}


def test_take_a_report_and_move_it_one_step_at_a_time(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    person_id = make_person("+85512345678")
    liaison = api_as("liaison", language="en")
    created = liaison.post("/reports", json=REPORT)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["reporter_phone"] == "+821023456789" and body["stage"] == "reported"
    assert body["person_id"] == person_id and body["person_confirmed"] is False
    assert "/report/status/" in body["status_url"]
    assert body["task_force"]["building"] == "Golden Fortune compound"
    with app.app_context():
        report = db.session.get(Report, body["id"])
        assert report is not None and db.session.get(Case, report.case_id) is not None

    skipped = liaison.patch(f"/reports/{body['id']}", json={"stage": "referred"})
    assert "cannot go from" in assert_problem(skipped, 409)["detail"]
    moved = liaison.patch(f"/reports/{body['id']}", json={"stage": "verifying", "note": "calling the mother"})
    assert moved.status_code == 200 and moved.get_json()["stage"] == "verifying"
    assert liaison.get("/reports?stage=verifying").get_json()["total"] == 1
    linked = liaison.patch(f"/reports/{body['id']}", json={"person_id": person_id})
    assert linked.status_code == 200 and linked.get_json()["person_confirmed"] is True
    with app.app_context():
        assert db.session.get(Case, body["case_id"]).person_id == person_id  # type: ignore[union-attr]

    bad = liaison.post("/reports", json=REPORT | {"reporter_phone": "12345"})
    assert_problem(bad, 422)
    assert_problem(liaison.post("/reports", json=REPORT | {"province_code": "KH-99"}), 422)


def test_representatives_and_officers_without_liaison_cannot_read_task_force_details(
    app: Flask, api_as: Callable[..., Any]
) -> None:
    liaison = api_as("liaison")
    report_id = liaison.post("/reports", json=REPORT).get_json()["id"]
    liaison.patch(f"/reports/{report_id}", json={"stage": "verifying", "note": "compound on the beach road"})

    officer = api_as("officer")
    seen = officer.get(f"/reports/{report_id}")
    assert seen.status_code == 200
    body = seen.get_json()
    assert body["task_force"] is None and body["subject_name"] == "김민수"
    text = seen.get_data(as_text=True)
    for secret in ("Golden Fortune", "@fastjob_kh", "10.6104", "beach road"):
        assert secret not in text
    assert_problem(officer.get(f"/reports/{report_id}/task-force"), 403)
    assert liaison.get(f"/reports/{report_id}/task-force").get_json()["messenger_handle"] == "@fastjob_kh"

    rep = api_as("community_rep")
    for path in ("/reports", f"/reports/{report_id}", f"/reports/{report_id}/task-force"):
        assert_problem(rep.get(path), 403)
    assert_problem(rep.post("/reports", json=REPORT), 403)
