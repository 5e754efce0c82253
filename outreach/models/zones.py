"""Advisory zones: Korea's travel-advisory level for a province or a named area, its history, permits.

A zone is one area (``outreach.zones.geo`` code: ``KH-n`` province, 4-digit district, 6-digit
commune) with its current level. Every change of level is a :class:`ZoneChange`; a change to level 4
asked for by an officer waits for an admin (``pending``) and the zone keeps its old level until then::

    ZoneChange:  pending ──approve (admin)──▶ applied
                    └─────reject (admin)───▶ rejected
                 (any change not needing approval is written ``applied`` at once)

``outreach.zones.operations`` is the only place that moves these states.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow


class ZoneLevel(StrEnum):
    """Korea's advisory levels: 1 여행유의, 2 여행자제, 3 출국권고, 4 여행금지, and 특별여행주의보."""

    L1 = "1"
    L2 = "2"
    L3 = "3"
    L4 = "4"
    SPECIAL = "special"

    @property
    def rank(self) -> int:
        """For "level ≥ N" audiences: the special advisory is "treated like level 2–3", so it counts
        as 3 (the cautious end: an alert to everyone at level 3 or above reaches it)."""
        return 3 if self is ZoneLevel.SPECIAL else int(self.value)


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


class Zone(TimestampMixin, Base):
    """An advisory zone; ``level`` is None once it has been ended (the row and its history stay)."""

    __tablename__ = "zone"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: Area code (``outreach.zones.geo``); one zone per area.
    area_code: so.Mapped[str] = so.mapped_column(sa.String(8), unique=True)
    level: so.Mapped[ZoneLevel | None] = so.mapped_column(enum_column(ZoneLevel, 8), index=True)
    #: Cambodia dates: the level applies from ``effective_from`` to ``expires_on`` (inclusive).
    effective_from: so.Mapped[date | None]
    expires_on: so.Mapped[date | None]
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    #: When the current level was applied (the public page's "since").
    level_since: so.Mapped[datetime | None]
    ended_at: so.Mapped[datetime | None]

    changes: so.Mapped[list[ZoneChange]] = so.relationship(
        back_populates="zone", order_by="ZoneChange.id", cascade="all, delete-orphan"
    )


class ZoneChange(Base):
    """One requested or applied change of a zone's level (``to_level`` None: the zone was ended)."""

    __tablename__ = "zone_change"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    zone_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    from_level: so.Mapped[ZoneLevel | None] = so.mapped_column(enum_column(ZoneLevel, 8))
    to_level: so.Mapped[ZoneLevel | None] = so.mapped_column(enum_column(ZoneLevel, 8))
    effective_from: so.Mapped[date | None]
    expires_on: so.Mapped[date | None]
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    status: so.Mapped[ChangeStatus] = so.mapped_column(enum_column(ChangeStatus, 16))
    requested_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    requested_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    decided_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: so.Mapped[datetime | None]
    #: The alert draft prepared for this change (CAP ``Update`` of the zone's earlier alert).
    alert_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("alert.id", ondelete="SET NULL"), index=True
    )

    zone: so.Mapped[Zone] = so.relationship(back_populates="changes")


class Permit(TimestampMixin, Base):
    """An exceptional passport-use permit (예외적 여권사용 허가) of one person for one zone."""

    __tablename__ = "zone_permit"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    zone_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    number: so.Mapped[str] = so.mapped_column(sa.String(64))
    issued_on: so.Mapped[date | None]
    valid_from: so.Mapped[date]
    valid_to: so.Mapped[date] = so.mapped_column(index=True)
    revoked_at: so.Mapped[datetime | None]
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))


class Grace(TimestampMixin, Base):
    """A grace deadline in a zone: for one person, or (``person_id`` None) every resident inside."""

    __tablename__ = "zone_grace"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    zone_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    person_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    ends_on: so.Mapped[date] = so.mapped_column(index=True)
    note: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))


class ZoneReminder(Base):
    """One reminder round ("permit 12, 7 days before"); its id is the messages' ``source_id``, so the
    message table's uniqueness per (source, person, channel) makes each reminder go out once."""

    __tablename__ = "zone_reminder"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: "permit:<id>:<days>" or "grace:<id>:<days>".
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    permit_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("zone_permit.id", ondelete="CASCADE"))
    grace_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("zone_grace.id", ondelete="CASCADE"))
    days_before: so.Mapped[int]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
