"""Who an alert (or a check-in) reaches: the audience filter as SQL.

An audience is a small dict stored on the alert::

    {"provinces": ["KH-12", "KH-17"], "statuses": ["resident"], "languages": ["ko", "en"],
     "present_only": true}

and, to target advisory zones (``outreach.zones.inside``), any of ``"zones": [zone ids]`` (people
inside those zones), ``"min_level": 3`` (inside any zone at that level or above), ``"without_permit":
true`` (of those, only people without a valid permit for the zone) and ``"stay_overlaps": true``
(also travellers still to come whose stay overlaps the zone's period).

An empty list means "no restriction". Whatever the filter, only people who gave consent and whose
registration was not deleted are ever reached. Everything here builds SQL; nothing loads people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from outreach.extensions import db
from outreach.i18n import LOCALES
from outreach.models import PersonStatus, Province, Zone, utcnow
from outreach.models.people import Person, PhoneNumber
from outreach.registry.presence import present_conditions
from outreach.zones.inside import audience_condition


class AudienceError(ValueError):
    """The audience filter names something that does not exist."""


@dataclass(frozen=True)
class Audience:
    provinces: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    present_only: bool = False
    #: Advisory zones (ids); with ``min_level`` the audience is people inside matching zones.
    zones: tuple[int, ...] = ()
    min_level: int | None = None
    without_permit: bool = False
    stay_overlaps: bool = False
    #: Only people who arrived in Cambodia in the last N days (a targeted warning to new arrivals).
    arrived_within_days: int | None = None
    #: Kept for forward compatibility (e.g. advisory zones); ignored by the filter.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def by_zone(self) -> bool:
        return bool(self.zones) or self.min_level is not None

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Audience:
        raw = raw or {}
        return cls(
            provinces=tuple(sorted({str(p) for p in raw.get("provinces") or ()})),
            statuses=tuple(sorted({str(s) for s in raw.get("statuses") or ()})),
            languages=tuple(sorted({str(lang) for lang in raw.get("languages") or ()})),
            present_only=bool(raw.get("present_only", False)),
            zones=tuple(sorted({_int(z) for z in raw.get("zones") or ()})),
            min_level=_int(raw["min_level"]) if raw.get("min_level") not in (None, "") else None,
            without_permit=bool(raw.get("without_permit", False)),
            stay_overlaps=bool(raw.get("stay_overlaps", False)),
            arrived_within_days=_days(raw.get("arrived_within_days")),
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provinces": list(self.provinces),
            "statuses": list(self.statuses),
            "languages": list(self.languages),
            "present_only": self.present_only,
            **(
                {
                    "zones": list(self.zones),
                    "min_level": self.min_level,
                    "without_permit": self.without_permit,
                    "stay_overlaps": self.stay_overlaps,
                }
                if self.by_zone
                else {}
            ),
        }
        if self.arrived_within_days is not None:
            # Only when set, so audiences saved before the field existed compare equal.
            out["arrived_within_days"] = self.arrived_within_days
        return out


def _days(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError) as exc:
        raise AudienceError(f"arrived_within_days must be a whole number of days, not {value!r}") from exc
    if not 1 <= days <= 365:
        raise AudienceError("arrived_within_days must be between 1 and 365")
    return days


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AudienceError(f"not a number: {value!r}") from None


def validate_audience(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The normalised audience dict, or :class:`AudienceError` naming the unknown value."""
    audience = Audience.from_dict(raw)
    known_statuses = {s.value for s in PersonStatus}
    for status in audience.statuses:
        if status not in known_statuses:
            raise AudienceError(f"unknown status {status!r}")
    for language in audience.languages:
        if language not in LOCALES:
            raise AudienceError(f"unknown language {language!r}")
    if audience.provinces:
        known = set(db.session.scalars(sa.select(Province.code).where(Province.code.in_(audience.provinces))))
        unknown = sorted(set(audience.provinces) - known)
        if unknown:
            raise AudienceError(f"unknown province {', '.join(unknown)}")
    if audience.zones:
        known_zones = set(db.session.scalars(sa.select(Zone.id).where(Zone.id.in_(audience.zones))))
        missing = sorted(set(audience.zones) - known_zones)
        if missing:
            raise AudienceError(f"unknown zone {', '.join(map(str, missing))}")
    if audience.min_level is not None and not 1 <= audience.min_level <= 4:
        raise AudienceError("min_level must be 1 to 4")
    if (audience.without_permit or audience.stay_overlaps) and not audience.by_zone:
        raise AudienceError("without_permit and stay_overlaps need zones or min_level")
    return audience.as_dict()


def audience_conditions(audience: dict[str, Any] | Audience, *, today: date) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on ``Person`` for ``audience`` (shared by counts and materialisation)."""
    aud = audience if isinstance(audience, Audience) else Audience.from_dict(audience)
    conditions: list[sa.ColumnElement[bool]] = [
        Person.deleted_at.is_(None),
        Person.consent_at.is_not(None),
    ]
    if aud.provinces:
        conditions.append(Person.province_code.in_(aud.provinces))
    if aud.statuses:
        conditions.append(Person.status.in_([PersonStatus(s) for s in aud.statuses]))
    if aud.languages:
        conditions.append(Person.language.in_(aud.languages))
    if aud.by_zone:
        conditions.append(
            audience_condition(
                today=today,
                now=utcnow(),
                zone_ids=list(aud.zones) or None,
                min_level=aud.min_level,
                without_permit=aud.without_permit,
                stay_overlaps=aud.stay_overlaps,
            )
        )
    if aud.present_only:
        conditions.extend(present_conditions(today))
    if aud.arrived_within_days is not None:
        conditions.append(Person.arrival_date >= today - timedelta(days=aud.arrived_within_days))
        conditions.append(Person.arrival_date <= today)
    return conditions


def audience_person_ids(audience: dict[str, Any], *, today: date) -> sa.Select[tuple[int]]:
    """``SELECT person.id`` of everyone ``audience`` reaches (consented, not deleted)."""
    return sa.select(Person.id).where(*audience_conditions(audience, today=today))


def phone_confirmed(confirmed_at: Any = PhoneNumber.confirmed_at) -> sa.ColumnElement[bool]:
    """The one rule for which numbers SMS and WhatsApp may reach: confirmed ones.

    A number typed into the public web form (or the ``/me/`` page) stays unconfirmed until its holder
    answers the confirmation SMS or opens its link, so a stranger's number typed there is never
    messaged by an alert or a check-in. Every audience query picks numbers through this.
    """
    condition: sa.ColumnElement[bool] = confirmed_at.is_not(None)
    return condition


def sms_phone_id() -> sa.ScalarSelect[int]:
    """Correlated subquery: the number an SMS goes to (the primary confirmed one, else the oldest)."""
    ph = sa.orm.aliased(PhoneNumber)
    return (
        sa.select(ph.id)
        .where(ph.person_id == Person.id, phone_confirmed(ph.confirmed_at))
        .order_by(ph.is_primary.desc(), ph.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )


def whatsapp_phone_id() -> sa.ScalarSelect[int]:
    """Correlated subquery: the WhatsApp number (primary first) of a person, if any."""
    ph = sa.orm.aliased(PhoneNumber)
    return (
        sa.select(ph.id)
        .where(ph.person_id == Person.id, ph.is_whatsapp.is_(True), phone_confirmed(ph.confirmed_at))
        .order_by(ph.is_primary.desc(), ph.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )


def has_email() -> sa.ColumnElement[bool]:
    return sa.and_(Person.email.is_not(None), Person.email != "")


@dataclass
class AudienceCounts:
    """What an audience means in people, for the compose preview and the approver."""

    total: int
    by_province: list[tuple[str | None, int]]
    by_language: dict[str, int]
    #: Addresses per channel: people with a number (SMS), a WhatsApp number, an e-mail address.
    by_channel: dict[str, int]


def count_audience(audience: dict[str, Any], *, today: date) -> AudienceCounts:
    """Recipient counts by province, language and channel, in three grouped queries."""
    conditions = audience_conditions(audience, today=today)
    by_province = [
        (code, int(n))
        for code, n in db.session.execute(
            sa.select(Person.province_code, sa.func.count())
            .where(*conditions)
            .group_by(Person.province_code)
            .order_by(sa.func.count().desc(), Person.province_code)
        )
    ]
    by_language = {
        str(lang): int(n)
        for lang, n in db.session.execute(
            sa.select(Person.language, sa.func.count()).where(*conditions).group_by(Person.language)
        )
    }
    has_phone = sa.exists().where(PhoneNumber.person_id == Person.id, phone_confirmed())
    has_wa = sa.exists().where(
        PhoneNumber.person_id == Person.id, PhoneNumber.is_whatsapp.is_(True), phone_confirmed()
    )
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(has_phone),
            sa.func.count().filter(has_wa),
            sa.func.count().filter(has_email()),
        ).where(*conditions)
    ).one()
    return AudienceCounts(
        total=int(row[0]),
        by_province=by_province,
        by_language=by_language,
        by_channel={"sms": int(row[1]), "whatsapp": int(row[2]), "email": int(row[3])},
    )


def count_by_language_for_channel(audience: dict[str, Any], channel: str, *, today: date) -> dict[str, int]:
    """People reachable on ``channel``, by their language (for segment and cost estimates)."""
    conditions = audience_conditions(audience, today=today)
    if channel == "sms":
        conditions.append(sa.exists().where(PhoneNumber.person_id == Person.id, phone_confirmed()))
    elif channel == "whatsapp":
        conditions.append(
            sa.exists().where(
                PhoneNumber.person_id == Person.id, PhoneNumber.is_whatsapp.is_(True), phone_confirmed()
            )
        )
    elif channel == "email":
        conditions.append(has_email())
    return {
        str(lang): int(n)
        for lang, n in db.session.execute(
            sa.select(Person.language, sa.func.count()).where(*conditions).group_by(Person.language)
        )
    }
