"""Alerts: broadcasts to a targeted audience, with content per language.

Lifecycle (``outreach.alerts.workflow.transition`` is the only way to change it)::

    draft ─▶ pending_approval ─▶ approved ─▶ dispatching ─▶ sending ─▶ completed
      │  ◀─returned─┘   │               │            │             │
      └─────────────────┴───────────────┴────────────┴─────────────┴──▶ cancelled

An alert that needs no second approval goes ``draft → approved`` when its author submits it. An
approver who finds a mistake returns it to ``draft`` (``pending_approval → draft``) for the author
to fix; only a draft can be edited, so what was approved is exactly what goes out.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.staff import User


class Severity(StrEnum):
    """CAP 1.2 severity."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"


class AlertStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DISPATCHING = "dispatching"
    SENDING = "sending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CapUrgency(StrEnum):
    """CAP 1.2 ``urgency``: how soon people should act."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    """CAP 1.2 ``certainty``."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class CapCategory(StrEnum):
    """CAP 1.2 ``category`` (the subset that makes sense for an embassy)."""

    SAFETY = "Safety"
    SECURITY = "Security"
    GEO = "Geo"
    MET = "Met"
    HEALTH = "Health"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    FIRE = "Fire"
    ENV = "Env"
    RESCUE = "Rescue"
    OTHER = "Other"


class AlertKind(StrEnum):
    ALERT = "alert"
    #: The broadcast that carries a check-in question (see ``CheckIn``).
    CHECKIN = "checkin"


class Alert(TimestampMixin, Base):
    __tablename__ = "alert"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[AlertKind] = so.mapped_column(enum_column(AlertKind), default=AlertKind.ALERT)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    severity: so.Mapped[Severity] = so.mapped_column(enum_column(Severity), default=Severity.MODERATE)
    status: so.Mapped[AlertStatus] = so.mapped_column(
        enum_column(AlertStatus), default=AlertStatus.DRAFT, index=True
    )
    #: Channels to send on: any of "sms", "whatsapp", "email".
    channels: so.Mapped[list[str]] = so.mapped_column(default=list)
    #: Audience filter: {"provinces": [...], "statuses": [...], "languages": [...], "present_only": bool}.
    audience: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    #: Shown in the public Atom feed and CAP ``scope``.
    public: so.Mapped[bool] = so.mapped_column(default=False)
    expires_at: so.Mapped[datetime | None]
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    submitted_at: so.Mapped[datetime | None]
    approved_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    approved_at: so.Mapped[datetime | None]
    sent_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    dispatch_started_at: so.Mapped[datetime | None]
    completed_at: so.Mapped[datetime | None]
    cancelled_at: so.Mapped[datetime | None]
    cancelled_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    #: Recipients counted when the audience was frozen for approval.
    recipient_count: so.Mapped[int | None]
    #: Decided when submitted (audience size or severity); approval then needs a second officer.
    approval_required: so.Mapped[bool] = so.mapped_column(default=False)
    urgency: so.Mapped[CapUrgency] = so.mapped_column(enum_column(CapUrgency), default=CapUrgency.IMMEDIATE)
    certainty: so.Mapped[CapCertainty] = so.mapped_column(
        enum_column(CapCertainty), default=CapCertainty.OBSERVED
    )
    category: so.Mapped[CapCategory] = so.mapped_column(enum_column(CapCategory), default=CapCategory.SAFETY)

    contents: so.Mapped[list[AlertContent]] = so.relationship(
        back_populates="alert", cascade="all, delete-orphan", order_by="AlertContent.language"
    )
    created_by: so.Mapped[User | None] = so.relationship(foreign_keys=[created_by_id])
    approved_by: so.Mapped[User | None] = so.relationship(foreign_keys=[approved_by_id])

    def content_for(self, language: str) -> AlertContent | None:
        """The content in ``language``, falling back to Korean (always present)."""
        by_lang = {c.language: c for c in self.contents if c.body}
        return by_lang.get(language) or by_lang.get("ko")


class AlertContent(Base):
    __tablename__ = "alert_content"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    alert_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    language: so.Mapped[str] = so.mapped_column(sa.String(2))
    #: SMS / WhatsApp text, and the e-mail's text part.
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    #: E-mail subject; the alert title when empty.
    subject: so.Mapped[str | None] = so.mapped_column(sa.String(300))

    alert: so.Mapped[Alert] = so.relationship(back_populates="contents")

    __table_args__ = (sa.UniqueConstraint("alert_id", "language"),)


class AlertTestSend(Base):
    """A test send of an alert to the officer composing it.

    Its id is the ``source_id`` of the test messages (``source_kind=test``), so an officer can test
    again after editing while a message stays unique per (source, recipient, channel).
    """

    __tablename__ = "alert_test_send"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    alert_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
