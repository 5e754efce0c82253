"""Unverified "safe": answers that may have been written by someone else, until an officer confirms.

A victim's phone is often in a captor's hand. A "safe" from a person with an open case or an open
report about them (a family report that they are missing counts), or given with their duress word,
is recorded as safe but flagged ``safe_unverified``; so is a "safe" from a recent arrival (registered
in the last 30 days) who is inside an advisory zone at level 3 or 4 (a special advisory counts as 3)
now: exactly the people the compounds recruit. The check-in dashboard and the API count it apart
until an officer confirms it (a call, a video, meeting them) through :func:`confirm_safe`, the one
guarded, audited way the flag is cleared.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from outreach.audit import record
from outreach.extensions import db
from outreach.models import Case, CaseStatus, CheckInRecipient, Person, Report, ReportStage, User, utcnow
from outreach.registry.presence import cambodia_today
from outreach.zones.inside import audience_condition

#: A person registered this recently who is inside a level-3/4 zone is a high-risk profile.
RECENT_ARRIVAL = timedelta(days=30)

#: How an officer made sure the person is really safe.
VERIFY_METHODS = {
    "call": _l("a phone call with the person"),
    "video": _l("a video call"),
    "in_person": _l("met in person"),
    "question": _l("the answer to their own security question"),
}


class VerificationError(ValueError):
    """The answer cannot be confirmed; the message says why."""


def is_high_risk(person_id: int) -> bool:
    """An open case, an open report about the person (a family's "missing" report included), or a
    recent arrival inside a level-3/4 zone."""
    open_case = sa.select(Case.id).where(Case.person_id == person_id, Case.status != CaseStatus.RESOLVED)
    open_report = sa.select(Report.id).where(
        Report.person_id == person_id, Report.stage != ReportStage.CLOSED
    )
    now = utcnow()
    recent_in_zone = sa.select(Person.id).where(
        Person.id == person_id,
        Person.created_at >= now - RECENT_ARRIVAL,
        audience_condition(
            today=cambodia_today(now),
            now=now,
            zone_ids=None,
            min_level=3,
            without_permit=False,
            stay_overlaps=False,
        ),
    )
    risky = sa.or_(sa.exists(open_case), sa.exists(open_report), sa.exists(recent_in_zone))
    return db.session.execute(sa.select(risky)).scalar() is True


def confirm_safe(recipient: CheckInRecipient, *, actor: User, how: str, note: str | None = None) -> None:
    """An officer confirms an unverified "safe" (guarded: two officers confirming at once is one)."""
    if how not in VERIFY_METHODS:
        raise VerificationError(_("Say how the answer was confirmed."))
    now = utcnow()
    db.session.flush()
    result = db.session.execute(
        sa.update(CheckInRecipient)
        .where(
            CheckInRecipient.id == recipient.id,
            CheckInRecipient.safe_unverified.is_(True),
            CheckInRecipient.verified_at.is_(None),
        )
        .values(verified_at=now, verified_by_id=actor.id, verified_how=how)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(recipient)
        raise VerificationError(_("There is no unverified answer to confirm (it may be confirmed already)."))
    db.session.refresh(recipient)
    record(
        "checkin.confirm_safe",
        actor=actor,
        target=recipient,
        how=how,
        note=(note or "").strip()[:300] or None,
    )
