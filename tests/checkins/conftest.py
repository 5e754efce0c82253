"""Fixtures for check-in tests: an on-duty officer, people, and a check-in already sent.

``make_checkin`` runs the check-in's dispatch hook directly (recipients, codes and steps), which is
what the alert dispatch job does before it materialises messages; the full pipeline (submit → approve
→ dispatch → send) is exercised in ``test_workflow.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.checkins.operations import create_checkin, on_checkin_dispatch
from outreach.extensions import db
from outreach.models import (
    CheckIn,
    CheckInRecipient,
    CheckInResponse,
    Message,
    SourceKind,
    User,
    utcnow,
)
from tests.conftest import post_twilio
from tests.fakes.twilio_server import FakeTwilio

QUESTIONS = {
    "ko": "[대사관] 홍수 피해 지역에 계신가요? 안전하신지 알려 주세요.",
    "en": "[Embassy] Are you safe after the flood? Please let us know.",
    "km": "[ស្ថានទូត] តើអ្នកមានសុវត្ថិភាពទេក្រោយទឹកជំនន់?",
}


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="당직영사", phone="+85512000001", on_duty=True, language="ko")


@pytest.fixture
def make_checkin(app: Flask, officer: User) -> Callable[..., int]:
    def factory(
        *,
        audience: dict[str, Any] | None = None,
        channels: tuple[str, ...] = ("sms",),
        hours: int = 24,
        grace_hours: int = 24,
        reminder_hours: tuple[int, ...] = (2, 6),
        escalation: tuple[dict[str, Any], ...] = (),
        dispatch: bool = True,
        severity: str = "Moderate",
    ) -> int:
        from outreach.models import Severity

        with app.app_context():
            actor = db.session.get(User, officer.id)
            checkin = create_checkin(
                title="Flood check-in",
                questions=QUESTIONS,
                audience=audience or {},
                channels=list(channels),
                deadline=utcnow() + timedelta(hours=hours),
                grace_hours=grace_hours,
                reminder_hours=list(reminder_hours),
                escalation=list(escalation),
                severity=Severity(severity),
                actor=actor,
            )
            if dispatch:
                on_checkin_dispatch(checkin.alert_id)
            db.session.commit()
            return checkin.id

    return factory


def code_for(app: Flask, checkin_id: int, person_id: int) -> str:
    with app.app_context():
        code = db.session.scalar(
            sa.select(CheckInRecipient.code).where(
                CheckInRecipient.checkin_id == checkin_id, CheckInRecipient.person_id == person_id
            )
        )
        assert code is not None
        return code


def recipient(checkin_id: int, person_id: int) -> CheckInRecipient:
    row = db.session.scalar(
        sa.select(CheckInRecipient).where(
            CheckInRecipient.checkin_id == checkin_id, CheckInRecipient.person_id == person_id
        )
    )
    assert row is not None
    return row


def responses(checkin_id: int, person_id: int) -> list[CheckInResponse]:
    return list(
        db.session.scalars(
            sa.select(CheckInResponse)
            .where(CheckInResponse.checkin_id == checkin_id, CheckInResponse.person_id == person_id)
            .order_by(CheckInResponse.id)
        )
    )


def case_notifications() -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message).where(Message.source_kind == SourceKind.CASE_NOTIFY).order_by(Message.id)
        )
    )


def expire(app: Flask, checkin_id: int, hours_ago: int) -> None:
    """Move the deadline ``hours_ago`` into the past."""
    with app.app_context():
        checkin = db.session.get(CheckIn, checkin_id)
        assert checkin is not None
        checkin.deadline = utcnow() - timedelta(hours=hours_ago)
        db.session.commit()


_sids = iter(range(1, 10_000_000))


def sms(client: FlaskClient, sender: str, body: str, *, to: str = "+15005550006") -> Any:
    """Deliver an inbound SMS (or WhatsApp, with a ``whatsapp:`` sender) through the signed webhook."""
    params = {
        "MessageSid": f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": ("whatsapp:" + to) if sender.startswith("whatsapp:") else to,
        "Body": body,
        "NumMedia": "0",
    }
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def twiml_text(response: Any) -> str:
    from lxml import etree

    root = etree.fromstring(response.get_data())
    return "".join(root.itertext()).strip()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN

    with FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN) as fake:
        yield fake
