"""Who is inside each advisory zone now, their permit state, and everyone's zone now — all as SQL.

A person's place is never typed twice: it is their registered province and optional district or
commune (``Person.area_code``), unless their phone shared a location recently (a check-in tap,
``Person.located_*``, fresh for :data:`LOCATION_FRESH`), which then wins. A zone contains a person
when its area code equals that place's province, district (the first four digits) or commune: three
equality joins, UNION ALL, so 100,000 people against 50 zones is a few hash joins, not 5 million
prefix tests (``bench/zones.py``). Someone registered only with a province is inside that province's
zone but not inside a city's zone there: we do not know that they are in the city.

Permit state, per person and zone (first that holds)::

    valid      a permit for the zone, valid today and for more than 7 more days
    expiring   a permit valid today whose last day is within 7 days
    grace      a grace deadline for the zone not yet passed (the person's own, or the zone's for residents)
    expired    a permit for the zone that has run out (and no grace)
    none       nothing
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import Grace, Permit, Person, PersonStatus, Zone, ZoneLevel
from outreach.models.base import StrEnum

#: A shared phone location counts as where the person is for this long.
LOCATION_FRESH = timedelta(days=7)
#: A permit ending within this many days is "expiring".
EXPIRING_DAYS = 7


class PermitState(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    GRACE = "grace"
    EXPIRED = "expired"
    NONE = "none"


PERMIT_STATES: tuple[PermitState, ...] = tuple(PermitState)


def level_rank(column: Any) -> sa.ColumnElement[int]:
    """SQL rank of a level column (special counts as 3, see ``ZoneLevel.rank``)."""
    return sa.case(
        *((column == level.value, level.rank) for level in ZoneLevel),
        else_=0,
    )


def active_zone_condition(today: date) -> sa.ColumnElement[bool]:
    """A zone whose level applies today (set, already effective, not expired)."""
    return sa.and_(
        Zone.level.is_not(None),
        sa.or_(Zone.effective_from.is_(None), Zone.effective_from <= today),
        sa.or_(Zone.expires_on.is_(None), Zone.expires_on >= today),
    )


def _places(now: datetime) -> sa.Subquery:
    """(person_id, province, district, commune) of every registered person, by the rule above."""
    fresh = sa.and_(Person.located_at.is_not(None), Person.located_at >= now - LOCATION_FRESH)
    province = sa.case((fresh, Person.located_province_code), else_=Person.province_code)
    area = sa.case((fresh, Person.located_area_code), else_=Person.area_code)
    return (
        sa.select(
            Person.id.label("person_id"),
            province.label("province"),
            sa.func.substr(area, 1, 4).label("district"),
            sa.case((sa.func.length(area) == 6, area)).label("commune"),
        )
        .where(Person.deleted_at.is_(None))
        .subquery("places")
    )


def _pairs(now: datetime, zones: sa.ColumnElement[bool]) -> sa.Subquery:
    """(zone_id, person_id) for every zone matching ``zones`` and everyone whose place is inside it."""
    places = _places(now)
    selects = [
        sa.select(Zone.id.label("zone_id"), places.c.person_id)
        .join(places, Zone.area_code == column)
        .where(zones)
        for column in (places.c.province, places.c.district, places.c.commune)
    ]
    return sa.union_all(*selects).subquery("pairs")


def presence_condition(today: date, *, stay_overlaps: bool = False) -> sa.ColumnElement[bool]:
    """In Cambodia today (arrived, not left); with ``stay_overlaps`` also travellers still to come
    whose stay overlaps the zone's period (the join must have ``Zone``)."""
    if not stay_overlaps:
        return sa.and_(
            sa.or_(Person.arrival_date.is_(None), Person.arrival_date <= today),
            sa.or_(Person.departure_date.is_(None), Person.departure_date >= today),
        )
    return sa.and_(
        sa.or_(Person.departure_date.is_(None), Person.departure_date >= today),
        sa.or_(
            Person.departure_date.is_(None),
            Zone.effective_from.is_(None),
            Person.departure_date >= Zone.effective_from,
        ),
        sa.or_(
            Person.arrival_date.is_(None), Zone.expires_on.is_(None), Person.arrival_date <= Zone.expires_on
        ),
    )


def inside_select(
    *,
    today: date,
    now: datetime,
    zone_ids: list[int] | None = None,
    min_level: int | None = None,
    stay_overlaps: bool = False,
) -> sa.Select[tuple[int, int]]:
    """``SELECT zone_id, person_id`` of people inside active zones (optionally some zones, or those at
    ``min_level`` or above), present today or, with ``stay_overlaps``, staying there during the zone."""
    conditions = [active_zone_condition(today)]
    if zone_ids is not None:
        conditions.append(Zone.id.in_(zone_ids))
    if min_level is not None:
        conditions.append(level_rank(Zone.level) >= min_level)
    pairs = _pairs(now, sa.and_(*conditions))
    return (
        sa.select(pairs.c.zone_id, pairs.c.person_id)
        .join(Person, Person.id == pairs.c.person_id)
        .join(Zone, Zone.id == pairs.c.zone_id)
        .where(presence_condition(today, stay_overlaps=stay_overlaps))
    )


def _state_columns(pairs: Any, today: date) -> tuple[sa.ColumnElement[str], list[Any], Any, Any]:
    """The permit-state CASE for rows of ``pairs`` (zone_id, person_id), and the joins it needs."""
    valid_now = sa.and_(Permit.valid_from <= today, Permit.valid_to >= today)
    permits = (
        sa.select(
            Permit.person_id,
            Permit.zone_id,
            sa.func.max(Permit.valid_to).filter(valid_now).label("valid_to"),
            sa.func.count().filter(Permit.valid_to < today).label("expired"),
        )
        .where(Permit.revoked_at.is_(None))
        .group_by(Permit.person_id, Permit.zone_id)
        .subquery("permits")
    )
    own_grace = (
        sa.select(Grace.person_id, Grace.zone_id, sa.func.max(Grace.ends_on).label("ends_on"))
        .where(Grace.person_id.is_not(None), Grace.ends_on >= today)
        .group_by(Grace.person_id, Grace.zone_id)
        .subquery("own_grace")
    )
    zone_grace = (
        sa.select(Grace.zone_id, sa.func.max(Grace.ends_on).label("ends_on"))
        .where(Grace.person_id.is_(None), Grace.ends_on >= today)
        .group_by(Grace.zone_id)
        .subquery("zone_grace")
    )
    grace_end = sa.func.coalesce(
        own_grace.c.ends_on,
        sa.case((Person.status == PersonStatus.RESIDENT, zone_grace.c.ends_on)),
    )
    state = sa.case(
        (permits.c.valid_to > today + timedelta(days=EXPIRING_DAYS), PermitState.VALID.value),
        (permits.c.valid_to.is_not(None), PermitState.EXPIRING.value),
        (grace_end.is_not(None), PermitState.GRACE.value),
        (permits.c.expired > 0, PermitState.EXPIRED.value),
        else_=PermitState.NONE.value,
    )
    joins = [
        (permits, sa.and_(permits.c.person_id == pairs.c.person_id, permits.c.zone_id == pairs.c.zone_id)),
        (
            own_grace,
            sa.and_(own_grace.c.person_id == pairs.c.person_id, own_grace.c.zone_id == pairs.c.zone_id),
        ),
        (zone_grace, zone_grace.c.zone_id == pairs.c.zone_id),
    ]
    return state, joins, permits.c.valid_to, grace_end


def inside_with_state(
    *, today: date, now: datetime, zone_ids: list[int] | None = None
) -> sa.Select[tuple[int, int, str, date | None, date | None]]:
    """``SELECT zone_id, person_id, permit_state, permit_valid_to, grace_ends_on`` for people inside."""
    pairs = inside_select(today=today, now=now, zone_ids=zone_ids).subquery("inside")
    state, joins, valid_to, grace_end = _state_columns(pairs, today)
    stmt = (
        sa.select(
            pairs.c.zone_id, pairs.c.person_id, state.label("state"), valid_to, grace_end.label("grace_end")
        )
        .select_from(pairs)
        .join(Person, Person.id == pairs.c.person_id)
    )
    for table, on in joins:
        stmt = stmt.outerjoin(table, on)
    return stmt


def counts_by_zone(*, today: date, now: datetime) -> dict[int, int]:
    """People inside each active zone now (a person may be inside several: a city and its province)."""
    inside = inside_select(today=today, now=now).subquery()
    rows = db.session.execute(sa.select(inside.c.zone_id, sa.func.count()).group_by(inside.c.zone_id))
    return {int(zone_id): int(n) for zone_id, n in rows}


def state_counts(
    *, today: date, now: datetime, zone_ids: list[int] | None = None
) -> dict[int, dict[str, int]]:
    """zone id → {permit state → people}, every state present (zero when nobody)."""
    rows = inside_with_state(today=today, now=now, zone_ids=zone_ids).subquery()
    out: dict[int, dict[str, int]] = {}
    for zone_id, state, n in db.session.execute(
        sa.select(rows.c.zone_id, rows.c.state, sa.func.count()).group_by(rows.c.zone_id, rows.c.state)
    ):
        out.setdefault(int(zone_id), {s.value: 0 for s in PERMIT_STATES})[str(state)] = int(n)
    for zone_id in zone_ids or ():
        out.setdefault(zone_id, {s.value: 0 for s in PERMIT_STATES})
    return out


@dataclass(frozen=True)
class InsideRow:
    person: Person
    state: PermitState
    permit_valid_to: date | None
    grace_ends_on: date | None


def inside_list(zone_id: int, *, today: date, now: datetime, state: str | None = None) -> list[InsideRow]:
    """The people inside one zone with their permit state, by state then name (for a page or a CSV)."""
    rows = inside_with_state(today=today, now=now, zone_ids=[zone_id]).subquery()
    stmt = sa.select(Person, rows.c.state, rows.c.valid_to, rows.c.grace_end).join(
        rows, rows.c.person_id == Person.id
    )
    if state is not None:
        stmt = stmt.where(rows.c.state == state)
    order = sa.case(*((rows.c.state == s.value, i) for i, s in enumerate(PERMIT_STATES)), else_=9)
    stmt = stmt.order_by(order, Person.name_latin, Person.name_ko, Person.id)
    return [InsideRow(p, PermitState(s), v, g) for p, s, v, g in db.session.execute(stmt)]


def zone_now_select(*, today: date, now: datetime) -> sa.Select[tuple[int, int, str]]:
    """``SELECT person_id, zone_id, level``: each person's zone now — of the zones they are inside,
    the highest level, and of equal levels the smallest area (a city's zone over its province's)."""
    inside = inside_select(today=today, now=now).subquery()
    specificity = sa.case((Zone.area_code.like("KH-%"), 0), (sa.func.length(Zone.area_code) == 4, 1), else_=2)
    ranked = (
        sa.select(
            inside.c.person_id,
            inside.c.zone_id,
            # Plain text: 100,000 rows through the Enum's result processor cost a tenth of a second.
            sa.type_coerce(Zone.level, sa.String).label("level"),
            sa.func.row_number()
            .over(
                partition_by=inside.c.person_id,
                order_by=(level_rank(Zone.level).desc(), specificity.desc(), Zone.id),
            )
            .label("n"),
        )
        .join(Zone, Zone.id == inside.c.zone_id)
        .subquery("ranked")
    )
    return sa.select(ranked.c.person_id, ranked.c.zone_id, ranked.c.level).where(ranked.c.n == 1)


def zone_now_of(person_id: int, *, today: date, now: datetime) -> Zone | None:
    """One person's zone now (for the person page), or None when they are in no active zone."""
    sub = zone_now_select(today=today, now=now).subquery()
    zone_id = db.session.scalar(sa.select(sub.c.zone_id).where(sub.c.person_id == person_id))
    return db.session.get(Zone, zone_id) if zone_id is not None else None


def audience_condition(
    *,
    today: date,
    now: datetime,
    zone_ids: list[int] | None,
    min_level: int | None,
    without_permit: bool,
    stay_overlaps: bool,
) -> sa.ColumnElement[bool]:
    """``Person.id IN (…)`` for an alert audience targeting zones (``outreach.alerts.audience``)."""
    inside = inside_select(
        today=today, now=now, zone_ids=zone_ids, min_level=min_level, stay_overlaps=stay_overlaps
    ).subquery("zone_audience")
    stmt = sa.select(inside.c.person_id)
    if without_permit:
        valid = (
            sa.select(Permit.id)
            .where(
                Permit.person_id == inside.c.person_id,
                Permit.zone_id == inside.c.zone_id,
                Permit.revoked_at.is_(None),
                Permit.valid_from <= today,
                Permit.valid_to >= today,
            )
            .exists()
        )
        stmt = stmt.where(~valid)
    return Person.id.in_(stmt)
