"""Reminders to a person 7 and 1 days before their permit or grace period in a zone ends.

Each round ("permit 12, 7 days before") is a :class:`ZoneReminder` row whose id is the messages'
``source_id``; the message table is unique per (source, person, channel), so however often the
periodic job runs, each person gets each reminder once. Texts come from ``templates/zones/reminder.txt``
in the person's language and go through the normal send pipeline (``queue_one``: opt-outs honoured,
sent after the commit).

A round covers everything ending within its window that has not had it: the 7-day round takes ends
2–7 days away, the 1-day round ends today or tomorrow, so a permit recorded late still gets one
reminder, with the true number of days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import render_template
from sqlalchemy import orm as so

from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging.outbound import queue_one
from outreach.models import Grace, Permit, Person, PersonStatus, SourceKind, Zone, ZoneReminder, utcnow
from outreach.zones import geo, levels
from outreach.zones.inside import inside_select

#: (days before, the nearest end this round still covers).
ROUNDS: tuple[tuple[int, int], ...] = ((7, 2), (1, 0))


@dataclass
class ReminderReport:
    rounds: int = 0
    queued: int = 0


def _round(key: str, days: int, *, permit_id: int | None = None, grace_id: int | None = None) -> ZoneReminder:
    existing = db.session.scalar(sa.select(ZoneReminder).where(ZoneReminder.key == key))
    if existing is not None:
        return existing
    row = ZoneReminder(key=key, days_before=days, permit_id=permit_id, grace_id=grace_id)
    db.session.add(row)
    db.session.flush()
    return row


def _text(person: Person, kind: str, zone: Zone, ends_on: date, today: date) -> str:
    with for_person_language(person.language):
        return render_template(
            "zones/reminder.txt",
            kind=kind,
            area=geo.label(geo.area(zone.area_code), person.language),
            level=levels.name(zone.level),
            date=ends_on.isoformat(),
            days=(ends_on - today).days,
        ).strip()


def _send(person: Person, body: str, reminder: ZoneReminder) -> bool:
    """SMS to the person's main number, else e-mail; True when a message was queued now."""
    phone = person.primary_phone
    if phone is not None:
        channel, address = "sms", phone.e164
    elif person.email:
        channel, address = "email", person.email
    else:
        return False
    message = queue_one(
        channel=channel,
        to=address,
        body=body,
        subject=body[:120] if channel == "email" else None,
        source_kind=SourceKind.ZONE_REMINDER,
        source_id=reminder.id,
        person_id=person.id,
        language=person.language,
        queue="default",
    )
    return message is not None


def send_due(today: date) -> ReminderReport:
    """Queue every reminder due on ``today`` (Cambodia's date); flushes, the caller commits."""
    report = ReminderReport()
    for days, nearest in ROUNDS:
        window = (today + timedelta(days=nearest), today + timedelta(days=days))
        report = _permits(today, days, window, report)
        report = _graces(today, days, window, report)
    return report


def _permits(today: date, days: int, window: tuple[date, date], report: ReminderReport) -> ReminderReport:
    due, later = so.aliased(Permit), so.aliased(Permit)
    # A permit renewed by a later one needs no reminder.
    renewed = (
        sa.select(later.id)
        .where(
            later.person_id == due.person_id,
            later.zone_id == due.zone_id,
            later.revoked_at.is_(None),
            later.valid_to > due.valid_to,
        )
        .exists()
    )
    rows = db.session.execute(
        sa.select(due, Person, Zone)
        .join(Person, Person.id == due.person_id)
        .join(Zone, Zone.id == due.zone_id)
        .where(
            due.revoked_at.is_(None),
            due.valid_to.between(*window),
            Person.deleted_at.is_(None),
            Zone.level.is_not(None),
            ~renewed,
        )
        .order_by(due.id)
    ).all()
    for permit, person, zone in rows:
        reminder = _round(f"permit:{permit.id}:{days}", days, permit_id=permit.id)
        report.rounds += 1
        report.queued += _send(person, _text(person, "permit", zone, permit.valid_to, today), reminder)
    return report


def _graces(today: date, days: int, window: tuple[date, date], report: ReminderReport) -> ReminderReport:
    graces = db.session.execute(
        sa.select(Grace, Zone)
        .join(Zone, Zone.id == Grace.zone_id)
        .where(Grace.ends_on.between(*window), Zone.level.is_not(None))
        .order_by(Grace.id)
    ).all()
    now = utcnow()
    for grace, zone in graces:
        if grace.person_id is not None:
            people = list(db.session.scalars(sa.select(Person).where(Person.id == grace.person_id)))
        else:
            # A zone-wide grace is for the legal residents inside the zone now.
            inside = inside_select(today=today, now=now, zone_ids=[zone.id]).subquery()
            people = list(
                db.session.scalars(
                    sa.select(Person)
                    .join(inside, inside.c.person_id == Person.id)
                    .where(Person.status == PersonStatus.RESIDENT)
                    .order_by(Person.id)
                )
            )
        reminder = _round(f"grace:{grace.id}:{days}", days, grace_id=grace.id)
        report.rounds += 1
        for person in people:
            if person.deleted_at is None:
                report.queued += _send(person, _text(person, "grace", zone, grace.ends_on, today), reminder)
    return report
