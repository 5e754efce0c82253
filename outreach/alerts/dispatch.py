"""Fan-out (DESIGN §3): turn an alert into one Message row per recipient and channel.

``dispatch_alert(alert_id)`` runs in the ``dispatch_alert`` job:

1. lock the alert; do nothing unless it is ``dispatching`` (first run) or ``sending`` (a re-run);
2. call the hooks registered for its kind (check-ins create their recipients here);
3. materialise every recipient with one ``INSERT … SELECT`` per channel; a re-run (a retried job,
   a crashed worker) adds ``ON CONFLICT DO NOTHING`` and creates nothing twice (see :func:`_insert`);
4. mark opted-out addresses ``skipped`` in one UPDATE (send jobs check again at send time);
5. move the alert to ``sending`` and return the ids still ``pending``, which the job hands to the
   messaging package to enqueue in batches on the ``bulk`` queue once the transaction commits.

Nothing here loads a person into Python.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from outreach.alerts.audience import audience_conditions, has_email, phone_confirmed
from outreach.alerts.render import available_languages
from outreach.alerts.workflow import lock_by_id, skip_messages, transition
from outreach.extensions import db
from outreach.messaging.optouts import opted_out_clause
from outreach.messaging.outbound import FANOUT_COLUMNS, insert_from_select
from outreach.models import Alert, AlertKind, AlertStatus, Message, MessageStatus, SourceKind, utcnow
from outreach.models.people import Person, PhoneNumber

log = logging.getLogger(__name__)

DispatchHook = Callable[[int], None]

_HOOKS: dict[AlertKind, list[DispatchHook]] = {}


def register_dispatch_hook(kind: AlertKind, fn: DispatchHook) -> DispatchHook:
    """Call ``fn(alert_id)`` inside the dispatch transaction, before messages are materialised.

    Hooks run on every (re-)run of the dispatch, so they must be idempotent themselves (use
    ``INSERT … ON CONFLICT DO NOTHING``). They flush, never commit.
    """
    fns = _HOOKS.setdefault(AlertKind(kind), [])
    if fn not in fns:
        fns.append(fn)
    return fn


@dataclass
class DispatchResult:
    alert_id: int
    #: Rows created by this run, per channel (0 on a re-run).
    created: dict[str, int]
    #: Messages still waiting to be sent, in id order: what the caller enqueues.
    pending_ids: list[int]


def _insert(columns: list[str], select: sa.Select[Any], *, first_run: bool) -> int:
    """Run one channel's INSERT … SELECT; returns the rows created.

    A re-run uses ``ON CONFLICT DO NOTHING``: rows that exist are skipped, so nothing is created twice.
    The first run (alert still ``dispatching``, its row locked) cannot meet an existing row — the
    rows and the move to ``sending`` commit together — so it inserts plainly, which PostgreSQL does
    in two thirds of the time. Should the impossible happen, the unique constraint refuses the
    duplicate, and the statement is retried with ``ON CONFLICT`` inside the same transaction.
    """
    if first_run:
        try:
            with db.session.begin_nested():
                return insert_from_select(columns, select, on_conflict=False)
        except sa.exc.IntegrityError:
            log.warning("dispatch: rows already existed on a first run; inserting the rest with ON CONFLICT")
    return insert_from_select(columns, select)


def materialise(alert: Alert, *, today: date, first_run: bool = False) -> dict[str, int]:
    """One set-based INSERT … SELECT per channel; returns the rows created (existing rows are skipped)."""
    now = utcnow()
    languages = available_languages(alert)
    # The language each person reads: theirs when the alert has a text in it, otherwise Korean.
    language = sa.case((Person.language.in_(languages), Person.language), else_=sa.literal("ko"))
    conditions = audience_conditions(alert.audience, today=today)

    def constants(channel: str) -> list[Any]:
        return [
            sa.literal(SourceKind.ALERT.value),
            sa.literal(alert.id),
            Person.id,
            sa.literal(channel),
        ]

    tail = [
        language,
        sa.literal(MessageStatus.PENDING.value),
        sa.literal(0),
        sa.literal(now, Message.created_at.type),
        sa.literal(now, Message.updated_at.type),
    ]
    created: dict[str, int] = {}
    for channel in alert.channels:
        if channel in ("sms", "whatsapp"):
            phone = chosen_phones(whatsapp=channel == "whatsapp")
            select = (
                sa.select(*constants(channel), phone.c.e164, *tail)
                .select_from(Person)
                .join(phone, phone.c.person_id == Person.id)
                .where(*conditions)
            )
        elif channel == "email":
            select = sa.select(*constants(channel), sa.func.lower(Person.email), *tail).where(
                *conditions, has_email()
            )
        else:  # validated at compose time; an unknown channel is a bug, not bad input
            raise ValueError(f"unknown channel {channel!r}")
        created[channel] = _insert(FANOUT_COLUMNS, select, first_run=first_run)
    return created


def chosen_phones(*, whatsapp: bool) -> sa.Subquery:
    """One number per person: the primary one first, else the oldest (WhatsApp: among WhatsApp numbers).

    A window function ranks every number in one pass (a correlated subquery per person costs a
    hundred thousand index probes in a big fan-out); it works on PostgreSQL and SQLite alike.
    """
    rank = sa.func.row_number().over(
        partition_by=PhoneNumber.person_id, order_by=(PhoneNumber.is_primary.desc(), PhoneNumber.id)
    )
    ranked = sa.select(PhoneNumber.person_id, PhoneNumber.e164, rank.label("rank")).where(phone_confirmed())
    if whatsapp:
        ranked = ranked.where(PhoneNumber.is_whatsapp.is_(True))
    inner = ranked.subquery("ranked_phone")
    return sa.select(inner.c.person_id, inner.c.e164).where(inner.c.rank == 1).subquery("phone")


def pending_message_ids(alert_id: int) -> list[int]:
    """Ids of the alert's pending messages, in id order.

    Selected through the Core table, not the mapped class: for 100,000 ids the ORM's per-row
    machinery costs half a second that plain tuples do not.
    """
    table = Message.__table__
    ids = db.session.execute(
        sa.select(table.c.id)
        .where(
            table.c.source_kind == SourceKind.ALERT,
            table.c.source_id == alert_id,
            table.c.status == MessageStatus.PENDING,
        )
        .order_by(table.c.id)
    ).scalars()
    return list(ids.all())  # one fetchall, not a fetch per row


def skip_opted_out(alert_id: int) -> int:
    """Mark pending messages to addresses that opted out of their channel ``skipped`` right away.

    The send job checks again at send time (an opt-out can arrive mid-broadcast); doing it here too
    makes the progress counts right from the start.
    """
    table = Message.__table__
    opted_out = opted_out_clause(table.c.channel, table.c.to_address)
    return skip_messages(
        sa.select(table.c.id).where(
            table.c.source_kind == SourceKind.ALERT,
            table.c.source_id == alert_id,
            table.c.status == MessageStatus.PENDING,
            opted_out,
        ),
        reason="opted_out",
    )


def dispatch_alert(alert_id: int, *, today: date) -> DispatchResult | None:
    """Materialise the alert's messages (see the module docstring). Safe to run any number of times.

    Returns None when there is nothing to do (unknown, cancelled, completed or not yet sent alert).
    """
    alert = lock_by_id(alert_id)
    if alert is None or alert.status not in (AlertStatus.DISPATCHING, AlertStatus.SENDING):
        return None
    for hook in _HOOKS.get(AlertKind(alert.kind), []):
        hook(alert.id)
    created = materialise(alert, today=today, first_run=alert.status == AlertStatus.DISPATCHING)
    skip_opted_out(alert.id)
    if alert.status == AlertStatus.DISPATCHING:
        # First run: the transition to ``sending`` commits with the rows, so none existed before.
        total = sum(created.values())
        transition(alert, AlertStatus.SENDING, None, action="dispatched", messages=total, created=created)
    return DispatchResult(alert_id=alert.id, created=created, pending_ids=pending_message_ids(alert.id))
