"""Grievance operations: plain functions that flush but never commit, free of Flask request objects.

Web views and the JSON API both call these; the caller commits. Representatives submit and read;
staff (officers and admins) reply, note, assign and move the status (:func:`transition`, re-exported
from :mod:`outreach.grievances.workflow`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import gettext as _

from outreach.audit import record
from outreach.extensions import db
from outreach.grievances.errors import GrievanceError, NotAllowed, ValidationError
from outreach.grievances.notifications import notify_representative
from outreach.grievances.timeutil import local
from outreach.grievances.workflow import require_staff, transition
from outreach.models import (
    AuditEvent,
    Grievance,
    GrievanceCategory,
    GrievanceEntry,
    GrievanceStatus,
    Province,
    Role,
    Urgency,
    User,
    utcnow,
)

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
CONTACT_MAX = 500
ENTRY_MAX = 5000
PEOPLE_MAX = 100_000

_TRUE = {"true", "yes", "1", "on", "y"}
_FALSE = {"false", "no", "0", "off", "n"}


def _as_bool(value: Any) -> bool | None:
    """True/False from a form or JSON value; None when it is missing or not a yes/no answer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


@dataclass(frozen=True)
class GrievanceInput:
    """A validated submission."""

    category: GrievanceCategory
    province_code: str
    title: str
    description: str
    people_affected: int
    urgency: Urgency
    contact_consent: bool
    contact_info: str | None
    police_sharing_consent: bool

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> GrievanceInput:
        """Check every field; raise :class:`ValidationError` naming each problem."""
        errors: dict[str, str] = {}

        try:
            category = GrievanceCategory(str(data.get("category") or ""))
        except ValueError:
            errors["category"] = _("Choose a category.")
            category = GrievanceCategory.OTHER

        province_code = str(data.get("province_code") or "").strip()
        if not province_code or db.session.get(Province, province_code) is None:
            errors["province_code"] = _("Choose a province.")

        title = str(data.get("title") or "").strip()
        if not title:
            errors["title"] = _("Give the grievance a short title.")
        elif len(title) > TITLE_MAX:
            errors["title"] = _("The title is too long (at most %(max)d characters).", max=TITLE_MAX)

        description = str(data.get("description") or "").strip()
        if not description:
            errors["description"] = _("Describe what happened.")
        elif len(description) > DESCRIPTION_MAX:
            errors["description"] = _(
                "The description is too long (at most %(max)d characters).", max=DESCRIPTION_MAX
            )

        raw_people = data.get("people_affected", 1)
        people = 0
        if isinstance(raw_people, bool):
            raw_people = None  # True is an int in Python; it is not a number of people
        try:
            people = int(raw_people) if raw_people is not None and str(raw_people).strip() != "" else 0
        except (TypeError, ValueError):
            people = 0
        if not 1 <= people <= PEOPLE_MAX:
            errors["people_affected"] = _(
                "Enter the number of people affected (1 to %(max)d).", max=PEOPLE_MAX
            )

        try:
            urgency = Urgency(str(data.get("urgency") or Urgency.NORMAL.value))
        except ValueError:
            errors["urgency"] = _("Choose an urgency.")
            urgency = Urgency.NORMAL

        contact_consent = _as_bool(data.get("contact_consent", False))
        if contact_consent is None:
            errors["contact_consent"] = _("Answer yes or no.")
            contact_consent = False
        contact_info = str(data.get("contact_info") or "").strip() or None
        if contact_info is not None:
            if len(contact_info) > CONTACT_MAX:
                errors["contact_info"] = _(
                    "The contact details are too long (at most %(max)d characters).", max=CONTACT_MAX
                )
            elif not contact_consent:
                # Contact details are personal data: kept only with the affected people's agreement.
                errors["contact_info"] = _(
                    "Leave the contact details empty unless the affected people agree to be contacted."
                )

        police = _as_bool(data.get("police_sharing_consent"))
        if police is None:
            errors["police_sharing_consent"] = _(
                "Answer whether this grievance may be shared with the police."
            )
            police = False

        if errors:
            raise ValidationError(errors)
        return cls(
            category=category,
            province_code=province_code,
            title=title,
            description=description,
            people_affected=people,
            urgency=urgency,
            contact_consent=contact_consent,
            contact_info=contact_info,
            police_sharing_consent=police,
        )


def reference_for(grievance: Grievance) -> str:
    """``G-<year>-<6-digit id>``: the year of submission in Cambodia, the id padded to six digits."""
    return f"G-{local(grievance.created_at).year}-{grievance.id:06d}"


def submit_grievance(rep: User, data: Mapping[str, Any] | GrievanceInput) -> Grievance:
    """A community representative submits a grievance for their organisation.

    Assigns the public reference after the flush (it contains the id), records the initial
    ``received`` entry and an audit event, and queues the confirmation e-mail to the representative.
    """
    if rep.role != Role.COMMUNITY_REP or not rep.active:
        raise NotAllowed(_("Only community representatives can submit grievances."))
    if rep.organisation_id is None:
        raise NotAllowed(_("Your account does not belong to an organisation; ask the embassy to fix it."))
    parsed = data if isinstance(data, GrievanceInput) else GrievanceInput.parse(data)
    now = utcnow()
    grievance = Grievance(
        organisation_id=rep.organisation_id,
        submitted_by=rep,
        category=parsed.category,
        province_code=parsed.province_code,
        title=parsed.title,
        description=parsed.description,
        people_affected=parsed.people_affected,
        urgency=parsed.urgency,
        contact_consent=parsed.contact_consent,
        contact_info=parsed.contact_info if parsed.contact_consent else None,
        police_sharing_consent=parsed.police_sharing_consent,
        status=GrievanceStatus.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    db.session.add(grievance)
    db.session.flush()
    grievance.reference = reference_for(grievance)
    entry = GrievanceEntry(
        grievance=grievance,
        kind="status",
        internal=False,
        from_status=None,
        to_status=GrievanceStatus.RECEIVED.value,
        author_id=rep.id,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "grievance.submit",
        actor=rep,
        target=grievance,
        reference=grievance.reference,
        police_sharing_consent=parsed.police_sharing_consent,
        contact_consent=parsed.contact_consent,
    )
    notify_representative(grievance, entry)
    return grievance


def _entry_text(body: str | None, empty_message: str) -> str:
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": empty_message})
    if len(text) > ENTRY_MAX:
        raise ValidationError(
            {"body": _("The text is too long (at most %(max)d characters).", max=ENTRY_MAX)}
        )
    return text


def add_reply(grievance: Grievance, author: User | None, body: str) -> GrievanceEntry:
    """A reply the representative sees (and is e-mailed, in their language)."""
    staff = require_staff(author)
    text = _entry_text(body, _("Write the reply first."))
    now = utcnow()
    entry = GrievanceEntry(
        grievance=grievance, kind="reply", body=text, internal=False, author_id=staff.id, created_at=now
    )
    db.session.add(entry)
    if grievance.first_response_at is None:
        grievance.first_response_at = now
    db.session.flush()
    record("grievance.reply", actor=staff, target=grievance, entry_id=entry.id)
    notify_representative(grievance, entry)
    return entry


def add_note(grievance: Grievance, author: User | None, body: str) -> GrievanceEntry:
    """An internal note: staff only, never shown or sent to the representative."""
    staff = require_staff(author)
    text = _entry_text(body, _("Write the note first."))
    entry = GrievanceEntry(grievance=grievance, kind="note", body=text, internal=True, author_id=staff.id)
    db.session.add(entry)
    db.session.flush()
    record("grievance.note", actor=staff, target=grievance, entry_id=entry.id)
    return entry


def assignable_staff() -> list[User]:
    """Active officers and admins, by name: who a grievance can be assigned to."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_([Role.OFFICER, Role.ADMIN]), User.active.is_(True))
            .order_by(User.name, User.email)
        )
    )


def _check_assignee(assignee: User | None) -> None:
    if assignee is not None and (not assignee.is_staff or not assignee.active):
        raise ValidationError(
            {"assignee_id": _("A grievance can only be assigned to an active officer or admin.")}
        )


def assign(grievance: Grievance, assignee: User | None, actor: User | None) -> GrievanceEntry | None:
    """Assign ``grievance`` to an officer (or unassign with None). None when nothing changed."""
    staff = require_staff(actor)
    _check_assignee(assignee)
    new_id = assignee.id if assignee is not None else None
    if grievance.assignee_id == new_id:
        return None
    previous = grievance.assignee_id
    grievance.assignee_id = new_id
    entry = GrievanceEntry(
        grievance=grievance,
        kind="assign",
        body=(assignee.name or assignee.email) if assignee is not None else None,
        internal=True,
        author_id=staff.id,
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "grievance.assign", actor=staff, target=grievance, assignee_id=new_id, previous_assignee_id=previous
    )
    return entry


def bulk_assign(grievance_ids: Iterable[int], assignee: User | None, actor: User | None) -> int:
    """Assign many grievances at once with one ``UPDATE``; returns how many changed.

    The timeline entries and audit events are written with one bulk insert each.
    """
    staff = require_staff(actor)
    _check_assignee(assignee)
    ids = sorted({int(i) for i in grievance_ids})
    if not ids:
        return 0
    new_id = assignee.id if assignee is not None else None
    now = utcnow()
    db.session.flush()
    changed = list(
        db.session.execute(
            sa.update(Grievance)
            .where(Grievance.id.in_(ids), Grievance.assignee_id.is_distinct_from(new_id))
            .values(assignee_id=new_id, updated_at=now)
            .returning(Grievance.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    if not changed:
        return 0
    # The UPDATE bypassed the identity map; objects already loaded must not show the old assignee.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Grievance) and obj.id in changed:
            db.session.expire(obj, ["assignee_id", "assignee", "updated_at"])
    label = (assignee.name or assignee.email) if assignee is not None else None
    db.session.execute(
        sa.insert(GrievanceEntry),
        [
            {
                "grievance_id": gid,
                "kind": "assign",
                "body": label,
                "internal": True,
                "author_id": staff.id,
                "created_at": now,
            }
            for gid in changed
        ],
    )
    ip = request.remote_addr if has_request_context() else None
    db.session.execute(
        sa.insert(AuditEvent),
        [
            {
                "actor_id": staff.id,
                "action": "grievance.assign",
                "target_type": Grievance.__tablename__,
                "target_id": gid,
                "details": {"assignee_id": new_id, "bulk": True},
                "ip": ip,
                "created_at": now,
            }
            for gid in changed
        ],
    )
    return len(changed)


def visible_grievances_for(user: User | None) -> sa.Select[tuple[Grievance]]:
    """The grievances ``user`` may read: all for staff, their own organisation's for a representative."""
    stmt = sa.select(Grievance)
    if user is None or not getattr(user, "is_authenticated", True) or not user.active:
        return stmt.where(sa.false())
    if user.is_staff:
        return stmt
    if user.role == Role.COMMUNITY_REP and user.organisation_id is not None:
        return stmt.where(Grievance.organisation_id == user.organisation_id)
    return stmt.where(sa.false())


def get_visible(user: User | None, grievance_id: int) -> Grievance | None:
    """The grievance if ``user`` may read it, else None (callers answer 404: existence is not revealed)."""
    return db.session.scalar(visible_grievances_for(user).where(Grievance.id == grievance_id))


def get_by_reference(user: User | None, reference: str) -> Grievance | None:
    return db.session.scalar(
        visible_grievances_for(user).where(Grievance.reference == reference.strip().upper())
    )


def entries_for(user: User, grievance: Grievance) -> list[GrievanceEntry]:
    """The timeline ``user`` may see: staff see everything, representatives never see internal entries."""
    stmt = sa.select(GrievanceEntry).where(GrievanceEntry.grievance_id == grievance.id)
    if not user.is_staff:
        stmt = stmt.where(GrievanceEntry.internal.is_(False))
    return list(db.session.scalars(stmt.order_by(GrievanceEntry.id)))


__all__ = [
    "CONTACT_MAX",
    "DESCRIPTION_MAX",
    "ENTRY_MAX",
    "PEOPLE_MAX",
    "TITLE_MAX",
    "GrievanceError",
    "GrievanceInput",
    "NotAllowed",
    "ValidationError",
    "add_note",
    "add_reply",
    "assign",
    "assignable_staff",
    "bulk_assign",
    "entries_for",
    "get_by_reference",
    "get_visible",
    "submit_grievance",
    "transition",
    "visible_grievances_for",
]
