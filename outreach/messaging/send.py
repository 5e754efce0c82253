"""The send pipeline every source uses (DESIGN §3): queue → claim → check → render → pace → send → record.

``queue_messages(ids, queue)`` enqueues ``send_batch`` jobs after the commit that created the rows.
``send_batch(ids)`` is the job's core:

1. **claim** the batch in one ``UPDATE … RETURNING`` and commit, releasing the connection;
2. **check** each message at send time: an address, a configured channel, no opt-out of that
   (channel, address), a source not stopped — else ``skipped`` (or ``failed`` for no channel);
3. **render** bodies still NULL through the renderer registered for the source kind (bulk alerts
   and check-ins are rendered here, in each person's language), store them, commit;
4. **send** through the channel adapters with a bounded thread pool, each hand-off preceded by
   segments from the Redis rate limiter shared by every worker, the source guard (cancellation stops
   new hand-offs within about a second) and, last, the opt-out permit of
   :func:`outreach.messaging.optouts.hand_off_permit` (a STOP answered is never handed over after);
   no database connection is held meanwhile;
5. **record** the results in bulk through the guarded state machine and commit; transient errors go
   back to ``pending`` with an exponential, jittered backoff that honours Retry-After and are
   re-enqueued; after ``SEND_MAX_ATTEMPTS`` they fail; permanent errors fail at once (21610 also
   opts the address out); an UNKNOWN outcome (request written, answer lost) stays ``sending``.

``reconcile_stuck()`` (every minute and when a worker starts) settles messages left in ``sending``
— a worker killed mid-batch, an answer lost — by asking the provider before anything is re-sent:
found → ``sent`` with its sid; not found → ``pending`` and re-queued. E-mail cannot be asked: it is
re-sent (at least once beats at most once for safety messages) with the same Message-ID.

A batch hands off for at most half of ``SENDING_STUCK_SECONDS``; what is left goes back to ``pending``
and is re-queued. That keeps every hand-off well inside the window after which reconciliation may
consider the message stuck, so reconciliation never re-sends a message a live job is about to send.

Retries: a re-enqueue with a delay uses RQ's scheduler (``enqueue_at``; ``worker.py`` runs workers
with the scheduler). If a scheduled job is lost (Redis flushed, scheduler down), the periodic
reconciliation re-enqueues retries overdue by more than ``ORPHAN_RETRY_SECONDS``; ``claim`` is atomic,
so a retry enqueued twice is still sent once.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app

from outreach.config import Settings
from outreach.extensions import db, queue
from outreach.jobs import enqueue_after_commit
from outreach.messaging import status
from outreach.messaging.channels import ChannelUnavailable, channel_available, get_channel
from outreach.messaging.channels.base import (
    ChannelAdapter,
    LookupOutcome,
    Outcome,
    OutgoingMessage,
    SendResult,
)
from outreach.messaging.errors import lookup as error_info
from outreach.messaging.hooks import (
    GUARDS,
    QUEUE_RESOLVERS,
    RENDERERS,
    Rendered,
    is_stopped,
    load_area_hooks,
    register_renderer,
    register_source_guard,
    resume_source,
    stop_source,
)
from outreach.messaging.optouts import hand_off_permit, normalise_address, opt_out, opted_out_addresses
from outreach.messaging.ratelimit import SegmentRateLimiter, Unlimited, get_limiter
from outreach.messaging.segments import count_segments
from outreach.messaging.status import ClaimedMessage
from outreach.models import Message, MessageStatus, SourceKind, utcnow

log = logging.getLogger(__name__)

S = MessageStatus
MESSAGE = cast(sa.Table, Message.__table__)

#: Sources whose messages are bulk fan-out; everything else (replies, check-ins, help) goes on ``high``.
BULK_KINDS = frozenset({SourceKind.ALERT})
#: A retry whose scheduled job should have run this long ago is re-enqueued by reconciliation.
ORPHAN_RETRY_SECONDS = 600
#: Delayed retries are scheduled this much after they are due (see ``_enqueue_now_or_later``).
SCHEDULE_MARGIN = timedelta(seconds=2)
#: The source guard registry is consulted at most this often per source (the stop key every time).
GUARD_CACHE_SECONDS = 1.0


def default_queue(source_kind: SourceKind | str, source_id: int | None = None) -> str:
    """The queue for a message re-queued outside its own job: the source's resolver decides when it has
    one (a check-in is an alert row whose sends are safety traffic on ``high``), else the kind."""
    resolver = QUEUE_RESOLVERS.get(str(source_kind))
    if resolver is not None and source_id is not None:
        return resolver(source_id)
    return "bulk" if SourceKind(source_kind) in BULK_KINDS else "high"


@dataclass(frozen=True)
class SendSettings:
    """The send settings of ``outreach.config.Settings`` (documented there), with their defaults."""

    batch_size: int = Settings.SEND_BATCH_SIZE
    concurrency: int = Settings.SEND_CONCURRENCY
    max_attempts: int = Settings.SEND_MAX_ATTEMPTS
    retry_base_seconds: float = Settings.SEND_RETRY_BASE_SECONDS
    retry_max_seconds: float = Settings.SEND_RETRY_MAX_SECONDS
    stuck_seconds: int = Settings.SENDING_STUCK_SECONDS
    rate_wait_seconds: float = Settings.SEND_RATE_WAIT_SECONDS

    @property
    def hand_off_budget(self) -> float:
        return self.stuck_seconds / 2

    @classmethod
    def from_config(cls, config: Any) -> SendSettings:
        d = cls()
        return cls(
            batch_size=int(config.get("SEND_BATCH_SIZE") or d.batch_size),
            concurrency=max(1, int(config.get("SEND_CONCURRENCY") or d.concurrency)),
            max_attempts=max(1, int(config.get("SEND_MAX_ATTEMPTS") or d.max_attempts)),
            retry_base_seconds=float(config.get("SEND_RETRY_BASE_SECONDS", d.retry_base_seconds)),
            retry_max_seconds=float(config.get("SEND_RETRY_MAX_SECONDS", d.retry_max_seconds)),
            stuck_seconds=int(config.get("SENDING_STUCK_SECONDS") or d.stuck_seconds),
            rate_wait_seconds=float(config.get("SEND_RATE_WAIT_SECONDS", d.rate_wait_seconds)),
        )


def _settings() -> SendSettings:
    return SendSettings.from_config(current_app.config)


def backoff_seconds(attempts: int, retry_after: float | None, settings: SendSettings) -> float:
    """Exponential backoff with jitter (half to full of base·2^(n-1)), never sooner than Retry-After."""
    ceiling = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0
    return max(delay, retry_after or 0.0)


# --- enqueueing ------------------------------------------------------------------------------------


def _job_options(settings: SendSettings) -> dict[str, Any]:
    from outreach.messaging.jobs import SEND_RETRY

    # The hand-off budget is half the stuck window; the rest covers claim, render and recording.
    return {"timeout": settings.stuck_seconds, "retry": SEND_RETRY}


def _chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def queue_messages(message_ids: Iterable[int], queue_name: str, batch_size: int | None = None) -> int:
    """Enqueue ``send_batch`` jobs for these messages once the current transaction commits.

    Chunks of ``batch_size`` (default ``SEND_BATCH_SIZE``), released with one ``Queue.enqueue_many``
    per queue after the commit (nothing is enqueued on rollback). Returns the number of jobs.
    """
    from outreach.messaging.jobs import send_batch_job

    settings = _settings()
    ids = sorted(set(message_ids))
    chunks = _chunks(ids, batch_size or settings.batch_size)
    for chunk in chunks:
        enqueue_after_commit(queue_name, send_batch_job, chunk, job_options=_job_options(settings))
    return len(chunks)


def _enqueue_now_or_later(ids: Sequence[int], queue_name: str, at: datetime | None) -> None:
    """Enqueue right away (we are past the commit): at ``at`` through RQ's scheduler, or now."""
    from outreach.messaging.jobs import send_batch_job

    settings = _settings()
    q = queue(queue_name)
    options = _job_options(settings)
    chunks = _chunks(sorted(set(ids)), settings.batch_size)
    if at is not None and at > utcnow():
        # RQ's scheduler keeps whole seconds (rounded down) and hosts' clocks differ a little: a job
        # run before ``next_attempt_at`` would claim nothing, so it is scheduled a little after.
        at += SCHEDULE_MARGIN
        for chunk in chunks:
            q.enqueue_at(at, send_batch_job, chunk, job_timeout=options["timeout"], retry=options["retry"])
        return
    q.enqueue_many([q.prepare_data(send_batch_job, args=(chunk,), **options) for chunk in chunks])


def _current_queue_name() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.origin if job is not None else None


# --- the batch -------------------------------------------------------------------------------------


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Work:
    msg: ClaimedMessage
    body: str
    subject: str | None
    html: str | None
    segments: int | None

    @property
    def cost(self) -> int:
        """Rate-limit units: SMS segments; a WhatsApp message counts one."""
        if self.msg.channel == "sms":
            return self.segments or count_segments(self.body).segments
        return 1

    def outgoing(self) -> OutgoingMessage:
        return OutgoingMessage(
            to=self.msg.to_address or "",
            body=self.body,
            message_id=self.msg.id,
            subject=self.subject,
            html=self.html,
        )


@dataclass
class _Outcomes:
    """Results waiting to be written, as rows for the bulk state-machine updates."""

    settings: SendSettings
    sent: list[dict[str, Any]] = field(default_factory=list)
    retry: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[ClaimedMessage] = field(default_factory=list)
    opt_outs: list[ClaimedMessage] = field(default_factory=list)
    retry_at: datetime | None = None
    retry_queues: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, msg: ClaimedMessage, code: str) -> None:
        self.skipped.append({"id": msg.id, "error_code": code, "error_message": None})

    def fail(self, msg: ClaimedMessage, code: str | None, text: str | None) -> None:
        self.failed.append({"id": msg.id, "error_code": code, "error_message": (text or None) and text[:500]})

    def transient(
        self, msg: ClaimedMessage, code: str | None, text: str | None, retry_after: float | None
    ) -> None:
        if msg.attempts >= self.settings.max_attempts:
            self.fail(msg, code, text)
            return
        due = utcnow() + timedelta(seconds=backoff_seconds(msg.attempts, retry_after, self.settings))
        self.retry.append(
            {
                "id": msg.id,
                "next_attempt_at": due,
                "error_code": code,
                "error_message": (text or None) and text[:500],
            }
        )
        self.retry_at = max(self.retry_at or due, due)
        self.retry_queues.setdefault(_queue_for(msg), []).append(msg.id)

    def result(self, work: _Work, result: SendResult) -> None:
        msg = work.msg
        if result.outcome is Outcome.SENT:
            self.sent.append(
                {
                    "id": msg.id,
                    "provider_sid": result.provider_sid,
                    "segments": result.segments or work.segments,
                }
            )
        elif result.outcome is Outcome.TRANSIENT:
            self.transient(msg, result.error_code, result.error_message, result.retry_after)
        elif result.outcome is Outcome.PERMANENT:
            self.fail(msg, result.error_code, result.error_message)
            info = error_info(result.error_code)
            if info is not None and info.opts_out:
                self.opt_outs.append(msg)
        else:  # UNKNOWN: stays sending; reconciliation asks the provider
            self.unknown.append(
                {"id": msg.id, "error_code": result.error_code, "error_message": result.error_message}
            )

    def write(self, report: BatchReport) -> None:
        """Apply everything in bulk through the state machine (the caller commits)."""
        if self.sent:
            status.transition_many(
                S.SENT, [{"id": r["id"], "error_code": None, "error_message": None} for r in self.sent]
            )
            status.record_provider_sids(self.sent)
        status.transition_many(S.PENDING, self.retry)
        status.transition_many(S.FAILED, self.failed)
        status.transition_many(S.SKIPPED, self.skipped)
        status.set_fields_many(self.unknown, only_status=[S.SENDING])
        if self.deferred:
            # Not an attempt: the claim's increment is given back.
            status.transition_ids(
                [m.id for m in self.deferred],
                S.PENDING,
                attempts=MESSAGE.c.attempts - 1,
                next_attempt_at=None,
            )
        for msg in self.opt_outs:
            if msg.to_address:
                opt_out(msg.channel, msg.to_address, person_id=msg.person_id, source="provider")
        report.sent += len(self.sent)
        report.retrying += len(self.retry)
        report.failed += len(self.failed)
        report.skipped += len(self.skipped)
        report.unknown += len(self.unknown)
        report.deferred += len(self.deferred)

    def enqueue(self) -> None:
        """After the commit: re-enqueue deferred messages now and retries when due."""
        deferred: dict[str, list[int]] = {}
        for msg in self.deferred:
            deferred.setdefault(_queue_for(msg), []).append(msg.id)
        for name, ids in deferred.items():
            _enqueue_now_or_later(ids, name, None)
        for name, ids in self.retry_queues.items():
            # One job for the batch's retries, at the latest due time: claim skips messages not yet due.
            _enqueue_now_or_later(ids, name, self.retry_at)


#: The queue the running batch belongs to: its job's, or — for a batch run outside a job — each
#: source's, resolved once before the hand-off (which must not touch the database).
_job_queue: threading.local = threading.local()


def _resolve_queues(claimed: Sequence[ClaimedMessage]) -> dict[tuple[str, int], str]:
    sources = {(str(m.source_kind), m.source_id) for m in claimed}
    return {(kind, source_id): default_queue(kind, source_id) for kind, source_id in sources}


def _queue_for(msg: ClaimedMessage) -> str:
    name = getattr(_job_queue, "name", None)
    if name:
        return str(name)
    resolved = getattr(_job_queue, "by_source", None) or {}
    return resolved.get((str(msg.source_kind), msg.source_id)) or default_queue(
        msg.source_kind, msg.source_id
    )


class _Guards:
    """Source checks before each hand-off: the Redis stop key every time, registered guards cached briefly."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], tuple[float, bool]] = {}

    def may_send(self, source_kind: SourceKind | str, source_id: int) -> bool:
        kind = str(source_kind)
        if is_stopped(kind, source_id):
            return False
        guards = GUARDS.get(kind)
        if not guards:
            return True
        now = time.monotonic()
        cached = self._cache.get((kind, source_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        allowed = all(guard(source_id) for guard in guards)
        self._cache[(kind, source_id)] = (now + GUARD_CACHE_SECONDS, allowed)
        return allowed


def send_batch(message_ids: Sequence[int], *, queue_name: str | None = None) -> BatchReport:
    """Send these messages (those still pending and due); see the module docstring. Commits.

    Idempotent: run twice, or concurrently, each message is claimed — and handed over — once.
    """
    load_area_hooks()
    settings = _settings()
    started = time.monotonic()
    claimed = status.claim(message_ids)
    db.session.commit()
    report = BatchReport(claimed=len(claimed))
    if not claimed:
        return report
    _job_queue.name = queue_name or _current_queue_name()
    _job_queue.by_source = {} if _job_queue.name else _resolve_queues(claimed)
    try:
        guards = _Guards()
        checked = _Outcomes(settings)
        todo = _prepare(claimed, guards, checked)
        # Skips, failures and rendered bodies are stored before anything is handed over: a body
        # stored is the body sent, which reconciliation compares with the provider's copy.
        checked.write(report)
        db.session.commit()
        checked.enqueue()
        handed = _Outcomes(settings)
        _hand_off(todo, settings, guards, handed, deadline=started + settings.hand_off_budget)
        handed.write(report)
        db.session.commit()
        handed.enqueue()
    finally:
        _job_queue.name = None
        _job_queue.by_source = None
    log.info("send batch: %s", report.as_dict())
    return report


def _prepare(claimed: list[ClaimedMessage], guards: _Guards, outcomes: _Outcomes) -> list[_Work]:
    """Send-time checks and rendering; returns what is to be handed over."""
    opted = opted_out_addresses((m.channel, m.to_address) for m in claimed if m.to_address)
    candidates: list[ClaimedMessage] = []
    for msg in claimed:
        if not msg.to_address:
            outcomes.skip(msg, "no_address")
        elif not channel_available(msg.channel):
            outcomes.fail(msg, "no_channel", f"channel {msg.channel} is not configured")
        elif (msg.channel, normalise_address(msg.channel, msg.to_address)) in opted:
            outcomes.skip(msg, "opted_out")
        elif not guards.may_send(msg.source_kind, msg.source_id):
            outcomes.skip(msg, "cancelled")
        else:
            candidates.append(msg)

    todo: list[_Work] = []
    to_render: dict[str, list[ClaimedMessage]] = {}
    for msg in candidates:
        if msg.body is not None:
            todo.append(
                _Work(msg, msg.body, msg.subject, msg.html, _segments(msg.channel, msg.body, msg.segments))
            )
        else:
            to_render.setdefault(str(msg.source_kind), []).append(msg)

    stored: list[dict[str, Any]] = []
    for kind, group in to_render.items():
        renderer = RENDERERS.get(kind)
        if renderer is None:
            for msg in group:
                outcomes.fail(msg, "render", f"no renderer registered for {kind!r}")
            continue
        try:
            rendered: dict[int, Rendered] = renderer(group)
        except Exception as exc:
            log.exception("renderer for %s failed on %d messages", kind, len(group))
            # Nothing of ours is pending yet; the renderer may have broken the transaction.
            db.session.rollback()
            for msg in group:
                outcomes.transient(msg, "render", repr(exc), None)
            continue
        for msg in group:
            item = rendered.get(msg.id)
            if item is None or not item.body.strip():
                outcomes.skip(msg, "withdrawn")
                continue
            work = _Work(msg, item.body, item.subject, item.html, _segments(msg.channel, item.body, None))
            todo.append(work)
            stored.append(
                {
                    "id": msg.id,
                    "body": work.body,
                    "subject": work.subject,
                    "html": work.html,
                    "segments": work.segments,
                }
            )
    status.set_fields_many(stored, only_status=[S.SENDING])
    todo.sort(key=lambda w: w.msg.id)
    return todo


def _segments(channel: str, body: str, stored: int | None) -> int | None:
    if channel != "sms":
        return stored
    return stored or count_segments(body).segments


def _send_one(adapter: ChannelAdapter, work: _Work) -> SendResult:
    try:
        return adapter.send(work.outgoing())
    except Exception as exc:  # an adapter must not raise; if it does, the message may have gone out
        log.exception("channel %s raised on message %s", adapter.name, work.msg.id)
        return SendResult(Outcome.UNKNOWN, error_code="no_response", error_message=repr(exc)[:500])


def _hand_off(
    todo: list[_Work], settings: SendSettings, guards: _Guards, outcomes: _Outcomes, *, deadline: float
) -> None:
    """Hand messages to the providers, paced and bounded; no database access in here."""
    if not todo:
        return
    adapters: dict[str, ChannelAdapter] = {}
    limiter: SegmentRateLimiter | Unlimited | None = None
    slots = threading.BoundedSemaphore(settings.concurrency)
    in_flight: list[tuple[_Work, Future[SendResult]]] = []
    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="outreach-send") as pool:
            for index, work in enumerate(todo):
                handed = False
                try:
                    remaining = deadline - time.monotonic()
                    # A free slot first, so the guard and the limiter are asked right before the hand-off.
                    if remaining <= 0 or not slots.acquire(timeout=remaining):
                        outcomes.deferred.extend(w.msg for w in todo[index:])
                        break
                    try:
                        adapter = adapters.get(work.msg.channel)
                        if adapter is None:
                            adapter = adapters[work.msg.channel] = get_channel(work.msg.channel)
                        if adapter.paced:
                            limiter = limiter or get_limiter()
                            wait = min(settings.rate_wait_seconds, max(deadline - time.monotonic(), 0.0))
                            urgent = _queue_for(work.msg) != "bulk"
                            if not limiter.acquire(work.cost, timeout=wait, priority=urgent):
                                outcomes.deferred.extend(w.msg for w in todo[index:])
                                break
                        if not guards.may_send(work.msg.source_kind, work.msg.source_id):
                            outcomes.skip(work.msg, "cancelled")
                            continue
                        # The opt-out, asked last: a STOP answered before this line is honoured.
                        permit = hand_off_permit(work.msg.channel, work.msg.to_address or "")
                        if permit is None:
                            outcomes.skip(work.msg, "opted_out")
                            continue
                        future = pool.submit(_send_one, adapter, work)
                        handed = True
                        in_flight.append((work, future))
                        future.add_done_callback(permit.release)
                        future.add_done_callback(lambda _f: slots.release())
                    finally:
                        if not handed:
                            slots.release()
                except ChannelUnavailable:
                    outcomes.fail(work.msg, "no_channel", f"channel {work.msg.channel} is not configured")
                except Exception:
                    # Redis down (limiter, guard) or similar: stop handing off, give the rest back.
                    log.exception("send batch stopped handing off at message %s", work.msg.id)
                    outcomes.deferred.extend(w.msg for w in todo[index + (1 if handed else 0) :])
                    break
        for work, future in in_flight:
            outcomes.result(work, future.result())
    finally:
        for adapter in adapters.values():
            try:
                adapter.close()
            except Exception:
                log.exception("closing channel %s failed", adapter.name)


# --- reconciliation --------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    stuck: int = 0
    found: int = 0
    requeued: int = 0
    undecided: int = 0
    orphaned_retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reconcile_stuck(older_than_seconds: float | None = None, *, limit: int = 500) -> ReconcileReport:
    """Settle messages in ``sending`` claimed more than ``older_than_seconds`` ago (default
    ``SENDING_STUCK_SECONDS``; tests and benchmarks pass 0). Commits.

    For each: no stored body → it never reached a provider → ``pending``. Otherwise the channel is
    asked (Twilio: messages to that number since the claim, matched by body; console: its outbox):
    found → ``sent`` with the provider's sid; not found → ``pending``, re-queued. E-mail cannot be
    asked and is re-sent (same Message-ID). If the provider cannot be reached the message waits for
    the next run. Every update is guarded by the claim time, so a message re-claimed meanwhile is
    left alone. Also re-enqueues retries whose scheduled job was lost.
    """
    load_area_hooks()
    settings = _settings()
    age = settings.stuck_seconds if older_than_seconds is None else older_than_seconds
    cutoff = utcnow() - timedelta(seconds=age)
    rows = db.session.execute(
        sa.select(
            MESSAGE.c.id,
            MESSAGE.c.source_kind,
            MESSAGE.c.source_id,
            MESSAGE.c.channel,
            MESSAGE.c.to_address,
            MESSAGE.c.body,
            MESSAGE.c.subject,
            MESSAGE.c.claimed_at,
        )
        .where(MESSAGE.c.status == S.SENDING, MESSAGE.c.claimed_at <= cutoff)
        .order_by(MESSAGE.c.claimed_at)
        .limit(limit)
    ).all()
    db.session.commit()  # no connection held while providers are asked
    report = ReconcileReport(stuck=len(rows))

    # (row, provider copies that may be it); an empty list means "send it again"
    decisions: list[tuple[Any, list[tuple[str, int | None]]]] = []
    adapters: dict[str, ChannelAdapter] = {}
    try:
        for row in rows:
            if row.body is None or not row.to_address:
                decisions.append((row, []))  # never rendered, so never handed over
                continue
            try:
                adapter = adapters.get(row.channel) or adapters.setdefault(
                    row.channel, get_channel(row.channel)
                )
            except ChannelUnavailable:
                decisions.append((row, []))  # send_batch will fail it as no_channel
                continue
            found = adapter.find_sent(
                OutgoingMessage(to=row.to_address, body=row.body, message_id=row.id, subject=row.subject),
                since=row.claimed_at,
            )
            if found.outcome is LookupOutcome.ERROR:
                report.undecided += 1
            elif found.outcome is LookupOutcome.FOUND:
                decisions.append((row, found.candidates))
            else:  # NOT_FOUND, or CANNOT_ASK (e-mail): send again
                decisions.append((row, []))
    finally:
        for adapter in adapters.values():
            adapter.close()

    all_sids = {sid for _, candidates in decisions for sid, _ in candidates}
    taken: set[str] = set()
    if all_sids:
        taken = set(
            db.session.execute(
                sa.select(MESSAGE.c.provider_sid).where(MESSAGE.c.provider_sid.in_(all_sids))
            ).scalars()
        )
    requeue: dict[str, list[int]] = {}
    queue_of = functools.cache(default_queue)  # one lookup per source, not per message
    for row, candidates in decisions:
        guard = MESSAGE.c.claimed_at == row.claimed_at
        free = [(sid, segments) for sid, segments in candidates if sid not in taken]
        if free:
            sid, segments = free[0]
            moved = status.transition(
                row.id,
                S.SENT,
                guard=guard,
                provider_sid=sid,
                segments=segments,
                error_code=None,
                error_message=None,
            )
            if moved:
                taken.add(sid)
                report.found += 1
            continue
        if candidates:
            log.warning(
                "message %s: the provider's matching copies belong to other messages; re-sending", row.id
            )
        if status.transition(row.id, S.PENDING, guard=guard, next_attempt_at=None):
            requeue.setdefault(queue_of(row.source_kind, row.source_id), []).append(row.id)
            report.requeued += 1

    report.orphaned_retries = _requeue_orphaned_retries(requeue, queue_of)
    for name, ids in requeue.items():
        queue_messages(ids, name)
    db.session.commit()
    if report.stuck or report.orphaned_retries:
        log.info("reconcile: %s", report.as_dict())
    return report


def _requeue_orphaned_retries(
    requeue: dict[str, list[int]], queue_of: Callable[[SourceKind | str, int], str]
) -> int:
    """Pending retries overdue by ``ORPHAN_RETRY_SECONDS``: their scheduled job was lost. Bumps
    ``next_attempt_at`` to now so that one lost job leads to one re-enqueue per period, not one per run."""
    now = utcnow()
    ids = db.session.execute(
        sa.update(MESSAGE)
        .where(
            MESSAGE.c.status == S.PENDING,
            MESSAGE.c.next_attempt_at.is_not(None),
            MESSAGE.c.next_attempt_at <= now - timedelta(seconds=ORPHAN_RETRY_SECONDS),
        )
        .values(next_attempt_at=now)
        .returning(MESSAGE.c.id, MESSAGE.c.source_kind, MESSAGE.c.source_id)
    ).all()
    for row in ids:
        requeue.setdefault(queue_of(row.source_kind, row.source_id), []).append(row.id)
    return len(ids)


__all__ = [
    "BULK_KINDS",
    "BatchReport",
    "ClaimedMessage",
    "ReconcileReport",
    "Rendered",
    "SendSettings",
    "backoff_seconds",
    "default_queue",
    "is_stopped",
    "queue_messages",
    "reconcile_stuck",
    "register_renderer",
    "register_source_guard",
    "resume_source",
    "send_batch",
    "stop_source",
]
