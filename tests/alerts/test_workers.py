"""Real worker processes: two never claim the same message, and a SIGKILL mid-broadcast loses nothing
and duplicates nothing once reconciliation and a new worker have run (counted at the fake provider)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue

from outreach.extensions import db
from outreach.models import AlertStatus, MessageStatus, SendLease, User, utcnow
from tests import conftest as root_conftest
from tests.alerts.conftest import alert_messages, get_alert, send_alert_now
from tests.conftest import PUBLIC_BASE_URL, TWILIO_TEST_SID, TWILIO_TEST_TOKEN, run_jobs
from tests.fakes.twilio_server import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


def worker_env(database_url: str, fake: FakeTwilio, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SEND_", "SMTP_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "REDIS_URL": root_conftest.TEST_REDIS_URL,
            "SECRET_KEY": "test-secret-key",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "SMS_CHANNEL": "twilio",
            "MAIL_CHANNEL": "console",
            "TWILIO_ACCOUNT_SID": TWILIO_TEST_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
            "TWILIO_FROM": "+15005550006",
            "TWILIO_API_BASE_URL": fake.base_url,
            "TWILIO_MAX_SEGMENTS_PER_SECOND": "1000",
            "SEND_BATCH_SIZE": "20",
            "SEND_CONCURRENCY": "4",
            "SEND_RETRY_BASE_SECONDS": "0",
            **extra,
        }
    )
    return env


@contextmanager
def worker(env: dict[str, str], *args: str, forking: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """``python worker.py …`` in its own process group; its log goes to a temporary file.

    ``forking``: RQ's default worker, which forks a work horse per job (same process group), instead
    of ``--simple``.
    """
    log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below, after reading
    proc = subprocess.Popen(
        [sys.executable, "worker.py", *([] if forking else ["--simple"]), *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        if proc.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
            print(output[-int(os.environ.get("OUTREACH_TEST_LOG_TAIL", "5000")) :])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        pause.wait(0.1)


def broadcast(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User, n: int
) -> tuple[int, list[str]]:
    phones = [f"+8551277{i:04d}" for i in range(n)]
    for phone in phones:
        make_person(phone=phone)
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])  # the fan-out; the send jobs wait on ``bulk`` for the real workers
    return alert_id, phones


def alert_state(app: Flask, alert_id: int) -> tuple[AlertStatus, dict[str, int]]:
    with app.app_context():
        counts: dict[str, int] = {}
        for message in alert_messages(alert_id):
            key = MessageStatus(message.status).value
            counts[key] = counts.get(key, 0) + 1
        status = get_alert(alert_id).status
        db.session.rollback()
        return status, counts


def live_leases(app: Flask) -> int:
    """Send leases not yet expired (jobs that may still be handing over)."""
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(SendLease).where(SendLease.expires_at > utcnow())
        )
        db.session.rollback()
        return int(count or 0)


def test_two_workers_never_claim_the_same_message(
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
    alert_id, phones = broadcast(app, make_person, make_alert, officer, 120)
    bulk = Queue("bulk", connection=redis_conn)
    jobs = bulk.get_jobs()
    send_jobs = [job for job in jobs if job.func_name.endswith("send_batch_job")]
    assert len(send_jobs) == 6
    # Every batch is queued a second time right behind itself: two workers contend for each one.
    bulk.empty()
    for job in jobs:
        for _ in range(2 if job in send_jobs else 1):
            bulk.enqueue(job.func_name, *job.args, job_timeout=300)

    env = worker_env(database_url, fake_twilio)
    with (
        worker(env, "--queues", "bulk", "--burst") as first,
        worker(env, "--queues", "bulk", "--burst") as second,
    ):
        first.wait(120)
        second.wait(120)
    assert first.returncode == 0 and second.returncode == 0

    assert fake_twilio.stats()["duplicates"] == {}
    assert all(fake_twilio.count_to(phone) == 1 for phone in phones)
    finished = [bulk.fetch_job(job_id) for job_id in bulk.finished_job_registry.get_job_ids()]
    results = [
        job.return_value() for job in finished if job is not None and job.func_name.endswith("send_batch_job")
    ]
    assert len(results) == 12
    assert sum(r["claimed"] for r in results) == 120  # each message claimed by exactly one job
    assert alert_state(app, alert_id)[1] == {"sent": 120}


def test_a_worker_killed_mid_broadcast_loses_and_duplicates_nothing(
    make_app: Callable[..., Flask],
    database_url: str,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    from outreach.messaging.send import settle_expired_leases

    app = make_app(SEND_BATCH_SIZE=20, SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url)
    fake_twilio.latency = 0.05  # the window: requests in flight when the worker dies
    alert_id, phones = broadcast(app, make_person, make_alert, officer, 200)
    env = worker_env(database_url, fake_twilio, SEND_LEASE_SECONDS="2")

    with worker(env, "--queues", "bulk", "--no-periodic") as doomed:
        fake_twilio.wait_for_sent(50, timeout=60)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    at_kill = len(fake_twilio.sent())
    assert 50 <= at_kill < 200
    # Requests the dead worker had already written are still answered by the fake: let them land.
    live: dict[Any, Any] = fake_twilio._server._live  # type: ignore[union-attr]
    wait_for(lambda: not live, 10, "the fake to finish the dead worker's requests")
    status, counts = alert_state(app, alert_id)
    assert status == AlertStatus.SENDING and counts.get("sending", 0) > 0  # left mid-batch

    # The dead job's lease (2 s here) runs out; then the sweep's settlement takes its messages.
    wait_for(lambda: not live_leases(app), 10, "the dead job's lease to expire")
    with app.app_context():
        report = settle_expired_leases()  # what the sweep does every SEND_SWEEP_SECONDS
    assert report.stuck == counts["sending"]
    assert report.found + report.requeued == report.stuck

    with worker(env, "--queues", "high,default,bulk"):
        wait_for(lambda: alert_state(app, alert_id)[0] == AlertStatus.COMPLETED, 120, "the alert to complete")

    assert fake_twilio.stats()["duplicates"] == {}
    assert [fake_twilio.count_to(phone) for phone in phones] == [1] * 200
    assert alert_state(app, alert_id)[1] == {"sent": 200}
