"""The dispatch pipeline end to end: PostgreSQL/SQLite, Redis, RQ, the real Twilio SDK against FakeTwilio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue

from outreach.alerts import dispatch
from outreach.alerts.compose import ContentInput
from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.jobs import make_worker
from outreach.messaging.optouts import is_opted_out
from outreach.models import AlertStatus, MessageStatus, User
from tests.alerts.conftest import (
    ENGLISH_SHORT,
    KOREAN_SHORT,
    alert_messages,
    drain,
    get_alert,
    send_alert_now,
    statuses,
)
from tests.conftest import post_twilio, run_jobs
from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio

KHMER_SHORT = "មានបាតុកម្មនៅភ្នំពេញ។ សូមស្នាក់នៅកន្លែងមានសុវត្ថិភាព។"


def people(make_person: Callable[..., int], n: int, **kwargs: Any) -> dict[int, str]:
    """``n`` people in Phnom Penh; returns {person_id: phone}."""
    out = {}
    for i in range(n):
        phone = f"+8551299{len(out) + kwargs.get('offset', 0):04d}"
        extra = {k: v for k, v in kwargs.items() if k != "offset"}
        out[make_person(phone=phone, **extra)] = phone
        del i
    return out


def test_broadcast_reaches_everyone_once_in_their_language(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    fake_twilio.auto_callbacks = ["sent", "delivered"]
    ko = people(make_person, 12, language="ko")
    en = people(make_person, 5, language="en", offset=100)
    km = people(make_person, 4, language="km", offset=200)
    elsewhere = make_person(phone="+85512990999", province_code="KH-17")
    alert_id = make_alert(
        contents={
            "ko": ContentInput(KOREAN_SHORT),
            "en": ContentInput(ENGLISH_SHORT),
            "km": ContentInput(KHMER_SHORT),
        }
    )
    send_alert_now(twilio_app, alert_id, officer)
    drain(twilio_app, alert_id)
    fake_twilio.wait_for_callbacks(2 * 21)

    assert fake_twilio.stats()["duplicates"] == {}
    for phones, text in ((ko, KOREAN_SHORT), (en, ENGLISH_SHORT), (km, KHMER_SHORT)):
        for phone in phones.values():
            (sent,) = fake_twilio.sent_to(phone)
            assert text in sent["body"]
    assert fake_twilio.count_to("+85512990999") == 0 and elsewhere
    with twilio_app.app_context():
        alert = get_alert(alert_id)
        assert alert.status == AlertStatus.COMPLETED and alert.completed_at is not None
        messages = alert_messages(alert_id)
        assert len(messages) == 21
        assert {m.status for m in messages} == {MessageStatus.DELIVERED}
        by_sid = {m.provider_sid: m for m in messages}
        for created in fake_twilio.sent():
            # The callback URL carries our message id, so a callback matches before the sid is stored.
            assert created["status_callback"].endswith(f"/twilio/status?m={by_sid[created['sid']].id}")


def test_rerunning_dispatch_creates_no_duplicate(
    app: Flask,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    for _ in range(5):
        make_person(whatsapp=True, email=None)
    make_person(email="Person@Example.com")
    alert_id = make_alert(channels=["sms", "whatsapp", "email"])
    send_alert_now(app, alert_id, officer)
    with app.app_context():
        first = dispatch.dispatch_alert(alert_id, today=cambodia_today())
        assert first is not None
        assert first.created == {"email": 1, "sms": 6, "whatsapp": 5}
        db.session.commit()
        second = dispatch.dispatch_alert(alert_id, today=cambodia_today())
        assert second is not None and second.created == {"email": 0, "sms": 6 * 0, "whatsapp": 0}
        assert second.pending_ids == first.pending_ids
        db.session.commit()
        messages = alert_messages(alert_id)
        assert len(messages) == 12
        assert {m.to_address for m in messages if m.channel == "email"} == {"person@example.com"}
        assert get_alert(alert_id).status == AlertStatus.SENDING
    # The job itself, run twice, re-enqueues only what is still pending.
    run_jobs(app, ["default"])
    bulk = Queue("bulk", connection=redis_conn)
    queued = [job.args[0] for job in bulk.get_jobs() if job.func_name.endswith("send_batch_job")]
    assert sorted(i for batch in queued for i in batch) == sorted(first.pending_ids)
    run_jobs(app)
    assert statuses(app, alert_id) == {"sent": 12}
    from outreach.alerts.jobs import dispatch_alert as dispatch_job

    with app.app_context():
        result = dispatch_job(alert_id)
        assert result["queued"] == 0
        assert len(alert_messages(alert_id)) == 12


def test_opted_out_addresses_are_skipped_at_dispatch(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User
) -> None:
    from outreach.messaging.optouts import opt_out

    make_person(phone="+85512111111")
    make_person(phone="+85512111112")
    with app.app_context():
        opt_out("sms", "+85512111112")
        db.session.commit()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    assert statuses(app, alert_id) == {"pending": 1, "skipped": 1}
    with app.app_context():
        (skipped,) = [m for m in alert_messages(alert_id) if m.status == MessageStatus.SKIPPED]
        assert skipped.to_address == "+85512111112" and skipped.error_code == "opted_out"


def test_dispatch_hooks_run_inside_the_transaction_before_materialising(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User
) -> None:
    from outreach.models import AlertKind, Message

    make_person()
    seen: list[tuple[int, int]] = []

    def hook(alert_id: int) -> None:
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.source_id == alert_id)
        )
        seen.append((alert_id, int(count or 0)))

    dispatch.register_dispatch_hook(AlertKind.ALERT, hook)
    try:
        alert_id = make_alert()
        send_alert_now(app, alert_id, officer)
        run_jobs(app, ["default"])
    finally:
        dispatch._HOOKS[AlertKind.ALERT].remove(hook)
    assert seen == [(alert_id, 0)]


def test_a_cancelled_alert_is_not_dispatched(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User
) -> None:
    from outreach.alerts import workflow

    make_person()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    with app.app_context():
        workflow.cancel(get_alert(alert_id), actor=db.session.get(User, officer.id))  # type: ignore[arg-type]
        db.session.commit()
    run_jobs(app)
    with app.app_context():
        assert alert_messages(alert_id) == []
        assert get_alert(alert_id).status == AlertStatus.CANCELLED


def test_an_empty_audience_completes_at_once(
    app: Flask, make_alert: Callable[..., int], officer: User
) -> None:
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app)
    with app.app_context():
        assert get_alert(alert_id).status == AlertStatus.COMPLETED


def test_throttling_and_server_errors_are_retried_until_they_succeed(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    phones = people(make_person, 8)
    fake_twilio.fail_next(2, status=429, code=20429, retry_after=1)
    fake_twilio.fail_next(2, status=500, code=20500)
    fake_twilio.fail_next(1, status=503, code=20503)
    alert_id = make_alert()
    send_alert_now(twilio_app, alert_id, officer)
    drain(twilio_app, alert_id)
    assert fake_twilio.stats()["failed_creates"] == 5
    for phone in phones.values():
        assert fake_twilio.count_to(phone) == 1
    with twilio_app.app_context():
        messages = alert_messages(alert_id)
        assert {m.status for m in messages} == {MessageStatus.SENT}
        assert sum(m.attempts for m in messages) == 8 + 5  # five extra attempts, no message lost


def test_permanent_errors_fail_at_once_with_the_code(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    ok = make_person(phone="+85512300001")
    make_person(phone="+85512300002")
    make_person(phone="+85512300003")
    make_person(phone="+85512300004")
    fake_twilio.fail_for("+85512300002", status=400, code=21211)
    fake_twilio.fail_for("+85512300003", status=400, code=21614)
    fake_twilio.fail_for("+85512300004", status=400, code=21610)
    alert_id = make_alert()
    send_alert_now(twilio_app, alert_id, officer)
    drain(twilio_app, alert_id)
    attempts_to = {
        to: sum(1 for r in fake_twilio.requests if r.method == "POST" and r.param("To") == to)
        for to in ("+85512300002", "+85512300003", "+85512300004")
    }
    assert attempts_to == {"+85512300002": 1, "+85512300003": 1, "+85512300004": 1}  # never retried
    with twilio_app.app_context():
        by_to = {m.to_address: m for m in alert_messages(alert_id)}
        assert by_to["+85512300001"].status == MessageStatus.SENT and ok
        for to, code in (("+85512300002", "21211"), ("+85512300003", "21614"), ("+85512300004", "21610")):
            assert by_to[to].status == MessageStatus.FAILED
            assert by_to[to].error_code == code and by_to[to].attempts == 1
        assert is_opted_out("sms", "+85512300004")  # 21610: unsubscribed at the carrier
        assert get_alert(alert_id).status == AlertStatus.COMPLETED


def test_stop_received_mid_broadcast_stops_later_messages_to_that_number(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    phones = list(people(make_person, 25).values())
    stopper = phones[-1]  # in the last batch
    alert_id = make_alert()
    send_alert_now(twilio_app, alert_id, officer)
    run_jobs(twilio_app, ["default"])  # the fan-out: 3 send jobs of 10 queued
    make_worker(twilio_app, ["bulk"], simple=True).work(burst=True, max_jobs=1, with_scheduler=False)
    assert len(fake_twilio.sent()) == 10

    client = twilio_app.test_client()
    params = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": fake_twilio.account_sid,
        "From": stopper,
        "To": "+15005550006",
        "Body": "STOP",
        "NumMedia": "0",
    }
    assert post_twilio(client, "/twilio/sms", params).status_code == 200
    drain(twilio_app, alert_id)
    assert fake_twilio.count_to(stopper) == 0
    assert len(fake_twilio.sent()) == 24
    with twilio_app.app_context():
        (message,) = [m for m in alert_messages(alert_id) if m.to_address == stopper]
        assert message.status == MessageStatus.SKIPPED and message.error_code == "opted_out"


def test_duplicated_and_out_of_order_callbacks_never_move_a_message_backwards(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    make_person(phone="+85512400001")
    alert_id = make_alert()
    send_alert_now(twilio_app, alert_id, officer)
    drain(twilio_app, alert_id)
    with twilio_app.app_context():
        (message,) = alert_messages(alert_id)
        message_id, sid = message.id, message.provider_sid
    assert sid
    for state in ("delivered", "sent", "delivered", "queued", "failed", "undelivered", "sent"):
        fake_twilio.post_status(sid, state)
    with twilio_app.app_context():
        (message,) = alert_messages(alert_id)
        assert message.id == message_id
        assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
        assert message.error_code is None


def test_cancel_stops_handing_messages_to_the_provider(
    make_app: Callable[..., Flask],
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    """Cancel mid-batch: after the click, at most the requests already in flight reach the provider."""
    import threading

    from tests.alerts.conftest import callbacks_into

    concurrency = 2
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        SEND_BATCH_SIZE=200,
        SEND_CONCURRENCY=concurrency,
    )
    callbacks_into(app, fake_twilio)
    fake_twilio.latency = 0.05
    people(make_person, 60)
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])

    worker_done = threading.Event()

    def work() -> None:
        from outreach.messaging.send import send_batch

        with app.app_context():
            ids = [m.id for m in alert_messages(alert_id)]
            db.session.rollback()
            send_batch(ids, queue_name="bulk")
        worker_done.set()

    thread = threading.Thread(target=work)
    thread.start()
    fake_twilio.wait_for_sent(10, timeout=20)
    client = app.test_client()
    from tests.conftest import login

    login(client, officer)
    assert client.post(f"/staff/alerts/{alert_id}/cancel").status_code == 302
    at_cancel = len(fake_twilio.sent())
    thread.join(30)
    assert worker_done.is_set()
    assert len(fake_twilio.sent()) - at_cancel <= concurrency
    counts = statuses(app, alert_id)
    assert counts["sent"] == len(fake_twilio.sent()) < 60
    assert counts["skipped"] == 60 - counts["sent"]
    with app.app_context():
        assert get_alert(alert_id).status == AlertStatus.CANCELLED
        assert {m.error_code for m in alert_messages(alert_id) if m.status == MessageStatus.SKIPPED} == {
            "cancelled"
        }


def test_email_is_multipart_and_reuses_the_smtp_connection(
    make_app: Callable[..., Flask],
    fake_smtp: FakeSMTP,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    app = make_app(
        MAIL_CHANNEL="smtp", SMTP_HOST=fake_smtp.host, SMTP_PORT=fake_smtp.port, SEND_CONCURRENCY=1
    )
    for i in range(4):
        make_person(email=f"person{i}@example.com", language="ko" if i < 3 else "en")
    alert_id = make_alert(channels=["email"])
    send_alert_now(app, alert_id, officer)
    drain(app, alert_id)
    received = fake_smtp.wait_for(4)
    assert fake_smtp.connections == 1  # one session for the whole batch
    by_to = {r.rcpt_tos[0]: r.message for r in received}
    korean = by_to["person0@example.com"]
    assert korean.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in korean.iter_parts()}
    assert KOREAN_SHORT in parts["text/plain"] and KOREAN_SHORT in parts["text/html"]
    assert "<html" in parts["text/html"]
    english = by_to["person3@example.com"]
    assert ENGLISH_SHORT in english.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Protest in Phnom Penh" in str(english["Subject"])
    assert statuses(app, alert_id) == {"sent": 4}


def test_whatsapp_goes_to_whatsapp_numbers_only(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    make_person(phone="+85512500001", whatsapp=True)
    make_person(phone="+85512500002")
    alert_id = make_alert(channels=["whatsapp"])
    send_alert_now(twilio_app, alert_id, officer)
    drain(twilio_app, alert_id)
    (sent,) = fake_twilio.sent()
    assert sent["to"] == "whatsapp:+85512500001"


def test_replies_on_high_never_wait_behind_a_bulk_alert(
    make_app: Callable[..., Flask],
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    from outreach.messaging.outbound import queue_one
    from outreach.models import SourceKind

    app = make_app(SEND_BATCH_SIZE=10)

    people(make_person, 30)
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    assert Queue("bulk", connection=redis_conn).count >= 3
    with app.app_context():
        reply = queue_one(
            channel="sms", to="+85512999999", body="답장", source_kind=SourceKind.REPLY, source_id=1
        )
        assert reply is not None
        reply_id = reply.id
        db.session.commit()
    make_worker(app, simple=True).work(burst=True, max_jobs=1, with_scheduler=False)
    with app.app_context():
        from outreach.models import Message

        assert db.session.get(Message, reply_id).status == MessageStatus.SENT  # type: ignore[union-attr]
        assert all(m.status == MessageStatus.PENDING for m in alert_messages(alert_id))


def test_one_number_per_person_the_primary_first(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User
) -> None:
    from outreach.models import PhoneKind, PhoneNumber

    with_primary = make_person(phone="+85512700001")  # primary, and a WhatsApp-only second number
    no_primary = make_person(phone="+85512700002")
    with app.app_context():
        kr = PhoneNumber(person_id=with_primary, e164="+821012345678", kind=PhoneKind.KR, is_whatsapp=True)
        db.session.add(kr)
        first = db.session.scalars(sa.select(PhoneNumber).where(PhoneNumber.e164 == "+85512700002")).one()
        first.is_primary = False
        db.session.add(PhoneNumber(person_id=no_primary, e164="+85512700003", is_whatsapp=True))
        db.session.commit()
    alert_id = make_alert(channels=["sms", "whatsapp"])
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    with app.app_context():
        got = {(m.person_id, m.channel): m.to_address for m in alert_messages(alert_id)}
    assert got == {
        (with_primary, "sms"): "+85512700001",
        (with_primary, "whatsapp"): "+821012345678",
        (no_primary, "sms"): "+85512700002",  # no primary number: the oldest
        (no_primary, "whatsapp"): "+85512700003",
    }


def test_a_first_run_meeting_an_existing_row_skips_it(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User, caplog: Any
) -> None:
    """The fast first-run INSERT falls back to ON CONFLICT should a row exist after all."""
    from outreach.models import Message, SourceKind

    first = make_person(phone="+85512800001")
    make_person(phone="+85512800002")
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    with app.app_context():
        db.session.add(
            Message(
                source_kind=SourceKind.ALERT,
                source_id=alert_id,
                person_id=first,
                channel="sms",
                to_address="+85512800001",
            )
        )
        db.session.commit()
        result = dispatch.dispatch_alert(alert_id, today=cambodia_today())
        assert result is not None and result.created == {"sms": 1}
        db.session.commit()
        assert sorted(m.to_address or "" for m in alert_messages(alert_id)) == [
            "+85512800001",
            "+85512800002",
        ]
        assert get_alert(alert_id).status == AlertStatus.SENDING
    assert "already existed" in caplog.text
