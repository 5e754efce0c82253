"""API: tips (take, list, read, linked duplicates, a warning drafted once) and family enquiries."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.api.conftest import Api, assert_problem


def test_tips_through_the_api(app: Flask, api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    first = officer.post(
        "/tips", json={"advert_text": "Telegram @Fast_Job 월 500", "company": "Golden Dragon"}
    )
    assert first.status_code == 201, first.get_json()
    second = officer.post("/tips", json={"handles": ["t.me/fast_job"], "phones": ["012 987 654"]})
    body = second.get_json()
    assert body["handles"] == ["fast_job"] and body["phones"] == ["+85512987654"]
    assert body["duplicate_of_id"] == first.get_json()["id"]
    assert officer.get(f"/tips/{first.get_json()['id']}").get_json()["related_tip_ids"] == [body["id"]]
    assert officer.get("/tips").get_json()["total"] == 2
    assert officer.get("/tips?status=new").get_json()["total"] == 2
    assert_problem(officer.post("/tips", json={}), 422)
    assert_problem(officer.get("/tips/999999"), 404)

    warning = officer.post(
        f"/tips/{body['id']}/warning", json={"arrived_within_days": 14, "provinces": ["KH-18"]}
    )
    assert warning.status_code == 201, warning.get_json()
    alert = officer.get(f"/alerts/{warning.get_json()['alert_id']}").get_json()
    assert alert["status"] == "draft"
    assert_problem(officer.post(f"/tips/{body['id']}/warning", json={}), 409)
    assert (
        officer.post(f"/tips/{first.get_json()['id']}/warning", json={"arrived_within_days": 0}).status_code
        == 422
    )


def test_enquiries_through_the_api(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    son = make_person("+85512345670", name_ko="김민수")
    officer = api_as("officer")
    created = officer.post(
        "/enquiries",
        json={
            "enquirer_name": "김영희",
            "enquirer_relation": "parent",
            "enquirer_phone": "+821023456789",
            "subject_name": "김민수",
            "subject_phone": "012 345 670",
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "asked" and body["person_id"] == son and body["family_may_know"] == "passed_on"
    assert "/report/enquiry/status/" in body["status_url"]
    assert officer.get(f"/enquiries/{body['id']}").get_json()["reference"] == body["reference"]
    assert officer.get("/enquiries?status=asked").get_json()["total"] == 1
    no_contact = officer.post(
        "/enquiries", json={"enquirer_name": "a", "enquirer_relation": "b", "subject_name": "c"}
    )
    assert_problem(no_contact, 422)
    assert_problem(officer.get("/enquiries/999999"), 404)
