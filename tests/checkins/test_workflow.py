"""Creating a check-in on /staff/checkins/new, the alert approval rule, and the real dispatch:
every SMS and e-mail carries the person's one-tap link, and an answer by that link shows up."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Answer,
    CheckIn,
    CheckInRecipient,
    CheckInStep,
    OutboxEntry,
    User,
)
from tests.checkins.conftest import QUESTIONS
from tests.conftest import login, run_jobs


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Flood in Phnom Penh",
        "severity": "Moderate",
        "question_ko": QUESTIONS["ko"],
        "question_en": QUESTIONS["en"],
        "question_km": "",
        "channels": ["sms", "email"],
        "provinces": ["KH-12"],
        "deadline": "2099-01-01T18:00",
        "grace_hours": "12",
        "reminder_hours": "6, 2",
        "escalate_email_hours": "8",
        "escalate_contact_hours": "",
        "escalate_rep_hours": "12",
    }
    data.update(overrides)
    return data


def test_new_checkin_form_creates_a_draft(app: Flask, client: FlaskClient, officer: User) -> None:
    login(client, officer)
    page = client.get("/staff/checkins/new")
    assert page.status_code == 200 and "안전하신가요" in page.get_data(as_text=True)
    # The deadline must be within 14 days; far future is refused with a clear message.
    refused = client.post("/staff/checkins/new", data=_form())
    assert refused.status_code == 200 and "14" in refused.get_data(as_text=True)

    from datetime import timedelta

    from outreach.checkins.render import CAMBODIA
    from outreach.models import utcnow

    deadline = (utcnow() + timedelta(hours=24)).astimezone(CAMBODIA).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/staff/checkins/new", data=_form(deadline=deadline))
    assert response.status_code == 302
    with app.app_context():
        checkin = db.session.scalar(sa.select(CheckIn))
        assert checkin is not None
        alert = db.session.get(Alert, checkin.alert_id)
        assert alert is not None
        assert alert.kind == AlertKind.CHECKIN and alert.status == AlertStatus.DRAFT
        assert alert.audience["provinces"] == ["KH-12"] and sorted(alert.channels) == ["email", "sms"]
        assert {c.language: c.body for c in alert.contents} == {"ko": QUESTIONS["ko"], "en": QUESTIONS["en"]}
        assert checkin.reminder_hours == [2, 6] and checkin.grace_hours == 12
        assert checkin.escalation == [
            {"after_hours": 8, "action": "email"},
            {"after_hours": 12, "action": "community_rep"},
        ]
        assert abs((checkin.deadline - utcnow()).total_seconds() - 24 * 3600) < 120
        # Nothing is sent before the workflow says so.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckInRecipient)) == 0
    assert response.headers["Location"].endswith(f"/staff/checkins/{checkin.id}")


def test_bad_plan_is_refused_with_a_reason(app: Flask, client: FlaskClient, officer: User) -> None:
    from datetime import timedelta

    from outreach.checkins.render import CAMBODIA
    from outreach.models import utcnow

    login(client, officer)
    deadline = (utcnow() + timedelta(hours=24)).astimezone(CAMBODIA).strftime("%Y-%m-%dT%H:%M")
    page = client.post("/staff/checkins/new", data=_form(deadline=deadline, reminder_hours="two"))
    assert page.status_code == 200 and "2, 6" in page.get_data(as_text=True)
    page = client.post("/staff/checkins/new", data=_form(deadline=deadline, question_ko=""))
    assert page.status_code == 200
    page = client.post("/staff/checkins/new", data=_form(deadline=deadline, channels=[]))
    assert page.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn)) == 0


def test_same_approval_rule_then_dispatch_carries_personal_links(
    app: Flask,
    client: FlaskClient,
    officer: User,
    make_user: Callable[..., Any],
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
) -> None:
    korean = make_person(phone="+85512600001", language="ko", email="k@example.com")
    english = make_person(phone="+85512600002", language="en")
    make_person(phone="+85512600003", province_code="KH-17")  # outside the audience
    checkin_id = make_checkin(
        audience={"provinces": ["KH-12"]}, channels=("sms", "email"), dispatch=False, severity="Severe"
    )
    login(client, officer)
    client.post(f"/staff/checkins/{checkin_id}/submit")
    with app.app_context():
        checkin = db.session.get(CheckIn, checkin_id)
        assert checkin is not None
        assert checkin.alert.status == AlertStatus.PENDING_APPROVAL  # Severe: a second officer approves
    # The author cannot approve their own check-in.
    client.post(f"/staff/checkins/{checkin_id}/approve")
    with app.app_context():
        assert db.session.get(Alert, checkin.alert_id).status == AlertStatus.PENDING_APPROVAL  # type: ignore[union-attr]

    second = make_user("officer", name="Second Officer")
    login(client, second)
    client.post(f"/staff/checkins/{checkin_id}/approve")
    run_jobs(app)

    with app.app_context():
        recipients = {r.person_id: r for r in db.session.scalars(sa.select(CheckInRecipient))}
        assert set(recipients) == {korean, english}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckInStep)) == 2  # reminders 2h, 6h
        sms = {
            e.to_address: e.body
            for e in db.session.scalars(sa.select(OutboxEntry).where(OutboxEntry.channel == "sms"))
        }
        email = {
            e.to_address: e.body
            for e in db.session.scalars(sa.select(OutboxEntry).where(OutboxEntry.channel == "email"))
        }
        assert set(sms) == {"+85512600001", "+85512600002"}
        assert f"/c/{recipients[korean].code}" in sms["+85512600001"] and "1 = 안전" in sms["+85512600001"]
        assert (
            f"/c/{recipients[english].code}" in sms["+85512600002"]
            and "Reply 1 = safe" in sms["+85512600002"]
        )
        assert f"/c/{recipients[korean].code}" in email["k@example.com"]
        link = re.search(r"http://localhost(/c/[A-Z0-9]{8})", sms["+85512600002"])
        assert link is not None

    # The person taps the link from their SMS; the officer's dashboard shows the answer.
    public = app.test_client()
    assert public.post(link.group(1), data={"need_help": "1", "note": "trapped upstairs"}).status_code == 303
    counts = client.get(f"/staff/checkins/{checkin_id}/counts.json").get_json()
    assert counts["totals"] == {"safe": 0, "need_help": 1, "no_response": 1, "total": 2}
    with app.app_context():
        assert recipients[english].code in link.group(1)
        assert (
            db.session.scalar(sa.select(CheckInRecipient.answer).where(CheckInRecipient.person_id == english))
            == Answer.NEED_HELP
        )


def test_checkin_attached_to_an_alert_starts_from_its_audience(
    app: Flask, client: FlaskClient, officer: User
) -> None:
    from outreach.alerts.compose import AlertInput, ContentInput, create_alert

    with app.app_context():
        alert = create_alert(
            AlertInput(
                title="Flooding",
                severity="Severe",
                contents={"ko": ContentInput("홍수 경보")},
                channels=["sms", "whatsapp"],
                audience={"provinces": ["KH-17"], "present_only": True},
            ),
            author=db.session.get(User, officer.id),  # type: ignore[arg-type]
        )
        db.session.commit()
        alert_id = alert.id
    login(client, officer)
    html = client.get(f"/staff/checkins/new?alert={alert_id}").get_data(as_text=True)
    assert "안부 확인: Flooding" in html
    assert re.search(r'value="KH-17"[^>]*checked|checked[^>]*value="KH-17"', html)
    assert f'name="parent_alert_id" type="hidden" value="{alert_id}"' in html
