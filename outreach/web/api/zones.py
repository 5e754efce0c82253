"""``/api/v1/zones`` and ``/api/v1/permits``: advisory zones, their levels and history, who is inside
each by permit state, permits and grace deadlines.

Every change goes through :mod:`outreach.zones.operations`: a level 4 asked for by an officer's token
is answered ``pending`` and applies when an admin approves it (``POST /zones/changes/{id}/decision``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from flask import Blueprint
from pydantic import Field

from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.models import ChangeStatus, Permit, Role, Zone, ZoneChange, ZoneLevel, utcnow
from outreach.web.api import api
from outreach.web.api.auth import api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import (
    ApiModel,
    Date,
    Id,
    OutModel,
    PageOut,
    QueryModel,
    Timestamp,
    page_envelope,
)
from outreach.web.pagination import PER_PAGE, Page, paginate
from outreach.zones import geo, operations
from outreach.zones.inside import PermitState, active_zone_condition, inside_list, state_counts

bp: Blueprint = api
TAG = "zones"
NOT_FOUND = "There is no zone with this id."
LevelValue = Literal["1", "2", "3", "4", "special"]


def _zone_error(exc: operations.ZoneError) -> ApiError:
    return validation_error({exc.field or "body": str(exc.message)})


class ZoneQuery(QueryModel):
    active: bool | None = Field(default=None, description="Only zones in force today (true) or not (false).")


class LevelIn(ApiModel):
    area_code: Annotated[str, Field(min_length=1, max_length=8)] = Field(
        description="Province ``KH-n``, 4-digit district or 6-digit commune (e.g. ``2008`` Bavet)."
    )
    level: LevelValue
    effective_from: Date = Field(description="Cambodia date the level applies from.")
    expires_on: Date | None = Field(default=None, description="Required for a special advisory (≤ 90 days).")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class DecisionIn(ApiModel):
    approve: bool


class EndIn(ApiModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ChangeOut(OutModel):
    id: int
    zone_id: int
    from_level: ZoneLevel | None
    to_level: ZoneLevel | None = Field(description="Null: the advisory was lifted.")
    effective_from: Date | None
    expires_on: Date | None
    reason: str | None
    status: ChangeStatus
    requested_by_id: int | None
    requested_at: Timestamp
    decided_by_id: int | None
    decided_at: Timestamp | None
    alert_id: int | None = Field(description="The alert draft prepared for this change.")


class ZoneOut(OutModel):
    id: int
    area_code: str
    area_name: dict[str, str] = Field(description="The area with where it is, in ko, en and km.")
    level: ZoneLevel | None = Field(description="Null when the advisory was lifted.")
    effective_from: Date | None
    expires_on: Date | None
    reason: str | None
    level_since: Timestamp | None
    inside: int = Field(description="Registered people inside now.")
    by_permit_state: dict[str, int]


class ZoneDetail(ZoneOut):
    history: list[ChangeOut] = Field(description="Every change, oldest first.")


class ZonePage(PageOut):
    items: list[ZoneOut]


class InsideQuery(QueryModel):
    state: PermitState | None = Field(default=None, description="Only people in this permit state.")


class InsideOut(OutModel):
    person_id: int
    name_ko: str | None
    name_latin: str | None
    phone: str | None
    language: str
    status: str
    area_code: str | None
    permit_state: PermitState
    permit_valid_to: Date | None
    grace_ends_on: Date | None


class InsidePage(PageOut):
    items: list[InsideOut]


class PermitQuery(QueryModel):
    zone_id: Id | None = None
    person_id: Id | None = None


class PermitIn(ApiModel):
    person_id: Id
    zone_id: Id
    number: Annotated[str, Field(min_length=1, max_length=64)]
    issued_on: Date | None = None
    valid_from: Date
    valid_to: Date


class PermitOut(OutModel):
    id: int
    person_id: int
    zone_id: int
    number: str
    issued_on: Date | None
    valid_from: Date
    valid_to: Date
    revoked_at: Timestamp | None
    created_at: Timestamp


class PermitPage(PageOut):
    items: list[PermitOut]


class GraceIn(ApiModel):
    ends_on: Date
    person_id: Id | None = Field(default=None, description="Null: every resident inside the zone.")
    note: Annotated[str, Field(max_length=300)] | None = None


class GraceOut(OutModel):
    id: int
    zone_id: int
    person_id: int | None
    ends_on: Date
    note: str | None


def _zone_out(
    zone: Zone, counts: dict[int, dict[str, int]], model: type[ZoneOut] = ZoneOut, **extra: Any
) -> Any:
    area = geo.area(zone.area_code)
    by_state = counts.get(zone.id, {s.value: 0 for s in PermitState})
    return model.model_validate(
        {
            "id": zone.id,
            "area_code": zone.area_code,
            "area_name": {lang: geo.label(area, lang) for lang in ("ko", "en", "km")},
            "level": zone.level,
            "effective_from": zone.effective_from,
            "expires_on": zone.expires_on,
            "reason": zone.reason,
            "level_since": zone.level_since,
            "inside": sum(by_state.values()),
            "by_permit_state": by_state,
            **extra,
        }
    )


def _detail(zone: Zone) -> ZoneDetail:
    counts = state_counts(today=cambodia_today(), now=utcnow(), zone_ids=[zone.id])
    history = [ChangeOut.model_validate(c) for c in zone.changes]
    result: ZoneDetail = _zone_out(zone, counts, ZoneDetail, history=history)
    return result


@endpoint(
    bp,
    "GET",
    "/zones",
    tag=TAG,
    query=ZoneQuery,
    response=ZonePage,
    summary="List advisory zones",
    description="Highest level first; each with the people inside now by permit state.",
)
def list_zones(query: ZoneQuery) -> ZonePage:
    today = cambodia_today()
    stmt = sa.select(Zone).order_by(Zone.area_code)
    if query.active is True:
        stmt = stmt.where(active_zone_condition(today))
    elif query.active is False:
        stmt = stmt.where(~active_zone_condition(today))
    page = paginate(stmt, query.page)
    counts = state_counts(today=today, now=utcnow(), zone_ids=[z.id for z in page.items])
    return ZonePage.model_validate(page_envelope(page, [_zone_out(z, counts) for z in page.items]))


@endpoint(
    bp,
    "POST",
    "/zones",
    tag=TAG,
    body=LevelIn,
    response=ChangeOut,
    status=201,
    summary="Set an area's advisory level",
    description="Creates the zone on first use. Applied at once (and an alert draft prepared), except a "
    "level 4 asked for by an officer: that is ``pending`` until an admin decides.",
)
def set_zone_level(body: LevelIn) -> tuple[ChangeOut, int]:
    data = operations.LevelInput(
        body.area_code, body.level, body.effective_from, body.expires_on, body.reason
    )
    try:
        change = operations.set_level(data, actor=api_user())
    except operations.ZoneError as exc:
        raise _zone_error(exc) from exc
    db.session.commit()
    return ChangeOut.model_validate(change), 201


@endpoint(
    bp, "GET", "/zones/<int:zone_id>", tag=TAG, response=ZoneDetail, summary="Read a zone and its history"
)
def read_zone(zone_id: int) -> ZoneDetail:
    return _detail(get_or_404(Zone, zone_id, NOT_FOUND))


@endpoint(
    bp,
    "POST",
    "/zones/<int:zone_id>/end",
    tag=TAG,
    body=EndIn,
    response=ZoneDetail,
    summary="Lift a zone's advisory",
    description="The zone and its history stay.",
)
def end_zone(zone_id: int, body: EndIn) -> ZoneDetail:
    zone = get_or_404(Zone, zone_id, NOT_FOUND)
    try:
        operations.end_zone(zone, actor=api_user(), reason=body.reason)
    except operations.ZoneError as exc:
        raise _zone_error(exc) from exc
    db.session.commit()
    return _detail(zone)


@endpoint(
    bp,
    "POST",
    "/zones/changes/<int:change_id>/decision",
    tag=TAG,
    body=DecisionIn,
    response=ChangeOut,
    roles=(Role.ADMIN,),
    errors=(409,),
    summary="Approve or reject a pending travel ban (admins)",
)
def decide_change(change_id: int, body: DecisionIn) -> ChangeOut:
    change = get_or_404(ZoneChange, change_id, "There is no zone change with this id.")
    try:
        operations.decide(change, actor=api_user(), approve=body.approve)
    except operations.ZoneError as exc:
        raise ApiError(409, str(exc.message)) from exc
    db.session.commit()
    return ChangeOut.model_validate(change)


@endpoint(
    bp,
    "GET",
    "/zones/<int:zone_id>/inside",
    tag=TAG,
    query=InsideQuery,
    response=InsidePage,
    summary="Who is inside a zone now, by permit state",
    description="valid, expiring (within 7 days), grace, expired, none; by state, then name.",
)
def zone_inside(zone_id: int, query: InsideQuery) -> InsidePage:
    zone = get_or_404(Zone, zone_id, NOT_FOUND)
    rows = inside_list(zone.id, today=cambodia_today(), now=utcnow(), state=query.state)
    start = (query.page - 1) * PER_PAGE
    page = Page(items=rows[start : start + PER_PAGE], page=query.page, per_page=PER_PAGE, total=len(rows))
    items = []
    for row in page.items:
        phone = row.person.primary_phone
        items.append(
            InsideOut(
                person_id=row.person.id,
                name_ko=row.person.name_ko,
                name_latin=row.person.name_latin,
                phone=phone.e164 if phone else None,
                language=row.person.language,
                status=row.person.status.value,
                area_code=row.person.area_code,
                permit_state=row.state,
                permit_valid_to=row.permit_valid_to,
                grace_ends_on=row.grace_ends_on,
            )
        )
    return InsidePage.model_validate(page_envelope(page, items))


@endpoint(
    bp,
    "POST",
    "/zones/<int:zone_id>/graces",
    tag=TAG,
    body=GraceIn,
    response=GraceOut,
    status=201,
    summary="Record a grace deadline in a zone",
)
def add_grace(zone_id: int, body: GraceIn) -> tuple[GraceOut, int]:
    zone = get_or_404(Zone, zone_id, NOT_FOUND)
    try:
        grace = operations.add_grace(
            zone.id, body.ends_on, actor=api_user(), person_id=body.person_id, note=body.note or ""
        )
    except operations.ZoneError as exc:
        raise _zone_error(exc) from exc
    db.session.commit()
    return GraceOut.model_validate(grace), 201


@endpoint(
    bp,
    "GET",
    "/permits",
    tag=TAG,
    query=PermitQuery,
    response=PermitPage,
    summary="List exceptional passport-use permits",
    description="Latest ending first.",
)
def list_permits(query: PermitQuery) -> PermitPage:
    stmt = sa.select(Permit).order_by(Permit.valid_to.desc(), Permit.id.desc())
    if query.zone_id is not None:
        stmt = stmt.where(Permit.zone_id == query.zone_id)
    if query.person_id is not None:
        stmt = stmt.where(Permit.person_id == query.person_id)
    page = paginate(stmt, query.page)
    return PermitPage.model_validate(page_envelope(page, [PermitOut.model_validate(p) for p in page.items]))


@endpoint(
    bp,
    "POST",
    "/permits",
    tag=TAG,
    body=PermitIn,
    response=PermitOut,
    status=201,
    summary="Record an exceptional passport-use permit",
)
def add_permit(body: PermitIn) -> tuple[PermitOut, int]:
    data = operations.PermitInput(
        body.person_id, body.zone_id, body.number, body.valid_from, body.valid_to, body.issued_on
    )
    try:
        permit = operations.add_permit(data, actor=api_user())
    except operations.ZoneError as exc:
        raise _zone_error(exc) from exc
    db.session.commit()
    return PermitOut.model_validate(permit), 201
