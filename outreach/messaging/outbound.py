"""Creating one-off outbound messages (replies, confirmations, notifications to staff).

Contract (implemented by the messaging package; every area calls these):

    queue_one(*, channel, to, body, source_kind, source_id, person_id=None, user_id=None,
              language="ko", subject=None, html=None, queue="high") -> Message | None

Adds a ``pending`` Message with its body already rendered (render it in the recipient's language
before calling), flushes, and enqueues its send job after the transaction commits. Returns None when
the address opted out of that channel (then nothing is created) or when a message for the same
(source, recipient, channel) already exists (idempotent).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from outreach.extensions import db
from outreach.messaging.budget import take_public_sms
from outreach.messaging.optouts import is_opted_out, normalise_address
from outreach.messaging.segments import count_segments
from outreach.models import Message, MessageStatus, SourceKind, User, utcnow

log = logging.getLogger(__name__)

MESSAGE = cast(sa.Table, Message.__table__)

#: The columns a set-based fan-out fills; the body stays NULL (rendered at send time).
FANOUT_COLUMNS = [
    "source_kind",
    "source_id",
    "person_id",
    "channel",
    "to_address",
    "language",
    "status",
    "attempts",
    "created_at",
    "updated_at",
]


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(MESSAGE)
    if dialect == "sqlite":
        return sqlite.insert(MESSAGE)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def insert_from_select(columns: list[str], select: sa.Select[Any], *, on_conflict: bool = True) -> int:
    """``INSERT INTO message (columns) SELECT …``, by default ``ON CONFLICT DO NOTHING`` (a re-run
    creates nothing twice); returns the rows created. Pass ``on_conflict=False`` only where no row
    can exist yet: PostgreSQL's speculative insertion costs about as much again as the insert."""
    stmt: Any
    if on_conflict:
        stmt = (
            _insert(db.session.get_bind().dialect.name).from_select(columns, select).on_conflict_do_nothing()
        )
    else:
        stmt = sa.insert(MESSAGE).from_select(columns, select)
    # SQLAlchemy reads an INSERT's rowcount only when asked.
    result = db.session.execute(stmt, execution_options={"preserve_rowcount": True})
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def queue_one(
    *,
    channel: str,
    to: str,
    body: str,
    source_kind: SourceKind | str,
    source_id: int,
    person_id: int | None = None,
    user_id: int | None = None,
    language: str = "ko",
    subject: str | None = None,
    html: str | None = None,
    queue: str = "high",
    public: bool = False,
) -> Message | None:
    """Create one pending message, already rendered, and send it after the commit (see above).

    ``public=True``: an unauthenticated action caused it; an SMS/WhatsApp message then takes from
    the hourly budget (``outreach.messaging.budget``) and, past it, is created ``held`` for staff.
    """
    from outreach.messaging.send import queue_messages

    kind = SourceKind(source_kind)
    address = to.strip()
    if channel in ("sms", "whatsapp"):
        address = normalise_address(channel, address)
    if is_opted_out(channel, address):
        return None
    if person_id is None and user_id is None:
        # The unique constraints treat NULL ids as distinct; dedupe an addressed-only message here.
        existing = db.session.execute(
            sa.select(MESSAGE.c.id).where(
                MESSAGE.c.source_kind == kind,
                MESSAGE.c.source_id == source_id,
                MESSAGE.c.channel == channel,
                MESSAGE.c.to_address == address,
                MESSAGE.c.person_id.is_(None),
                MESSAGE.c.user_id.is_(None),
            )
        ).first()
        if existing is not None:
            return None
    now = utcnow()
    values = {
        "source_kind": kind,
        "source_id": source_id,
        "person_id": person_id,
        "user_id": user_id,
        "channel": channel,
        "to_address": address,
        "language": language,
        "body": body,
        "subject": subject,
        "html": html,
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "segments": count_segments(body).segments if channel == "sms" else None,
        "created_at": now,
        "updated_at": now,
    }
    db.session.flush()
    insert = _insert(db.session.get_bind().dialect.name)
    stmt = insert.values(**values).on_conflict_do_nothing().returning(MESSAGE.c.id)
    held = public and channel in ("sms", "whatsapp") and not take_public_sms()
    if held:
        stmt = insert.values(**{**values, "status": MessageStatus.HELD}).on_conflict_do_nothing()
        stmt = stmt.returning(MESSAGE.c.id)
    new_id = db.session.execute(stmt).scalar()
    if new_id is None:
        return None  # same (source, recipient, channel) exists: idempotent
    if held:
        log.warning("public SMS budget spent: message %s held for staff review", new_id)
        return db.session.get(Message, new_id)
    queue_messages([new_id], queue)
    return db.session.get(Message, new_id)


def notify_user(
    user: User,
    *,
    sms: str,
    subject: str,
    body: str,
    source_kind: SourceKind | str,
    source_id: int,
    queue: str,
) -> int:
    """An SMS (when the staff user has a mobile number) and an e-mail (when they have an address),
    rendered by the caller in ``user.language``; returns how many were queued (see ``queue_one``)."""
    queued = 0
    for channel, address, text, title in (
        ("sms", user.phone, sms, None),
        ("email", user.email, body, subject),
    ):
        if address:
            message = queue_one(
                channel=channel,
                to=address,
                body=text,
                subject=title,
                source_kind=source_kind,
                source_id=source_id,
                user_id=user.id,
                language=user.language,
                queue=queue,
            )
            queued += message is not None
    return queued
