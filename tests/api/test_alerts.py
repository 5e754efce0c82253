"""``/api/v1/alerts``: draft → submit → approve (second officer) → send → counts; cancel; CAP."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from lxml import etree

from tests.api.conftest import Api, assert_problem
from tests.conftest import run_jobs

DRAFT = {
    "title": "Flooding in Phnom Penh",
    "severity": "Severe",
    "content": {
        "ko": {"body": "프놈펜에 홍수가 났습니다. 저지대를 피하세요.", "subject": "홍수 경보"},
        "en": {"body": "Flooding in Phnom Penh. Avoid low-lying areas."},
    },
    "channels": ["sms"],
    "audience": {"provinces": ["KH-12"], "present_only": True},
}


def test_create_approve_send_and_watch_counts(
    app: Flask, api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    for _ in range(3):
        make_person(province_code="KH-12")
    make_person(province_code="KH-17")  # outside the audience
    author, approver = api_as("officer"), api_as("officer")

    created = author.post("/alerts", json=DRAFT)
    assert created.status_code == 201, created.get_json()
    alert = created.get_json()
    assert alert["status"] == "draft"
    assert {c["language"] for c in alert["content"]} == {"ko", "en"}
    assert alert["audience"] == {
        "provinces": ["KH-12"],
        "statuses": [],
        "languages": [],
        "present_only": True,
    }
    aid = alert["id"]

    # Sending a draft, or approving one, is a conflict with the lifecycle.
    assert "approved" in assert_problem(author.post(f"/alerts/{aid}/send"), 409)["detail"]
    assert_problem(approver.post(f"/alerts/{aid}/approve"), 409)

    submitted = author.post(f"/alerts/{aid}/submit").get_json()
    assert submitted["status"] == "pending_approval"  # Severe: a second officer must approve
    assert submitted["recipient_count"] == 3 and submitted["approval_required"] is True
    assert_problem(author.post(f"/alerts/{aid}/approve"), 409)  # never the author
    assert_problem(author.post(f"/alerts/{aid}/send"), 409)

    approved = approver.post(f"/alerts/{aid}/approve").get_json()
    assert approved["status"] == "approved" and approved["approved_by_id"] == approver.user.id  # type: ignore[attr-defined]

    sent = author.post(f"/alerts/{aid}/send").get_json()
    assert sent["status"] == "dispatching"
    run_jobs(app)

    final = author.get(f"/alerts/{aid}").get_json()
    assert final["status"] == "completed"
    progress = final["progress"]
    assert progress["total"] == 3
    assert progress["counts"]["sent"] + progress["counts"]["delivered"] == 3
    assert set(progress["counts"]) == {
        "pending",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "skipped",
    }

    messages = author.get(f"/alerts/{aid}/messages").get_json()
    assert messages["total"] == 3 and {m["channel"] for m in messages["items"]} == {"sms"}
    assert author.get(f"/alerts/{aid}/messages?status=failed").get_json()["total"] == 0
    assert_problem(author.get(f"/alerts/{aid}/messages?status=lost"), 422)

    assert_problem(author.post(f"/alerts/{aid}/cancel"), 409)  # completed: too late


def test_a_small_moderate_alert_needs_no_second_officer(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    make_person()
    officer = api_as("officer")
    aid = officer.post("/alerts", json={**DRAFT, "severity": "Moderate"}).get_json()["id"]
    assert officer.post(f"/alerts/{aid}/submit").get_json()["status"] == "approved"
    assert_problem(officer.post(f"/alerts/{aid}/submit"), 409)


def test_cancel_a_draft(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    aid = officer.post("/alerts", json=DRAFT).get_json()["id"]
    cancelled = officer.post(f"/alerts/{aid}/cancel").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert_problem(officer.post(f"/alerts/{aid}/cancel"), 409)
    assert officer.get("/alerts?status=cancelled").get_json()["total"] == 1
    assert officer.get("/alerts?status=draft").get_json()["total"] == 0


def test_compose_rules_answer_422(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    no_korean = {**DRAFT, "content": {"ko": {"body": "   "}}}
    body = assert_problem(officer.post("/alerts", json=no_korean), 422)
    assert body["errors"][0]["field"] == "content.ko.body"
    unknown_province = {**DRAFT, "audience": {"provinces": ["KH-99"]}}
    body = assert_problem(officer.post("/alerts", json=unknown_province), 422)
    assert body["errors"][0]["field"] == "audience"
    too_long = {**DRAFT, "content": {"ko": {"body": "가" * 2000}}}
    assert (
        assert_problem(officer.post("/alerts", json=too_long), 422)["errors"][0]["field"] == "content.ko.body"
    )
    no_offset = {**DRAFT, "expires_at": "2030-01-01T00:00:00"}
    assert assert_problem(officer.post("/alerts", json=no_offset), 422)["errors"][0]["field"] == "expires_at"


def test_cap_export_is_cap_1_2(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    aid = officer.post("/alerts", json={**DRAFT, "expires_at": "2030-01-01T09:00:00+07:00"}).get_json()["id"]
    response = officer.get(f"/alerts/{aid}/cap")
    assert response.status_code == 200
    assert response.mimetype == "application/cap+xml"
    root = etree.fromstring(response.data)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    assert root.findtext("cap:status", namespaces=ns) == "Draft"
    assert [i.findtext("cap:language", namespaces=ns) for i in root.findall("cap:info", ns)] == [
        "en-US",
        "ko-KR",
    ]
    assert root.findtext("cap:info/cap:severity", namespaces=ns) == "Severe"
    assert root.findtext("cap:info/cap:expires", namespaces=ns) == "2030-01-01T02:00:00+00:00"


def test_reps_cannot_touch_alerts(api_as: Callable[..., Api]) -> None:
    officer, rep = api_as("officer"), api_as("community_rep")
    aid = officer.post("/alerts", json=DRAFT).get_json()["id"]
    for path in ("", "/messages", "/cap"):
        assert_problem(rep.get(f"/alerts/{aid}{path}"), 403)
    for step in ("submit", "approve", "send", "cancel"):
        assert_problem(rep.post(f"/alerts/{aid}/{step}"), 403)
    assert_problem(rep.post("/alerts", json=DRAFT), 403)


def test_edit_a_draft_and_return_one_for_changes(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    make_person()
    author, approver = api_as("officer"), api_as("officer")
    aid = author.post("/alerts", json=DRAFT).get_json()["id"]
    edited = author.patch(f"/alerts/{aid}", json={"title": "Flooding: update", "channels": ["sms", "email"]})
    assert edited.status_code == 200, edited.get_json()
    body = edited.get_json()
    assert body["title"] == "Flooding: update" and body["channels"] == ["email", "sms"]
    assert body["severity"] == "Severe" and len(body["content"]) == 2  # untouched fields stay
    assert (
        assert_problem(author.patch(f"/alerts/{aid}", json={"severity": None}), 422)["errors"][0]["field"]
        == "severity"
    )

    author.post(f"/alerts/{aid}/submit")
    assert_problem(author.patch(f"/alerts/{aid}", json={"title": "Too late"}), 409)
    assert_problem(approver.post(f"/alerts/{aid}/return", json={}), 422)
    returned = approver.post(f"/alerts/{aid}/return", json={"reason": "Add the Khmer text."}).get_json()
    assert returned["status"] == "draft"
    fixed = author.patch(
        f"/alerts/{aid}", json={"content": {"ko": {"body": "홍수"}, "km": {"body": "ទឹកជំនន់"}}}
    )
    assert {c["language"] for c in fixed.get_json()["content"]} == {"ko", "km"}
    assert_problem(approver.post(f"/alerts/{aid}/return", json={"reason": "again"}), 409)
