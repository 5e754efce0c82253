"""Fixtures for the messaging tests: FakeTwilio and FakeSMTP wired to an app, and a message factory."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import Message, MessageStatus, SourceKind
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN
from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN) as fake:
        yield fake


@pytest.fixture
def twilio_app(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> Flask:
    """SMS and WhatsApp through the real SDK to FakeTwilio; retries due at once (no waiting in tests)."""
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        TWILIO_TIMEOUT_SECONDS=5.0,
        SEND_RETRY_BASE_SECONDS=0.0,
    )

    def deliver(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        # Status callbacks go to this app through its test client, signed for PUBLIC_BASE_URL.
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        with app.test_client() as client:
            return client.post(
                path, data=params, headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]}
            ).status_code

    fake_twilio.callback_transport = deliver
    return app


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as smtp:
        yield smtp


@pytest.fixture
def smtp_app(make_app: Callable[..., Flask], fake_smtp: FakeSMTP) -> Flask:
    return make_app(
        MAIL_CHANNEL="smtp",
        SMTP_HOST=fake_smtp.host,
        SMTP_PORT=fake_smtp.port,
        MAIL_FROM="Embassy <outreach@embassy.test>",
        SEND_RETRY_BASE_SECONDS=0.0,
    )


_source_ids = itertools.count(1)


def add_message(app: Flask, **values: Any) -> int:
    """Insert a pending message directly (as a bulk fan-out would) and return its id."""
    values.setdefault("source_kind", SourceKind.TEST)
    values.setdefault("source_id", next(_source_ids))
    values.setdefault("channel", "sms")
    values.setdefault("to_address", "+85512000001")
    values.setdefault("language", "ko")
    values.setdefault("body", "Test message")
    with app.app_context():
        message = Message(**values)
        db.session.add(message)
        db.session.commit()
        return message.id


def message_row(app: Flask, message_id: int) -> Any:
    with app.app_context():
        row = db.session.execute(
            sa.select(Message.__table__).where(Message.__table__.c.id == message_id)
        ).one()
        db.session.rollback()
        return row


def status_of(app: Flask, message_id: int) -> MessageStatus:
    return MessageStatus(message_row(app, message_id).status)
