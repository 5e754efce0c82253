"""Reminder and escalation steps of a check-in, run once each, in order.

A check-in's plan (``reminder_hours`` and ``escalation``) becomes ``CheckInStep`` rows when it is
dispatched. The periodic job :func:`outreach.checkins.jobs.run_due_checkin_steps` runs each step that
is due, after every earlier step of the same check-in (so escalation happens in the configured order
even when the worker was down for a while). A step is claimed by setting ``done_at`` in a guarded
UPDATE in the same transaction as its work, so it runs exactly once.

Every message is created set-based (``INSERT … SELECT`` over the non-responders) and rendered at
send time in each person's language (see :mod:`outreach.checkins.render`). Each person reached gets
a line on their timeline (``CheckInEvent``), also set-based.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from outreach.alerts.audience import has_email, sms_phone_id, whatsapp_phone_id
from outreach.audit import record
from outreach.extensions import db
from outreach.messaging.optouts import opted_out_clause
from outreach.messaging.outbound import FANOUT_COLUMNS, insert_from_select
from outreach.models import (
    Alert,
    Answer,
    CheckIn,
    CheckInEvent,
    CheckInRecipient,
    CheckInStep,
    Message,
    MessageStatus,
    SourceKind,
    utcnow,
)
from outreach.models.people import Person, PhoneNumber

log = logging.getLogger(__name__)

#: Reminder and escalation messages wait behind nothing but one-off replies and help notifications:
#: ``default`` is served after ``high`` and before ``bulk``, so a 20,000-person reminder never delays
#: a duty officer's page on ``high`` and never waits behind an alert fan-out on ``bulk``.
STEP_QUEUE = "default"


def not_opted_out(channel: str, address: Any) -> sa.ColumnElement[bool]:
    return ~opted_out_clause(channel, address)


def non_responders(checkin_id: int) -> list[sa.ColumnElement[bool]]:
    """Conditions on ``CheckInRecipient`` and ``Person`` for people still to be heard from."""
    return [
        CheckInRecipient.checkin_id == checkin_id,
        CheckInRecipient.answer == Answer.NO_RESPONSE,
        Person.deleted_at.is_(None),
    ]


def select_for_channel(
    step: CheckInStep, source_kind: SourceKind, channel: str, conditions: list[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    """Non-responders reachable on ``channel`` (address known, not opted out), as message rows."""
    now = utcnow()
    head: list[Any] = [sa.literal(source_kind.value), sa.literal(step.id), Person.id, sa.literal(channel)]
    tail: list[Any] = [
        Person.language,
        sa.literal(MessageStatus.PENDING.value),
        sa.literal(0),
        sa.literal(now, Message.created_at.type),
        sa.literal(now, Message.updated_at.type),
    ]
    base = sa.select().select_from(CheckInRecipient).join(Person, Person.id == CheckInRecipient.person_id)
    if channel in ("sms", "whatsapp"):
        pick = sms_phone_id() if channel == "sms" else whatsapp_phone_id()
        return (
            base.add_columns(*head, PhoneNumber.e164, *tail)
            .join(PhoneNumber, PhoneNumber.id == pick)
            .where(*conditions, not_opted_out(channel, PhoneNumber.e164))
        )
    if channel == "email":
        address = sa.func.lower(Person.email)
        return base.add_columns(*head, address, *tail).where(
            *conditions, has_email(), not_opted_out("email", address)
        )
    raise ValueError(f"unknown channel {channel!r}")


def message_ids(source_kind: SourceKind, step_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Message.id)
            .where(
                Message.source_kind == source_kind,
                Message.source_id == step_id,
                Message.status == MessageStatus.PENDING,
            )
            .order_by(Message.id)
        )
    )


def timeline_from_messages(step: CheckInStep, source_kind: SourceKind, kind: str) -> int:
    """One ``CheckInEvent`` per message the step created (the channel, or the address, as detail)."""
    now = utcnow()
    detail: Any = Message.channel if kind == "reminder" else Message.to_address
    select = sa.select(
        sa.literal(step.checkin_id),
        Message.person_id,
        sa.literal(step.id),
        sa.literal(kind),
        detail,
        sa.literal(now, CheckInEvent.created_at.type),
    ).where(Message.source_kind == source_kind, Message.source_id == step.id, Message.person_id.is_not(None))
    result = db.session.execute(
        sa.insert(CheckInEvent).from_select(
            ["checkin_id", "person_id", "step_id", "kind", "detail", "created_at"], select
        )
    )
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def send_reminder(step: CheckInStep, checkin: CheckIn, alert: Alert) -> int:
    """Remind everyone who has not answered, on the check-in's channels; returns people reached."""
    conditions = non_responders(checkin.id)
    for channel in alert.channels:
        insert_from_select(FANOUT_COLUMNS, select_for_channel(step, SourceKind.REMINDER, channel, conditions))
    reached = sa.select(Message.person_id).where(
        Message.source_kind == SourceKind.REMINDER, Message.source_id == step.id
    )
    db.session.execute(
        sa.update(CheckInRecipient)
        .where(*[CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.person_id.in_(reached)])
        .values(reminders_sent=CheckInRecipient.reminders_sent + 1)
        .execution_options(synchronize_session=False)
    )
    timeline_from_messages(step, SourceKind.REMINDER, "reminder")
    return _distinct_people(SourceKind.REMINDER, step.id)


def _distinct_people(source_kind: SourceKind, step_id: int) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Message.person_id))).where(
                Message.source_kind == source_kind, Message.source_id == step_id
            )
        )
        or 0
    )


def claim_step(step_id: int) -> CheckInStep | None:
    """Mark the step done, if nobody has; None when it was already done (or does not exist)."""
    now = utcnow()
    result = db.session.execute(
        sa.update(CheckInStep)
        .where(CheckInStep.id == step_id, CheckInStep.done_at.is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.execute(
        sa.select(CheckInStep).where(CheckInStep.id == step_id).execution_options(populate_existing=True)
    ).scalar_one()


def earlier_steps_pending(step: CheckInStep) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                CheckInStep.checkin_id == step.checkin_id,
                CheckInStep.position < step.position,
                CheckInStep.done_at.is_(None),
            )
        )
    )


def run_step(step_id: int) -> int | None:
    """Run one due step if its turn has come; returns people affected, or None when not run now.

    Flushes; the caller commits (which releases the send jobs).
    """
    from outreach.checkins.escalation import escalate
    from outreach.messaging.send import queue_messages

    step = db.session.get(CheckInStep, step_id)
    if step is None or step.done_at is not None or step.due_at > utcnow() or earlier_steps_pending(step):
        return None
    step = claim_step(step_id)
    if step is None:
        return None
    checkin = db.session.get(CheckIn, step.checkin_id)
    assert checkin is not None
    alert = db.session.get(Alert, checkin.alert_id)
    assert alert is not None
    if checkin.closed_at is not None:
        step.affected = 0
        return 0
    if step.action == "reminder":
        affected = send_reminder(step, checkin, alert)
        source_kind = SourceKind.REMINDER
    else:
        affected = escalate(step, checkin, alert)
        source_kind = SourceKind.ESCALATION
    step.affected = affected
    ids = message_ids(source_kind, step.id)
    if ids:
        queue_messages(ids, STEP_QUEUE)
    record(
        f"checkin.step.{step.action}", target=checkin, step_id=step.id, affected=affected, messages=len(ids)
    )
    db.session.flush()
    log.info(
        "check-in %s step %s (%s): %d people, %d messages",
        checkin.id,
        step.id,
        step.action,
        affected,
        len(ids),
    )
    return affected


def due_step_ids(limit: int = 100) -> list[int]:
    """Steps whose time has come, oldest first (each run again checks that its turn has come)."""
    return list(
        db.session.scalars(
            sa.select(CheckInStep.id)
            .join(CheckIn, CheckIn.id == CheckInStep.checkin_id)
            .where(CheckInStep.done_at.is_(None), CheckInStep.due_at <= utcnow(), CheckIn.closed_at.is_(None))
            .order_by(CheckInStep.checkin_id, CheckInStep.position)
            .limit(limit)
        )
    )
