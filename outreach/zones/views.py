"""What the zone pages show: the map's levels and counts, the zone table, the CSV rows, feed entries.

Plain functions over ``outreach.zones.inside``; the views in ``outreach.web.zones`` only call them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from markupsafe import Markup

from outreach.alerts.cap import FeedEntry, public_url
from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.i18n import current_language, for_person_language
from outreach.models import ChangeStatus, Permit, Person, Zone, ZoneChange, utcnow
from outreach.zones import geo, levels
from outreach.zones.inside import PERMIT_STATES, active_zone_condition, inside_list, state_counts, zone_now_of
from outreach.zones.map import AdvisoryLevel, render_map


@dataclass
class ZoneRow:
    zone: Zone
    area: geo.Area
    #: People inside now (staff pages only).
    count: int
    by_state: dict[str, int]
    pending: ZoneChange | None = None


def active_zones(today: date) -> list[Zone]:
    """Zones in force today, highest level first, then by area code."""
    zones = list(db.session.scalars(sa.select(Zone).where(active_zone_condition(today))))
    return sorted(zones, key=lambda z: (-(z.level.rank if z.level else 0), z.area_code))


def staff_rows(*, today: date, now: datetime) -> list[ZoneRow]:
    """Every zone in force or with a change waiting, with its people inside and their permit states."""
    zones = active_zones(today)
    pending = {
        c.zone_id: c
        for c in db.session.scalars(sa.select(ZoneChange).where(ZoneChange.status == ChangeStatus.PENDING))
    }
    ids = {z.id for z in zones}
    zones += [c.zone for zone_id, c in sorted(pending.items()) if zone_id not in ids]
    states = state_counts(today=today, now=now, zone_ids=[z.id for z in zones])
    return [
        ZoneRow(
            zone=z,
            area=geo.area(z.area_code),
            count=sum(states[z.id].values()),
            by_state=states[z.id],
            pending=pending.get(z.id),
        )
        for z in zones
    ]


def advisory_map(
    rows: list[ZoneRow] | list[Zone], *, language: str, with_counts: bool, id_prefix: str = "kh-map"
) -> Markup:
    """The SVG map of zones in force; with counts of people inside on staff pages only."""
    level_of: dict[str, AdvisoryLevel | None] = {}
    counts: dict[str, int] = {}
    for row in rows:
        zone = row.zone if isinstance(row, ZoneRow) else row
        if zone.level is None:
            continue
        level_of[zone.area_code] = levels.map_level(zone.level)
        if with_counts and isinstance(row, ZoneRow):
            counts[zone.area_code] = row.count
    return render_map(level_of, counts if with_counts else None, language=language, id_prefix=id_prefix)


CSV_HEADER = [
    "permit_state",
    "person",
    "name_ko",
    "name_latin",
    "phone",
    "language",
    "status",
    "area",
    "permit_valid_to",
    "grace_ends_on",
    "last_known_status",
]


def csv_rows(zone: Zone, *, today: date, now: datetime, language: str) -> Iterator[list[str]]:
    """One row per person inside, for phone follow-up (the caller neutralises and writes them)."""
    for row in inside_list(zone.id, today=today, now=now):
        person = row.person
        phone = person.primary_phone
        code = person.area_code or person.province_code
        found = geo.get(code) if code else None
        yield [
            row.state.value,
            str(person.id),
            person.name_ko or "",
            person.name_latin or "",
            phone.e164 if phone else "",
            person.language,
            person.status.value,
            geo.label(found, language) if found else "",
            row.permit_valid_to.isoformat() if row.permit_valid_to else "",
            row.grace_ends_on.isoformat() if row.grace_ends_on else "",
            person.last_known_status.value,
        ]


def feed_entries(language: str) -> list[FeedEntry]:
    """The zones in force as Atom entries (in the feed beside the alerts), in ``language``."""
    entries = []
    link = public_url("zones_public.advisories", lang=language)
    with for_person_language(language):
        for zone in active_zones(cambodia_today()):
            area = geo.area(zone.area_code)
            since = zone.effective_from.isoformat() if zone.effective_from else ""
            entries.append(
                FeedEntry(
                    id=f"urn:outreach:zone-{zone.id}-{zone.changes[-1].id if zone.changes else 0}",
                    title=f"{geo.label(area, language)}: {levels.name(zone.level)}",
                    summary=_("Since %(date)s.", date=since) + " " + levels.meaning(zone.level),
                    updated=zone.level_since or zone.updated_at,
                    link=link,
                )
            )
    return entries


def zone_audience_summary(
    zone_ids: tuple[int, ...], min_level: int | None, without_permit: bool, stay_overlaps: bool
) -> str:
    """An alert audience's zone part in words, for the compose page and the approver."""
    parts = []
    if zone_ids:
        zones = db.session.scalars(sa.select(Zone).where(Zone.id.in_(zone_ids)).order_by(Zone.area_code))
        language = current_language()
        names = ", ".join(geo.label(geo.area(z.area_code), language) for z in zones)
        parts.append(_("people inside %(zones)s", zones=names))
    if min_level is not None:
        parts.append(_("people inside any zone at level %(level)d or above", level=min_level))
    if without_permit:
        parts.append(_("only those without a valid permit"))
    if stay_overlaps:
        parts.append(_("and travellers whose stay overlaps the advisory"))
    return " · ".join(parts)


@dataclass
class PersonZones:
    """A person's place and zones, for the staff person page."""

    area: str | None
    zone: Zone | None
    zone_label: str | None
    located: str | None
    permits: list[Permit]


def person_zones(person: Person, *, language: str) -> PersonZones:
    found = geo.get(person.area_code) if person.area_code else None
    zone = zone_now_of(person.id, today=cambodia_today(), now=utcnow())
    located = geo.get(person.located_area_code or person.located_province_code or "")
    permits = list(
        db.session.scalars(
            sa.select(Permit).where(Permit.person_id == person.id).order_by(Permit.valid_to.desc())
        )
    )
    return PersonZones(
        area=geo.label(found, language) if found else None,
        zone=zone,
        zone_label=f"{geo.label(geo.area(zone.area_code), language)}: {levels.name(zone.level)}"
        if zone
        else None,
        located=geo.label(located, language) if located else None,
        permits=permits,
    )


__all__ = [
    "PERMIT_STATES",
    "ZoneRow",
    "active_zones",
    "advisory_map",
    "csv_rows",
    "feed_entries",
    "staff_rows",
]
