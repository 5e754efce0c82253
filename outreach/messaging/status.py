"""THE state machine of ``Message.status`` (drawn in ``outreach.models.messaging``).

Every status change is one guarded ``UPDATE … WHERE id = :id AND status IN (<allowed from>)``: the
database decides, atomically, whether the transition is still allowed, so a late, duplicated or
out-of-order status callback, a slow send job and a reconciliation run can race without ever moving a
message backwards or out of a final state. Nothing else writes ``Message.status``.

These functions flush nothing and commit nothing: they execute Core statements in the current
session's transaction; the caller (a webhook, a job) commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import FINAL_STATUSES, Message, MessageStatus, SourceKind, utcnow

log = logging.getLogger(__name__)

S = MessageStatus
MESSAGE = cast(sa.Table, Message.__table__)

#: to_status -> the statuses it may be reached from. Anything not listed is refused.
ALLOWED_FROM: dict[MessageStatus, frozenset[MessageStatus]] = {
    # claim: only a pending message is sent
    S.SENDING: frozenset({S.PENDING}),
    # a transient error, or reconciliation found the provider never got it
    S.PENDING: frozenset({S.SENDING, S.HELD}),  # … or staff released a held message
    S.SENT: frozenset({S.SENDING}),
    # callbacks can beat the send job: sending → delivered/undelivered/failed directly
    S.DELIVERED: frozenset({S.SENDING, S.SENT}),
    S.UNDELIVERED: frozenset({S.SENDING, S.SENT}),
    S.FAILED: frozenset({S.SENDING, S.SENT}),
    # opted out, no address, source cancelled: before or at the send-time check
    S.SKIPPED: frozenset({S.PENDING, S.SENDING, S.HELD}),  # … or staff discarded a held one
    # created held (outbound.queue_one past the public budget), never moved there
    S.HELD: frozenset(),
}

#: Timestamp column set (to now) when a message reaches the status.
TIMESTAMP: dict[MessageStatus, str] = {
    S.SENT: "sent_at",
    S.DELIVERED: "delivered_at",
    S.UNDELIVERED: "failed_at",
    S.FAILED: "failed_at",
}

#: Twilio's MessageStatus vocabulary → ours. ``None``: no change (still on its way).
TWILIO_STATUS: dict[str, MessageStatus | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.DELIVERED,  # WhatsApp: read implies delivered
    "undelivered": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.FAILED,  # a scheduled message cancelled at Twilio never went out
}

assert not any(final in ALLOWED_FROM[to] for to in ALLOWED_FROM for final in FINAL_STATUSES)


def _rowcount(result: sa.Result[Any]) -> int:
    return int(cast("sa.CursorResult[Any]", result).rowcount)


def allowed_from(to_status: MessageStatus) -> frozenset[MessageStatus]:
    return ALLOWED_FROM[MessageStatus(to_status)]


def _status_in(statuses: Iterable[MessageStatus]) -> sa.ColumnElement[bool]:
    # OR of equalities rather than IN: an expanding IN list cannot be used with executemany.
    return sa.or_(sa.false(), *(MESSAGE.c.status == s for s in sorted(statuses)))


def _values(to_status: MessageStatus, now: datetime, fields: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"status": to_status, "updated_at": now}
    stamp = TIMESTAMP.get(to_status)
    if stamp and stamp not in fields:
        values[stamp] = now
    if to_status is S.DELIVERED and "sent_at" not in fields:
        # reached delivered straight from sending: it was sent, too
        values["sent_at"] = sa.func.coalesce(MESSAGE.c.sent_at, now)
    values.update(fields)
    return values


def transition(
    message_id: int, to_status: MessageStatus, *, guard: sa.ColumnElement[bool] | None = None, **fields: Any
) -> bool:
    """Move one message to ``to_status`` (setting ``fields`` too) if the machine allows it now.

    Returns whether it moved. ``fields`` are column names; values may be SQL expressions. ``guard``
    adds a condition (reconciliation: "still the claim I looked at").
    """
    to_status = MessageStatus(to_status)
    stmt = (
        sa.update(MESSAGE)
        .where(MESSAGE.c.id == message_id, _status_in(allowed_from(to_status)))
        .values(**_values(to_status, utcnow(), fields))
    )
    if guard is not None:
        stmt = stmt.where(guard)
    return bool(_rowcount(db.session.execute(stmt)))


def transition_ids(
    ids: Iterable[int],
    to_status: MessageStatus,
    *,
    guard: sa.ColumnElement[bool] | None = None,
    **fields: Any,
) -> list[int]:
    """Bulk variant with the same ``fields`` for every message; returns the ids that moved."""
    id_list = sorted(set(ids))
    if not id_list:
        return []
    to_status = MessageStatus(to_status)
    stmt = (
        sa.update(MESSAGE)
        .where(MESSAGE.c.id.in_(id_list), _status_in(allowed_from(to_status)))
        .values(**_values(to_status, utcnow(), fields))
        .returning(MESSAGE.c.id)
    )
    if guard is not None:
        stmt = stmt.where(guard)
    return list(db.session.execute(stmt).scalars())


def transition_many(
    to_status: MessageStatus,
    rows: Sequence[Mapping[str, Any]],
    *,
    guard: sa.ColumnElement[bool] | None = None,
) -> int:
    """Bulk variant with per-message fields: ``rows`` are ``{"id": …, "<column>": …}`` dicts.

    One executemany UPDATE by primary key per distinct set of keys, each row guarded like
    :func:`transition` (and by ``guard``: a send job passes "still under my lease").
    Returns how many rows the database reports as moved.
    """
    if not rows:
        return 0
    to_status = MessageStatus(to_status)
    now = utcnow()
    by_keys: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    moved = 0
    for keys, group in by_keys.items():
        fields: dict[str, Any] = {key: sa.bindparam(f"v_{key}") for key in keys}
        stmt = (
            sa.update(MESSAGE)
            .where(MESSAGE.c.id == sa.bindparam("v_id"), _status_in(allowed_from(to_status)))
            .values(**_values(to_status, now, fields))
        )
        if guard is not None:
            stmt = stmt.where(guard)
        params = [{"v_id": row["id"], **{f"v_{k}": row[k] for k in keys}} for row in group]
        result = db.session.execute(stmt, params)
        moved += max(_rowcount(result), 0)
    return moved


def set_fields_many(
    rows: Sequence[Mapping[str, Any]],
    *,
    only_status: Iterable[MessageStatus] | None = None,
    guard: sa.ColumnElement[bool] | None = None,
) -> None:
    """Fill non-status columns (rendered body, segments) in bulk; ``only_status`` and ``guard``
    restrict the rows."""
    by_keys: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for keys, group in by_keys.items():
        if "status" in keys:
            raise ValueError("status changes go through transition()")
        stmt = sa.update(MESSAGE).where(MESSAGE.c.id == sa.bindparam("v_id"))
        if only_status is not None:
            stmt = stmt.where(_status_in(only_status))
        if guard is not None:
            stmt = stmt.where(guard)
        stmt = stmt.values(**{key: sa.bindparam(f"v_{key}") for key in keys})
        db.session.execute(stmt, [{"v_id": row["id"], **{f"v_{k}": row[k] for k in keys}} for row in group])


def record_provider_sids(rows: Sequence[Mapping[str, Any]]) -> None:
    """Store sid and segments of accepted messages whatever their status now (a callback may have won).

    ``rows``: ``{"id", "provider_sid", "segments"}``. An existing sid is kept (it is the same one).
    """
    if not rows:
        return
    stmt = (
        sa.update(MESSAGE)
        .where(MESSAGE.c.id == sa.bindparam("v_id"))
        .values(
            provider_sid=sa.func.coalesce(MESSAGE.c.provider_sid, sa.bindparam("v_sid", type_=sa.String)),
            segments=sa.func.coalesce(sa.bindparam("v_segments", type_=sa.Integer), MESSAGE.c.segments),
        )
    )
    db.session.execute(
        stmt, [{"v_id": r["id"], "v_sid": r["provider_sid"], "v_segments": r.get("segments")} for r in rows]
    )


# --- claiming --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedMessage:
    """A message a send job now owns (status ``sending``)."""

    id: int
    source_kind: SourceKind
    source_id: int
    person_id: int | None
    user_id: int | None
    channel: str
    to_address: str | None
    language: str
    body: str | None
    subject: str | None
    html: str | None
    segments: int | None
    attempts: int
    claimed_at: datetime
    #: The send lease it was claimed under (see ``outreach.messaging.lease``); None outside a job.
    lease_id: int | None = None


_CLAIM_COLUMNS = [
    MESSAGE.c[name]
    for name in (
        "id",
        "source_kind",
        "source_id",
        "person_id",
        "user_id",
        "channel",
        "to_address",
        "language",
        "body",
        "subject",
        "html",
        "segments",
        "attempts",
        "claimed_at",
        "lease_id",
    )
]


def claim(ids: Iterable[int], lease_id: int | None = None) -> list[ClaimedMessage]:
    """Atomically take the due ``pending`` messages among ``ids``: one UPDATE … RETURNING.

    Two jobs claiming the same ids concurrently never both get a message: on PostgreSQL the second
    UPDATE waits for the first's row locks and re-checks ``status = 'pending'``; SQLite has one writer.
    ``lease_id`` (a ``send_lease`` row written in the same transaction) is recorded on each message.
    """
    id_list = sorted(set(ids))
    if not id_list:
        return []
    now = utcnow()
    stmt = (
        sa.update(MESSAGE)
        .where(
            MESSAGE.c.id.in_(id_list),
            MESSAGE.c.status == S.PENDING,
            sa.or_(MESSAGE.c.next_attempt_at.is_(None), MESSAGE.c.next_attempt_at <= now),
        )
        .values(
            status=S.SENDING,
            claimed_at=now,
            updated_at=now,
            attempts=MESSAGE.c.attempts + 1,
            lease_id=lease_id,
        )
        .returning(*_CLAIM_COLUMNS)
    )
    rows = db.session.execute(stmt).all()
    claimed = [ClaimedMessage(**row._asdict()) for row in rows]
    claimed.sort(key=lambda m: m.id)
    return claimed


# --- provider status callbacks ---------------------------------------------------------------------


def apply_provider_status(
    message_id: int | None, sid: str | None, twilio_status: str, error_code: str | int | None = None
) -> bool:
    """Apply a Twilio status callback in one guarded UPDATE; returns whether the message moved.

    Matched by our id (``m`` in the callback URL) first — the callback can arrive before the send job
    stored the sid — then by the provider sid. The sid is stored when the message has none yet.
    Error codes that mean "unsubscribed" also opt the address out (see ``errors.ERRORS``).
    """
    to_status = TWILIO_STATUS.get((twilio_status or "").strip().lower())
    if to_status is None:
        if twilio_status not in TWILIO_STATUS:
            log.info("ignoring unknown Twilio status %r (message %s, sid %s)", twilio_status, message_id, sid)
        return False
    fields: dict[str, Any] = {}
    if to_status in (S.FAILED, S.UNDELIVERED):
        fields["error_code"] = str(error_code) if error_code not in (None, "") else None
        fields["error_message"] = None
    if message_id is not None:
        where = MESSAGE.c.id == message_id
        if sid:
            # Fill a missing sid, unless another message already has it (a forged or confused id).
            other = MESSAGE.alias("other")
            free_sid = (
                sa.select(sa.literal(sid, sa.String))
                .where(~sa.exists().where(other.c.provider_sid == sid))
                .scalar_subquery()
            )
            fields["provider_sid"] = sa.func.coalesce(MESSAGE.c.provider_sid, free_sid)
    elif sid:
        where = MESSAGE.c.provider_sid == sid
    else:
        return False
    stmt = (
        sa.update(MESSAGE)
        .where(where, _status_in(allowed_from(to_status)))
        .values(**_values(to_status, utcnow(), fields))
        .returning(MESSAGE.c.id, MESSAGE.c.channel, MESSAGE.c.to_address, MESSAGE.c.person_id)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        return False
    from outreach.messaging.errors import lookup

    info = lookup(error_code)
    if info is not None and info.opts_out and row.to_address:
        from outreach.messaging.optouts import opt_out

        opt_out(row.channel, row.to_address, person_id=row.person_id, source="provider")
    return True
