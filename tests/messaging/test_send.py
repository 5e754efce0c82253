"""The send pipeline end to end: queue → RQ job → claim → checks → render → provider → recorded status."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue

from outreach.extensions import db
from outreach.messaging import hooks, send
from outreach.messaging.channels.twilio_sms import TwilioSMSChannel
from outreach.messaging.hooks import Rendered, stop_source
from outreach.messaging.outbound import queue_one
from outreach.messaging.status import ClaimedMessage
from outreach.models import Message, MessageStatus, OptOut, OutboxEntry, SourceKind, utcnow
from tests.conftest import post_twilio, run_jobs
from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio
from tests.messaging.conftest import add_message, message_row, status_of

S = MessageStatus
TO = "+85512555001"


def _queue_one(app: Flask, **kwargs: Any) -> int | None:
    kwargs.setdefault("channel", "sms")
    kwargs.setdefault("to", TO)
    kwargs.setdefault("body", "안전에 유의하세요")
    kwargs.setdefault("source_kind", SourceKind.REPLY)
    kwargs.setdefault("source_id", 1)
    with app.app_context():
        message = queue_one(**kwargs)
        db.session.commit()
        return None if message is None else message.id


def _queued_jobs(redis_conn: Redis, name: str) -> int:
    return Queue(name, connection=redis_conn).count


# --- queueing --------------------------------------------------------------------------------------


def test_queue_one_sends_and_callbacks_complete_it(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    fake_twilio.auto_callbacks = ["sent", "delivered"]
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)
    (sent,) = fake_twilio.sent()
    assert sent["body"] == "안전에 유의하세요"
    assert sent["status_callback"] == f"http://localhost/twilio/status?m={message_id}"
    callbacks = fake_twilio.wait_for_callbacks(2)
    assert [c.http_code for c in callbacks] == [204, 204]
    row = message_row(twilio_app, message_id)
    assert (row.status, row.provider_sid, row.attempts, row.segments) == (S.DELIVERED, sent["sid"], 1, 1)
    assert row.sent_at is not None and row.delivered_at is not None


def test_queue_one_is_idempotent_and_honours_opt_outs(app: Flask, redis_conn: Redis) -> None:
    assert _queue_one(app, source_id=5) is not None
    assert _queue_one(app, source_id=5) is None  # same source, recipient, channel
    with app.app_context():
        db.session.add(OptOut(channel="sms", address="+85512555999", source="keyword"))
        db.session.commit()
    assert _queue_one(app, source_id=6, to="+85512555999") is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
    assert _queued_jobs(redis_conn, "high") == 1


def test_queue_one_dedupes_with_a_person_or_a_user(app: Flask, make_person: Callable[..., int]) -> None:
    person_id = make_person("+85512555002")
    assert _queue_one(app, source_id=7, to="+85512555002", person_id=person_id) is not None
    assert _queue_one(app, source_id=7, to="+85512555002", person_id=person_id) is None
    assert (
        _queue_one(app, source_id=7, to="+85512555002", person_id=person_id, channel="whatsapp") is not None
    )


def test_nothing_is_enqueued_on_rollback(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        queue_one(channel="sms", to=TO, body="x", source_kind=SourceKind.REPLY, source_id=1)
        db.session.rollback()
    assert _queued_jobs(redis_conn, "high") == 0


def test_queue_messages_enqueues_batches_after_commit(app: Flask, redis_conn: Redis) -> None:
    ids = list(range(1, 451))
    with app.app_context():
        jobs = send.queue_messages(ids, "bulk", batch_size=200)
        assert _queued_jobs(redis_conn, "bulk") == 0  # not before the commit
        db.session.commit()
    assert jobs == 3
    queued = Queue("bulk", connection=redis_conn).jobs
    assert sorted(len(job.args[0]) for job in queued) == [50, 200, 200]
    assert queued[0].func_name == "outreach.messaging.jobs.send_batch_job"


def test_default_queues() -> None:
    assert send.default_queue(SourceKind.ALERT) == "bulk"
    for kind in (SourceKind.REPLY, SourceKind.CHECKIN, SourceKind.CASE_NOTIFY, SourceKind.REMINDER):
        assert send.default_queue(kind) == "high"


# --- send-time checks ------------------------------------------------------------------------------


def test_opt_out_is_rechecked_at_send_time(
    twilio_app: Flask, fake_twilio: FakeTwilio, client: FlaskClient
) -> None:
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    # STOP arrives after the message was queued, before the worker picks it up
    post_twilio(client, "/twilio/sms", {"MessageSid": "SM" + "b" * 32, "From": TO, "Body": "STOP"})
    run_jobs(twilio_app)
    assert fake_twilio.sent() == []
    row = message_row(twilio_app, message_id)
    assert (row.status, row.error_code) == (S.SKIPPED, "opted_out")


def test_no_address_and_unconfigured_channel(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> None:
    app = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, TWILIO_WHATSAPP_FROM=None)
    no_address = add_message(app, to_address=None)
    whatsapp = add_message(app, channel="whatsapp")
    with app.app_context():
        report = send.send_batch([no_address, whatsapp])
    assert (report.skipped, report.failed) == (1, 1)
    assert message_row(app, no_address).error_code == "no_address"
    assert (status_of(app, whatsapp), message_row(app, whatsapp).error_code) == (S.FAILED, "no_channel")
    assert fake_twilio.sent() == []


def test_a_stopped_source_sends_nothing_more(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    ids = [
        add_message(twilio_app, source_kind=SourceKind.ALERT, source_id=9, to_address=f"+8551255510{i}")
        for i in range(3)
    ]
    with twilio_app.app_context():
        stop_source(SourceKind.ALERT, 9)
        report = send.send_batch(ids)
    assert report.skipped == 3
    assert {message_row(twilio_app, i).error_code for i in ids} == {"cancelled"}
    assert fake_twilio.sent() == []


def test_cancelling_mid_batch_stops_new_hand_offs(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio
) -> None:
    app = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, SEND_CONCURRENCY=1)
    fake_twilio.latency = 0.2
    ids = [
        add_message(app, source_kind=SourceKind.ALERT, source_id=10, to_address=f"+855125552{i:02d}")
        for i in range(20)
    ]
    reports: list[send.BatchReport] = []

    def run() -> None:
        with app.app_context():
            reports.append(send.send_batch(ids))

    worker = threading.Thread(target=run)
    worker.start()
    fake_twilio.wait_for_sent(2, timeout=30)
    with app.app_context():
        stop_source(SourceKind.ALERT, 10)
    worker.join(60)
    (report,) = reports
    handed_over = len(fake_twilio.sent())
    assert report.sent == handed_over < 20
    assert report.skipped == 20 - handed_over
    statuses = [status_of(app, i) for i in ids]
    assert statuses.count(S.SENT) == handed_over
    assert statuses.count(S.SKIPPED) == 20 - handed_over


def test_registered_source_guard(
    twilio_app: Flask, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(hooks.GUARDS, "test", [lambda source_id: source_id != 13])
    allowed = add_message(twilio_app, source_id=12)
    refused = add_message(twilio_app, source_id=13, to_address="+85512555003")
    with twilio_app.app_context():
        send.send_batch([allowed, refused])
    assert (status_of(twilio_app, allowed), status_of(twilio_app, refused)) == (S.SENT, S.SKIPPED)


# --- rendering -------------------------------------------------------------------------------------


def test_bodies_are_rendered_at_send_time_by_the_registered_renderer(
    twilio_app: Flask, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[int]] = []

    def render(messages: list[ClaimedMessage]) -> dict[int, Rendered]:
        calls.append([m.id for m in messages])
        texts = {"ko": "대피하세요. " * 12, "en": "Please move to a safe place."}
        return {m.id: Rendered(body=texts[m.language]) for m in messages if m.language in texts}

    monkeypatch.setitem(hooks.RENDERERS, "test", render)
    ko = add_message(twilio_app, body=None, language="ko", to_address="+85512555011")
    en = add_message(twilio_app, body=None, language="en", to_address="+85512555012")
    km = add_message(twilio_app, body=None, language="km", to_address="+85512555013")
    with twilio_app.app_context():
        report = send.send_batch([ko, en, km])
    assert calls == [[ko, en, km]]  # once per batch and kind
    assert (report.sent, report.skipped) == (2, 1)
    assert message_row(twilio_app, ko).body == "대피하세요. " * 12
    assert message_row(twilio_app, ko).segments == 2
    assert message_row(twilio_app, en).segments == 1
    assert (status_of(twilio_app, km), message_row(twilio_app, km).error_code) == (S.SKIPPED, "withdrawn")
    assert sorted(m["body"] for m in fake_twilio.sent()) == sorted(
        ["대피하세요. " * 12, "Please move to a safe place."]
    )


def test_a_failing_renderer_retries_later(
    app: Flask, monkeypatch: pytest.MonkeyPatch, redis_conn: Redis
) -> None:
    def render(messages: list[ClaimedMessage]) -> dict[int, Rendered]:
        raise RuntimeError("content missing")

    monkeypatch.setitem(hooks.RENDERERS, "test", render)
    message_id = add_message(app, body=None)
    with app.app_context():
        report = send.send_batch([message_id])
    assert report.retrying == 1
    row = message_row(app, message_id)
    assert (row.status, row.error_code, row.attempts) == (S.PENDING, "render", 1)
    assert Queue("high", connection=redis_conn).scheduled_job_registry.count == 1  # tried again later


# --- provider errors -------------------------------------------------------------------------------


def test_429_then_success_on_retry(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(1, status=429, code=20429, retry_after=0)
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)  # the retry is due at once (test config) and runs in the same burst
    row = message_row(twilio_app, message_id)
    assert (row.status, row.attempts, row.error_code) == (S.SENT, 2, None)
    assert fake_twilio.stats()["create_attempts"] == 2
    assert fake_twilio.count_to(TO) == 1


def test_retry_waits_for_retry_after(twilio_app: Flask, fake_twilio: FakeTwilio, redis_conn: Redis) -> None:
    fake_twilio.fail_next(1, status=429, code=20429, retry_after=120)
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)
    row = message_row(twilio_app, message_id)
    assert (row.status, row.error_code) == (S.PENDING, "20429")
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=100)
    # scheduled with RQ's scheduler for when it is due, not queued now
    assert Queue("high", connection=redis_conn).count == 0
    assert Queue("high", connection=redis_conn).scheduled_job_registry.count == 1
    with twilio_app.app_context():
        assert send.send_batch([message_id]).claimed == 0  # not due yet


def test_permanent_error_is_never_retried(
    twilio_app: Flask, fake_twilio: FakeTwilio, redis_conn: Redis
) -> None:
    fake_twilio.fail_for(TO, status=400, code=21211)
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)
    row = message_row(twilio_app, message_id)
    assert (row.status, row.error_code, row.attempts) == (S.FAILED, "21211", 1)
    assert row.failed_at is not None
    assert fake_twilio.stats()["create_attempts"] == 1
    assert Queue("high", connection=redis_conn).scheduled_job_registry.count == 0


def test_unsubscribed_fails_and_opts_out(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_for(TO, status=400, code=21610)
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)
    assert message_row(twilio_app, message_id).error_code == "21610"
    with twilio_app.app_context():
        assert [
            tuple(r) for r in db.session.execute(sa.select(OptOut.channel, OptOut.address, OptOut.source))
        ] == [("sms", TO, "provider")]
    assert _queue_one(twilio_app, source_id=2) is None  # nothing more to that number


def test_transient_errors_give_up_after_max_attempts(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio
) -> None:
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        SEND_RETRY_BASE_SECONDS=0.0,
        SEND_MAX_ATTEMPTS=3,
    )
    fake_twilio.fail_every(1, status=503, code=20503)
    message_id = _queue_one(app)
    assert message_id is not None
    run_jobs(app)
    row = message_row(app, message_id)
    assert (row.status, row.error_code, row.attempts) == (S.FAILED, "20503", 3)
    assert fake_twilio.stats()["create_attempts"] == 3


def test_no_database_connection_is_held_during_provider_calls(
    twilio_app: Flask, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    with twilio_app.app_context():
        engine = db.engine
    checked_out: list[int] = []
    original = TwilioSMSChannel.send

    def watched(self: TwilioSMSChannel, message: Any) -> Any:
        checked_out.append(engine.pool.checkedout())
        return original(self, message)

    monkeypatch.setattr(TwilioSMSChannel, "send", watched)
    ids = [add_message(twilio_app, to_address=f"+855125553{i:02d}") for i in range(5)]
    with twilio_app.app_context():
        assert send.send_batch(ids).sent == 5
    assert checked_out == [0] * 5


# --- lost answers and crashed workers: reconciliation ----------------------------------------------


def test_lost_answer_stays_sending_and_reconciliation_finds_it(
    twilio_app: Flask, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.drop_response_next(1, mode="close")
    message_id = _queue_one(twilio_app)
    assert message_id is not None
    run_jobs(twilio_app)
    row = message_row(twilio_app, message_id)
    assert (row.status, row.error_code) == (S.SENDING, "no_response")
    with twilio_app.app_context():
        report = send.reconcile_stuck(0)
    assert (report.found, report.requeued) == (1, 0)
    run_jobs(twilio_app)
    (copy,) = fake_twilio.sent_to(TO)  # exactly one copy at the provider
    row = message_row(twilio_app, message_id)
    assert (row.status, row.provider_sid) == (S.SENT, copy["sid"])


def test_not_found_at_the_provider_is_sent_again_once(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    # A worker was killed after claiming, before handing over (body rendered and stored).
    message_id = add_message(
        twilio_app, status=S.SENDING, attempts=1, claimed_at=utcnow() - timedelta(minutes=10), to_address=TO
    )
    with twilio_app.app_context():
        fresh = add_message(
            twilio_app, status=S.SENDING, attempts=1, claimed_at=utcnow(), to_address="+85512555004"
        )
        report = send.reconcile_stuck()  # default: SENDING_STUCK_SECONDS
    assert (report.stuck, report.requeued) == (1, 1)
    assert status_of(twilio_app, fresh) == S.SENDING  # not stuck yet: left alone
    run_jobs(twilio_app)
    assert fake_twilio.count_to(TO) == 1
    row = message_row(twilio_app, message_id)
    assert (row.status, row.attempts) == (S.SENT, 2)
    with twilio_app.app_context():
        assert send.reconcile_stuck().stuck == 0
    run_jobs(twilio_app)
    assert fake_twilio.count_to(TO) == 1


def test_a_provider_copy_already_recorded_is_not_taken_twice(
    twilio_app: Flask, fake_twilio: FakeTwilio
) -> None:
    channel = None
    with twilio_app.app_context():
        from outreach.messaging.channels import get_channel

        channel = get_channel("sms")
    from outreach.messaging.channels.base import OutgoingMessage

    since = utcnow() - timedelta(seconds=1)
    first = channel.send(OutgoingMessage(to=TO, body="same words"))
    channel.close()
    add_message(twilio_app, status=S.SENT, provider_sid=first.provider_sid, to_address=TO, body="same words")
    stuck = add_message(
        twilio_app, status=S.SENDING, claimed_at=since, to_address=TO, body="same words", attempts=1
    )
    with twilio_app.app_context():
        report = send.reconcile_stuck(0)
    assert report.requeued == 1
    run_jobs(twilio_app)
    assert fake_twilio.count_to(TO) == 2
    assert message_row(twilio_app, stuck).provider_sid != first.provider_sid


def test_never_rendered_is_requeued_without_asking(
    twilio_app: Flask, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(hooks.RENDERERS, "test", lambda ms: {m.id: Rendered("rendered late") for m in ms})
    message_id = add_message(twilio_app, status=S.SENDING, body=None, claimed_at=utcnow(), attempts=1)
    with twilio_app.app_context():
        assert send.reconcile_stuck(0).requeued == 1
    assert [r for r in fake_twilio.requests if r.method == "GET"] == []
    run_jobs(twilio_app)
    assert message_row(twilio_app, message_id).body == "rendered late"
    assert status_of(twilio_app, message_id) == S.SENT


def test_reconcile_console_channel_uses_the_outbox(app: Flask) -> None:
    handed = add_message(app, status=S.SENDING, claimed_at=utcnow() - timedelta(seconds=5), attempts=1)
    lost = add_message(
        app,
        status=S.SENDING,
        claimed_at=utcnow() - timedelta(seconds=5),
        attempts=1,
        to_address="+85512555005",
    )
    with app.app_context():
        db.session.add(
            OutboxEntry(
                message_id=handed,
                channel="sms",
                to_address="+85512000001",
                body="Test message",
                sid="CONSOLE-abc",
            )
        )
        db.session.commit()
        report = send.reconcile_stuck(0)
    assert (report.found, report.requeued) == (1, 1)
    assert message_row(app, handed).provider_sid == "CONSOLE-abc"
    run_jobs(app)
    with app.app_context():
        entries = db.session.scalars(sa.select(OutboxEntry.message_id).order_by(OutboxEntry.id)).all()
    assert entries == [handed, lost]
    assert status_of(app, lost) == S.SENT


def test_email_cannot_be_asked_and_is_sent_again_with_the_same_message_id(
    smtp_app: Flask, fake_smtp: FakeSMTP
) -> None:
    message_id = add_message(
        smtp_app,
        channel="email",
        to_address="hong@example.com",
        subject="안내",
        status=S.SENDING,
        claimed_at=utcnow(),
        attempts=1,
    )
    with smtp_app.app_context():
        assert send.reconcile_stuck(0).requeued == 1
    run_jobs(smtp_app)
    (received,) = fake_smtp.wait_for(1)
    assert received.message["Message-ID"] == f"<outreach.{message_id}@embassy.test>"
    assert status_of(smtp_app, message_id) == S.SENT


def test_reconcile_is_a_periodic_job_on_default() -> None:
    from outreach.schedule import load_periodic_jobs

    job = load_periodic_jobs()["messaging.reconcile"]
    assert (job.queue, job.every_seconds, job.on_start) == ("default", 60, True)


def test_lost_scheduled_retries_are_requeued(app: Flask, redis_conn: Redis) -> None:
    orphan = add_message(app, next_attempt_at=utcnow() - timedelta(hours=1), attempts=1)
    waiting = add_message(app, next_attempt_at=utcnow() + timedelta(minutes=1), attempts=1)
    with app.app_context():
        report = send.reconcile_stuck()
        again = send.reconcile_stuck()
    assert (report.orphaned_retries, again.orphaned_retries) == (1, 0)
    run_jobs(app)
    assert (status_of(app, orphan), status_of(app, waiting)) == (S.SENT, S.PENDING)


# --- other channels through the pipeline -----------------------------------------------------------


def test_email_through_the_pipeline(smtp_app: Flask, fake_smtp: FakeSMTP) -> None:
    first = _queue_one(
        smtp_app, channel="email", to="Hong@Example.com", subject="제목", body="본문", html="<p>본문</p>"
    )
    second = _queue_one(
        smtp_app, channel="email", to="kim@example.com", subject="제목", body="본문", source_id=2
    )
    assert first is not None and second is not None
    with smtp_app.app_context():
        send.send_batch([first, second])
    received = fake_smtp.wait_for(2)
    assert fake_smtp.connections == 1
    # The two are handed off concurrently, so they may arrive in either order.
    by_recipient = {r.rcpt_tos[0].lower(): r.message for r in received}
    assert by_recipient["hong@example.com"].get_content_type() == "multipart/alternative"
    assert by_recipient["kim@example.com"].get_content_type() == "text/plain"
    row = message_row(smtp_app, first)
    assert (row.status, row.provider_sid, row.segments) == (S.SENT, f"<outreach.{first}@embassy.test>", None)


def test_whatsapp_through_the_pipeline(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    message_id = _queue_one(twilio_app, channel="whatsapp", to="whatsapp:" + TO)
    assert message_id is not None
    assert message_row(twilio_app, message_id).to_address == TO
    run_jobs(twilio_app)
    (sent,) = fake_twilio.sent()
    assert sent["to"] == "whatsapp:" + TO
    assert status_of(twilio_app, message_id) == S.SENT


def test_console_channel_through_the_pipeline(app: Flask) -> None:
    message_id = _queue_one(app, body="콘솔")
    assert message_id is not None
    run_jobs(app)
    row = message_row(app, message_id)
    with app.app_context():
        entry = db.session.execute(sa.select(OutboxEntry)).scalar_one()
    assert (entry.message_id, entry.body, entry.to_address) == (message_id, "콘솔", TO)
    assert (row.status, row.provider_sid) == (S.SENT, entry.sid)


def test_send_batch_twice_hands_over_once(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    ids = [add_message(twilio_app, to_address=f"+855125554{i:02d}") for i in range(10)]
    with twilio_app.app_context():
        first = send.send_batch(ids)
        second = send.send_batch(ids)
    assert (first.sent, second.claimed) == (10, 0)
    assert len(fake_twilio.sent()) == 10
