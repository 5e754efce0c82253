"""Audit events: who did what to which record, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    actor_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    #: Dotted verb, e.g. "person.update", "alert.approve", "registry.export".
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    target_type: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    target_id: so.Mapped[int | None]
    details: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    __table_args__ = (sa.Index("ix_audit_event_target", "target_type", "target_id"),)
