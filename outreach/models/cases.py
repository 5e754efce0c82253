"""Cases: a person who asked for help, followed by the duty officers until resolved.

Lifecycle (``outreach.cases.operations.transition``)::

    open ─▶ acknowledged ─▶ resolved
      ▲                        │
      └────── re-opened ───────┘   (a new call for help re-opens a resolved case)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.people import Person
    from outreach.models.staff import User


class CaseStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Case(TimestampMixin, Base):
    __tablename__ = "case"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: Empty only for a call for help from a number nobody registered (``contact_address`` then says who).
    person_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("person.id"), index=True)
    #: The number or address the call for help came from.
    contact_address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    status: so.Mapped[CaseStatus] = so.mapped_column(
        enum_column(CaseStatus), default=CaseStatus.OPEN, index=True
    )
    #: "checkin_sms", "checkin_link", "sos_keyword", "staff", "api".
    opened_via: so.Mapped[str] = so.mapped_column(sa.String(32))
    checkin_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("checkin.id"))
    assigned_to_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    summary: so.Mapped[str | None] = so.mapped_column(sa.Text)
    opened_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    acknowledged_at: so.Mapped[datetime | None]
    resolved_at: so.Mapped[datetime | None]
    #: Last time duty officers were notified; a repeated call for help soon after does not re-page them.
    last_notified_at: so.Mapped[datetime | None]

    person: so.Mapped[Person | None] = so.relationship()
    assigned_to: so.Mapped[User | None] = so.relationship()
    events: so.Mapped[list[CaseEvent]] = so.relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )


class CaseEvent(Base):
    """One line on a case's timeline: opened, note, assigned, status change, notification sent."""

    __tablename__ = "case_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    case: so.Mapped[Case] = so.relationship(back_populates="events")
