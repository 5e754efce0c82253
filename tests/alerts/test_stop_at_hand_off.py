"""STOP at the hand-off, with a real worker process: once the app has answered a STOP, nothing more to
that number reaches the provider — checked at the fake Twilio server's receive time.

3,000 people, one SMS segment each, paced at 100 segments/s by the shared limiter; 100 of them text
STOP through the signed ``/twilio/sms`` webhook while the alert is going out, each aimed a few messages
ahead of the provider's latest one: a number whose batch is already claimed and waiting on the rate
limiter, the case a check at claim time alone lets through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import (
    AlertStatus,
    ConsentMethod,
    Message,
    MessageStatus,
    OptOut,
    Person,
    PhoneKind,
    PhoneNumber,
    SourceKind,
    User,
    utcnow,
)
from tests.alerts.conftest import send_alert_now
from tests.alerts.test_workers import alert_state, wait_for, worker, worker_env
from tests.conftest import run_jobs
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

PEOPLE = 3_000
STOPS = 100
SEGMENTS_PER_SECOND = 100
APP_NUMBER = "+15005550006"


def add_people(app: Flask, count: int) -> list[str]:
    """``count`` consented Korean speakers in Phnom Penh, inserted in bulk; their numbers in id order."""
    phones = [f"+8551288{i:04d}" for i in range(count)]
    with app.app_context():
        ids = db.session.scalars(
            sa.insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [
                {
                    "name_ko": f"김안전{i}",
                    "name_latin": f"KIM ANJEON {i}",
                    "language": "ko",
                    "province_code": "KH-12",
                    "consent_at": utcnow(),
                    "consent_method": ConsentMethod.WEB,
                    "consent_version": "test",
                }
                for i in range(count)
            ],
        ).all()
        db.session.execute(
            sa.insert(PhoneNumber),
            [
                {"person_id": pid, "e164": phone, "kind": PhoneKind.KH, "is_primary": True}
                for pid, phone in zip(ids, phones, strict=True)
            ],
        )
        db.session.commit()
    return phones


def message_requests(fake: FakeTwilio, number: str) -> list[float]:
    """When the fake received each Messages.json create request to ``number`` (time.monotonic())."""
    return [
        r.timestamp
        for r in fake.requests
        if r.method == "POST" and r.path.endswith("/Messages.json") and r.param("To") == number
    ]


def test_no_message_reaches_the_provider_after_the_stop_was_answered(
    make_app: Callable[..., Flask],
    database_url: str,
    fake_twilio: FakeTwilio,
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        TWILIO_FROM=APP_NUMBER,
        APPROVAL_THRESHOLD=100_000,
    )
    phones = add_people(app, PEOPLE)
    index_of = {phone: i for i, phone in enumerate(phones)}
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])  # the fan-out; the send jobs wait on ``bulk`` for the real worker

    env = worker_env(
        database_url,
        fake_twilio,
        TWILIO_MAX_SEGMENTS_PER_SECOND=str(SEGMENTS_PER_SECOND),
        SEND_BATCH_SIZE="400",
        SEND_CONCURRENCY="8",
    )
    client = app.test_client()
    answered: dict[str, float] = {}
    pause = threading.Event()

    def latest_sent_index() -> int:
        sent = fake_twilio.sent()
        return max((index_of.get(m["to"], -1) for m in sent[-16:]), default=-1)

    with worker(env, "--queues", "high,default,bulk"):
        fake_twilio.wait_for_sent(200, timeout=60)
        for k in range(STOPS):
            latest = latest_sent_index()
            # Every other STOP a message or two ahead of the provider's latest (racing its hand-off),
            # the others 0.15-0.35 s ahead (claimed and waiting on the rate limiter).
            target = latest + (2 + k % 6 if k % 2 else 15 + k % 20)
            while phones[target] in answered or fake_twilio.count_to(phones[target]):
                target += 1
            assert target < PEOPLE - 50, "the alert outran the test; nothing left to STOP"
            number = phones[target]
            params, signature = fake_twilio.inbound(
                "http://localhost/twilio/sms", From=number, To=APP_NUMBER, Body="STOP"
            )
            response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
            answered[number] = time.monotonic()
            assert response.status_code == 200
            assert "<Message>" in response.get_data(as_text=True)
            with app.app_context():  # the opt-out was in the database before the answer left
                assert db.session.scalar(sa.select(OptOut.id).where(OptOut.address == number)) is not None
            # The next STOP once the provider has moved past this one (sent or skipped).
            deadline = time.monotonic() + 10
            while latest_sent_index() <= target and time.monotonic() < deadline:
                pause.wait(0.01)
        wait_for(lambda: alert_state(app, alert_id)[0] == AlertStatus.COMPLETED, 120, "the alert to complete")

    late = {
        number: [round(t - at, 3) for t in message_requests(fake_twilio, number) if t > at]
        for number, at in answered.items()
    }
    late = {number: delays for number, delays in late.items() if delays}
    assert late == {}, f"messages reached the provider after the STOP was answered (s after): {late}"

    with app.app_context():
        rows = db.session.execute(
            sa.select(PhoneNumber.e164, Message.status, Message.error_code)
            .join(PhoneNumber, PhoneNumber.e164 == Message.to_address)
            .where(Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id)
        ).all()
    by_number = {row.e164: (MessageStatus(row.status), row.error_code) for row in rows}
    skipped = [n for n in answered if by_number[n] == (MessageStatus.SKIPPED, "opted_out")]
    before = [n for n in answered if by_number[n][0] == MessageStatus.SENT]
    # Each STOP either came in time (skipped, never handed over) or after its message had reached the
    # provider; half were aimed at messages still well behind in the queue, so many are skipped.
    assert len(skipped) + len(before) == STOPS
    assert len(skipped) >= STOPS // 4, (len(skipped), len(before))
    print(f"{len(skipped)} STOPs in time (never handed over), {len(before)} after their message was sent")
    assert all(message_requests(fake_twilio, n) == [] for n in skipped)
    assert fake_twilio.stats()["duplicates"] == {}
    assert sorted(n for n in phones if fake_twilio.count_to(n) == 1) == sorted(set(phones) - set(skipped))
    assert len(by_number) == PEOPLE
