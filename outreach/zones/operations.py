"""Setting and ending advisory zones, approving level 4, recording permits and grace deadlines.

Every function flushes and audits but never commits (the view or job does). :func:`_apply` is the
one place a zone's level changes, and :func:`decide` the one place a pending change moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from outreach.audit import record
from outreach.extensions import db
from outreach.models import (
    ChangeStatus,
    Grace,
    Permit,
    Person,
    Role,
    User,
    Zone,
    ZoneChange,
    ZoneLevel,
    utcnow,
)
from outreach.zones import geo
from outreach.zones.alerts import prepare_draft

#: The special advisory (특별여행주의보) is short-lived by law: 90 days at most.
SPECIAL_MAX_DAYS = 90


class ZoneError(ValueError):
    """Input that cannot be saved; ``field`` names the form field at fault."""

    def __init__(self, message: str | LazyString, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class LevelInput:
    area_code: str
    level: str
    effective_from: date
    expires_on: date | None = None
    reason: str = ""


def _level(value: str) -> ZoneLevel:
    try:
        return ZoneLevel(str(value).strip().lower())
    except ValueError:
        raise ZoneError(_l("Choose level 1, 2, 3, 4 or the special advisory."), "level") from None


def _checked(data: LevelInput) -> tuple[geo.Area, ZoneLevel, str]:
    found = geo.get(data.area_code)
    if found is None:
        raise ZoneError(
            _l("Unknown area; choose a province, district or commune from the list."), "area_code"
        )
    level = _level(data.level)
    if data.expires_on is not None and data.expires_on < data.effective_from:
        raise ZoneError(_l("The expiry date is before the effective date."), "expires_on")
    if level is ZoneLevel.SPECIAL:
        if data.expires_on is None:
            raise ZoneError(_l("A special advisory needs an expiry date (90 days at most)."), "expires_on")
        if data.expires_on > data.effective_from + timedelta(days=SPECIAL_MAX_DAYS):
            raise ZoneError(_l("A special advisory lasts 90 days at most."), "expires_on")
    reason = " ".join((data.reason or "").split())
    if not reason:
        raise ZoneError(_l("Give the reason for the advisory."), "reason")
    if len(reason) > 2000:
        raise ZoneError(_l("The reason is too long (2,000 characters at most)."), "reason")
    return found, level, reason


def needs_admin(level: ZoneLevel | None, actor: User) -> bool:
    """A level-4 travel ban set by an officer waits for an admin; an admin's own is their approval."""
    return level is ZoneLevel.L4 and actor.role != Role.ADMIN


def set_level(data: LevelInput, *, actor: User) -> ZoneChange:
    """Ask for ``data.level`` on the area's zone (creating the zone on first use).

    Applied at once, unless it needs an admin (:func:`needs_admin`): then the change is ``pending``
    and the zone keeps its current level until :func:`decide`.
    """
    area, level, reason = _checked(data)
    zone = db.session.scalar(sa.select(Zone).where(Zone.area_code == area.code).with_for_update())
    if zone is None:
        zone = Zone(area_code=area.code, level=None)
        db.session.add(zone)
        db.session.flush()
    pending = db.session.scalar(
        sa.select(ZoneChange.id).where(
            ZoneChange.zone_id == zone.id, ZoneChange.status == ChangeStatus.PENDING
        )
    )
    if pending is not None:
        raise ZoneError(_l("A change of this zone is waiting for an admin's approval."), "level")
    change = ZoneChange(
        zone=zone,
        from_level=zone.level,
        to_level=level,
        effective_from=data.effective_from,
        expires_on=data.expires_on,
        reason=reason,
        status=ChangeStatus.PENDING,
        requested_by_id=actor.id,
        requested_at=utcnow(),
    )
    db.session.add(change)
    db.session.flush()
    record(
        "zone.request",
        actor=actor,
        target=zone,
        change_id=change.id,
        area=area.code,
        from_level=str(zone.level) if zone.level else None,
        to_level=level.value,
    )
    if not needs_admin(level, actor):
        _apply(change, actor)
    return change


def end_zone(zone: Zone, *, actor: User, reason: str) -> ZoneChange:
    """Lift the advisory: the zone keeps its row and history, with no level from now on."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ZoneError(_l("Give the reason for lifting the advisory."), "reason")
    if zone.level is None:
        raise ZoneError(_l("This zone has no advisory to lift."))
    change = ZoneChange(
        zone=zone,
        from_level=zone.level,
        to_level=None,
        effective_from=utcnow().date(),
        reason=reason,
        status=ChangeStatus.PENDING,
        requested_by_id=actor.id,
        requested_at=utcnow(),
    )
    db.session.add(change)
    db.session.flush()
    record("zone.request", actor=actor, target=zone, change_id=change.id, to_level=None)
    _apply(change, actor)
    return change


def decide(change: ZoneChange, *, actor: User, approve: bool) -> ZoneChange:
    """An admin approves (applies) or rejects a pending change; nothing else moves a pending change."""
    if actor.role != Role.ADMIN:
        raise ZoneError(_l("Only an admin can approve a travel ban."))
    if change.status != ChangeStatus.PENDING:
        raise ZoneError(_l("This change was already decided."))
    if approve:
        _apply(change, actor)
    else:
        change.status = ChangeStatus.REJECTED
        change.decided_by_id = actor.id
        change.decided_at = utcnow()
        db.session.flush()
        record("zone.reject", actor=actor, target=change.zone, change_id=change.id)
    return change


def _apply(change: ZoneChange, actor: User) -> None:
    zone = change.zone
    now = utcnow()
    change.status = ChangeStatus.APPLIED
    change.decided_by_id = actor.id
    change.decided_at = now
    change.from_level = zone.level
    zone.level = change.to_level
    zone.effective_from = change.effective_from
    zone.expires_on = change.expires_on
    zone.reason = change.reason
    zone.level_since = now
    zone.ended_at = now if change.to_level is None else None
    db.session.flush()
    record(
        "zone.apply",
        actor=actor,
        target=zone,
        change_id=change.id,
        from_level=str(change.from_level) if change.from_level else None,
        to_level=str(change.to_level) if change.to_level else None,
    )
    if change.to_level is not None:
        # The alert goes out under the requesting officer's name, through the normal approval.
        author = db.session.get(User, change.requested_by_id) if change.requested_by_id else None
        prepare_draft(change, author=author or actor)


# --- permits and grace ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermitInput:
    person_id: int
    zone_id: int
    number: str
    valid_from: date
    valid_to: date
    issued_on: date | None = None


def _person_and_zone(person_id: int, zone_id: int) -> tuple[Person, Zone]:
    person = db.session.get(Person, person_id)
    if person is None or person.deleted_at is not None:
        raise ZoneError(_l("There is no such person."), "person_id")
    zone = db.session.get(Zone, zone_id)
    if zone is None:
        raise ZoneError(_l("There is no such zone."), "zone_id")
    return person, zone


def add_permit(data: PermitInput, *, actor: User) -> Permit:
    """Record an exceptional passport-use permit (예외적 여권사용 허가) for one person and zone."""
    person, zone = _person_and_zone(data.person_id, data.zone_id)
    number = " ".join((data.number or "").split())
    if not number or len(number) > 64:
        raise ZoneError(_l("Enter the permit number (64 characters at most)."), "number")
    if data.valid_to < data.valid_from:
        raise ZoneError(_l("The permit ends before it starts."), "valid_to")
    if data.issued_on is not None and data.issued_on > data.valid_to:
        raise ZoneError(_l("The permit was issued after it ended."), "issued_on")
    permit = Permit(
        person_id=person.id,
        zone_id=zone.id,
        number=number,
        issued_on=data.issued_on,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        created_by_id=actor.id,
    )
    db.session.add(permit)
    db.session.flush()
    record(
        "zone.permit_add",
        actor=actor,
        target=permit,
        person_id=person.id,
        zone_id=zone.id,
        valid_to=data.valid_to.isoformat(),
    )
    return permit


def revoke_permit(permit: Permit, *, actor: User) -> Permit:
    if permit.revoked_at is None:
        permit.revoked_at = utcnow()
        db.session.flush()
        record("zone.permit_revoke", actor=actor, target=permit, person_id=permit.person_id)
    return permit


def add_grace(
    zone_id: int, ends_on: date, *, actor: User, person_id: int | None = None, note: str = ""
) -> Grace:
    """A grace deadline in a zone, for one person or (``person_id`` None) every resident inside it."""
    zone = db.session.get(Zone, zone_id)
    if zone is None:
        raise ZoneError(_l("There is no such zone."), "zone_id")
    if person_id is not None:
        _person_and_zone(person_id, zone_id)
    grace = Grace(
        zone_id=zone.id,
        person_id=person_id,
        ends_on=ends_on,
        note=(note or "").strip()[:300] or None,
        created_by_id=actor.id,
    )
    db.session.add(grace)
    db.session.flush()
    record(
        "zone.grace_add",
        actor=actor,
        target=grace,
        zone_id=zone.id,
        person_id=person_id,
        ends_on=ends_on.isoformat(),
    )
    return grace
