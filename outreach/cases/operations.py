"""Cases: opening (or re-opening) on a call for help, and the officers' workflow.

Every status change goes through :func:`transition`, a guarded ``UPDATE … WHERE status = <from>``: two
officers pressing "acknowledge" at once, or a call for help arriving while an officer resolves the
case, can never leave the case in a state nobody chose. Functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.audit import record
from outreach.extensions import db
from outreach.models import Case, CaseEvent, CaseStatus, Person, Role, User, utcnow

#: The only moves a case can make. ``resolved → open`` is a re-opening by a new call for help (or
#: an officer who resolved too early).
TRANSITIONS: frozenset[tuple[CaseStatus, CaseStatus]] = frozenset(
    {
        (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED),
        (CaseStatus.OPEN, CaseStatus.RESOLVED),
        (CaseStatus.ACKNOWLEDGED, CaseStatus.RESOLVED),
        (CaseStatus.RESOLVED, CaseStatus.OPEN),
    }
)

#: A repeated call for help on a case still open pages the officers again only after this long;
#: a person pressing "need help" three times in a minute must not triple every officer's phone.
RENOTIFY_AFTER = timedelta(minutes=10)

#: Where a call for help came from (``Case.opened_via``).
VIA_VALUES = (
    "checkin_sms",
    "checkin_whatsapp",
    "checkin_link",
    "checkin_staff",
    "sos_keyword",
    "staff",
    "api",
    "report",
    "enquiry",
)


class CaseError(ValueError):
    """A case operation that cannot be done; the message says why (shown to staff)."""


@dataclass
class HelpCall:
    """The outcome of :func:`open_or_reopen_case`."""

    case: Case
    event: CaseEvent
    #: "opened", "reopened" or "help_again".
    outcome: str
    #: Whether duty officers were (re-)notified.
    notified: bool


def _event(case: Case, kind: str, body: str | None = None, author: User | None = None) -> CaseEvent:
    event = CaseEvent(case=case, kind=kind, body=body, author_id=author.id if author else None)
    db.session.add(event)
    return event


def transition(
    case: Case, to: CaseStatus, *, actor: User | None = None, note: str | None = None
) -> CaseEvent:
    """Move ``case`` to ``to`` if that move is allowed from its current status; raise CaseError if not."""
    current = case.status
    if current == to:
        raise CaseError(_("The case is already %(status)s.", status=status_label(to)))
    if (current, to) not in TRANSITIONS:
        raise CaseError(
            _("A case cannot go from %(old)s to %(new)s.", old=status_label(current), new=status_label(to))
        )
    now = utcnow()
    values: dict[str, object] = {"status": to, "updated_at": now}
    if to == CaseStatus.ACKNOWLEDGED:
        values["acknowledged_at"] = now
        if case.assigned_to_id is None and actor is not None:
            # Whoever acknowledges an unassigned case owns it until someone reassigns it.
            values["assigned_to_id"] = actor.id
    elif to == CaseStatus.RESOLVED:
        values["resolved_at"] = now
    elif to == CaseStatus.OPEN:
        values.update(resolved_at=None, acknowledged_at=None)
    # Flush pending attribute changes first so the guarded UPDATE sees the row as this session does.
    db.session.flush()
    result = db.session.execute(
        sa.update(Case).where(Case.id == case.id, Case.status == current).values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(case)
        raise CaseError(
            _(
                "The case changed meanwhile (it is now %(status)s); reload and try again.",
                status=status_label(case.status),
            )
        )
    db.session.refresh(case)
    kind = {
        CaseStatus.ACKNOWLEDGED: "acknowledged",
        CaseStatus.RESOLVED: "resolved",
        CaseStatus.OPEN: "reopened",
    }[to]
    event = _event(case, kind, note, actor)
    record(f"case.{kind}", actor=actor, target=case, status_from=current.value, status_to=to.value)
    return event


def open_or_reopen_case(
    person: Person | None,
    via: str,
    *,
    checkin_id: int | None = None,
    note: str | None = None,
    contact_address: str | None = None,
    actor: User | None = None,
) -> HelpCall:
    """Record a call for help: open a case, re-open the person's resolved one, or add to the open one.

    Duty officers are notified (SMS and e-mail on the ``high`` queue, after commit) when a case opens
    or re-opens, and again on a repeated call once :data:`RENOTIFY_AFTER` has passed. ``person`` is
    None only for a call for help from an unregistered number (``contact_address``): it still opens a
    case, because a call for help must never wait for registration.
    """
    from outreach.cases.notify import notify_duty_officers

    if via not in VIA_VALUES:
        raise CaseError(f"unknown way of opening a case: {via}")
    if person is None and not contact_address:
        raise CaseError("a case needs a person or the address the call came from")
    note = (note or "").strip() or None
    if person is not None:
        # Serialise concurrent calls for help by one person (an SMS and a link at the same moment):
        # without the lock both could see "no open case" and open two.
        db.session.execute(sa.select(Person.id).where(Person.id == person.id).with_for_update())
        latest_stmt = sa.select(Case).where(Case.person_id == person.id)
    else:
        latest_stmt = sa.select(Case).where(Case.person_id.is_(None), Case.contact_address == contact_address)
    latest = db.session.scalar(latest_stmt.order_by(Case.id.desc()).limit(1).with_for_update())

    now = utcnow()
    if latest is not None and latest.status != CaseStatus.RESOLVED:
        case = latest
        event = _event(case, "help_again", _describe(via, note), actor)
        outcome = "help_again"
        due = case.last_notified_at is None or now - case.last_notified_at >= RENOTIFY_AFTER
    elif latest is not None:
        case = latest
        event = transition(case, CaseStatus.OPEN, actor=actor, note=_describe(via, note))
        if checkin_id is not None:
            case.checkin_id = checkin_id
        outcome = "reopened"
        due = True
    else:
        case = Case(
            person_id=person.id if person is not None else None,
            contact_address=contact_address,
            opened_via=via,
            checkin_id=checkin_id,
            summary=note,
            opened_at=now,
        )
        db.session.add(case)
        event = _event(case, "opened", _describe(via, note), actor)
        outcome = "opened"
        due = True
        db.session.flush()
        record("case.open", actor=actor, target=case, via=via)
    if contact_address and not case.contact_address:
        case.contact_address = contact_address
    db.session.flush()
    if outcome != "help_again":
        # Every call for help is also a report of the same kind (one table, one lifecycle).
        # Imported here: reports build on cases, so a module-level import would be a cycle.
        from outreach.reports.operations import report_for_case

        report_for_case(case, via, actor)
    notified = False
    if due:
        notify_duty_officers(case, event)
        case.last_notified_at = now
        notified = True
    db.session.flush()
    return HelpCall(case=case, event=event, outcome=outcome, notified=notified)


def help_reply() -> str:
    """What a person who called for help by SMS is told (in the current locale), on every route."""
    return _(
        "We have told the embassy duty officer, who will contact you soon. "
        "In immediate danger call the police on 117 or an ambulance on 119."
    )


def _describe(via: str, note: str | None) -> str:
    # The timeline keeps how the call came in beside what the person wrote; see :func:`split_via`.
    return f"[{via}] {note}" if note else f"[{via}]"


def split_via(body: str | None) -> tuple[str | None, str]:
    """``"[checkin_link] flooded"`` → ``("checkin_link", "flooded")``; other bodies pass through."""
    text = body or ""
    if text.startswith("["):
        end = text.find("]")
        if end > 0 and text[1:end] in VIA_VALUES:
            return text[1:end], text[end + 1 :].strip()
    return None, text


def status_label(status: CaseStatus) -> str:
    return {
        CaseStatus.OPEN: _("open"),
        CaseStatus.ACKNOWLEDGED: _("acknowledged"),
        CaseStatus.RESOLVED: _("resolved"),
    }[status]


def via_label(via: str | None) -> str:
    """How a call for help came in, in the current language."""
    labels = {
        "checkin_sms": _("check-in answer by SMS"),
        "checkin_whatsapp": _("check-in answer by WhatsApp"),
        "checkin_link": _("check-in answer by link"),
        "checkin_staff": _("check-in answer recorded by staff"),
        "sos_keyword": _("SOS message"),
        "staff": _("opened by staff"),
        "api": _("opened through the API"),
        "report": _("report from family, friends or a call"),
        "enquiry": _("answer to a family enquiry: needs help"),
    }
    return labels.get(via or "", via or "")


def add_note(case: Case, body: str, *, actor: User) -> CaseEvent:
    body = (body or "").strip()
    if not body:
        raise CaseError(_("A note cannot be empty."))
    if len(body) > 5000:
        raise CaseError(_("A note can be at most 5000 characters."))
    event = _event(case, "note", body, actor)
    case.updated_at = utcnow()
    db.session.flush()
    return event


def assign(case: Case, assignee: User | None, *, actor: User) -> CaseEvent:
    """Give the case to an officer (or to nobody)."""
    if assignee is not None and (
        assignee.role not in (Role.OFFICER, Role.LIAISON, Role.ADMIN) or not assignee.active
    ):
        raise CaseError(_("Cases can only be assigned to active officers."))
    if (assignee.id if assignee else None) == case.assigned_to_id:
        raise CaseError(_("The case is already assigned to them."))
    case.assigned_to_id = assignee.id if assignee else None
    case.updated_at = utcnow()
    event = _event(case, "assigned", assignee.name or assignee.email if assignee else None, actor)
    record("case.assign", actor=actor, target=case, assignee_id=assignee.id if assignee else None)
    db.session.flush()
    return event


def record_event(case: Case, kind: str, body: str | None = None, *, actor: User | None = None) -> CaseEvent:
    """A timeline line written by another area (e.g. "the person answered safe")."""
    event = _event(case, kind, body, actor)
    db.session.flush()
    return event


def open_case_for(person_id: int) -> Case | None:
    """The person's case that is not resolved, if any."""
    return db.session.scalar(
        sa.select(Case)
        .where(Case.person_id == person_id, Case.status != CaseStatus.RESOLVED)
        .order_by(Case.id.desc())
        .limit(1)
    )
