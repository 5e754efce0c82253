"""What check-in messages say, in each person's language.

* The check-in broadcast is an alert: its text is the alert's, and :func:`link_extra` (registered as a
  body extra for alerts of kind ``checkin``) appends the person's one-tap link and the reply keys.
* Reminders and escalation messages are created set-based without a body and rendered at send time
  by :func:`render_step_message` (registered with the messaging package's renderer registry).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.alerts.render import render_email, render_text, sender_tag
from outreach.checkins.links import link_for
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging.hooks import Rendered, register_renderer
from outreach.messaging.status import ClaimedMessage
from outreach.models import Alert, Answer, CheckIn, CheckInRecipient, CheckInStep, Person, SourceKind

#: Cambodia keeps UTC+7 all year (no daylight saving), so deadlines are shown in that time.
CAMBODIA = timezone(timedelta(hours=7), "ICT")

#: Stands for a person's code while a text is rendered once per language; it survives escaping and
#: linkifying (the whole link becomes one <a> in HTML), then each person's code replaces it.
CODE_TOKEN = "@@CODE@@"


def local_time(moment: datetime) -> str:
    return moment.astimezone(CAMBODIA).strftime("%Y-%m-%d %H:%M")


def _extra_template(channel: str, checkin: CheckIn) -> str:
    """The per-person extra with :data:`CODE_TOKEN` standing for the code (current locale)."""
    if channel == "email":
        return _(
            "Answer with one tap (no log-in needed):\n%(link)s\n\n"
            "Please answer by %(deadline)s (Cambodia time). "
            "You can also reply to our SMS: 1 = I am safe, 2 = I need help.",
            link=link_for(CODE_TOKEN),
            deadline=local_time(checkin.deadline),
        )
    return _("Reply 1 = safe, 2 = need help, or tap %(link)s", link=link_for(CODE_TOKEN))


def codes_for(checkin_id: int, person_ids: list[int]) -> dict[int, str]:
    codes: dict[int, str] = {}
    # Chunked: a send batch is a few hundred people, but keep the IN list bounded anyway.
    for start in range(0, len(person_ids), 1000):
        chunk = person_ids[start : start + 1000]
        codes.update(
            db.session.execute(
                sa.select(CheckInRecipient.person_id, CheckInRecipient.code).where(
                    CheckInRecipient.checkin_id == checkin_id, CheckInRecipient.person_id.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    return codes


def link_extra(
    alert: Alert, person_ids: list[int], language_by_person: dict[int, str], channel: str
) -> dict[int, str]:
    """Body extra for a check-in alert: each person's one-tap link, in their language."""
    checkin = db.session.scalar(sa.select(CheckIn).where(CheckIn.alert_id == alert.id))
    if checkin is None:
        return {}
    codes = codes_for(checkin.id, person_ids)
    templates: dict[str, str] = {}
    out: dict[int, str] = {}
    for person_id, code in codes.items():
        lang = language_by_person.get(person_id, "ko")
        if lang not in templates:
            with for_person_language(lang):
                templates[lang] = _extra_template(channel, checkin)
        out[person_id] = templates[lang].replace(CODE_TOKEN, code)
    return out


def _step_base(step: CheckInStep, checkin: CheckIn, alert: Alert, channel: str, language: str) -> Rendered:
    """The body of a reminder / escalation message for a reader of ``language``, with
    :data:`CODE_TOKEN` for the person's code (the locale is set here)."""
    with for_person_language(language):
        prefix = _("Reminder:") if step.action == "reminder" else _("We have not heard from you:")
        extra = _extra_template(channel, checkin)
        if channel == "email":
            email = render_email(alert, language, extra)
            return Rendered(
                body=f"{prefix}\n\n{email.body}", subject=f"{prefix} {email.subject}", html=email.html
            )
        text = render_text(alert, language, channel).body
        return Rendered(body=f"{prefix} {text}\n{extra}")


def render_step_messages(messages: list[ClaimedMessage]) -> dict[int, Rendered]:
    """Renderer for ``reminder`` and ``escalation`` messages (registered with the messaging package).

    A message whose person has answered since it was created is left out, so it is skipped: nobody
    who answered is reminded, even when the reminder was queued a moment before the answer.
    """
    out: dict[int, Rendered] = {}
    by_step: dict[int, list[ClaimedMessage]] = {}
    for message in messages:
        by_step.setdefault(message.source_id, []).append(message)
    for step_id, group in by_step.items():
        step = db.session.get(CheckInStep, step_id)
        if step is None:
            continue
        checkin = db.session.get(CheckIn, step.checkin_id)
        alert = db.session.get(Alert, checkin.alert_id) if checkin else None
        if checkin is None or alert is None or checkin.closed_at is not None:
            continue
        person_ids = [m.person_id for m in group if m.person_id is not None]
        answered = set(
            db.session.scalars(
                sa.select(CheckInRecipient.person_id).where(
                    CheckInRecipient.checkin_id == checkin.id,
                    CheckInRecipient.person_id.in_(person_ids),
                    CheckInRecipient.answer != Answer.NO_RESPONSE,
                )
            )
        )
        codes = codes_for(checkin.id, person_ids)
        cache: dict[tuple[str, str], Rendered] = {}
        people: dict[int, Person] = {}
        if step.action == "emergency_contact":
            people = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids)))}
        for message in group:
            pid = message.person_id
            if pid is None or pid in answered or pid not in codes:
                continue
            if step.action == "emergency_contact":
                person = people.get(pid)
                if person is None or person.deleted_at is not None:
                    continue
                with for_person_language(message.language):
                    out[message.id] = Rendered(body=emergency_contact_text(person, alert))
                continue
            key = (message.language, message.channel)
            if key not in cache:
                cache[key] = _step_base(step, checkin, alert, message.channel, message.language)
            base = cache[key]
            code = codes[pid]
            out[message.id] = Rendered(
                body=base.body.replace(CODE_TOKEN, code),
                subject=base.subject,
                html=base.html.replace(CODE_TOKEN, code) if base.html else None,
            )
    return out


def emergency_contact_text(person: Person, alert: Alert) -> str:
    """To the emergency contact (in the person's language, the family's usual one)."""
    name = " / ".join(n for n in (person.name_ko, person.name_latin) if n) or _("a registered person")
    return _(
        '%(sender)s %(name)s named you as their emergency contact. After "%(title)s" we could not reach '
        "them. If you have news of them, please reply to this message or ask them to contact the embassy.",
        sender=sender_tag(),
        name=name,
        title=alert.title,
    )


def register_step_renderers() -> None:
    """Render reminder and escalation messages at send time (see :func:`render_step_messages`)."""
    register_renderer(SourceKind.REMINDER, render_step_messages)
    register_renderer(SourceKind.ESCALATION, render_step_messages)
