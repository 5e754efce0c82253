"""Registry operations: register, update, opt out, delete, merge, anonymise.

Every function here flushes and never commits; the view, command or job that calls it commits once.
Validation lives here too (:func:`validate`), so the web form, the SMS conversation, the CSV import and
the staff editor refuse the same things with the same reasons.

Invariants kept here:

* one phone number belongs to one person (``phone_number.e164`` is unique, and :func:`validate`
  refuses a number owned by someone else with a reason instead of letting the database fail);
* a deleted registration keeps only an anonymous tombstone: every personal column cleared, the
  numbers deleted, message and inbound texts scrubbed, ids kept so counts keep their shape;
* a self-service link dies when its person is deleted or merged (``link_generation`` is bumped).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import orm as so

from outreach.audit import record
from outreach.extensions import db
from outreach.messaging import optouts
from outreach.models import (
    Answer,
    Case,
    CaseStatus,
    CheckInRecipient,
    CheckInResponse,
    ConsentMethod,
    Grace,
    InboundMessage,
    Message,
    OptOut,
    OutboxEntry,
    Permit,
    Person,
    PersonStatus,
    PhoneNumber,
    RegistrationConversation,
    SafetyStatus,
    User,
    utcnow,
)
from outreach.models.base import CHANNELS, LANGUAGES
from outreach.registry import consent
from outreach.registry.phones import PhoneError, kind_of_e164, normalise_phone, region_of
from outreach.registry.presence import cambodia_today
from outreach.registry.provinces import match_province
from outreach.zones import geo

log = logging.getLogger(__name__)

#: Columns that hold personal data; a tombstone has every one of them cleared.
PERSONAL_COLUMNS: dict[str, Any] = {
    "name_ko": None,
    "name_latin": None,
    "email": None,
    "province_code": None,
    "area_code": None,
    "district_note": None,
    "located_area_code": None,
    "located_province_code": None,
    "located_at": None,
    "arrival_date": None,
    "departure_date": None,
    "emergency_name": None,
    "emergency_phone": None,
    "emergency_relation": None,
    "emergency_contact_consent": False,
    "consent_at": None,
    "consent_method": None,
    "consent_version": None,
    "last_checkin_at": None,
    "last_known_status": SafetyStatus.UNKNOWN,
}

#: Simple columns a registration may set (phones are handled on their own).
EDITABLE_COLUMNS = (
    "name_ko",
    "name_latin",
    "email",
    "language",
    "province_code",
    "area_code",
    "district_note",
    "status",
    "arrival_date",
    "departure_date",
    "emergency_name",
    "emergency_phone",
    "emergency_relation",
    "emergency_contact_consent",
)

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN_NAME = re.compile(r"^[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f .'\-]*$")


# --- errors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    #: The form field / CSV column the problem is in.
    field: str
    message: str | LazyString

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RegistryError(ValueError):
    """Input that cannot be saved; ``errors`` says which field and why (in the current language)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors

    def for_field(self, name: str) -> list[str]:
        return [str(e.message) for e in self.errors if e.field == name]


class AlreadyRegistered(Exception):
    """A number in a self-registration already belongs to someone; their record was not touched."""

    def __init__(self, person: Person) -> None:
        super().__init__(f"number already registered to person {person.id}")
        self.person = person


class MergeError(ValueError):
    pass


# --- input -------------------------------------------------------------------------------------------


@dataclass
class PhoneInput:
    raw: str
    #: The form field or CSV column it came from, for error messages.
    field: str = "phone"
    is_whatsapp: bool = False


@dataclass(frozen=True)
class CleanPhone:
    e164: str
    is_whatsapp: bool
    is_primary: bool


@dataclass
class PersonInput:
    """What a person (or staff, or a CSV row) typed. ``None`` means "not given"."""

    name_ko: str | None = None
    name_latin: str | None = None
    email: str | None = None
    language: str | None = None
    province: str | None = None
    #: District or commune inside the province (a code from ``outreach.zones.geo``), optional.
    area: str | None = None
    district_note: str | None = None
    status: str | None = None
    arrival_date: date | None = None
    departure_date: date | None = None
    emergency_name: str | None = None
    emergency_phone: str | None = None
    emergency_relation: str | None = None
    emergency_contact_consent: bool | None = None
    phones: list[PhoneInput] = field(default_factory=list)


@dataclass
class CleanPerson:
    #: Column values, only for the fields that were given (``None`` values clear a column).
    values: dict[str, Any]
    phones: list[CleanPhone]


def phone_inputs(
    primary: str | None, other: str | None = None, whatsapp: str | None = None
) -> list[PhoneInput]:
    """The numbers of a form: main mobile, a second (often Korean) number, and a WhatsApp number."""
    inputs = []
    if primary and primary.strip():
        inputs.append(PhoneInput(primary, "phone"))
    if other and other.strip():
        inputs.append(PhoneInput(other, "phone_other"))
    if whatsapp and whatsapp.strip():
        inputs.append(PhoneInput(whatsapp, "whatsapp", is_whatsapp=True))
    return inputs


#: How far ahead a departure date may be: travelers are anonymised after their departure, so a date
#: in 9999 would keep a record for ever. Arrivals may be up to a year ahead (planned trips).
MAX_DEPARTURE_AHEAD = timedelta(days=3 * 366)
MAX_ARRIVAL_AHEAD = timedelta(days=366)
MAX_ARRIVAL_BEHIND = timedelta(days=80 * 366)


def strip_invisible(value: str) -> str:
    """``value`` without format characters (Unicode category Cf): bidi overrides and isolates
    (U+202A–202E, U+2066–2069), zero-width spaces and joiners, the BOM. They make a name look like
    another in staff lists. Korean and Khmer combining marks (categories Mn and Mc) are kept."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cf")


def _text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(strip_invisible(value).split())
    return cleaned[:limit] if cleaned else None


def validate(
    data: PersonInput,
    *,
    person: Person | None = None,
    require: frozenset[str] = frozenset({"name", "phone", "province", "departure_for_traveler"}),
    partial: bool = False,
    today: date | None = None,
    allow_past_departure: bool = False,
    check_owners: bool = True,
    countries: frozenset[str] | None = None,
) -> CleanPerson:
    """Check and normalise ``data``; raise :class:`RegistryError` listing every problem.

    ``person`` is the record being updated (its own numbers are not "taken"). With ``partial``, fields
    left as ``None`` are not part of the result (an SMS re-registration or an import row changes only
    what it carries); otherwise every editable field is, and ``None`` clears it.
    """
    today = today or cambodia_today()
    errors: list[FieldError] = []
    values: dict[str, Any] = {}

    def give(name: str, value: Any) -> None:
        if value is not None or not partial:
            values[name] = value

    name_ko = _text(data.name_ko, 100)
    name_latin = _text(data.name_latin, 100)
    if name_ko and not _HANGUL.search(name_ko):
        errors.append(
            FieldError("name_ko", _l("Write the name in Hangul here, or use the Latin-letter field."))
        )
    if name_latin:
        if not _LATIN_NAME.match(name_latin):
            errors.append(
                FieldError(
                    "name_latin", _l("Use Latin letters only, as in the passport (e.g. HONG GILDONG).")
                )
            )
        name_latin = name_latin.upper()
    if "name" in require and not name_ko and not name_latin:
        errors.append(FieldError("name_ko", _l("Enter your name in Hangul or in Latin letters.")))
    give("name_ko", name_ko)
    give("name_latin", name_latin)

    email = _text(data.email, 254)
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors.append(
                FieldError("email", _l("This is not a valid e-mail address (e.g. name@example.com)."))
            )
    give("email", email)

    language = (data.language or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        errors.append(FieldError("language", _l("Choose Korean (ko), English (en) or Khmer (km).")))
    elif language is not None or not partial:
        values["language"] = language or "ko"

    province_code = None
    if data.province and data.province.strip():
        province_code = match_province(data.province)
        if province_code is None:
            errors.append(FieldError("province", _l("Unknown province; choose one of the 25 provinces.")))
    elif "province" in require:
        errors.append(FieldError("province", _l("Choose the province where you stay.")))
    if data.area is not None and data.area.strip():
        found = geo.get(data.area)
        if found is None or found.level is geo.Level.PROVINCE:
            errors.append(FieldError("area", _l("Unknown district or commune; choose one from the list.")))
        else:
            area_province = geo.parents(found.code)[-1].code
            if province_code is None and not (data.province and data.province.strip()):
                province_code = area_province  # the area says its province
            elif province_code is not None and province_code != area_province:
                errors.append(
                    FieldError("area", _l("This district or commune is not in the province you chose."))
                )
            give("area_code", found.code)
    elif data.area is not None or not partial:
        values["area_code"] = None
    elif (
        province_code is not None
        and person is not None
        and person.area_code
        and not geo.is_within(person.area_code, province_code)
    ):
        # A new province without an area: an area in the old province no longer holds.
        values["area_code"] = None
    give("province_code", province_code)
    give("district_note", _text(data.district_note, 300))

    status = None
    if data.status:
        try:
            status = PersonStatus(data.status.strip().lower())
        except ValueError:
            errors.append(FieldError("status", _l("Choose resident or traveler.")))
    elif not partial:
        status = PersonStatus.RESIDENT
    if status is not None:
        values["status"] = status

    give("arrival_date", data.arrival_date)
    give("departure_date", data.departure_date)
    effective_status = status or (person.status if person else PersonStatus.RESIDENT)
    departure = (
        data.departure_date
        if data.departure_date is not None
        else (person.departure_date if person and partial else None)
    )
    if (
        "departure_for_traveler" in require
        and effective_status == PersonStatus.TRAVELER
        and departure is None
    ):
        errors.append(FieldError("departure_date", _l("Travelers need a departure date.")))
    if data.arrival_date is not None and not (
        today - MAX_ARRIVAL_BEHIND <= data.arrival_date <= today + MAX_ARRIVAL_AHEAD
    ):
        errors.append(FieldError("arrival_date", _l("The arrival date is not a plausible date.")))
    if data.departure_date is not None and data.departure_date > today + MAX_DEPARTURE_AHEAD:
        errors.append(
            FieldError("departure_date", _l("The departure date is too far ahead (at most three years)."))
        )
    elif data.departure_date is not None:
        arrival = (
            data.arrival_date if data.arrival_date is not None else (person.arrival_date if person else None)
        )
        if arrival is not None and data.departure_date < arrival:
            errors.append(FieldError("departure_date", _l("The departure date is before the arrival date.")))
        elif not allow_past_departure and data.departure_date < today:
            errors.append(FieldError("departure_date", _l("The departure date is in the past.")))

    give("emergency_name", _text(data.emergency_name, 100))
    give("emergency_relation", _text(data.emergency_relation, 50))
    emergency_phone = _text(data.emergency_phone, 40)
    if emergency_phone:
        try:
            # Any real number will do for a relative at home, landlines included.
            emergency_phone = normalise_phone(emergency_phone, mobile_only=False).e164
        except PhoneError as exc:
            errors.append(FieldError("emergency_phone", exc.message))
    give("emergency_phone", emergency_phone)
    if data.emergency_contact_consent is not None or not partial:
        values["emergency_contact_consent"] = bool(data.emergency_contact_consent)

    phones = _validate_phones(
        data.phones,
        person,
        errors,
        required="phone" in require,
        check_owners=check_owners,
        countries=countries,
    )
    if emergency_phone and any(p.e164 == emergency_phone for p in phones):
        errors.append(
            FieldError("emergency_phone", _l("The emergency contact needs a number other than yours."))
        )

    if errors:
        raise RegistryError(errors)
    return CleanPerson(values=values, phones=phones)


def _validate_phones(
    inputs: list[PhoneInput],
    person: Person | None,
    errors: list[FieldError],
    *,
    required: bool,
    check_owners: bool = True,
    countries: frozenset[str] | None = None,
) -> list[CleanPhone]:
    seen: dict[str, bool] = {}
    order: list[str] = []
    for item in inputs:
        try:
            e164 = normalise_phone(item.raw).e164
        except PhoneError as exc:
            errors.append(FieldError(item.field, exc.message))
            continue
        if countries is not None and region_of(e164) not in countries:
            errors.append(
                FieldError(
                    item.field,
                    _l(
                        "Numbers from this country cannot register here. "
                        "Use a Cambodian or Korean mobile number."
                    ),
                )
            )
            continue
        if e164 in seen:
            # The same number typed twice (main number and WhatsApp): one number, both flags.
            seen[e164] = seen[e164] or item.is_whatsapp
            continue
        seen[e164] = item.is_whatsapp
        order.append(e164)
        if not check_owners:
            continue
        owner = db.session.scalar(sa.select(PhoneNumber.person_id).where(PhoneNumber.e164 == e164))
        if owner is not None and (person is None or owner != person.id):
            errors.append(FieldError(item.field, _l("This number is already registered to another person.")))
    if required and not inputs:
        errors.append(FieldError("phone", _l("Enter a mobile number.")))
    return [CleanPhone(e164, seen[e164], i == 0) for i, e164 in enumerate(order)]


def owner_of(e164s: list[str]) -> Person | None:
    """The registered person owning the first of ``e164s`` that is registered."""
    if not e164s:
        return None
    rows = db.session.execute(
        sa.select(PhoneNumber.e164, PhoneNumber.person_id).where(PhoneNumber.e164.in_(e164s))
    ).all()
    owners = {e164: pid for e164, pid in rows}
    for e164 in e164s:
        if e164 in owners:
            return db.session.get(Person, owners[e164])
    return None


# --- register and update -----------------------------------------------------------------------------


#: An explicit SQL NULL: a plain None would let the column's default (confirmed now) fill it in.
_UNCONFIRMED: Any = sa.null()


def register_person(
    clean: CleanPerson,
    *,
    method: ConsentMethod,
    consent_version: str = consent.CURRENT_VERSION,
    on_existing: str = "refuse",
    actor: User | None = None,
    source: str | None = None,
) -> tuple[Person, bool]:
    """Create a person from validated input; returns ``(person, created)``.

    When one of the numbers is already registered: ``on_existing="refuse"`` raises
    :class:`AlreadyRegistered` and changes nothing (a web form cannot prove it owns the number, so it
    must not overwrite the record); ``"update"`` updates that record instead (the SMS conversation,
    whose sender owns the number, and the staff import).
    """
    existing = owner_of([p.e164 for p in clean.phones])
    if existing is not None:
        if on_existing != "update":
            raise AlreadyRegistered(existing)
        phones = _merge_phone_lists(existing, clean.phones)
        update_person(existing, clean.values, phones=phones, actor=actor, via=method.value)
        _record_consent(existing, method, consent_version)
        return existing, False
    person = Person(source=source or method.value)
    for name, value in clean.values.items():
        setattr(person, name, value)
    _record_consent(person, method, consent_version)
    # A web form proves nothing about who holds a number; every other way in does (see PhoneNumber).
    confirmed_at = _UNCONFIRMED if method == ConsentMethod.WEB else utcnow()
    for phone in clean.phones:
        person.phones.append(
            PhoneNumber(
                e164=phone.e164,
                kind=kind_of_e164(phone.e164),
                is_primary=phone.is_primary,
                is_whatsapp=phone.is_whatsapp,
                confirmed_at=confirmed_at,
            )
        )
    db.session.add(person)
    db.session.flush()
    link_opt_outs(person)
    record("person.register", actor=actor, target=person, via=method.value)
    return person, True


def _record_consent(person: Person, method: ConsentMethod, version: str) -> None:
    person.consent_at = utcnow()
    person.consent_method = method
    person.consent_version = version


def _merge_phone_lists(person: Person, new: list[CleanPhone]) -> list[CleanPhone]:
    """A re-registration adds numbers; it never drops the ones the person already had."""
    merged = {p.e164: CleanPhone(p.e164, p.is_whatsapp, p.is_primary) for p in person.phones}
    for phone in new:
        old = merged.get(phone.e164)
        if old is None:
            merged[phone.e164] = CleanPhone(phone.e164, phone.is_whatsapp, is_primary=not merged)
        elif phone.is_whatsapp and not old.is_whatsapp:
            merged[phone.e164] = CleanPhone(phone.e164, True, old.is_primary)
    return list(merged.values())


def update_person(
    person: Person,
    values: dict[str, Any],
    *,
    phones: list[CleanPhone] | None = None,
    actor: User | None = None,
    via: str = "staff",
    confirm_new_phones: bool = True,
) -> list[str]:
    """Apply validated ``values`` (and, if given, the full list of numbers); audit what changed.

    ``confirm_new_phones=False`` (the self-service page) adds new numbers unconfirmed: they join
    audiences only once their holder answers the confirmation SMS or opens its link.

    Returns the names of the fields that changed. The audit event names the fields, not their
    values: the audit log outlives a deletion and must not keep the personal data it removed.
    """
    if person.deleted_at is not None:
        raise RegistryError([FieldError("person", _l("This registration was deleted."))])
    changed = []
    for name, value in values.items():
        if name not in EDITABLE_COLUMNS:
            raise ValueError(f"{name} is not an editable column")
        if getattr(person, name) != value:
            setattr(person, name, value)
            changed.append(name)
    if phones is not None and _set_phones(person, phones, confirmed=confirm_new_phones):
        changed.append("phones")
    if changed:
        db.session.flush()
        if "phones" in changed or "email" in changed:
            link_opt_outs(person)
        record("person.update", actor=actor, target=person, fields=changed, via=via)
    return changed


def _set_phones(person: Person, phones: list[CleanPhone], *, confirmed: bool = True) -> bool:
    current = {p.e164: p for p in person.phones}
    wanted = {p.e164: p for p in phones}
    if not wanted:
        raise RegistryError([FieldError("phone", _l("Enter a mobile number."))])
    changed = False
    for e164, old in current.items():
        if e164 not in wanted:
            person.phones.remove(old)
            changed = True
    # The removed rows must be gone before a number moves between flags or people.
    db.session.flush()
    has_primary = any(p.is_primary for p in phones)
    for index, phone in enumerate(phones):
        primary = phone.is_primary if has_primary else index == 0
        row = current.get(phone.e164)
        if row is None:
            person.phones.append(
                PhoneNumber(
                    e164=phone.e164,
                    kind=kind_of_e164(phone.e164),
                    is_primary=primary,
                    is_whatsapp=phone.is_whatsapp,
                    confirmed_at=utcnow() if confirmed else _UNCONFIRMED,
                )
            )
            changed = True
        elif row.is_primary != primary or row.is_whatsapp != phone.is_whatsapp:
            row.is_primary = primary
            row.is_whatsapp = phone.is_whatsapp
            changed = True
    return changed


def set_departure(
    person: Person, departure: date, *, today: date | None = None, via: str = "self_service"
) -> None:
    """Set or extend a traveler's departure date (self-service); refuses a past or pre-arrival date."""
    clean = validate(
        PersonInput(departure_date=departure), person=person, require=frozenset(), partial=True, today=today
    )
    update_person(person, clean.values, via=via)


# --- opt-outs -----------------------------------------------------------------------------------------


def addresses_for(person: Person, channel: str) -> list[str]:
    """The addresses a channel reaches this person at (all numbers for SMS and WhatsApp)."""
    if channel == "email":
        return [person.email.lower()] if person.email else []
    return [p.e164 for p in person.phones]


def opted_out_channels(person: Person) -> set[str]:
    return optouts.channels_opted_out(person.id, [p.e164 for p in person.phones], person.email)


def link_opt_outs(person: Person) -> None:
    """Point the opt-outs of this person's addresses at them, and only those.

    ``OptOut`` is keyed by address (what the send path checks); ``person_id`` is kept equal to the
    address's current owner so that the staff filter "opted out" is one indexed lookup. Called
    whenever a person gets or loses a number or an e-mail address.
    """
    numbers = [p.e164 for p in person.phones]
    mine = []
    if numbers:
        mine.append(sa.and_(OptOut.channel.in_(["sms", "whatsapp"]), OptOut.address.in_(numbers)))
    if person.email:
        mine.append(sa.and_(OptOut.channel == "email", OptOut.address == person.email.lower()))
    if mine:
        db.session.execute(
            sa.update(OptOut)
            .where(sa.or_(*mine))
            .values(person_id=person.id)
            .execution_options(synchronize_session=False)
        )
    not_mine = sa.not_(sa.or_(*mine)) if mine else sa.true()
    db.session.execute(
        sa.update(OptOut)
        .where(OptOut.person_id == person.id, not_mine)
        .values(person_id=None)
        .execution_options(synchronize_session=False)
    )


def set_opt_out(
    person: Person, channel: str, *, source: str = "self_service", actor: User | None = None
) -> int:
    """Stop messages to this person on ``channel``: one ``OptOut`` row per address. Returns rows added."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    added = sum(
        1
        for address in addresses_for(person, channel)
        if optouts.opt_out(channel, address, person_id=person.id, source=source)
    )
    record("person.opt_out", actor=actor, target=person, channel=channel, source=source)
    return added


def clear_opt_out(
    person: Person, channel: str, *, actor: User | None = None, source: str = "self_service"
) -> int:
    """Allow messages on ``channel`` again. Returns the number of opt-out rows removed."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    removed = optouts.clear_opt_outs(channel, addresses_for(person, channel), person_id=person.id)
    record("person.opt_in", actor=actor, target=person, channel=channel, source=source)
    return int(removed)


# --- delete, anonymise --------------------------------------------------------------------------------


def _erase(person_ids: list[int], addresses: list[str]) -> None:
    """Scrub everything personal that hangs off ``person_ids``; set-based, one statement per table.

    ``addresses`` are their numbers (inbound messages from a number are scrubbed even when they were
    never linked to the person, e.g. the first messages of an SMS registration). The person rows
    themselves are cleared by the caller, last, because ``person_ids`` may select on them.
    """
    message_ids = sa.select(Message.id).where(Message.person_id.in_(person_ids))
    db.session.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.message_id.in_(message_ids))
        .values(to_address="", body="", subject=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Message)
        .where(Message.person_id.in_(person_ids))
        .values(to_address=None, body=None, subject=None, html=None)
        .execution_options(synchronize_session=False)
    )
    # Inbound senders are stored as E.164, or prefixed "whatsapp:" for WhatsApp.
    senders = [*addresses, *("whatsapp:" + a for a in addresses)]
    address_match = InboundMessage.from_address.in_(senders) if senders else sa.false()
    db.session.execute(
        sa.update(InboundMessage)
        .where(sa.or_(InboundMessage.person_id.in_(person_ids), address_match))
        .values(body="", from_address="", params={})
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(CheckInResponse)
        .where(CheckInResponse.person_id.in_(person_ids))
        .values(text=None, location=None, latitude=None, longitude=None, accuracy_m=None)
        .execution_options(synchronize_session=False)
    )
    # A permit number and a personal grace deadline are personal data too.
    for table in (Permit, Grace):
        db.session.execute(
            sa.delete(table)
            .where(table.person_id.in_(person_ids))
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        sa.delete(RegistrationConversation)
        .where(RegistrationConversation.address.in_(addresses or [""]))
        .execution_options(synchronize_session=False)
    )
    # Opt-outs stay (a STOP must be honoured whoever owns the number next), but unlinked.
    db.session.execute(
        sa.update(OptOut)
        .where(OptOut.person_id.in_(person_ids))
        .values(person_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(PhoneNumber)
        .where(PhoneNumber.person_id.in_(person_ids))
        .execution_options(synchronize_session=False)
    )


def delete_registration(person: Person, *, actor: User | None = None, via: str = "self_service") -> None:
    """Delete a person's personal data for good, leaving an anonymous tombstone (ids kept)."""
    if person.deleted_at is not None:
        return
    ids = [person.id, *db.session.scalars(sa.select(Person.id).where(Person.merged_into_id == person.id))]
    addresses = [p.e164 for p in person.phones]
    _erase(ids, addresses)
    for name, value in PERSONAL_COLUMNS.items():
        setattr(person, name, value)
    person.deleted_at = utcnow()
    person.link_generation += 1
    db.session.flush()
    db.session.expire(person, ["phones"])
    record("person.delete", actor=actor, target=person, via=via)


def anonymise_departed_travelers(days: int, *, today: date | None = None) -> list[int]:
    """Tombstone travelers whose departure was more than ``days`` days ago, unless a case is open.

    Set-based: the same criteria select the people for every scrub statement and for the final
    update, so no person is loaded into Python. Returns the ids anonymised.
    """
    today = today or cambodia_today()
    cutoff = today - timedelta(days=days)
    open_case = sa.exists().where(Case.person_id == Person.id, Case.status != CaseStatus.RESOLVED)
    due = sa.select(Person.id).where(
        Person.status == PersonStatus.TRAVELER,
        Person.deleted_at.is_(None),
        Person.departure_date.is_not(None),
        Person.departure_date < cutoff,
        ~open_case,
    )
    ids = list(db.session.scalars(due))
    if not ids:
        return []
    # Work in chunks so the IN lists stay reasonable on a large backlog (the first run on old data).
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        merged = list(db.session.scalars(sa.select(Person.id).where(Person.merged_into_id.in_(chunk))))
        scope = chunk + merged
        addresses = list(
            db.session.scalars(sa.select(PhoneNumber.e164).where(PhoneNumber.person_id.in_(scope)))
        )
        _erase(scope, addresses)
        db.session.execute(
            sa.update(Person)
            .where(Person.id.in_(chunk))
            .values(
                **PERSONAL_COLUMNS,
                deleted_at=utcnow(),
                link_generation=Person.link_generation + 1,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    record("registry.retention", target_type="person", count=len(ids), days=days, person_ids=ids[:1000])
    log.info("retention: anonymised %d travelers departed before %s", len(ids), cutoff)
    return ids


# --- merge --------------------------------------------------------------------------------------------


def merge_people(keep: Person, drop: Person, *, actor: User | None = None) -> None:
    """Merge ``drop`` into ``keep``: numbers, messages, answers, cases and opt-outs move to ``keep``;
    blanks in ``keep`` are filled from ``drop``; ``drop`` becomes a tombstone pointing at ``keep``.

    A message ``keep`` already has for the same alert and channel stays on the tombstone (the
    uniqueness of messages per source and person must hold) and still shows on ``keep``'s timeline.
    """
    if keep.id == drop.id:
        raise MergeError(_l("A record cannot be merged with itself."))
    if keep.deleted_at is not None or drop.deleted_at is not None:
        raise MergeError(_l("A deleted registration cannot be merged."))

    for name in EDITABLE_COLUMNS:
        if getattr(keep, name) in (None, "") and getattr(drop, name) not in (None, ""):
            setattr(keep, name, getattr(drop, name))
    if keep.consent_at is None and drop.consent_at is not None:
        keep.consent_at, keep.consent_method, keep.consent_version = (
            drop.consent_at,
            drop.consent_method,
            drop.consent_version,
        )
    if drop.last_checkin_at and (keep.last_checkin_at is None or drop.last_checkin_at > keep.last_checkin_at):
        keep.last_checkin_at = drop.last_checkin_at
        keep.last_known_status = drop.last_known_status

    keep_has_primary = any(p.is_primary for p in keep.phones)
    for phone in list(drop.phones):
        drop.phones.remove(phone)
        phone.is_primary = phone.is_primary and not keep_has_primary
        keep.phones.append(phone)
    db.session.flush()

    other = so.aliased(Message)
    clash = sa.exists().where(
        other.person_id == keep.id,
        other.source_kind == Message.source_kind,
        other.source_id == Message.source_id,
        other.channel == Message.channel,
    )
    db.session.execute(
        sa.update(Message)
        .where(Message.person_id == drop.id, ~clash)
        .values(person_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    _merge_checkin_recipients(keep.id, drop.id)
    for column in (
        CheckInResponse.person_id,
        Case.person_id,
        InboundMessage.person_id,
        OptOut.person_id,
        Permit.person_id,
        Grace.person_id,
    ):
        db.session.execute(
            sa.update(column.class_)
            .where(column == drop.id)
            .values({column.key: keep.id})
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        sa.update(Person)
        .where(Person.merged_into_id == drop.id)
        .values(merged_into_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    for name, value in PERSONAL_COLUMNS.items():
        setattr(drop, name, value)
    drop.deleted_at = utcnow()
    drop.merged_into_id = keep.id
    drop.link_generation += 1
    db.session.flush()
    record("person.merge", actor=actor, target=keep, merged_id=drop.id)


def _merge_checkin_recipients(keep_id: int, drop_id: int) -> None:
    other = so.aliased(CheckInRecipient)
    # Where both were asked in the same check-in, an answer on the dropped record is carried over.
    both = list(
        db.session.execute(
            sa.select(CheckInRecipient, other)
            .join(other, sa.and_(other.checkin_id == CheckInRecipient.checkin_id, other.person_id == drop_id))
            .where(CheckInRecipient.person_id == keep_id)
        ).tuples()
    )
    for kept, dropped in both:
        if kept.answer == Answer.NO_RESPONSE and dropped.answer != Answer.NO_RESPONSE:
            kept.answer, kept.answered_at = dropped.answer, dropped.answered_at
        db.session.delete(dropped)
    db.session.flush()
    db.session.execute(
        sa.update(CheckInRecipient)
        .where(CheckInRecipient.person_id == drop_id)
        .values(person_id=keep_id)
        .execution_options(synchronize_session=False)
    )
