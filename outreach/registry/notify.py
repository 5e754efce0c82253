"""Confirmations to a person, in their language, carrying their self-service link."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.models import Message, Person, PhoneNumber, SourceKind, utcnow
from outreach.registry.confirm import confirm_url
from outreach.registry.links import self_service_url

REASONS = ("registered", "link")
#: A new link is sent to a person at most this often: anyone can type someone's number into the
#: registration or "send me my link" form, and must not be able to flood their phone with it.
LINK_THROTTLE = timedelta(minutes=10)


def send_confirmation(
    person: Person,
    *,
    reason: str = "registered",
    channels: tuple[str, ...] = ("sms", "email"),
    to_phone: str | None = None,
    throttle: bool = True,
    public: bool = False,
) -> list[Message]:
    """Queue an SMS (to the primary number, or ``to_phone``) and/or an e-mail with the person's link.

    Each confirmation is recorded as an audit event and that event's id is the messages' source id:
    messages are unique per (source, person, channel), and a person may rightly ask for a new link
    many times. Sent after commit by the messaging package (``queue_one``), on the high queue.

    A "link" confirmation is not repeated on a channel that carried one in the last
    :data:`LINK_THROTTLE` (``throttle=False`` for staff, who are trusted to press the button).
    ``public=True`` (an unauthenticated request caused it): the SMS takes from the hourly public
    budget and is held for staff review past it.
    """
    from outreach.messaging.outbound import queue_one

    if reason not in REASONS:
        raise ValueError(f"unknown confirmation reason {reason!r}")
    if reason == "link" and throttle:
        channels = tuple(c for c in channels if c not in _recently_sent(person, channels))
        if not channels:
            return []
    event = record("person.confirmation", target=person, reason=reason, channels=list(channels))
    db.session.flush()
    sent: list[Message] = []
    with for_person_language(person.language) as lang:
        url = self_service_url(person)
        if reason == "registered":
            sms = _(
                "Embassy of Korea: you are registered for safety alerts. Your details: %(url)s",
                url=url,
            )
            subject = _("Your registration with the Embassy of the Republic of Korea in Cambodia")
            intro = _(
                "Thank you for registering. The Embassy will use these details to reach you in an emergency."
            )
        else:
            sms = _(
                "Embassy of Korea: your link to see, change or delete your registration: %(url)s", url=url
            )
            subject = _("Your registration link")
            intro = _("Here is your link to see, change or delete your registration.")
        body = "\n\n".join(
            [
                _("Hello %(name)s,", name=person.display_name),
                intro,
                url,
                _("The link works for 30 days; you can ask for a new one on the registration page."),
                _("Embassy of the Republic of Korea in Cambodia"),
            ]
        )
        phone = to_phone or (person.primary_phone.e164 if person.primary_phone else None)
        row = next((p for p in person.phones if p.e164 == phone), None)
        if row is not None and row.confirmed_at is None:
            # The SMS doubles as the proof that the number is the registrant's (registry.confirm).
            sms = _confirm_text(row)
        if "sms" in channels and phone:
            message = queue_one(
                channel="sms",
                to=phone,
                body=sms,
                source_kind=SourceKind.CONFIRMATION,
                source_id=event.id,
                person_id=person.id,
                language=lang,
                queue="high",
                public=public,
            )
            if message is not None:
                sent.append(message)
        if "email" in channels and person.email:
            message = queue_one(
                channel="email",
                to=person.email,
                body=body,
                subject=subject,
                source_kind=SourceKind.CONFIRMATION,
                source_id=event.id,
                person_id=person.id,
                language=lang,
                queue="high",
            )
            if message is not None:
                sent.append(message)
    return sent


def _confirm_text(phone: PhoneNumber) -> str:
    return _(
        "Embassy of Korea: to receive safety alerts on this number, reply YES or open %(url)s",
        url=confirm_url(phone),
    )


def send_phone_confirmations(person: Person, e164s: list[str]) -> list[Message]:
    """Ask each of ``e164s`` (numbers just added on the self-service page, unconfirmed) to confirm."""
    from outreach.messaging.outbound import queue_one

    sent: list[Message] = []
    for phone in person.phones:
        if phone.e164 not in e164s or phone.confirmed_at is not None:
            continue
        event = record("phone.confirmation", target=person)
        db.session.flush()
        with for_person_language(person.language) as lang:
            message = queue_one(
                channel="sms",
                to=phone.e164,
                body=_confirm_text(phone),
                source_kind=SourceKind.CONFIRMATION,
                source_id=event.id,
                person_id=person.id,
                language=lang,
                queue="high",
                public=True,  # only the self-service page adds unconfirmed numbers
            )
        if message is not None:
            sent.append(message)
    return sent


def _recently_sent(person: Person, channels: tuple[str, ...]) -> tuple[str, ...]:
    """The channels among ``channels`` that carried this person a confirmation in the throttle window."""
    return tuple(
        db.session.scalars(
            sa.select(Message.channel)
            .where(
                Message.person_id == person.id,
                Message.source_kind == SourceKind.CONFIRMATION,
                Message.channel.in_(channels),
                Message.created_at > utcnow() - LINK_THROTTLE,
            )
            .distinct()
        )
    )
