"""Reports: taking them (public form, staff, API, and every case opened by SOS or "need help"),
linking them to a registered person, and moving them through their lifecycle.

Every stage change goes through :func:`transition`, a guarded ``UPDATE … WHERE stage = <from>`` (as
for messages and cases): a step the lifecycle does not allow, or one somebody else made first, is
refused with a reason. Functions flush, never commit; the caller commits, and the pages and messages
they queue leave after that commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from outreach.audit import record
from outreach.cases import operations as case_ops
from outreach.cases.notify import notify_duty_officers
from outreach.extensions import db
from outreach.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Person,
    PhoneNumber,
    Report,
    ReportEvent,
    ReportKind,
    ReportStage,
    User,
    utcnow,
)
from outreach.models.staff import TASK_FORCE_ROLES

S = ReportStage

#: The only moves a report can make (see the diagram in ``outreach.models.reports``).
TRANSITIONS: frozenset[tuple[ReportStage, ReportStage]] = frozenset(
    {
        (S.REPORTED, S.VERIFYING),
        (S.VERIFYING, S.LOCATED),
        (S.LOCATED, S.REFERRED),
        (S.REFERRED, S.RESCUED),
        (S.REFERRED, S.DETAINED),
        (S.REFERRED, S.NOT_FOUND),
        (S.NOT_FOUND, S.REFERRED),
        (S.RESCUED, S.SUPPORTED),
        (S.DETAINED, S.SUPPORTED),
        (S.SUPPORTED, S.REPATRIATED),
        (S.SUPPORTED, S.STAYS),
        (S.REPATRIATED, S.CLOSED),
        (S.STAYS, S.CLOSED),
        (S.NOT_FOUND, S.CLOSED),
        # A false alarm, a duplicate, a person found safe: closed early, with the reason.
        (S.REPORTED, S.CLOSED),
        (S.VERIFYING, S.CLOSED),
        (S.LOCATED, S.CLOSED),
    }
)
#: Moves that need a written reason.
NEEDS_NOTE = frozenset({(S.REPORTED, S.CLOSED), (S.VERIFYING, S.CLOSED), (S.LOCATED, S.CLOSED)})

#: What the reporter's status page may say: never more than this.
PUBLIC_STATUS = {S.REPORTED: "received", S.CLOSED: "closed"}

STAGE_LABELS = {
    S.REPORTED: _l("reported"),
    S.VERIFYING: _l("verifying"),
    S.LOCATED: _l("located"),
    S.REFERRED: _l("referred to the task force"),
    S.RESCUED: _l("rescued"),
    S.DETAINED: _l("detained"),
    S.NOT_FOUND: _l("not found"),
    S.SUPPORTED: _l("supported"),
    S.REPATRIATED: _l("repatriated"),
    S.STAYS: _l("stays in Cambodia"),
    S.CLOSED: _l("closed"),
}

PUBLIC_STATUS_LABELS = {
    "received": _l("Received"),
    "in_progress": _l("In progress"),
    "closed": _l("Closed"),
}

KIND_LABELS = {
    ReportKind.FAMILY: _l("report from family or friends"),
    ReportKind.PHONE: _l("report by phone"),
    ReportKind.API: _l("report through the API"),
    ReportKind.SOS: _l("SOS message"),
    ReportKind.NEED_HELP: _l("check-in answer: needs help"),
    ReportKind.STAFF: _l("opened by staff"),
}

#: Which kind of report a case opened elsewhere becomes (``Case.opened_via``).
KIND_FOR_VIA = {
    "sos_keyword": ReportKind.SOS,
    "checkin_sms": ReportKind.NEED_HELP,
    "checkin_whatsapp": ReportKind.NEED_HELP,
    "checkin_link": ReportKind.NEED_HELP,
    "checkin_staff": ReportKind.NEED_HELP,
    "staff": ReportKind.STAFF,
    "api": ReportKind.API,
    "enquiry": ReportKind.FAMILY,
}

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone


class ReportError(ValueError):
    """A report operation that cannot be done; the message says why (shown to staff or the reporter)."""


@dataclass
class ReportInput:
    """What a report says, from the public form, a phone call or the API (already validated)."""

    reporter_name: str | None = None
    reporter_relation: str | None = None
    reporter_phone: str | None = None  # E.164
    reporter_email: str | None = None
    reporter_language: str = "ko"
    subject_name: str | None = None
    subject_name_latin: str | None = None
    subject_birth_date: date | None = None
    subject_passport: str | None = None
    subject_phone: str | None = None  # E.164
    province_code: str | None = None
    area: str | None = None
    building: str | None = None
    address: str | None = None
    map_url: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    last_heard_on: date | None = None
    recruitment: str | None = None
    messenger_handle: str | None = None
    recruiter: str | None = None
    what_said: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class NewReport:
    report: Report
    #: The secret of the reporter's status link; shown once, never stored (only its hash is).
    status_key: str


def may_see_task_force(user: User | None) -> bool:
    """Liaison officers and admins read a report's task-force side; officers see the welfare side."""
    return user is not None and getattr(user, "role", None) in TASK_FORCE_ROLES


def stage_label(stage: ReportStage) -> str:
    return str(STAGE_LABELS[stage])


def public_status(report: Report) -> str:
    """received / in_progress / closed: all the reporter's status page ever tells."""
    return PUBLIC_STATUS.get(report.stage, "in_progress")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def report_by_status_key(key: str) -> Report | None:
    if not key or len(key) > 100:
        return None
    return db.session.scalar(sa.select(Report).where(Report.status_key_hash == hash_key(key)))


def _new_reference(now: datetime) -> str:
    code = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"R-{now.year}-{code}"


def event(report: Report, kind: str, body: str | None = None, actor: User | None = None) -> ReportEvent:
    """A line on the report's timeline. While the report is with the task force, any word is news."""
    row = ReportEvent(report_id=report.id, kind=kind, body=body, author_id=actor.id if actor else None)
    db.session.add(row)
    if report.stage == S.REFERRED and kind in NEWS_KINDS:
        report.last_news_at = utcnow()
    db.session.flush()
    return row


#: Timeline lines that count as news from (or about) a referred case.
NEWS_KINDS = frozenset({"note", "contact", "task_force_reference", "uploaded"})


def create_report(
    data: ReportInput, *, kind: ReportKind, actor: User | None = None, now: datetime | None = None
) -> NewReport:
    """Take a report: a welfare case (so the duty officer is paged on the one paging path) and the
    report beside it, matched to a registered person where the number or name and birth date say so.
    """
    if not (data.subject_name or data.subject_name_latin):
        raise ReportError(_("Say who is in danger: a name is needed."))
    if kind in (ReportKind.FAMILY, ReportKind.PHONE) and not (data.reporter_phone or data.reporter_email):
        raise ReportError(_("Give a phone number or an e-mail address so that the embassy can reach you."))
    now = now or utcnow()
    summary = _summary(data)
    case = Case(
        person_id=None,
        contact_address=data.reporter_phone or data.reporter_email or data.subject_phone,
        opened_via="report",
        summary=summary,
        opened_at=now,
    )
    db.session.add(case)
    db.session.flush()
    case_event = CaseEvent(
        case_id=case.id, kind="opened", body=f"[report] {summary}", author_id=actor.id if actor else None
    )
    db.session.add(case_event)
    key = secrets.token_urlsafe(24)
    report = Report(
        reference=_new_reference(now),
        status_key_hash=hash_key(key),
        case_id=case.id,
        kind=kind,
        stage=S.REPORTED,
        stage_changed_at=now,
        reported_at=now,
        entered_by_id=actor.id if actor else None,
        **{k: v for k, v in data.__dict__.items() if k != "extra"},
    )
    db.session.add(report)
    db.session.flush()
    event(report, "reported", str(KIND_LABELS[kind]), actor)
    suggest_person(report)
    record("report.create", actor=actor, target=case, report=report.reference, kind=kind.value)
    notify_duty_officers(case, case_event)
    case.last_notified_at = now
    db.session.flush()
    return NewReport(report=report, status_key=key)


def _summary(data: ReportInput) -> str:
    # The case's summary is on the welfare side: a name, never the location or the recruiter.
    who = data.subject_name or data.subject_name_latin or "?"
    return _("Report about %(name)s", name=who)


def report_for_case(case: Case, via: str, actor: User | None = None) -> Report:
    """The report an SOS, a "need help" answer or a staff-opened case becomes (same kind, same table).

    Called when such a case opens or re-opens; a case with a report still under way keeps it.
    """
    current = db.session.scalar(
        sa.select(Report)
        .where(Report.case_id == case.id, Report.stage != S.CLOSED)
        .order_by(Report.id.desc())
        .limit(1)
    )
    if current is not None:
        return current
    person = db.session.get(Person, case.person_id) if case.person_id else None
    now = utcnow()
    phone = person.primary_phone.e164 if person and person.primary_phone else case.contact_address
    report = Report(
        reference=_new_reference(now),
        case_id=case.id,
        kind=KIND_FOR_VIA.get(via, ReportKind.STAFF),
        stage=S.REPORTED,
        stage_changed_at=now,
        reported_at=now,
        person_id=person.id if person else None,
        # The person asked for help themselves: nobody needs to confirm who it is.
        person_confirmed_at=now if person else None,
        subject_name=(person.name_ko or person.name_latin) if person else None,
        subject_name_latin=person.name_latin if person else None,
        subject_birth_date=person.birth_date if person else None,
        subject_phone=phone if phone and phone.startswith("+") else None,
        province_code=person.province_code if person else None,
        reporter_language=person.language if person else "ko",
        what_said=case.summary,
    )
    db.session.add(report)
    db.session.flush()
    event(report, "reported", str(KIND_LABELS[report.kind]), actor)
    return report


def suggest_person(report: Report) -> Person | None:
    """Find the registered person a report is about: by their number, or by name and date of birth.

    Only a suggestion (``person_confirmed_at`` stays empty) until an officer confirms it.
    """
    person: Person | None = None
    if report.subject_phone:
        person = db.session.scalar(
            sa.select(Person)
            .join(PhoneNumber, PhoneNumber.person_id == Person.id)
            .where(PhoneNumber.e164 == report.subject_phone, Person.deleted_at.is_(None))
        )
    if person is None and report.subject_birth_date is not None:
        names = [n.strip().lower() for n in (report.subject_name, report.subject_name_latin) if n]
        if names:
            person = db.session.scalar(
                sa.select(Person)
                .where(
                    Person.deleted_at.is_(None),
                    Person.birth_date == report.subject_birth_date,
                    sa.or_(
                        sa.func.lower(Person.name_ko).in_(names), sa.func.lower(Person.name_latin).in_(names)
                    ),
                )
                .order_by(Person.id)
                .limit(1)
            )
    if person is not None:
        report.person_id = person.id
        report.person_confirmed_at = None
        event(report, "match_suggested", f"#{person.id}")
    return person


def confirm_person(report: Report, person: Person, *, actor: User) -> None:
    """An officer confirms who the report is about; the welfare case then follows that person."""
    if person.deleted_at is not None:
        raise ReportError(_("This registration was deleted."))
    report.person_id = person.id
    report.person_confirmed_at = utcnow()
    report.person_confirmed_by_id = actor.id
    case = db.session.get(Case, report.case_id)
    if case is not None and case.person_id is None:
        case.person_id = person.id
    event(report, "linked", f"#{person.id}", actor)
    record("report.link_person", actor=actor, target=case, person_id=person.id)


def reject_person(report: Report, *, actor: User) -> None:
    if report.person_id is None:
        raise ReportError(_("No registered person is suggested."))
    if report.person_confirmed_at is not None:
        raise ReportError(_("The link was already confirmed."))
    event(report, "match_rejected", f"#{report.person_id}", actor)
    report.person_id = None
    db.session.flush()


def transition(
    report: Report, to: ReportStage, *, actor: User | None = None, note: str | None = None
) -> ReportEvent:
    """Move ``report`` to ``to`` if the lifecycle allows it from its current stage; ReportError if not."""
    current = report.stage
    note = (note or "").strip() or None
    if current == to:
        raise ReportError(_("The report is already %(stage)s.", stage=stage_label(to)))
    if (current, to) not in TRANSITIONS:
        raise ReportError(
            _(
                "A report cannot go from %(old)s to %(new)s.",
                old=stage_label(current),
                new=stage_label(to),
            )
        )
    if (current, to) in NEEDS_NOTE and not note:
        raise ReportError(_("Say why the report is closed at this stage."))
    now = utcnow()
    values: dict[str, object] = {"stage": to, "stage_changed_at": now, "updated_at": now}
    if to == S.LOCATED:
        values["located_at"] = now
    elif to == S.REFERRED:
        values["last_news_at"] = now
        values["news_escalated_at"] = None
    elif to == S.RESCUED:
        values["rescued_at"] = now
    elif to == S.REPATRIATED:
        values["repatriated_at"] = now
    elif to == S.CLOSED:
        values["closed_at"] = now
    db.session.flush()
    result = db.session.execute(
        sa.update(Report).where(Report.id == report.id, Report.stage == current).values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(report)
        raise ReportError(
            _(
                "The report changed meanwhile (it is now %(stage)s); reload and try again.",
                stage=stage_label(report.stage),
            )
        )
    db.session.refresh(report)
    body = f"{current.value} → {to.value}" + (f": {note}" if note else "")
    row = event(report, "stage", body, actor)
    case = db.session.get(Case, report.case_id)
    if case is not None:
        # The welfare side follows: someone is working on it (no more "nobody acknowledged" pages),
        # and a closed report resolves its case.
        if case.status == CaseStatus.OPEN and to != S.CLOSED:
            case_ops.transition(case, CaseStatus.ACKNOWLEDGED, actor=actor)
        elif to == S.CLOSED and case.status != CaseStatus.RESOLVED:
            case_ops.transition(case, CaseStatus.RESOLVED, actor=actor, note=note)
        case_ops.record_event(case, "stage", to.value, actor=actor)
    record("report.stage", actor=actor, target=case, stage_from=current.value, stage_to=to.value)
    return row


def set_task_force_reference(report: Report, reference: str, *, actor: User) -> None:
    reference = (reference or "").strip()
    if not reference or len(reference) > 64:
        raise ReportError(_("Give the task force's reference (at most 64 characters)."))
    report.task_force_reference = reference
    event(report, "task_force_reference", reference, actor)


def add_entry(report: Report, kind: str, body: str, *, actor: User) -> ReportEvent:
    """A note or a contact (a call with the family, word from the task force) on the timeline."""
    body = (body or "").strip()
    if kind not in ("note", "contact"):
        raise ReportError(f"unknown timeline entry {kind}")
    if not body:
        raise ReportError(_("A note cannot be empty."))
    if len(body) > 5000:
        raise ReportError(_("A note can be at most 5000 characters."))
    return event(report, kind, body, actor)


def reports_for_person(person_id: int) -> list[Report]:
    return list(
        db.session.scalars(
            sa.select(Report)
            .where(Report.person_id == person_id, Report.person_confirmed_at.is_not(None))
            .order_by(Report.id.desc())
        )
    )
