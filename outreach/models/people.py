"""People in the registry: residents and travelers, their numbers, consent and opt-outs."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.geo import Province


class PersonStatus(StrEnum):
    RESIDENT = "resident"
    TRAVELER = "traveler"


class SafetyStatus(StrEnum):
    """The last thing we know about a person's safety, from their latest check-in answer."""

    UNKNOWN = "unknown"
    SAFE = "safe"
    NEED_HELP = "need_help"
    NO_RESPONSE = "no_response"


class ConsentMethod(StrEnum):
    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    STAFF = "staff"
    IMPORT = "import"
    API = "api"


class PhoneKind(StrEnum):
    KH = "kh"  #: a Cambodian SIM (+855)
    KR = "kr"  #: a Korean number, usually roaming (+82)
    OTHER = "other"


class Person(TimestampMixin, Base):
    """A resident or traveler.

    Deleting a registration is a real delete of personal data: every personal column is cleared and the
    numbers removed, and the row stays as an anonymous tombstone (``deleted_at`` set) so that message
    counts and case history keep their shape.
    """

    __tablename__ = "person"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: Name in Hangul, as the person writes it.
    name_ko: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    #: Name in Latin letters, as in the passport.
    name_latin: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254), index=True)
    #: Used to match a report about someone ("name and date of birth") to their registration.
    birth_date: so.Mapped[date | None]
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    province_code: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("province.code"), index=True)
    #: Optional district or commune inside the province (``outreach.zones.geo`` code, e.g. ``2008``
    #: Bavet); advisory zones are matched against it, so a neighbour elsewhere in the province is not
    #: "inside" a city's zone.
    area_code: so.Mapped[str | None] = so.mapped_column(sa.String(8), index=True)
    district_note: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    status: so.Mapped[PersonStatus] = so.mapped_column(
        enum_column(PersonStatus), default=PersonStatus.RESIDENT, index=True
    )
    arrival_date: so.Mapped[date | None]
    departure_date: so.Mapped[date | None] = so.mapped_column(index=True)
    emergency_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    emergency_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    emergency_relation: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    #: Whether the embassy may contact the emergency contact if the person cannot be reached.
    emergency_contact_consent: so.Mapped[bool] = so.mapped_column(default=False)
    consent_at: so.Mapped[datetime | None]
    consent_method: so.Mapped[ConsentMethod | None] = so.mapped_column(enum_column(ConsentMethod))
    #: Version of the consent text the person agreed to (see ``outreach.registry.consent``).
    consent_version: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    last_checkin_at: so.Mapped[datetime | None]
    #: Where the phone was when the person last shared its location (a check-in tap): the area it
    #: falls in and its province. It counts for "zone now" while fresh (``outreach.zones.inside``).
    located_area_code: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    located_province_code: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    located_at: so.Mapped[datetime | None]
    last_known_status: so.Mapped[SafetyStatus] = so.mapped_column(
        enum_column(SafetyStatus), default=SafetyStatus.UNKNOWN
    )
    #: Set when the registration was deleted or anonymised; the row is then a tombstone.
    deleted_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    #: Bumped on every change that must invalidate previously issued self-service links.
    link_generation: so.Mapped[int] = so.mapped_column(default=0)
    source: so.Mapped[str] = so.mapped_column(sa.String(20), default="web")
    #: Set on the tombstone of a record merged into another; messages that could not move (the kept
    #: record already had one for the same alert) stay here and show on the kept record's timeline.
    merged_into_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: The private duress word, salted and keyed (``outreach.registry.duress``); never shown, never logged.
    duress_hash: so.Mapped[str | None] = so.mapped_column(sa.String(160))

    phones: so.Mapped[list[PhoneNumber]] = so.relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PhoneNumber.id"
    )
    province: so.Mapped[Province | None] = so.relationship()

    @property
    def display_name(self) -> str:
        return self.name_ko or self.name_latin or f"#{self.id}"

    @property
    def primary_phone(self) -> PhoneNumber | None:
        for phone in self.phones:
            if phone.is_primary:
                return phone
        return self.phones[0] if self.phones else None

    def is_present(self, on: date) -> bool:
        arrived = self.arrival_date is None or self.arrival_date <= on
        not_left = self.departure_date is None or self.departure_date >= on
        return arrived and not_left and self.deleted_at is None

    def __repr__(self) -> str:
        return f"<Person {self.id}>"


class PhoneNumber(Base):
    """A mobile number in E.164. A number belongs to one person (unique)."""

    __tablename__ = "phone_number"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    e164: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    kind: so.Mapped[PhoneKind] = so.mapped_column(enum_column(PhoneKind), default=PhoneKind.KH)
    #: The number alerts go to by SMS (one SMS per person per alert).
    is_primary: so.Mapped[bool] = so.mapped_column(default=False)
    #: The person reads WhatsApp on this number.
    is_whatsapp: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    #: When the number was shown to be the person's. Empty only for a number typed into a public web
    #: form (registration or ``/me/``) until its holder answers the confirmation SMS or opens its link:
    #: anyone can type someone else's number there. Staff-entered, imported and SMS-registered numbers
    #: are confirmed when created (the default). Audiences skip unconfirmed numbers
    #: (``outreach.alerts.audience.phone_confirmed``).
    confirmed_at: so.Mapped[datetime | None] = so.mapped_column(default=utcnow)

    person: so.Mapped[Person] = so.relationship(back_populates="phones")


class OptOut(Base):
    """An address that asked not to be messaged on a channel.

    Keyed by address, not person: a STOP from a number we do not know is still honoured, and a
    person's opt-out follows the number even across a merge.
    """

    __tablename__ = "opt_out"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: E.164 number (sms/whatsapp) or lower-cased e-mail address.
    address: so.Mapped[str] = so.mapped_column(sa.String(254))
    person_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: How it came: "keyword" (STOP), "self_service", "staff", "provider" (Twilio 21610).
    source: so.Mapped[str] = so.mapped_column(sa.String(20))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("channel", "address"),)


class RegistrationConversation(TimestampMixin, Base):
    """State of an SMS/WhatsApp registration dialogue, one per number; expires after 24 hours."""

    __tablename__ = "registration_conversation"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    language: so.Mapped[str] = so.mapped_column(sa.String(2))
    step: so.Mapped[str] = so.mapped_column(sa.String(20))
    data: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    expires_at: so.Mapped[datetime]
