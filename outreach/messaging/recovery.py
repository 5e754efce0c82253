"""The messaging sweep: every few seconds, put right what a dead worker, an emptied Redis or a database
outage left behind. The database is the record; Redis only holds work in flight.

``sweep()`` (the ``messaging.sweep`` periodic job, every ``SEND_SWEEP_SECONDS``):

1. **Redis emptied?** A marker key that never expires is missing: Redis was flushed or restarted
   empty. The registered rebuilds restore what the database can tell (stop keys of cancelled
   alerts, …); queues, scheduled retries and locks are rebuilt by the steps below and by the ticker.
2. **Spooled status callbacks** (taken while the database was away) are applied in bulk.
3. **Expired leases**: the ``sending`` messages of a job that died are settled with the provider —
   found → ``sent``, not found → ``pending`` and re-queued (``send.settle_expired_leases``).
4. **Pending messages no job holds**: pending and due, untouched for a sweep period, and in no queued
   or scheduled send job in Redis (the job was lost with a worker or a FLUSHDB, or the scheduler that
   should have run it died) → queued again.
   Claiming is atomic, so a message queued twice is still sent once.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from outreach.extensions import DB_UNAVAILABLE, QUEUE_NAMES, db, redis_conn
from outreach.messaging import send
from outreach.messaging.hooks import ACTIVE_SOURCES, REDIS_REBUILDS, load_area_hooks
from outreach.messaging.inbound_spool import drain_inbound
from outreach.messaging.spool import drain_statuses
from outreach.models import Message, MessageStatus, utcnow

log = logging.getLogger(__name__)

MESSAGE = cast(sa.Table, Message.__table__)
#: Present as long as Redis keeps its data (no expiry); its absence means Redis was emptied.
EPOCH_KEY = "outreach:epoch"
SEND_JOB_SUFFIX = "send_batch_job"


@dataclass
class SweepReport:
    redis_rebuilt: bool = False
    inbound_routed: int = 0
    statuses_applied: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    requeued: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_redis_epoch(conn: Redis) -> bool:
    """Run the registered rebuilds if Redis was emptied since the last sweep (or never marked)."""
    if not conn.set(EPOCH_KEY, secrets.token_hex(8), nx=True):
        return False
    log.warning("Redis holds no epoch marker (flushed or restarted empty): rebuilding its state")
    for rebuild in REDIS_REBUILDS:
        rebuild()
    db.session.commit()
    return True


def queued_message_ids(conn: Redis, grace_seconds: float) -> set[int]:
    """Ids held by a send job waiting in a queue, or scheduled (a retry) and not overdue by more than
    ``grace_seconds``: RQ's scheduler runs in one worker, and when that worker dies its lock keeps
    the others from taking over for minutes, so an overdue scheduled job holds nothing."""
    job_ids: list[str] = []
    overdue = time.time() - grace_seconds
    for name in QUEUE_NAMES:
        q = Queue(name, connection=conn)
        job_ids.extend(q.get_job_ids())
        scheduled = ScheduledJobRegistry(queue=q)
        job_ids.extend(
            raw.decode() if isinstance(raw, bytes) else str(raw)
            for raw in conn.zrangebyscore(scheduled.key, overdue, "+inf")
        )
    held: set[int] = set()
    for job in Job.fetch_many(job_ids, connection=conn):
        if job is None:
            continue
        try:
            if (job.func_name or "").endswith(SEND_JOB_SUFFIX) and job.args:
                held.update(int(i) for i in job.args[0])
        except Exception:  # an unreadable job holds nothing we can count on
            log.warning("sweep: cannot read job %s", job.id, exc_info=True)
    return held


def _pending_due(grace: timedelta) -> list[Any]:
    cutoff = utcnow() - grace
    base = [
        MESSAGE.c.status == MessageStatus.PENDING,
        MESSAGE.c.updated_at <= cutoff,
        sa.or_(MESSAGE.c.next_attempt_at.is_(None), MESSAGE.c.next_attempt_at <= cutoff),
    ]
    scopes: list[sa.ColumnElement[bool]] = []
    for kind, active in ACTIVE_SOURCES.items():
        ids = active()
        if ids:
            scopes.append(sa.and_(MESSAGE.c.source_kind == kind, MESSAGE.c.source_id.in_(ids)))
    scopes.append(MESSAGE.c.source_kind.not_in(list(ACTIVE_SOURCES)) if ACTIVE_SOURCES else sa.true())
    rows = db.session.execute(
        sa.select(MESSAGE.c.id, MESSAGE.c.source_kind, MESSAGE.c.source_id)
        .where(*base, sa.or_(*scopes))
        .order_by(MESSAGE.c.id)
    ).all()
    return list(rows)


def requeue_lost_pending(grace_seconds: float) -> int:
    """Queue again the pending, due messages that no send job in Redis holds; returns how many."""
    conn = redis_conn()
    candidates = _pending_due(timedelta(seconds=grace_seconds))
    db.session.commit()
    if not candidates:
        return 0
    held = queued_message_ids(conn, grace_seconds)
    queue_of: Callable[[Any, int], str] = functools.cache(send.default_queue)
    lost: dict[str, list[int]] = {}
    for row in candidates:
        if row.id not in held:
            lost.setdefault(queue_of(row.source_kind, row.source_id), []).append(row.id)
    db.session.commit()  # the queue resolvers may have read
    for name, ids in lost.items():
        send.enqueue_now(ids, name)
    count = sum(len(ids) for ids in lost.values())
    if count:
        log.warning("sweep: %d pending messages were in no queued job; queued again", count)
    return count


def sweep() -> SweepReport:
    """One pass of the sweep (see the module docstring). Each step stands alone: one failing (Redis
    or the database away) does not keep the others from running."""
    load_area_hooks()
    report = SweepReport()
    # A pending message is "lost" once untouched for a sweep period and in no queued job: the gaps it
    # covers (a commit before its enqueue, a dequeue before the claim) last milliseconds, and a false
    # alarm only queues a job that claims nothing.
    grace = float(current_app.config.get("SEND_SWEEP_SECONDS") or 5)

    def step(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            if not isinstance(exc, DB_UNAVAILABLE):
                log.exception("sweep: %s failed", name)
            else:
                log.warning("sweep: %s: database unavailable", name)
            report.errors.append(f"{name}: {type(exc).__name__}")
            try:
                db.session.rollback()
            except Exception:
                log.debug("rollback failed", exc_info=True)

    def rebuild() -> None:
        report.redis_rebuilt = check_redis_epoch(redis_conn())

    def inbound() -> None:
        report.inbound_routed = drain_inbound()

    def statuses() -> None:
        report.statuses_applied = drain_statuses()

    def leases() -> None:
        report.settled = send.settle_expired_leases().as_dict()

    def pending() -> None:
        report.requeued = requeue_lost_pending(grace)

    step("redis epoch", rebuild)
    # Calls for help that waited out an outage come first.
    step("spooled inbound", inbound)
    step("spooled statuses", statuses)
    step("expired leases", leases)
    step("lost pending", pending)
    return report
