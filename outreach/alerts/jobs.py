"""Alert jobs: the fan-out and the periodic sweep. Thin: call one operation, commit, release side effects.

Both are idempotent: ``dispatch_alert`` may run twice (RQ retry, a worker killed mid-job, the sweep
re-running a dispatch that seems stuck) and creates nothing twice; the sweep only completes alerts
that are done and re-enqueues messages nobody is working on (claiming is atomic, so a message queued
twice is still sent once).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from outreach.alerts.render import render_claimed
from outreach.extensions import db, queue
from outreach.jobs import enqueue_after_commit, retry
from outreach.messaging.hooks import register_queue_resolver, register_renderer
from outreach.models import Alert, AlertKind, AlertStatus, Message, MessageStatus, SourceKind, utcnow
from outreach.registry.presence import cambodia_today
from outreach.schedule import periodic

log = logging.getLogger(__name__)

# Send jobs render alert messages in each person's language (the messaging pipeline imports this module).
register_renderer(SourceKind.ALERT, render_claimed)

#: Options for ``Queue.prepare_data`` (``enqueue_after_commit``). A fan-out of 100,000 recipients
#: takes a second or two; the timeout leaves room for a slow disk.
DISPATCH_JOB_OPTIONS: dict[str, Any] = {"timeout": 600, "retry": retry(3, [5, 30, 120])}
#: A dispatch still ``dispatching`` this long after the click is assumed lost and run again.
DISPATCH_STALE_SECONDS = 60


#: Where the send jobs go: alerts are bulk; a check-in is safety traffic that must not wait behind one.
SEND_QUEUES: dict[AlertKind, str] = {AlertKind.ALERT: "bulk", AlertKind.CHECKIN: "high"}


def send_queue(alert_id: int) -> str:
    kind = db.session.scalar(sa.select(Alert.kind).where(Alert.id == alert_id))
    return SEND_QUEUES.get(AlertKind(kind), "bulk") if kind is not None else "bulk"


# Messages re-queued by reconciliation or a lost retry go back where their send jobs run.
register_queue_resolver(SourceKind.ALERT, send_queue)


def dispatch_alert(alert_id: int) -> dict[str, Any]:
    """Materialise an alert's messages and enqueue their send jobs on ``bulk`` (DESIGN §3).

    A ``complete_alert`` job is queued behind the send jobs: with workers taking jobs in order it
    finds the broadcast done (or re-checks a few seconds later); the periodic sweep is the safety net.
    """
    from outreach.alerts import dispatch
    from outreach.alerts.workflow import complete_if_done
    from outreach.messaging.send import queue_messages

    result = dispatch.dispatch_alert(alert_id, today=cambodia_today())
    if result is None:
        db.session.rollback()
        return {"alert_id": alert_id, "queued": 0}
    queue_name = send_queue(alert_id)
    jobs = queue_messages(result.pending_ids, queue_name)
    if result.pending_ids:
        # Behind the send jobs on the same queue, so a worker taking jobs in order finds them done.
        enqueue_after_commit(queue_name, complete_alert, alert_id, job_options=COMPLETE_JOB_OPTIONS)
    db.session.commit()  # the send jobs are enqueued by this commit, never before
    if not result.pending_ids and complete_if_done(alert_id):
        db.session.commit()
    return {"alert_id": alert_id, "created": result.created, "queued": len(result.pending_ids), "jobs": jobs}


#: How long ``complete_alert`` waits before looking again while messages are still on their way.
COMPLETE_RECHECK_SECONDS = 5
COMPLETE_JOB_OPTIONS: dict[str, Any] = {"timeout": 60}


def complete_alert(alert_id: int) -> bool:
    """Complete the alert once nothing is pending or sending; otherwise look again shortly.

    Retries scheduled by the send pipeline can keep messages pending for minutes; this job then
    re-schedules itself (RQ's scheduler runs in every ``worker.py``) until the alert is finished or
    cancelled.
    """
    from outreach.alerts.workflow import complete_if_done

    done = complete_if_done(alert_id)
    db.session.commit()
    if not done:
        alert = db.session.get(Alert, alert_id)
        if alert is not None and alert.status == AlertStatus.SENDING:
            queue(send_queue(alert_id)).enqueue_in(
                timedelta(seconds=COMPLETE_RECHECK_SECONDS), complete_alert, alert_id, job_timeout=60
            )
    return done


@periodic("alerts_sweep", queue="default", every_seconds=10, on_start=True)
def sweep() -> dict[str, int]:
    """Complete finished alerts, re-run lost dispatches, re-enqueue orphaned pending messages."""
    from outreach.alerts.workflow import complete_if_done
    from outreach.messaging.send import queue_messages

    now = utcnow()
    completed = redispatched = requeued = 0
    stale = now - timedelta(seconds=DISPATCH_STALE_SECONDS)
    lost = db.session.scalars(
        sa.select(Alert.id).where(Alert.status == AlertStatus.DISPATCHING, Alert.dispatch_started_at < stale)
    ).all()
    for alert_id in lost:  # each re-run commits, so the ids are read first
        dispatch_alert(alert_id)
        redispatched += 1
    stuck = timedelta(seconds=int(current_app.config.get("SENDING_STUCK_SECONDS", 300)))
    for alert_id in list(db.session.scalars(sa.select(Alert.id).where(Alert.status == AlertStatus.SENDING))):
        if complete_if_done(alert_id):
            completed += 1
            continue
        ids = orphaned_pending(alert_id, now - stuck)
        if ids:
            queue_messages(ids, send_queue(alert_id))
            requeued += len(ids)
    db.session.commit()
    if completed or redispatched or requeued:
        log.info(
            "alerts sweep: %d completed, %d re-dispatched, %d messages re-queued",
            completed,
            redispatched,
            requeued,
        )
    return {"completed": completed, "redispatched": redispatched, "requeued": requeued}


def orphaned_pending(alert_id: int, quiet_since: datetime) -> list[int]:
    """Pending messages of an alert on which nothing has happened since ``quiet_since``.

    A send job that was lost (Redis flushed, a job dropped after a crash) leaves its messages
    ``pending`` for ever; when the whole alert has been quiet that long, they are queued again.
    """
    latest = db.session.scalar(
        sa.select(sa.func.max(sa.func.coalesce(Message.claimed_at, Message.created_at))).where(
            Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id
        )
    )
    if latest is not None and latest > quiet_since:
        return []
    return list(
        db.session.scalars(
            sa.select(Message.id)
            .where(
                Message.source_kind == SourceKind.ALERT,
                Message.source_id == alert_id,
                Message.status == MessageStatus.PENDING,
                sa.or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= quiet_since),
            )
            .order_by(Message.id)
        )
    )
