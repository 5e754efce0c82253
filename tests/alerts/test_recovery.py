"""The bad night, with real worker processes, PostgreSQL, Redis and the fake Twilio: a worker's process
tree SIGKILLed three times, Redis flushed, Redis stopped, the database cut while callbacks arrive.

Every test checks the outcome at the fake provider: each recipient got exactly one SMS. Lease and
sweep periods are seconds here (``SEND_LEASE_SECONDS``, ``SEND_SWEEP_SECONDS``), so waiting for a
condition with a timeout well below the old 300 s stuck window shows that recovery no longer waits
for it; the recovery times themselves are measured by ``bench/recovery.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis

from outreach.extensions import db
from outreach.models import AlertStatus, Message, MessageStatus, SourceKind, User, utcnow
from tests.alerts.test_workers import alert_state, broadcast, wait_for, worker, worker_env
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN, LiveServer
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

#: Short lease and sweep: a dead job is known within about three seconds.
FAST_RECOVERY = {
    "SEND_LEASE_SECONDS": "2",
    "SEND_SWEEP_SECONDS": "1",
    "TWILIO_TIMEOUT_SECONDS": "1",
}
#: Own Redis for the test that stops it (the shared one is never stopped).
OWN_REDIS_PORT = 6391


def sending_ids(app: Flask, alert_id: int) -> set[int]:
    with app.app_context():
        ids = set(
            db.session.scalars(
                sa.select(Message.id).where(
                    Message.source_kind == SourceKind.ALERT,
                    Message.source_id == alert_id,
                    Message.status == MessageStatus.SENDING,
                )
            )
        )
        db.session.rollback()
        return ids


def still_sending(app: Flask, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    with app.app_context():
        left = set(
            db.session.scalars(
                sa.select(Message.id).where(Message.id.in_(ids), Message.status == MessageStatus.SENDING)
            )
        )
        db.session.rollback()
        return left


def assert_exactly_once(fake: FakeTwilio, phones: list[str]) -> None:
    assert fake.stats()["duplicates"] == {}
    counts = {phone: fake.count_to(phone) for phone in phones}
    assert [p for p, n in counts.items() if n != 1] == []


def test_a_worker_killed_three_times_loses_and_duplicates_nothing_and_recovers_in_seconds(
    make_app: Callable[..., Flask],
    database_url: str,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    app = make_app(SEND_BATCH_SIZE=20)
    fake_twilio.latency = 0.05
    fake_twilio.fail_every(20, status=429, code=20429)  # 5 % throttled: retries in the mix
    alert_id, phones = broadcast(app, make_person, make_alert, officer, 200)
    env = worker_env(database_url, fake_twilio, **FAST_RECOVERY)

    with ExitStack() as stack:
        # Forking workers: the job runs in a child, and the whole process group is killed.
        steady = stack.enter_context(worker_forking(env))
        doomed = stack.enter_context(worker_forking(env))
        for fraction in (0.10, 0.35, 0.60):
            fake_twilio.wait_for_sent(int(len(phones) * fraction), timeout=60)
            in_hand = sending_ids(app, alert_id)
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
            doomed = stack.enter_context(worker_forking(env))
            # Everything that was in a job's hands is settled (or re-queued) by the sweep within
            # seconds, not after SENDING_STUCK_SECONDS (300 s).
            wait_for(lambda ids=in_hand: not still_sending(app, ids), 30, "the dead job's messages to settle")
        wait_for(lambda: alert_state(app, alert_id)[0] == AlertStatus.COMPLETED, 90, "the alert to complete")
        assert steady.poll() is None and doomed.poll() is None

    assert_exactly_once(fake_twilio, phones)
    assert alert_state(app, alert_id)[1] == {"sent": 200}


def test_flushing_redis_mid_alert_costs_seconds_and_sends_nothing_twice(
    make_app: Callable[..., Flask],
    database_url: str,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    app = make_app(SEND_BATCH_SIZE=20)
    fake_twilio.latency = 0.02
    fake_twilio.fail_every(25, status=429, code=20429)  # some retries are scheduled when Redis goes
    alert_id, phones = broadcast(app, make_person, make_alert, officer, 200)
    # Paced, so that most of the alert is still queued when Redis loses everything.
    env = worker_env(database_url, fake_twilio, TWILIO_MAX_SEGMENTS_PER_SECOND="60", **FAST_RECOVERY)

    with worker_forking(env) as first, worker_forking(env) as second:
        fake_twilio.wait_for_sent(60, timeout=60)
        redis_conn.flushdb()  # queues, scheduled retries, limiter, locks, worker registrations: gone
        at_flush = len(fake_twilio.sent())
        assert at_flush < 150
        wait_for(lambda: alert_state(app, alert_id)[0] == AlertStatus.COMPLETED, 60, "the alert to complete")
        assert first.poll() is None and second.poll() is None

    assert_exactly_once(fake_twilio, phones)
    assert alert_state(app, alert_id)[1] == {"sent": 200}


@pytest.fixture
def own_redis() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A redis-server of our own on port 6391 that the test may stop; started by calling the fixture."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (apt-get install redis-server)"
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(OWN_REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        probe = Redis(port=OWN_REDIS_PORT, socket_connect_timeout=0.2)

        def up() -> bool:
            try:
                return bool(probe.ping())
            except Exception:
                return False

        wait_for(up, 10, "our redis-server to start")
        probe.close()
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_workers_survive_redis_going_away_and_finish_the_alert(
    make_app: Callable[..., Flask],
    database_url: str,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    own_redis: Callable[[], subprocess.Popen[bytes]],
) -> None:
    redis_url = f"redis://127.0.0.1:{OWN_REDIS_PORT}/0"
    server = own_redis()
    app = make_app(SEND_BATCH_SIZE=20, REDIS_URL=redis_url)
    fake_twilio.latency = 0.02
    alert_id, phones = broadcast(app, make_person, make_alert, officer, 150)
    env = worker_env(
        database_url, fake_twilio, REDIS_URL=redis_url, TWILIO_MAX_SEGMENTS_PER_SECOND="60", **FAST_RECOVERY
    )

    with worker_forking(env) as first, worker_forking(env) as second:
        fake_twilio.wait_for_sent(50, timeout=60)
        server.terminate()  # Redis gone; it comes back empty (no persistence), as after a restart
        server.wait(10)
        threading.Event().wait(3)  # the outage itself: a few seconds without Redis
        assert first.poll() is None and second.poll() is None
        own_redis()
        wait_for(lambda: alert_state(app, alert_id)[0] == AlertStatus.COMPLETED, 90, "the alert to complete")
        assert first.poll() is None and second.poll() is None

    assert_exactly_once(fake_twilio, phones)
    assert alert_state(app, alert_id)[1] == {"sent": 150}


def proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


def test_a_database_outage_with_callbacks_arriving_loses_no_status(
    make_app: Callable[..., Flask],
    database_url: str,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    target = urlsplit(database_url)
    with (
        TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy,
        FakeTwilio(
            account_sid=TWILIO_TEST_SID,
            auth_token=TWILIO_TEST_TOKEN,
            auto_callbacks=["sent", "delivered"],
            # "delivered" trails "sent" by a second, so callbacks keep coming during the outage even
            # once the jobs stop handing over (they cannot renew their leases).
            callback_delay=1.0,
            callback_workers=16,
        ) as fake,
    ):
        via_proxy = proxied(database_url, proxy.port)
        server = LiveServer(Flask("placeholder"))
        web = make_app(
            DATABASE_URL=via_proxy,
            PUBLIC_BASE_URL=server.url,
            SMS_CHANNEL="twilio",
            TWILIO_API_BASE_URL=fake.base_url,
            SEND_BATCH_SIZE=20,
        )
        server.server.app = web  # type: ignore[attr-defined]
        server.start()
        try:
            fake.latency = 0.02
            alert_id, phones = broadcast(web, make_person, make_alert, officer, 200)
            env = worker_env(
                via_proxy,
                fake,
                PUBLIC_BASE_URL=server.url,
                TWILIO_MAX_SEGMENTS_PER_SECOND="50",
                SEND_LEASE_SECONDS="3",
                SEND_SWEEP_SECONDS="1",
                TWILIO_TIMEOUT_SECONDS="1",
            )
            with worker_forking(env) as first, worker_forking(env) as second:
                fake.wait_for_sent(60, timeout=60)
                proxy.cut()  # refused and cut: every pooled connection of web and workers dies
                before = len(fake.callback_results)
                fake.wait_for_callbacks(before + 15, timeout=30)  # callbacks keep coming meanwhile
                during = fake.callback_results[before:]
                threading.Event().wait(1)
                proxy.restore()
                # The web's first database request after the outage works (its pooled connections
                # were cut: pre-ping replaces them): an unknown API token is looked up → 401, not 500.
                assert api_status(server.url, "Bearer not-a-token") == 401
                assert during and all(200 <= r.http_code < 300 for r in during)
                wait_for(lambda: alert_state(web, alert_id)[0] == AlertStatus.COMPLETED, 90, "completion")
                # Every callback was answered 2xx, and every message reached its true final state.
                wait_for(lambda: alert_state(web, alert_id)[1] == {"delivered": 200}, 60, "all delivered")
                assert first.poll() is None and second.poll() is None
        finally:
            server.stop()
        results = fake.callback_results
        assert results and all(200 <= r.http_code < 300 for r in results)
        assert_exactly_once(fake, phones)
        assert proxy.accepted > 0  # the web and the workers did go through the proxy


def api_status(base_url: str, authorization: str) -> int:
    request = urllib.request.Request(base_url + "/api/v1/people", headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


def worker_forking(env: dict[str, str]) -> Any:
    """``worker.py`` as in production: RQ forks a work horse per job; SIGKILL of the group kills both."""
    return worker(env, "--queues", "high,default,bulk", forking=True)


# --- the sweep's steps, in-process (no worker processes) ---------------------------------------------


def _age_messages(app: Flask, alert_id: int, seconds: int) -> None:
    """Pretend the alert's messages were last touched ``seconds`` ago (the sweep's grace)."""
    with app.app_context():
        db.session.execute(
            sa.update(Message)
            .where(Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


@pytest.mark.usefixtures("redis_conn")
def test_the_sweep_requeues_what_a_flush_lost_and_stops_cancelled_alerts_again(
    app: Flask,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    from outreach.alerts import workflow
    from outreach.messaging import status
    from outreach.messaging.hooks import is_stopped
    from outreach.messaging.recovery import sweep
    from outreach.models import OutboxEntry
    from tests.alerts.conftest import get_alert, send_alert_now
    from tests.conftest import run_jobs

    for i in range(30):
        make_person(phone=f"+8551288{i:04d}")
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])  # the fan-out: its send jobs wait on ``bulk``
    cancelled_id = make_alert(title="Cancelled")
    send_alert_now(app, cancelled_id, officer)
    run_jobs(app, ["default"])
    with app.app_context():
        # One message of the second alert is in a (slow) job's hands when the alert is cancelled.
        first = db.session.scalar(
            sa.select(Message.id).where(Message.source_id == cancelled_id).order_by(Message.id).limit(1)
        )
        assert first is not None
        assert status.claim([first])
        db.session.commit()
        me = db.session.get(User, officer.id)
        assert me is not None
        workflow.cancel(get_alert(cancelled_id), actor=me)
        db.session.commit()
        assert is_stopped(SourceKind.ALERT, cancelled_id)

    redis_conn.flushdb()  # every queued send job, and the stop key, gone
    _age_messages(app, alert_id, 60)
    with app.app_context():
        report = sweep()
        assert report.redis_rebuilt and report.requeued == 30 and not report.errors
        assert is_stopped(SourceKind.ALERT, cancelled_id)  # the cancelled alert is stopped again
        again = sweep()
        assert again.requeued == 0 and not again.redis_rebuilt  # queued now: nothing lost twice
    run_jobs(app)
    with app.app_context():
        sent_to = list(db.session.scalars(sa.select(OutboxEntry.to_address)))
        db.session.rollback()
    # The console channel is the provider here: each of the 30 got one message, none from the
    # cancelled alert.
    assert sorted(sent_to) == sorted(f"+8551288{i:04d}" for i in range(30))


def test_spooled_status_callbacks_are_applied_once_the_database_answers(
    app: Flask, redis_conn: Redis
) -> None:
    from outreach.messaging.spool import SpooledStatus, drain_statuses, spool_status, spooled_count
    from tests.messaging.conftest import add_message, status_of

    ids = [add_message(app, status=MessageStatus.SENT, provider_sid=f"SM{i:032d}") for i in range(3)]
    with app.app_context():
        for i, message_id in enumerate(ids):
            spool_status(SpooledStatus(message_id, f"SM{i:032d}", "delivered", None))
        # A late "sent" after "delivered", and a garbled entry: neither moves anything backwards.
        spool_status(SpooledStatus(ids[0], f"SM{0:032d}", "sent", None))
        redis_conn.rpush("outreach:status-spool", b"not json")
        assert spooled_count() == 5
        assert drain_statuses() == 5
        assert spooled_count() == 0
    assert [status_of(app, i) for i in ids] == [MessageStatus.DELIVERED] * 3
