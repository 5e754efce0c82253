"""Check-ins ("are you safe?") and their answers.

A check-in rides on an ``Alert`` of kind ``checkin`` (its question per language is the alert's content,
its audience and approval are the alert's), so it goes through the same dispatch pipeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.alerts import Alert


class Answer(StrEnum):
    SAFE = "safe"
    NEED_HELP = "need_help"
    NO_RESPONSE = "no_response"


class AnswerVia(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    LINK = "link"
    STAFF = "staff"


class CheckIn(TimestampMixin, Base):
    __tablename__ = "checkin"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    alert_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alert.id"), unique=True)
    #: The alert this check-in follows up, if it was attached to one.
    parent_alert_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("alert.id"))
    deadline: so.Mapped[datetime]
    #: Links keep working this long after the deadline.
    grace_hours: so.Mapped[int] = so.mapped_column(default=24)
    #: Hours after sending at which non-responders are reminded, e.g. [2, 6].
    reminder_hours: so.Mapped[list[int]] = so.mapped_column(default=list)
    #: Escalation steps in order, each {"after_hours": n, "action": a} with a one of "email",
    #: "emergency_contact", "community_rep".
    escalation: so.Mapped[list[dict[str, Any]]] = so.mapped_column(default=list)
    closed_at: so.Mapped[datetime | None]
    #: When the check-in's alert was dispatched; reminder and escalation times count from here.
    sent_at: so.Mapped[datetime | None]

    alert: so.Mapped[Alert] = so.relationship(foreign_keys=[alert_id])


class CheckInRecipient(Base):
    """One person asked in one check-in: their one-tap code and their latest answer."""

    __tablename__ = "checkin_recipient"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkin.id", ondelete="CASCADE"))
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    #: Short random code for the one-tap link ``/c/<code>``.
    code: so.Mapped[str] = so.mapped_column(sa.String(16), unique=True)
    #: Copied at materialisation so per-province counts need no join through a changing registry.
    province_code: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    answer: so.Mapped[Answer] = so.mapped_column(enum_column(Answer), default=Answer.NO_RESPONSE)
    answered_at: so.Mapped[datetime | None]
    answered_via: so.Mapped[AnswerVia | None] = so.mapped_column(enum_column(AnswerVia))
    reminders_sent: so.Mapped[int] = so.mapped_column(default=0)
    #: A "safe" from someone with an open case or report (``outreach.checkins.verification``):
    #: it may have been typed by a captor, so it counts as unverified until an officer confirms it.
    safe_unverified: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    verified_at: so.Mapped[datetime | None]
    verified_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    #: "call", "video", "in_person" or "question" (the answer to the person's own question).
    verified_how: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    escalation_level: so.Mapped[int] = so.mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("checkin_id", "person_id"),
        sa.Index("ix_checkin_recipient_answer", "checkin_id", "answer"),
    )


class CheckInResponse(Base):
    """Every answer ever given; the latest one counts (``CheckInRecipient.answer``)."""

    __tablename__ = "checkin_response"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkin.id", ondelete="CASCADE"), index=True)
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    answer: so.Mapped[Answer] = so.mapped_column(enum_column(Answer))
    via: so.Mapped[AnswerVia] = so.mapped_column(enum_column(AnswerVia))
    text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    location: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    #: Shared by the phone (browser geolocation, only on the person's tap), WGS 84 degrees.
    latitude: so.Mapped[float | None]
    longitude: so.Mapped[float | None]
    accuracy_m: so.Mapped[float | None]
    inbound_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("inbound_message.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class CheckInStep(Base):
    """A scheduled reminder or escalation step of a check-in; ``done_at`` makes it run once."""

    __tablename__ = "checkin_step"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkin.id", ondelete="CASCADE"), index=True)
    #: "reminder", "email", "emergency_contact" or "community_rep".
    action: so.Mapped[str] = so.mapped_column(sa.String(32))
    position: so.Mapped[int]
    due_at: so.Mapped[datetime] = so.mapped_column(index=True)
    done_at: so.Mapped[datetime | None]
    affected: so.Mapped[int | None]

    __table_args__ = (sa.UniqueConstraint("checkin_id", "position"),)


class CheckInEvent(Base):
    """One line on a person's timeline for a check-in: a reminder, an escalation step, a staff action.

    Written set-based (``INSERT … SELECT``) by the step that affected the person, so a step over
    20,000 non-responders is one statement, and the case page can show what was tried and when.
    """

    __tablename__ = "checkin_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkin.id", ondelete="CASCADE"), index=True)
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    step_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("checkin_step.id", ondelete="SET NULL"))
    #: "reminder", "email", "emergency_contact", "community_rep" (the step's action) or "staff_answer".
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    #: Short free text: the channel used, the representative notified, who recorded an answer.
    detail: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
