"""Check-in messages recovered after a crash go back to ``high``, not behind a bulk alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue

from outreach.extensions import db
from outreach.messaging import send
from outreach.models import Alert, AlertKind, CheckIn, Message, MessageStatus, SourceKind, User, utcnow
from tests.messaging.conftest import add_message


def _plain_alert(app: Flask, officer: User) -> int:
    with app.app_context():
        alert = Alert(
            kind=AlertKind.ALERT,
            title="Road closures",
            severity="Moderate",
            channels=["sms"],
            audience={},
            created_by_id=officer.id,
        )
        db.session.add(alert)
        db.session.commit()
        return alert.id


def test_stuck_checkin_messages_are_requeued_on_high_and_alerts_on_bulk(
    app: Flask, redis_conn: Redis, officer: User, make_checkin: Callable[..., int]
) -> None:
    checkin_id = make_checkin()
    with app.app_context():
        checkin_alert = db.session.scalar(sa.select(CheckIn.alert_id).where(CheckIn.id == checkin_id))
    assert checkin_alert is not None
    alert_id = _plain_alert(app, officer)
    claimed = utcnow() - timedelta(minutes=10)
    for source_id, to in ((checkin_alert, "+85512555101"), (alert_id, "+85512555102")):
        # Claimed by a worker that died before rendering: never handed over, so re-queued at once.
        add_message(
            app,
            source_kind=SourceKind.ALERT,
            source_id=source_id,
            to_address=to,
            body=None,
            status=MessageStatus.SENDING,
            claimed_at=claimed,
            attempts=1,
        )
    with app.app_context():
        assert send.reconcile_stuck(0).requeued == 2
    high = Queue("high", connection=redis_conn)
    bulk = Queue("bulk", connection=redis_conn)
    assert (high.count, bulk.count) == (1, 1)
    (high_job,) = high.get_jobs()
    (bulk_job,) = bulk.get_jobs()
    with app.app_context():
        by_id = dict(db.session.execute(sa.select(Message.id, Message.source_id)).tuples().all())
    assert [by_id[i] for i in high_job.args[0]] == [checkin_alert]
    assert [by_id[i] for i in bulk_job.args[0]] == [alert_id]
