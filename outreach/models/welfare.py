"""Family welfare-and-whereabouts enquiries and recruitment tips.

**Family enquiry** (``outreach.reports.enquiries``): a family member asks whether someone is safe.
If the person is registered they are asked, in their language, whether the family may be told::

    received ─▶ asked ─┬─▶ allowed     (the family is told "reported themselves safe")
       │               ├─▶ refused     (the family is told only that the enquiry was passed on)
       │               ├─▶ need_help   (becomes a report)
       │               └─▶ escalated   (no answer after 24 h: becomes a report)
       └─▶ unmatched  (nobody registered matches: staff follow up by phone)

Everything a family is ever told is a :class:`WelfareDisclosure` row.

**Tip** (``outreach.reports.tips``): a recruitment lure — advert text, messenger handles, numbers,
company, promised job and place — from anyone. Handles and numbers are kept normalised in
:class:`TipIdentifier` so duplicates and reports naming the same handle are found with one query::

    new ─┬─▶ triaged ─▶ warned (a targeted warning alert was drafted from it)
         ├─▶ duplicate (of an earlier tip)
         └─▶ dismissed
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow


class EnquiryStatus(StrEnum):
    RECEIVED = "received"
    UNMATCHED = "unmatched"
    ASKED = "asked"
    ALLOWED = "allowed"
    REFUSED = "refused"
    NEED_HELP = "need_help"
    ESCALATED = "escalated"


class FamilyEnquiry(TimestampMixin, Base):
    __tablename__ = "family_enquiry"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reference: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    #: SHA-256 of the secret in the family's status link.
    status_key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    #: SHA-256 of the secret in the person's one-tap answer link.
    answer_key_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    status: so.Mapped[EnquiryStatus] = so.mapped_column(
        enum_column(EnquiryStatus), default=EnquiryStatus.RECEIVED, index=True
    )
    #: "public", "staff" or "api".
    via: so.Mapped[str] = so.mapped_column(sa.String(10))
    entered_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    person_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("person.id"), index=True)
    #: The report it became (no answer, or "I need help").
    report_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("report.id"))

    enquirer_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    enquirer_relation: so.Mapped[str] = so.mapped_column(sa.String(50))
    enquirer_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    enquirer_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    enquirer_language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    subject_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    subject_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    subject_birth_date: so.Mapped[date | None]
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)

    asked_at: so.Mapped[datetime | None]
    #: When silence turns the enquiry into a report.
    answer_due_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    answered_at: so.Mapped[datetime | None]


class WelfareDisclosure(Base):
    """One thing a family was told about a person, and on what basis (the person's own answer)."""

    __tablename__ = "welfare_disclosure"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    enquiry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("family_enquiry.id", ondelete="CASCADE"), index=True
    )
    person_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("person.id"))
    #: "reported_safe" or "passed_on" (never anything else about the person).
    told: so.Mapped[str] = so.mapped_column(sa.String(20))
    #: "person_allowed", "person_refused", "report_opened".
    basis: so.Mapped[str] = so.mapped_column(sa.String(20))
    recipient: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class TipStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    DUPLICATE = "duplicate"
    WARNED = "warned"
    DISMISSED = "dismissed"


class Tip(TimestampMixin, Base):
    __tablename__ = "tip"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reference: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    status: so.Mapped[TipStatus] = so.mapped_column(enum_column(TipStatus), default=TipStatus.NEW, index=True)
    #: "public", "sms", "staff", "rep" or "api".
    via: so.Mapped[str] = so.mapped_column(sa.String(10))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    #: Who sent it, if they said (a number or an e-mail); never required.
    contact: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    advert_text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    handles: so.Mapped[list[str]] = so.mapped_column(default=list)
    phones: so.Mapped[list[str]] = so.mapped_column(default=list)
    company: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    job: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    place: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    duplicate_of_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tip.id", ondelete="SET NULL"))
    #: The targeted warning drafted from this tip.
    alert_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("alert.id"))


class TipIdentifier(Base):
    """A messenger handle or phone number named by a tip, normalised (``@Job_Boss`` → ``job_boss``)."""

    __tablename__ = "tip_identifier"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tip_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    #: "handle" or "phone".
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))
    value: so.Mapped[str] = so.mapped_column(sa.String(200))

    __table_args__ = (
        sa.UniqueConstraint("tip_id", "kind", "value"),
        sa.Index("ix_tip_identifier_value", "kind", "value"),
    )
