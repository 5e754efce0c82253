"""Job plumbing: enqueue only after commit, run every job in a fresh app context, periodic ticks.

Every job must be idempotent: a worker can die at any instruction, RQ may run a job again, and the
scheduler may enqueue a periodic job twice. Jobs take ids, never objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.job import Job
from rq.worker.base import BaseWorker

from outreach.extensions import QUEUE_NAMES, db

log = logging.getLogger(__name__)

_PENDING_KEY = "outreach_pending_jobs"


@dataclass
class _PendingJob:
    queue: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    #: The savepoint it was enqueued in (None: the outer transaction); rolling that savepoint back drops it.
    savepoint: sa.orm.SessionTransaction | None = None


def enqueue_after_commit(
    queue_name: str,
    func: Callable[..., Any],
    *args: Any,
    job_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue ``func(*args, **kwargs)`` once the current transaction commits; drop it on rollback.

    A job enqueued before its rows are committed can run before they are visible (or after they were
    rolled back) — the classic lost-or-phantom job.
    """
    if queue_name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue_name!r}")
    session = db.session()
    session.info.setdefault(_PENDING_KEY, []).append(
        _PendingJob(queue_name, func, args, kwargs, job_options or {}, session.get_nested_transaction())
    )


def _release_pending(session: sa.orm.Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint was released (SQLAlchemy fires after_commit for that too)
    pending: list[_PendingJob] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    from outreach.extensions import redis_conn

    conn = redis_conn()
    by_queue: dict[str, list[_PendingJob]] = {}
    for job in pending:
        by_queue.setdefault(job.queue, []).append(job)
    for name, jobs in by_queue.items():
        q = Queue(name, connection=conn)
        q.enqueue_many([Queue.prepare_data(j.func, args=j.args, kwargs=j.kwargs, **j.options) for j in jobs])


def _inside(savepoint: sa.orm.SessionTransaction | None, ended: sa.orm.SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


def _discard_savepoint_jobs(session: sa.orm.Session, previous: sa.orm.SessionTransaction) -> None:
    # A savepoint rolled back: only the jobs enqueued inside it go; the outer transaction's stay.
    if previous.nested and _PENDING_KEY in session.info:
        pending: list[_PendingJob] = session.info[_PENDING_KEY]
        session.info[_PENDING_KEY] = [j for j in pending if not _inside(j.savepoint, previous)]


def _discard_pending(session: sa.orm.Session, transaction: sa.orm.SessionTransaction) -> None:
    # The outer transaction ended. After a commit its jobs were already released; after a rollback or a
    # close() they must not survive into the session's next transaction.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def init_app(app: Flask) -> None:
    # Listen on the Session class once: Flask-SQLAlchemy creates sessions per app context.
    if not sa.event.contains(sa.orm.Session, "after_commit", _release_pending):
        sa.event.listen(sa.orm.Session, "after_commit", _release_pending)
        sa.event.listen(sa.orm.Session, "after_soft_rollback", _discard_savepoint_jobs)
        sa.event.listen(sa.orm.Session, "after_transaction_end", _discard_pending)


def retry(max_attempts: int = 3, intervals: list[int] | None = None) -> Retry:
    return Retry(max=max_attempts, interval=intervals or [5, 30, 120])


class _AppContextMixin:
    """Push a fresh app context around each job and release the database connection after it."""

    app: Flask

    def perform_job(self, job: Job, queue: Queue) -> bool:
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)  # type: ignore[misc]
            finally:
                db.session.remove()


class AppWorker(_AppContextMixin, Worker):
    """Forking worker: each job runs in a child process, so a crash or leak dies with the job."""

    #: No "result is kept for 500 seconds" line after every job: nothing reads job results.
    log_result_lifespan = False

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # The child inherited the parent's pooled connections; sharing a socket across processes
        # corrupts the protocol, so the child drops them (without closing the parent's).
        with self.app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)


class AppSimpleWorker(_AppContextMixin, SimpleWorker):
    """In-process worker: faster per job; used by tests and by ``worker.py --simple``."""

    log_result_lifespan = False


def make_worker(
    app: Flask, queues: list[str] | None = None, *, simple: bool = False, connection: Redis | None = None
) -> BaseWorker:
    conn = connection or app.extensions["redis"]
    names = queues or list(QUEUE_NAMES)
    worker: BaseWorker
    if simple:
        worker = AppSimpleWorker([Queue(n, connection=conn) for n in names], connection=conn)
    else:
        worker = AppWorker([Queue(n, connection=conn) for n in names], connection=conn)
    worker.app = app
    return worker


def run_burst(app: Flask, queues: list[str] | None = None) -> bool:
    """Run every queued job to completion in this process (tests, CLI maintenance)."""
    worker = make_worker(app, queues, simple=True)
    return bool(worker.work(burst=True, with_scheduler=False))
