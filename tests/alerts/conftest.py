"""Fixtures for the alert tests: two officers, an audience of people, and alerts in any state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from outreach.alerts import compose, workflow
from outreach.alerts.compose import AlertInput, ContentInput
from outreach.extensions import QUEUE_NAMES, db
from outreach.models import Alert, AlertStatus, AuditEvent, Message, MessageStatus, SourceKind, User
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN, run_jobs
from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio

TODAY = date(2025, 3, 1)
KOREAN_SHORT = "프놈펜 시내 시위로 교통이 통제됩니다. 안전한 곳에 머무르세요."
ENGLISH_SHORT = "Roads in central Phnom Penh are closed because of a protest. Stay somewhere safe."


def alert_input(**overrides: Any) -> AlertInput:
    data: dict[str, Any] = {
        "title": "Protest in Phnom Penh",
        "severity": "Moderate",
        "contents": {"ko": ContentInput(KOREAN_SHORT), "en": ContentInput(ENGLISH_SHORT)},
        "channels": ["sms"],
        "audience": {"provinces": ["KH-12"]},
    }
    data.update(overrides)
    return AlertInput(**data)


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="김영사", phone="+85512000101", language="ko")


@pytest.fixture
def approver(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="이승인", phone="+85512000102", language="en")


@pytest.fixture
def make_alert(app: Flask, officer: User) -> Callable[..., int]:
    """Create an alert (as ``officer``) and move it to ``status``; returns its id."""

    def factory(
        status: str = "draft", *, author: User | None = None, approver: User | None = None, **kw: Any
    ) -> int:
        with app.app_context():
            author_row = db.session.get(User, (author or officer).id)
            assert author_row is not None
            alert = compose.create_alert(alert_input(**kw), author=author_row)
            if status != "draft":
                workflow.submit(alert, actor=author_row, today=TODAY)
                if alert.status.value == "pending_approval" and status != "pending_approval":
                    assert approver is not None, "this alert needs an approver"
                    other = db.session.get(User, approver.id)
                    assert other is not None
                    workflow.approve(alert, actor=other)
                if status in ("dispatching", "sending"):
                    workflow.send(alert, actor=author_row)
            db.session.commit()
            assert alert.status.value == status or status == "sending"
            return alert.id

    return factory


def get_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    assert alert is not None
    return alert


def audit_actions(alert_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.target_type == "alert", AuditEvent.target_id == alert_id)
            .order_by(AuditEvent.id)
        )
    )


def alert_messages(alert_id: int) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id)
            .order_by(Message.id)
        )
    )


# --- the pipeline: FakeTwilio, FakeSMTP, draining the queues ----------------------------------------


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN) as fake:
        yield fake


def callbacks_into(app: Flask, fake: FakeTwilio) -> None:
    """Deliver the fake's status callbacks to ``app`` through its test client (signed as Twilio does)."""

    def deliver(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        with app.test_client() as client:
            signature = headers["X-Twilio-Signature"]
            return client.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code

    fake.callback_transport = deliver


@pytest.fixture
def twilio_app(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> Flask:
    """SMS and WhatsApp through the real Twilio SDK to FakeTwilio; transient retries due at once."""
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        TWILIO_TIMEOUT_SECONDS=5.0,
        SEND_RETRY_BASE_SECONDS=0.0,
        SEND_BATCH_SIZE=10,
    )
    callbacks_into(app, fake_twilio)
    return app


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as smtp:
        yield smtp


def enqueue_due(conn: Redis) -> int:
    """Move scheduled jobs that are due onto their queues (what RQ's scheduler does in a worker)."""
    import time

    moved = 0
    for name in QUEUE_NAMES:
        registry = ScheduledJobRegistry(name, connection=conn)
        job_ids = registry.get_jobs_to_schedule(int(time.time()) + 1)
        if not job_ids:
            continue
        queue = Queue(name, connection=conn)
        for job in Job.fetch_many(job_ids, connection=conn):
            if job is not None:
                queue._enqueue_job(job)
                moved += 1
        for job_id in job_ids:
            registry.remove(job_id)
    return moved


def scheduled_count(conn: Redis) -> int:
    return sum(ScheduledJobRegistry(name, connection=conn).count for name in QUEUE_NAMES)


def drain(app: Flask, alert_id: int, *, timeout: float = 30.0) -> None:
    """Run jobs (and due scheduled retries) until the alert is completed or cancelled."""
    import threading
    import time

    conn: Redis = app.extensions["redis"]
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        run_jobs(app)
        enqueue_due(conn)
        with app.app_context():
            status = get_alert(alert_id).status
            db.session.rollback()
        if status in (AlertStatus.COMPLETED, AlertStatus.CANCELLED) and not scheduled_count(conn):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"alert {alert_id} still {status} after {timeout} s")
        pause.wait(0.1)  # retries are due a moment later (Retry-After); look again


def statuses(app: Flask, alert_id: int) -> dict[str, int]:
    with app.app_context():
        counts: dict[str, int] = {}
        for message in alert_messages(alert_id):
            counts[MessageStatus(message.status).value] = (
                counts.get(MessageStatus(message.status).value, 0) + 1
            )
        db.session.rollback()
        return counts


def send_alert_now(app: Flask, alert_id: int, actor: User) -> None:
    """Submit (and send) an alert that needs no approval, as the "Send now" button does."""
    with app.app_context():
        alert = get_alert(alert_id)
        me = db.session.get(User, actor.id)
        assert me is not None
        workflow.submit(alert, actor=me, today=TODAY)
        workflow.send(alert, actor=me)
        db.session.commit()
