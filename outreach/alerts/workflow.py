"""The alert lifecycle: submit, approve, return, send, cancel, complete.

Every status change goes through :func:`transition`, which refuses anything the diagram in
``outreach.models.alerts`` does not allow and writes the audit event. Operations lock the alert row
first (``SELECT … FOR UPDATE``), so two officers clicking at once, or a cancel racing the dispatch
job, are serialised by the database. They flush and never commit; side effects (the dispatch job,
the stop signal to running send jobs) are released only after the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.alerts.audience import count_audience
from outreach.alerts.compose import needs_approval
from outreach.audit import record
from outreach.extensions import db
from outreach.jobs import enqueue_after_commit
from outreach.models import Alert, AlertStatus, Message, MessageStatus, SourceKind, User, utcnow

S = AlertStatus

#: Allowed moves; anything else is refused. Mirrors the diagram in the model's docstring.
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.APPROVED, S.CANCELLED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.DRAFT, S.CANCELLED}),
    S.APPROVED: frozenset({S.DISPATCHING, S.CANCELLED}),
    S.DISPATCHING: frozenset({S.SENDING, S.CANCELLED}),
    S.SENDING: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Statuses in which an alert is "live": messages may be queued or on their way.
RUNNING = frozenset({S.DISPATCHING, S.SENDING})


class WorkflowError(ValueError):
    """The step is not allowed now (wrong status, same officer approving, …); the message says why."""


def transition(alert: Alert, to: AlertStatus, actor: User | None, *, action: str, **details: Any) -> None:
    """Move ``alert`` to ``to`` if the lifecycle allows it, stamp the time, and audit it."""
    current = AlertStatus(alert.status)
    if to not in TRANSITIONS[current]:
        from outreach.alerts.progress import ALERT_STATUS_LABELS

        raise WorkflowError(
            _(
                "This alert is in the state “%(status)s”; it cannot become “%(target)s”.",
                status=ALERT_STATUS_LABELS[current],
                target=ALERT_STATUS_LABELS[to],
            )
        )
    now = utcnow()
    alert.status = to
    if to == S.PENDING_APPROVAL or (to == S.APPROVED and current == S.DRAFT):
        alert.submitted_at = now
    if to == S.APPROVED and current == S.PENDING_APPROVAL and actor is not None:
        alert.approved_by_id = actor.id
        alert.approved_at = now
    if to == S.DRAFT:
        alert.approved_by_id = None
        alert.approved_at = None
    if to == S.DISPATCHING:
        alert.sent_by_id = actor.id if actor is not None else None
        alert.dispatch_started_at = now
    if to == S.COMPLETED:
        alert.completed_at = now
    if to == S.CANCELLED:
        alert.cancelled_at = now
        alert.cancelled_by_id = actor.id if actor is not None else None
    db.session.flush()
    record(
        f"alert.{action}",
        actor=actor,
        target=alert,
        status_from=current.value,
        status_to=to.value,
        **details,
    )


def lock(alert: Alert) -> Alert:
    """Reload ``alert`` under a row lock (PostgreSQL; SQLite serialises writers anyway)."""
    db.session.refresh(alert, with_for_update=True)
    return alert


def lock_by_id(alert_id: int) -> Alert | None:
    return db.session.execute(
        sa.select(Alert)
        .where(Alert.id == alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def submit(alert: Alert, *, actor: User, today: date) -> Alert:
    """Freeze the draft. Big or serious alerts wait for a second officer; others are approved at once."""
    lock(alert)
    count = count_audience(alert.audience, today=today).total
    alert.recipient_count = count
    alert.approval_required = needs_approval(alert, count)
    target = S.PENDING_APPROVAL if alert.approval_required else S.APPROVED
    transition(
        alert, target, actor, action="submit", recipients=count, approval_required=alert.approval_required
    )
    return alert


def approve(alert: Alert, *, actor: User) -> Alert:
    """A second officer approves; the author never approves their own alert."""
    lock(alert)
    if alert.status != S.PENDING_APPROVAL:
        raise WorkflowError(_("This alert is not waiting for approval."))
    if alert.created_by_id == actor.id:
        raise WorkflowError(_("An alert must be approved by a different officer than its author."))
    transition(alert, S.APPROVED, actor, action="approve", recipients=alert.recipient_count)
    return alert


def return_to_draft(alert: Alert, *, actor: User, reason: str = "") -> Alert:
    """The approver sends the alert back to its author with a reason (kept in the audit log)."""
    lock(alert)
    if alert.status != S.PENDING_APPROVAL:
        raise WorkflowError(_("This alert is not waiting for approval."))
    transition(alert, S.DRAFT, actor, action="return", reason=reason.strip()[:500])
    return alert


def send(alert: Alert, *, actor: User) -> Alert:
    """Start the broadcast: the ``dispatch_alert`` job runs once this transaction commits."""
    from outreach.alerts import jobs

    lock(alert)
    if alert.status != S.APPROVED:
        raise WorkflowError(_("Only an approved alert can be sent."))
    if alert.approval_required and alert.approved_by_id is None:
        raise WorkflowError(_("This alert needs a second officer's approval before it is sent."))
    transition(alert, S.DISPATCHING, actor, action="send")
    enqueue_after_commit("default", jobs.dispatch_alert, alert.id, job_options=jobs.DISPATCH_JOB_OPTIONS)
    return alert


def cancel(alert: Alert, *, actor: User) -> int:
    """Cancel the alert; pending messages are skipped and running send jobs stop within a second or two.

    Returns the number of messages that will now not be sent. Messages already handed to the provider
    cannot be called back.
    """
    lock(alert)
    if alert.status not in TRANSITIONS or S.CANCELLED not in TRANSITIONS[AlertStatus(alert.status)]:
        raise WorkflowError(_("This alert can no longer be cancelled."))
    was_running = alert.status in RUNNING
    skipped = skip_unsent(alert.id) if was_running else 0
    transition(alert, S.CANCELLED, actor, action="cancel", skipped=skipped)
    if was_running:
        after_commit(lambda: _signal_stop(alert.id))
    return skipped


def _signal_stop(alert_id: int) -> None:
    from outreach.messaging.hooks import stop_source

    stop_source(SourceKind.ALERT, alert_id)


def skip_unsent(alert_id: int) -> int:
    """Mark every still-pending message of the alert ``skipped`` ("cancelled"); returns how many."""
    table = Message.__table__
    return skip_messages(
        sa.select(table.c.id).where(
            table.c.source_kind == SourceKind.ALERT,
            table.c.source_id == alert_id,
            table.c.status == MessageStatus.PENDING,
        ),
        reason="cancelled",
    )


#: Ids per guarded UPDATE: PostgreSQL takes at most 65,535 bind parameters in one statement.
_CHUNK = 5000


def skip_messages(ids_query: sa.Select[tuple[int]], *, reason: str) -> int:
    """Move the messages selected by ``ids_query`` (a Core select of ids: no ORM per-row cost) to
    ``skipped`` through the message state machine, in chunks."""
    from outreach.messaging import status as message_status

    ids = list(db.session.execute(ids_query).scalars().all())
    moved = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        moved += len(message_status.transition_ids(chunk, MessageStatus.SKIPPED, error_code=reason))
    return moved


def remaining(alert_id: int) -> int:
    """Messages of the alert not yet handed to the provider or given up on."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(
                Message.source_kind == SourceKind.ALERT,
                Message.source_id == alert_id,
                Message.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]),
            )
        )
        or 0
    )


def complete_if_done(alert_id: int) -> bool:
    """``sending → completed`` once no message is pending or sending. Idempotent; safe to call often."""
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.status != S.SENDING or remaining(alert_id):
        return False
    alert = lock_by_id(alert_id)
    if alert is None or alert.status != S.SENDING or remaining(alert_id):
        return False
    transition(alert, S.COMPLETED, None, action="complete")
    return True


# --- after-commit callbacks -------------------------------------------------------------------------

_AFTER_COMMIT_KEY = "outreach_alerts_after_commit"


def after_commit(fn: Callable[[], None]) -> None:
    """Run ``fn`` once the current transaction commits; forget it on rollback."""
    session = db.session()
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(fn)
    if not sa.event.contains(sa.orm.Session, "after_commit", _run_after_commit):
        sa.event.listen(sa.orm.Session, "after_commit", _run_after_commit)
        sa.event.listen(sa.orm.Session, "after_soft_rollback", _forget_after_commit)


def _run_after_commit(session: sa.orm.Session) -> None:
    for fn in session.info.pop(_AFTER_COMMIT_KEY, []):
        fn()


def _forget_after_commit(session: sa.orm.Session, _transaction: Any) -> None:
    session.info.pop(_AFTER_COMMIT_KEY, None)
