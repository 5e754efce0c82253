"""Paging the duty officers when someone asks for help.

Each officer gets an SMS (to ``User.phone``) and an e-mail, rendered in the officer's language, queued
on ``high`` so they never wait behind an alert fan-out on ``bulk``. The messages are keyed by the
case event that caused them (``source_kind=case_notify``, ``source_id=<case_event.id>``), so a
re-run creates no duplicates and a re-opening pages again.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from outreach.cases.operations import split_via, via_label
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.models import Case, CaseEvent, Person, Province, Report, Role, SourceKind, User

log = logging.getLogger(__name__)

#: An SMS to an officer stays within a few segments even when the person wrote a long note.
NOTE_CHARS_IN_SMS = 120

#: Headings of the pages a report's timers send (``outreach.reports.timers``), by case event kind.
TIMER_HEADINGS = {
    "timer_not_verified": _l("NOT VERIFIED 2 HOURS AFTER THE REPORT: case %(id)s"),
    "timer_not_located": _l("NOT LOCATED 24 HOURS AFTER THE REPORT: case %(id)s"),
    "timer_no_news": _l("REFERRED, NO NEWS FOR 48 HOURS: case %(id)s"),
}


def duty_officers() -> list[User]:
    """Active officers and admins on duty; when nobody is on duty, every active officer and admin.

    A call for help with nobody on the roster must still reach someone.
    """
    base = (
        sa.select(User)
        .where(User.active.is_(True), User.role.in_([Role.OFFICER, Role.LIAISON, Role.ADMIN]))
        .order_by(User.id)
    )
    on_duty = list(db.session.scalars(base.where(User.on_duty.is_(True))))
    if on_duty:
        return on_duty
    everyone = list(db.session.scalars(base))
    if everyone:
        log.warning("no officer is on duty; notifying all %d active officers", len(everyone))
    return everyone


def case_url(case: Case) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/staff/cases/{case.id}"


def _who(case: Case) -> tuple[str, str, str]:
    """Name, number and province of the person who asked for help, for the page."""
    person = db.session.get(Person, case.person_id) if case.person_id else None
    if person is None:
        report = db.session.scalar(
            sa.select(Report).where(Report.case_id == case.id).order_by(Report.id.desc()).limit(1)
        )
        if report is not None and report.subject_name:
            # A report about someone not (yet) linked to a registration: name them, and give the
            # reporter's number (the one to call back).
            return report.subject_name, case.contact_address or "", ""
        return _("Unregistered number"), case.contact_address or "", ""
    phone = person.primary_phone.e164 if person.primary_phone else (case.contact_address or "")
    province = db.session.get(Province, person.province_code) if person.province_code else None
    name = person.display_name
    if person.name_latin and person.name_ko:
        name = f"{person.name_ko} ({person.name_latin})"
    from outreach.i18n import current_language

    return name, phone, province.name(current_language()) if province else ""


def render_for(officer: User, case: Case, event: CaseEvent) -> tuple[str, str, str]:
    """(sms body, e-mail subject, e-mail body) in the officer's language."""
    with for_person_language(officer.language):
        name, phone, province = _who(case)
        via, note = split_via(event.body)
        how = via_label(via)
        note = f"{how}: {note}" if note and how else (note or how)
        short_note = note if len(note) <= NOTE_CHARS_IN_SMS else note[: NOTE_CHARS_IN_SMS - 1] + "…"
        if event.kind == "help_again":
            heading = _("HELP AGAIN: case %(id)s", id=case.id)
        elif event.kind == "unacknowledged":
            heading = _("NOBODY HAS ACKNOWLEDGED case %(id)s", id=case.id)
        elif event.kind in TIMER_HEADINGS:
            heading = str(TIMER_HEADINGS[event.kind]) % {"id": case.id}
        elif via == "report":
            heading = _("NEW REPORT, someone may be in danger: case %(id)s", id=case.id)
        else:
            heading = _("HELP NEEDED: case %(id)s", id=case.id)
        sms = _(
            "%(heading)s. %(name)s %(phone)s %(province)s. %(note)s %(url)s",
            heading=heading,
            name=name,
            phone=phone,
            province=province,
            note=short_note,
            url=case_url(case),
        )
        subject = _("%(heading)s — %(name)s", heading=heading, name=name)
        body = _(
            "%(name)s asked for help.\n\nPhone: %(phone)s\nProvince: %(province)s\nHow: %(note)s\n\n"
            "Open the case, acknowledge it and call them:\n%(url)s",
            name=name,
            phone=phone or "-",
            province=province or "-",
            note=note or "-",
            url=case_url(case),
        )
    return " ".join(sms.split()), subject, body


def notify_duty_officers(case: Case, event: CaseEvent) -> int:
    """Queue an SMS and an e-mail to every duty officer (after commit, on ``high``); returns how many."""
    from outreach.messaging.outbound import notify_user

    db.session.flush()  # the event needs its id: it keys the messages
    queued = 0
    officers = duty_officers()
    for officer in officers:
        sms, subject, body = render_for(officer, case, event)
        queued += notify_user(
            officer,
            sms=sms,
            subject=subject,
            body=body,
            source_kind=SourceKind.CASE_NOTIFY,
            source_id=event.id,
            queue="high",
        )
    names = ", ".join(o.name or o.email for o in officers) or "-"
    db.session.add(CaseEvent(case_id=case.id, kind="notified", body=names))
    if not officers:
        log.error("case %s: no active officer to notify", case.id)
    return queued
