"""Outbound and inbound messages.

Message lifecycle (every change goes through ``outreach.messaging.status.transition``)::

    pending ──claim──▶ sending ──provider accepted──▶ sent ──callback──▶ delivered
       │                 │  │                          │
       │                 │  └─transient error──▶ pending (retry, attempts+1)
       │                 └─permanent error──▶ failed   └──callback──▶ undelivered | failed
       └─opted out / no address / cancelled──▶ skipped

``delivered``, ``undelivered``, ``failed`` and ``skipped`` are final. A status callback may arrive
before the send job has recorded ``sent`` (the provider is fast, we are not), so ``sending`` may move
straight to ``delivered``; nothing ever moves backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, enum_column, utcnow


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: Caused by an unauthenticated action past ``PUBLIC_SMS_PER_HOUR``: waits for staff to send or
    #: discard it on ``/staff/review`` (``outreach.messaging.review``); nothing else picks it up.
    HELD = "held"


FINAL_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.SKIPPED}
)


class SourceKind(StrEnum):
    """What a message was sent for; with ``source_id`` it names the alert, check-in, case, …"""

    ALERT = "alert"
    CHECKIN = "checkin"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    CASE_NOTIFY = "case_notify"
    REPLY = "reply"
    CONFIRMATION = "confirmation"
    TEST = "test"
    GRIEVANCE = "grievance"
    INVITATION = "invitation"
    #: A message to a reporter (their status link, an evidence upload link): ``source_id`` = report event.
    REPORT = "report"
    #: A permit or grace period in an advisory zone ends soon (``outreach.zones.reminders``).
    ZONE_REMINDER = "zone_reminder"
    #: A family's welfare enquiry put to the person, or the answer to the family: ``source_id`` = enquiry.
    ENQUIRY = "enquiry"
    ENQUIRY_ANSWER = "enquiry_answer"


class Message(Base):
    """One outbound message to one address on one channel.

    Unique per (source, person, channel) — or (source, staff user, channel) for staff notifications —
    so that materialising an audience twice creates nothing new.
    """

    __tablename__ = "message"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    source_kind: so.Mapped[SourceKind] = so.mapped_column(enum_column(SourceKind))
    source_id: so.Mapped[int]
    person_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: E.164 number or e-mail address, fixed when the message is materialised.
    to_address: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    #: Rendered text. Bulk messages are rendered at send time and stored then; one-off messages at creation.
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    subject: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    #: E-mail only: the HTML alternative of ``body`` (sent as multipart/alternative), rendered with it.
    html: so.Mapped[str | None] = so.mapped_column(sa.Text)
    status: so.Mapped[MessageStatus] = so.mapped_column(
        enum_column(MessageStatus), default=MessageStatus.PENDING
    )
    provider_sid: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    error_message: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    segments: so.Mapped[int | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    #: When a send job claimed it; reconciliation asks the provider about messages sent since then.
    claimed_at: so.Mapped[datetime | None]
    #: Earliest time a retry may be attempted after a transient provider error.
    next_attempt_at: so.Mapped[datetime | None]
    #: The ``send_lease`` of the job that claimed it (no foreign key: the lease row is deleted when
    #: its job ends, and a dangling id means "nobody holds it any more").
    lease_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    sent_at: so.Mapped[datetime | None]
    delivered_at: so.Mapped[datetime | None]
    failed_at: so.Mapped[datetime | None]
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    # Every index here is written for each of the 100,000 rows of a big fan-out, which is the hot path
    # (issue: ≤ 2 s from the click); so there are as few as the queries need, and those that only
    # ever hold a few rows are partial (a fresh pending alert message has no user, no sid, no claim).
    __table_args__ = (
        # Person first: the same index answers "this person's messages" (history page, erasure).
        sa.UniqueConstraint("person_id", "source_kind", "source_id", "channel", name="uq_message_person"),
        sa.Index(
            "uq_message_user",
            "source_kind",
            "source_id",
            "channel",
            "user_id",
            unique=True,
            postgresql_where=sa.text("user_id IS NOT NULL"),
            sqlite_where=sa.text("user_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_message_provider_sid",
            "provider_sid",
            unique=True,
            postgresql_where=sa.text("provider_sid IS NOT NULL"),
            sqlite_where=sa.text("provider_sid IS NOT NULL"),
        ),
        # Progress counts, completion checks and a source's pending ids.
        sa.Index("ix_message_source_status", "source_kind", "source_id", "status"),
        # Reconciliation: messages left in ``sending``.
        sa.Index(
            "ix_message_sending_claimed",
            "claimed_at",
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        ),
        # Reconciliation: retries whose scheduled job was lost.
        sa.Index(
            "ix_message_retry_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending' AND next_attempt_at IS NOT NULL"),
            sqlite_where=sa.text("status = 'pending' AND next_attempt_at IS NOT NULL"),
        ),
    )

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.channel} {self.status}>"


class SendLease(Base):
    """A running send job's hold on the messages it claimed: one row per claimed batch.

    Written in the claim's transaction and renewed by the job every few seconds while it works; once
    ``expires_at`` has passed (the job died, or lost the database) the messaging sweep settles the
    batch's ``sending`` messages by asking the provider. The job deletes its row when it is done.
    """

    __tablename__ = "send_lease"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    #: host:pid of the worker and the RQ job id, for the operator (and the benchmark) to see.
    owner: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)


class InboundRoute(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    REGISTRATION = "registration"
    CHECKIN = "checkin"
    KEYWORD = "keyword"
    INBOX = "inbox"


class InboundMessage(Base):
    """Every SMS/WhatsApp message received, stored once (unique provider sid)."""

    __tablename__ = "inbound_message"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    provider_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    from_address: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    to_address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    person_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    routed_to: so.Mapped[InboundRoute] = so.mapped_column(
        enum_column(InboundRoute), default=InboundRoute.INBOX
    )
    #: Staff have dealt with it (only meaningful for the inbox).
    handled_at: so.Mapped[datetime | None]
    handled_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    received_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    params: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)


class OutboxEntry(Base):
    """What the console channel would have sent; shown to staff on the Outbox page in development."""

    __tablename__ = "outbox_entry"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("message.id", ondelete="SET NULL"))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    to_address: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    #: The sid this fake channel gave the message, like a provider would.
    sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
