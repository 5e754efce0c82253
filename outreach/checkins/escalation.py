"""Escalation for people who have not answered a check-in, one configured step at a time.

* ``email`` — an e-mail to each non-responder with an address (whatever channels the check-in used);
* ``emergency_contact`` — an SMS to the emergency contact, only where the person consented to it;
* ``community_rep`` — the community representatives of each province get the count and the names
  of the non-responders there (never their numbers: representatives do not see the registry).

Messages are keyed ``source_kind=escalation, source_id=<step id>`` and each person concerned gets a
timeline line (``CheckInEvent``) saying what was tried.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.checkins.reminders import (
    non_responders,
    not_opted_out,
    select_for_channel,
    timeline_from_messages,
)
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging.outbound import FANOUT_COLUMNS, insert_from_select, notify_user
from outreach.models import (
    Alert,
    Answer,
    CheckIn,
    CheckInEvent,
    CheckInRecipient,
    CheckInStep,
    Message,
    MessageStatus,
    Role,
    SourceKind,
    User,
    utcnow,
)
from outreach.models.people import Person

#: Names listed in a representative's e-mail; the rest is a count (the phone team has the full list).
MAX_NAMES_FOR_REP = 50


def escalate(step: CheckInStep, checkin: CheckIn, alert: Alert) -> int:
    """Run one escalation step; returns the number of people it concerned."""
    action = {
        "email": escalate_by_email,
        "emergency_contact": escalate_to_emergency_contacts,
        "community_rep": escalate_to_community_reps,
    }.get(step.action)
    if action is None:  # validated when the check-in was created; an unknown action is a bug
        raise ValueError(f"unknown escalation action {step.action!r}")
    affected = action(step, checkin)
    db.session.execute(
        sa.update(CheckInRecipient)
        .where(CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.answer == Answer.NO_RESPONSE)
        .values(escalation_level=step.position)
        .execution_options(synchronize_session=False)
    )
    return affected


def escalate_by_email(step: CheckInStep, checkin: CheckIn) -> int:
    insert_from_select(
        FANOUT_COLUMNS, select_for_channel(step, SourceKind.ESCALATION, "email", non_responders(checkin.id))
    )
    return timeline_from_messages(step, SourceKind.ESCALATION, "email")


def escalate_to_emergency_contacts(step: CheckInStep, checkin: CheckIn) -> int:
    """An SMS to the emergency contact of each non-responder who agreed to it (and only them)."""
    now = utcnow()
    phone = Person.emergency_phone
    select = (
        sa.select(
            sa.literal(SourceKind.ESCALATION.value),
            sa.literal(step.id),
            Person.id,
            sa.literal("sms"),
            phone,
            Person.language,
            sa.literal(MessageStatus.PENDING.value),
            sa.literal(0),
            sa.literal(now, Message.created_at.type),
            sa.literal(now, Message.updated_at.type),
        )
        .select_from(CheckInRecipient)
        .join(Person, Person.id == CheckInRecipient.person_id)
        .where(
            *non_responders(checkin.id),
            Person.emergency_contact_consent.is_(True),
            phone.is_not(None),
            phone != "",
            not_opted_out("sms", phone),
        )
    )
    insert_from_select(FANOUT_COLUMNS, select)
    return timeline_from_messages(step, SourceKind.ESCALATION, "emergency_contact")


def escalate_to_community_reps(step: CheckInStep, checkin: CheckIn) -> int:
    """Tell each province's representatives who there has not answered; returns people concerned."""
    reps_by_province: dict[str, list[User]] = defaultdict(list)
    for rep in db.session.scalars(
        sa.select(User).where(
            User.role == Role.COMMUNITY_REP, User.active.is_(True), User.province_code.is_not(None)
        )
    ):
        reps_by_province[str(rep.province_code)].append(rep)
    if not reps_by_province:
        return 0
    rows = db.session.execute(
        sa.select(
            CheckInRecipient.province_code, Person.id, Person.name_ko, Person.name_latin, Person.district_note
        )
        .join(Person, Person.id == CheckInRecipient.person_id)
        .where(*non_responders(checkin.id), CheckInRecipient.province_code.in_(list(reps_by_province)))
        .order_by(CheckInRecipient.province_code, Person.id)
    ).all()
    people_by_province: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        people_by_province[str(row.province_code)].append(row)
    alert = db.session.get(Alert, checkin.alert_id)
    title = alert.title if alert else ""
    affected = 0
    now = utcnow()
    for province, people in people_by_province.items():
        reps = reps_by_province[province]
        for rep in reps:
            sms, subject, body = render_rep_message(rep, title, province, people)
            notify_user(
                rep,
                sms=sms,
                subject=subject,
                body=body,
                source_kind=SourceKind.ESCALATION,
                source_id=step.id,
                queue="default",
            )
        detail = ", ".join(r.name or r.email for r in reps)[:300]
        ids = [p.id for p in people]
        db.session.execute(
            sa.insert(CheckInEvent),
            [
                {
                    "checkin_id": checkin.id,
                    "person_id": pid,
                    "step_id": step.id,
                    "kind": "community_rep",
                    "detail": detail,
                    "created_at": now,
                }
                for pid in ids
            ],
        )
        affected += len(ids)
    return affected


def render_rep_message(rep: User, title: str, province_code: str, people: list[Any]) -> tuple[str, str, str]:
    """(SMS, e-mail subject, e-mail body) for a representative, in their language."""
    from outreach.models import Province

    with for_person_language(rep.language):
        from outreach.i18n import current_language

        province = db.session.get(Province, province_code)
        place = province.name(current_language()) if province else province_code
        count = len(people)
        names = []
        for p in people[:MAX_NAMES_FOR_REP]:
            name = " / ".join(n for n in (p.name_ko, p.name_latin) if n) or f"#{p.id}"
            names.append(f"- {name}" + (f" ({p.district_note})" if p.district_note else ""))
        more = count - len(names)
        listing = "\n".join(names)
        if more > 0:
            listing += "\n" + _("… and %(count)d more.", count=more)
        sms = _(
            'Korean Embassy: %(count)d people in %(province)s have not answered the check-in "%(title)s". '
            "Details by e-mail.",
            count=count,
            province=place,
            title=title,
        )
        subject = _(
            "Check-in: %(count)d people in %(province)s have not answered", count=count, province=place
        )
        body = _(
            'The embassy asked Koreans in %(province)s whether they are safe ("%(title)s"). '
            "These people have not answered yet:\n\n%(names)s\n\n"
            "If you know how they are, or can reach them, please tell the embassy by replying to this "
            "e-mail.",
            province=place,
            title=title,
            names=listing,
        )
    return sms, subject, body
