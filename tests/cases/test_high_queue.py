"""A call for help reaches the duty officer through the ``high`` queue while a large alert waits on
``bulk``: one job taken by a worker serving the queues in priority order is the officer's SMS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue

from outreach.alerts import workflow
from outreach.alerts.compose import AlertInput, ContentInput, create_alert
from outreach.extensions import db
from outreach.jobs import make_worker
from outreach.models import ConsentMethod, Message, MessageStatus, SourceKind, User, utcnow
from tests.checkins.conftest import sms
from tests.conftest import PUBLIC_BASE_URL
from tests.fakes.twilio_server import FakeTwilio

BULK_PEOPLE = 3000


def _bulk_people(count: int) -> None:
    """Many consenting people, inserted set-based (the ORM one by one would take a minute), with
    confirmed numbers as an import gives them."""
    now = utcnow()
    person = sa.table(
        "person",
        *(sa.column(c) for c in ("id", "name_latin", "language", "province_code", "status", "consent_at",
                                  "consent_method", "last_known_status", "link_generation", "source",
                                  "emergency_contact_consent", "created_at", "updated_at")),
    )  # fmt: skip
    phone = sa.table(
        "phone_number",
        *(
            sa.column(c)
            for c in ("person_id", "e164", "kind", "is_primary", "is_whatsapp", "created_at", "confirmed_at")
        ),
    )
    base = 500_000
    db.session.execute(
        person.insert(),
        [
            {
                "id": base + i, "name_latin": f"BULK {i}", "language": "ko", "province_code": "KH-12",
                "status": "resident", "consent_at": now, "consent_method": ConsentMethod.IMPORT.value,
                "last_known_status": "unknown", "link_generation": 0, "source": "import",
                "emergency_contact_consent": False, "created_at": now, "updated_at": now,
            }
            for i in range(count)
        ],
    )  # fmt: skip
    db.session.execute(
        phone.insert(),
        [
            {"person_id": base + i, "e164": f"+8551{base + i:08d}", "kind": "kh", "is_primary": True,
             "is_whatsapp": False, "created_at": now, "confirmed_at": now}
            for i in range(count)
        ],
    )  # fmt: skip
    db.session.commit()


def test_need_help_is_handed_to_the_provider_while_a_large_alert_waits_on_bulk(
    make_app: Callable[..., Flask],
    fake_twilio: FakeTwilio,
    make_user: Callable[..., Any],
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    app = make_app(
        SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, PUBLIC_BASE_URL=PUBLIC_BASE_URL
    )
    client = app.test_client()
    person_id = make_person(phone="+85512800001", language="ko")
    make_checkin()
    with app.app_context():
        _bulk_people(BULK_PEOPLE)
        author = db.session.get(User, officer.id)
        assert author is not None
        alert = create_alert(
            AlertInput(
                title="Big alert",
                severity="Minor",
                contents={"ko": ContentInput("도로 통제 안내")},
                channels=["sms"],
                audience={},
            ),
            author=author,
        )
        db.session.commit()
        app.config["APPROVAL_THRESHOLD"] = 10**9  # one officer may send it (this test is not about approval)
        from outreach.alerts.jobs import cambodia_today

        workflow.submit(alert, actor=author, today=cambodia_today())
        workflow.send(alert, actor=author)
        db.session.commit()
        alert_id = alert.id
    # The dispatch job (on ``default``) materialises the alert and queues its send jobs on ``bulk``.
    make_worker(app, ["default"], simple=True).work(burst=True, with_scheduler=False)
    bulk = Queue("bulk", connection=redis_conn)
    waiting = bulk.count
    with app.app_context():
        pending = db.session.scalar(
            sa.select(sa.func.count()).where(
                Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id
            )
        )
    assert pending and pending > BULK_PEOPLE  # thousands of messages, none sent
    assert waiting >= pending // app.config["SEND_BATCH_SIZE"]  # many send jobs queued on bulk

    sms(client, "+85512800001", "도움")  # the call for help, through the signed webhook

    # One job, taken by a worker that serves high → default → bulk, is the officer's SMS.
    worker = make_worker(app, None, simple=True)
    worker.work(burst=True, max_jobs=1, with_scheduler=False)
    sent = fake_twilio.sent_to("+85512000001")
    assert len(sent) == 1
    assert "도움 요청" in sent[0]["body"] and "/staff/cases/" in sent[0]["body"]
    assert bulk.count == waiting  # the alert is still waiting: nothing on bulk ran
    with app.app_context():
        note = db.session.scalar(
            sa.select(Message).where(Message.source_kind == SourceKind.CASE_NOTIFY, Message.channel == "sms")
        )
        assert note is not None and note.status == MessageStatus.SENT and note.provider_sid == sent[0]["sid"]
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(
                    Message.source_kind == SourceKind.ALERT, Message.status != MessageStatus.PENDING
                )
            )
            == 0
        )
    del person_id
