"""Grievances submitted by community representatives.

Lifecycle (``outreach.grievances.workflow.transition``)::

    received ─▶ in_review ─▶ referred ─▶ resolved ─▶ closed
                    │                        ▲          │
                    └────────────────────────┘          │
       resolved/closed ──re-open──▶ in_review ◀─────────┘
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.staff import Organisation, User


class GrievanceStatus(StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CLOSED = "closed"


class GrievanceCategory(StrEnum):
    SCAM_RECRUITMENT = "scam_recruitment"
    CONFINEMENT = "confinement"
    PASSPORT_CONFISCATED = "passport_confiscated"
    UNPAID_WORK = "unpaid_work"
    POLICE_IMMIGRATION = "police_immigration"
    CONSULAR_SERVICE = "consular_service"
    OTHER = "other"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Grievance(TimestampMixin, Base):
    __tablename__ = "grievance"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: Public reference, e.g. ``G-2026-000123``.
    reference: so.Mapped[str | None] = so.mapped_column(sa.String(20), unique=True)
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"), index=True)
    submitted_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    category: so.Mapped[GrievanceCategory] = so.mapped_column(enum_column(GrievanceCategory), index=True)
    province_code: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("province.code"), index=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str] = so.mapped_column(sa.Text)
    people_affected: so.Mapped[int] = so.mapped_column(default=1)
    urgency: so.Mapped[Urgency] = so.mapped_column(enum_column(Urgency), default=Urgency.NORMAL)
    #: The affected people agree to be contacted by the embassy.
    contact_consent: so.Mapped[bool] = so.mapped_column(default=False)
    contact_info: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    #: Asked explicitly: may this grievance be shared with the police / joint task force?
    police_sharing_consent: so.Mapped[bool] = so.mapped_column(default=False)
    status: so.Mapped[GrievanceStatus] = so.mapped_column(
        enum_column(GrievanceStatus), default=GrievanceStatus.RECEIVED, index=True
    )
    assignee_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    first_response_at: so.Mapped[datetime | None]
    resolved_at: so.Mapped[datetime | None]
    closed_at: so.Mapped[datetime | None]

    organisation: so.Mapped[Organisation | None] = so.relationship()
    submitted_by: so.Mapped[User | None] = so.relationship(foreign_keys=[submitted_by_id])
    assignee: so.Mapped[User | None] = so.relationship(foreign_keys=[assignee_id])
    entries: so.Mapped[list[GrievanceEntry]] = so.relationship(
        back_populates="grievance", cascade="all, delete-orphan", order_by="GrievanceEntry.id"
    )

    # The queue and the summary order and group by submission time.
    __table_args__ = (sa.Index("ix_grievance_created_at", "created_at"),)


class GrievanceEntry(Base):
    """A reply (the rep sees it), an internal note (the rep never does) or a status change."""

    __tablename__ = "grievance_entry"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    grievance_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("grievance.id", ondelete="CASCADE"), index=True
    )
    #: "reply", "note", "status" or "assign".
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    #: Internal entries are never shown to the representative.
    internal: so.Mapped[bool] = so.mapped_column(default=False)
    from_status: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    to_status: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    grievance: so.Mapped[Grievance] = so.relationship(back_populates="entries")
    author: so.Mapped[User | None] = so.relationship()
