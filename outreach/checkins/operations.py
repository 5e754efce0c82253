"""Check-ins: creating one, materialising its recipients at dispatch, and recording answers.

A check-in rides on an :class:`~outreach.models.Alert` of kind ``checkin``: the question per language
is the alert's content, its audience, approval and dispatch are the alert's. This module adds what is
particular to a check-in — one-tap codes, answers, the reminder and escalation plan — and the one
guarded :func:`record_answer` that every path (SMS, WhatsApp, link, staff) goes through.

Functions flush, never commit; the view or job that calls them commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from outreach.audit import record
from outreach.cases.operations import HelpCall, open_case_for, open_or_reopen_case, record_event
from outreach.checkins.links import is_open, new_codes
from outreach.checkins.verification import is_high_risk
from outreach.extensions import db
from outreach.models import (
    Alert,
    AlertKind,
    Answer,
    AnswerVia,
    CheckIn,
    CheckInEvent,
    CheckInRecipient,
    CheckInResponse,
    CheckInStep,
    Person,
    SafetyStatus,
    Severity,
    User,
    utcnow,
)
from outreach.registry import duress
from outreach.registry.presence import cambodia_today

log = logging.getLogger(__name__)

ESCALATION_ACTIONS = ("email", "emergency_contact", "community_rep")
REMINDER = "reminder"
#: Longest a check-in may stay open; a reminder or escalation step later than this is a typo.
MAX_HOURS = 14 * 24
NOTE_MAX = 1000
#: The same answer with the same words within this window is one answer (a double tap, a form sent
#: twice, an SMS resent by an impatient phone); later it is a new answer and is kept.
DUPLICATE_WINDOW = timedelta(minutes=5)
LOCATION_MAX = 300


class CheckInError(ValueError):
    """Bad input for a check-in operation; the message says what is wrong (shown to staff).

    ``field`` names the form field at fault, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CheckInClosedError(CheckInError):
    """The check-in no longer takes answers (deadline and grace period passed, or closed by staff)."""


# --- creating ------------------------------------------------------------------------------------


def validate_plan(
    reminder_hours: list[int], escalation: list[dict[str, Any]]
) -> tuple[list[int], list[dict[str, Any]]]:
    """Normalise the reminder schedule and escalation steps, or raise CheckInError saying what is wrong."""
    hours = sorted({int(h) for h in reminder_hours})
    if any(h <= 0 or h > MAX_HOURS for h in hours):
        raise CheckInError(
            _("Reminder hours must be between 1 and %(max)d.", max=MAX_HOURS), "reminder_hours"
        )
    steps: list[dict[str, Any]] = []
    for step in escalation:
        action = str(step.get("action", ""))
        if action not in ESCALATION_ACTIONS:
            raise CheckInError(_("Unknown escalation step %(step)s.", step=action or "-"), "escalation")
        try:
            after = int(step.get("after_hours", 0))
        except (TypeError, ValueError) as exc:
            raise CheckInError(_("Escalation hours must be whole numbers."), "escalation") from exc
        if after <= 0 or after > MAX_HOURS:
            raise CheckInError(
                _("Escalation hours must be between 1 and %(max)d.", max=MAX_HOURS), "escalation"
            )
        steps.append({"after_hours": after, "action": action})
    if len({s["action"] for s in steps}) != len(steps):
        raise CheckInError(_("Each escalation step can be used once."), "escalation")
    # Escalation goes in the order it was configured; hours must not run backwards.
    hours_in_order = [int(s["after_hours"]) for s in steps]
    if hours_in_order != sorted(hours_in_order):
        raise CheckInError(_("Escalation steps must come in order of their hours."), "escalation")
    return hours, steps


def create_checkin(
    *,
    title: str,
    questions: dict[str, str],
    audience: dict[str, Any],
    channels: list[str],
    deadline: datetime,
    grace_hours: int = 24,
    reminder_hours: list[int] | None = None,
    escalation: list[dict[str, Any]] | None = None,
    severity: Severity = Severity.MODERATE,
    parent_alert_id: int | None = None,
    actor: User | None = None,
) -> CheckIn:
    """A draft check-in: its alert (kind ``checkin``, question per language) and its plan.

    It then goes through the alert workflow (submit, approval when the audience is large, send).
    """
    from outreach.alerts.compose import AlertInput, ComposeError, ContentInput, create_alert

    if actor is None:
        raise CheckInError(_("A check-in is created by an officer."))
    now = utcnow()
    if deadline.tzinfo is None:
        raise CheckInError(_("The deadline needs a time zone."), "deadline")
    if deadline <= now:
        raise CheckInError(_("The deadline must be in the future."), "deadline")
    if deadline > now + timedelta(hours=MAX_HOURS):
        raise CheckInError(_("The deadline can be at most 14 days away."), "deadline")
    if not 0 <= grace_hours <= 7 * 24:
        raise CheckInError(_("The grace period must be between 0 and 168 hours."), "grace_hours")
    hours, steps = validate_plan(reminder_hours or [], escalation or [])
    if parent_alert_id is not None and db.session.get(Alert, parent_alert_id) is None:
        raise CheckInError(_("The alert this check-in follows up does not exist."))
    # The question is the alert's content: the alerts package validates it (Korean required,
    # lengths for SMS, audience, channels) exactly as for any alert.
    data = AlertInput(
        title=title,
        severity=severity,
        contents={lang: ContentInput(body=body or "") for lang, body in questions.items()},
        channels=list(channels),
        audience=audience,
        expires_at=deadline,
    )
    try:
        alert = create_alert(data, author=actor, kind=AlertKind.CHECKIN)
    except ComposeError as exc:
        raise CheckInError(str(exc), exc.field) from exc
    checkin = CheckIn(
        alert_id=alert.id,
        parent_alert_id=parent_alert_id,
        deadline=deadline,
        grace_hours=grace_hours,
        reminder_hours=hours,
        escalation=steps,
    )
    db.session.add(checkin)
    db.session.flush()
    record("checkin.create", actor=actor, target=checkin, alert_id=alert.id)
    return checkin


def checkin_for_alert(alert_id: int) -> CheckIn | None:
    return db.session.scalar(sa.select(CheckIn).where(CheckIn.alert_id == alert_id))


def close_checkin(checkin: CheckIn, *, actor: User) -> None:
    """Stop taking answers and cancel the remaining reminder and escalation steps."""
    if checkin.closed_at is not None:
        raise CheckInError(_("The check-in is already closed."))
    now = utcnow()
    checkin.closed_at = now
    db.session.execute(
        sa.update(CheckInStep)
        .where(CheckInStep.checkin_id == checkin.id, CheckInStep.done_at.is_(None))
        .values(done_at=now, affected=0)
    )
    record("checkin.close", actor=actor, target=checkin)
    db.session.flush()


# --- dispatch ------------------------------------------------------------------------------------


def plan_steps(checkin: CheckIn, start: datetime) -> None:
    """Create the reminder and escalation steps, timed from ``start`` (once per check-in)."""
    if db.session.scalar(sa.select(sa.func.count()).where(CheckInStep.checkin_id == checkin.id)):
        return
    planned: list[tuple[int, int, str]] = [(h, 0, REMINDER) for h in checkin.reminder_hours or []]
    # Escalation keeps its configured order; at equal hours a reminder goes first.
    planned += [
        (int(s["after_hours"]), 1 + i, str(s["action"])) for i, s in enumerate(checkin.escalation or [])
    ]
    planned.sort()
    for position, (hours, _order, action) in enumerate(planned, start=1):
        db.session.add(
            CheckInStep(
                checkin_id=checkin.id, action=action, position=position, due_at=start + timedelta(hours=hours)
            )
        )


def _insert_ignoring_conflicts(rows: list[dict[str, Any]]) -> None:
    dialect = db.session.get_bind().dialect.name
    table = cast(sa.Table, CheckInRecipient.__table__)
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"unsupported database {dialect}")
    db.session.execute(stmt, rows)


def materialise_recipients(checkin: CheckIn, person_ids: sa.Select[Any]) -> int:
    """Add everyone in ``person_ids`` (a select of person ids) as a recipient with a fresh code.

    One bulk insert, not a row at a time. Re-running adds only people not yet there (the unique
    (check-in, person) pair makes a repeat a no-op); a code that happens to collide with one already
    issued is skipped by the insert and its person gets a new code in the next round.
    """

    def count() -> int:
        return int(
            db.session.scalar(sa.select(sa.func.count()).where(CheckInRecipient.checkin_id == checkin.id))
            or 0
        )

    before = count()
    for _round in range(6):
        already = sa.select(CheckInRecipient.person_id).where(CheckInRecipient.checkin_id == checkin.id)
        missing = db.session.execute(
            sa.select(Person.id, Person.province_code)
            .where(Person.id.in_(person_ids), Person.id.not_in(already))
            .order_by(Person.id)
        ).all()
        if not missing:
            return count() - before
        codes = new_codes(len(missing))
        _insert_ignoring_conflicts(
            [
                {
                    "checkin_id": checkin.id,
                    "person_id": pid,
                    "code": code,
                    "province_code": province,
                    "answer": Answer.NO_RESPONSE.value,
                    "reminders_sent": 0,
                    "escalation_level": 0,
                }
                for (pid, province), code in zip(missing, codes, strict=True)
            ]
        )
    raise RuntimeError(f"could not issue unique codes for check-in {checkin.id}")


def on_checkin_dispatch(alert_id: int) -> None:
    """Dispatch hook for alerts of kind ``checkin``: runs in the dispatch transaction, before the
    alert's messages are materialised, so every message can carry its recipient's one-tap link."""
    from outreach.alerts.audience import audience_person_ids

    checkin = checkin_for_alert(alert_id)
    if checkin is None:
        log.error("alert %s is a check-in alert without a check-in; nothing to materialise", alert_id)
        return
    alert = db.session.get(Alert, alert_id)
    assert alert is not None
    now = utcnow()
    if checkin.sent_at is None:
        checkin.sent_at = now
    plan_steps(checkin, checkin.sent_at)
    ids = audience_person_ids(alert.audience or {}, today=cambodia_today(now))
    added = materialise_recipients(checkin, ids)
    db.session.flush()
    log.info("check-in %s: %d recipients materialised", checkin.id, added)


# --- answers -------------------------------------------------------------------------------------


@dataclass
class AnswerResult:
    #: False when the answer repeats the current one word for word (a double tap, a resent SMS).
    recorded: bool
    answer: Answer
    previous: Answer
    response: CheckInResponse | None = None
    help_call: HelpCall | None = None
    #: The answer carried the person's duress word: it reads as "safe" to them, but a case is open.
    duress: bool = False


def _clean(value: str | None, limit: int) -> str | None:
    # Control characters would break CSV exports and SMS; newlines in a note are fine.
    text = "".join(ch for ch in (value or "") if ch == "\n" or ch >= " ").strip()
    return text[:limit] or None


def record_answer(
    recipient: CheckInRecipient,
    answer: Answer | str,
    via: AnswerVia | str,
    text: str | None = None,
    location: str | None = None,
    *,
    inbound_id: int | None = None,
    actor: User | None = None,
) -> AnswerResult:
    """Record one answer to a check-in, by any path. The one guarded way an answer changes.

    Every answer is kept (``CheckInResponse``); the latest counts (``CheckInRecipient.answer``) and
    becomes the person's last known status. "Need help" opens or re-opens a case and pages the duty
    officers. The same answer repeated word for word within :data:`DUPLICATE_WINDOW` is not stored
    twice. Raises :class:`CheckInClosedError` after the deadline and grace period (staff may still
    record answers they learned by phone).
    """
    answer = Answer(answer)
    via = AnswerVia(via)
    if answer == Answer.NO_RESPONSE:
        raise CheckInError(_("An answer is either safe or need help."))
    text = _clean(text, NOTE_MAX)
    location = _clean(location, LOCATION_MAX)
    owner = db.session.get(Person, recipient.person_id)
    under_duress = False
    if owner is not None and owner.duress_hash and via != AnswerVia.STAFF:
        # The word is cut out before anything is stored: staff pages and exports never show it.
        for_text = duress.find(owner.duress_hash, text)
        for_location = duress.find(owner.duress_hash, location)
        if for_text or for_location:
            under_duress = True
            text = for_text.redacted or None if for_text else text
            location = for_location.redacted or None if for_location else location

    # Lock the recipient row: an SMS and a link tap for the same person at the same moment are
    # applied one after the other, so the latest answer really is the latest.
    locked = db.session.scalar(
        sa.select(CheckInRecipient)
        .where(CheckInRecipient.id == recipient.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise CheckInError(_("This person is no longer part of the check-in."))
    checkin = db.session.get(CheckIn, locked.checkin_id)
    assert checkin is not None
    if via != AnswerVia.STAFF and not is_open(checkin):
        raise CheckInClosedError(_("This check-in is closed."))
    previous = locked.answer
    if previous == answer and not under_duress:
        last = db.session.scalar(
            sa.select(CheckInResponse)
            .where(
                CheckInResponse.checkin_id == locked.checkin_id, CheckInResponse.person_id == locked.person_id
            )
            .order_by(CheckInResponse.id.desc())
            .limit(1)
        )
        if (
            last is not None
            and last.text == text
            and last.location == location
            and utcnow() - last.created_at < DUPLICATE_WINDOW
        ):
            return AnswerResult(recorded=False, answer=answer, previous=previous, response=last)

    now = utcnow()
    response = CheckInResponse(
        checkin_id=locked.checkin_id,
        person_id=locked.person_id,
        answer=answer,
        via=via,
        text=text,
        location=location,
        inbound_id=inbound_id,
        created_at=now,
    )
    db.session.add(response)
    locked.answer = answer
    locked.answered_at = now
    locked.answered_via = via
    person = db.session.get(Person, locked.person_id)
    assert person is not None
    if answer == Answer.SAFE:
        # Asked before the duress case below opens, so it reflects what was known when they answered.
        locked.safe_unverified = under_duress or (via != AnswerVia.STAFF and is_high_risk(person.id))
        locked.verified_at = locked.verified_by_id = locked.verified_how = None
    else:
        locked.safe_unverified = False
    person.last_known_status = SafetyStatus(answer.value)
    person.last_checkin_at = now
    db.session.flush()

    help_call = None
    note = " — ".join(part for part in (text, location) if part) or None
    if answer == Answer.NEED_HELP:
        help_call = open_or_reopen_case(
            person, f"checkin_{via.value}", checkin_id=locked.checkin_id, note=note, actor=actor
        )
    elif under_duress:
        # Nothing the person sees differs from "safe"; the case and the page to the duty officer
        # say what happened (and never the word itself).
        help_call = open_or_reopen_case(
            person,
            f"checkin_{via.value}",
            checkin_id=locked.checkin_id,
            note=duress_note() + (f" — {note}" if note else ""),
            actor=actor,
        )
        record_event(help_call.case, "duress", duress_note())
        record("checkin.duress", target=locked, case_id=help_call.case.id)
    else:
        case = open_case_for(person.id)
        if case is not None:
            # Officers see at once that the person now says they are safe; they close the case.
            record_event(
                case, "answered_safe", f"[checkin_{via.value}] {note}" if note else f"[checkin_{via.value}]"
            )
    return AnswerResult(
        recorded=True,
        answer=answer,
        previous=previous,
        response=response,
        help_call=help_call,
        duress=under_duress,
    )


def duress_note() -> str:
    """What staff read when a duress word came in (in the current locale; the word is never quoted)."""
    return _(
        'URGENT: the duress word was used in a check-in answer that says "safe". The person may be '
        "watched: do not reply by SMS or call openly."
    )


def staff_record_answer(
    recipient: CheckInRecipient, answer: Answer | str, *, actor: User, note: str | None = None
) -> AnswerResult:
    """An officer records what they learned (by phone, in person): kept like any answer, and audited."""
    result = record_answer(recipient, answer, AnswerVia.STAFF, note, actor=actor)
    if result.recorded:
        db.session.add(
            CheckInEvent(
                checkin_id=recipient.checkin_id,
                person_id=recipient.person_id,
                kind="staff_answer",
                detail=f"{Answer(answer).value} — {actor.name or actor.email}"[:300],
            )
        )
        record("checkin.staff_answer", actor=actor, target=recipient, answer=Answer(answer).value)
        db.session.flush()
    return result


def open_recipient_for(person_id: int, now: datetime | None = None) -> CheckInRecipient | None:
    """The person's most recent check-in that still takes answers, if any."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(CheckInRecipient, CheckIn)
        .join(CheckIn, CheckIn.id == CheckInRecipient.checkin_id)
        .where(
            CheckInRecipient.person_id == person_id,
            CheckIn.closed_at.is_(None),
            # A coarse bound in SQL (grace is at most a week); the exact one in Python.
            CheckIn.deadline >= now - timedelta(days=7),
        )
        .order_by(CheckIn.id.desc())
        .limit(10)
    ).all()
    for recipient, checkin in rows:
        if is_open(checkin, now):
            return recipient
    return None
