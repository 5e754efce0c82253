"""Proof that a number typed into a public web form belongs to the person who typed it.

Such a number (``PhoneNumber.confirmed_at`` empty) joins no audience until its holder either answers
the confirmation SMS — any reply: YES, 네, បាទ, or anything else — or opens the link it carries.
The link names the number, not just the person: a link opened from the e-mail copy proves nothing
about the phone.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler
from outreach.messaging.keywords import YES_WORDS, normalise
from outreach.models import InboundRoute, PhoneNumber, utcnow
from outreach.registry.links import MAX_AGE_SECONDS

SALT = "outreach.registry.phone-confirm"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def confirm_url(phone: PhoneNumber) -> str:
    """The absolute link that confirms ``phone`` (its id and number, signed; 30 days)."""
    token = str(_serializer().dumps([phone.id, phone.e164]))
    path = url_for("register.confirm_phone", token=token, _external=False)
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def phone_from_token(token: str) -> PhoneNumber | None:
    """The number a confirmation link names, or None for a tampered, expired or stale link."""
    try:
        payload = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not (isinstance(payload, list) and len(payload) == 2):
        return None
    phone_id, e164 = payload
    if not isinstance(phone_id, int) or not isinstance(e164, str):
        return None
    phone = db.session.get(PhoneNumber, phone_id)
    if phone is None or phone.e164 != e164 or phone.person.deleted_at is not None:
        return None
    return phone


def confirm_phone(phone: PhoneNumber, *, via: str) -> bool:
    """Mark ``phone`` confirmed (once; True if it was not yet) and audit how."""
    if phone.confirmed_at is not None:
        return False
    phone.confirmed_at = utcnow()
    db.session.flush()
    record("phone.confirm", target=phone.person, via=via)
    return True


@inbound_handler("phone_confirmation", priority=15)
def handle(ctx: InboundContext) -> Reply | None:
    """Any message from an unconfirmed number confirms it (after STOP/START, which come first).

    A bare "yes" is answered; anything else goes on to the other handlers, so an SOS written as the
    first reply still reaches staff.
    """
    phone = db.session.scalar(
        sa.select(PhoneNumber).where(PhoneNumber.e164 == ctx.address, PhoneNumber.confirmed_at.is_(None))
    )
    if phone is None or phone.person.deleted_at is not None:
        return None
    confirm_phone(phone, via=ctx.channel)
    if normalise(ctx.text) not in YES_WORDS:
        return None
    with for_person_language(phone.person.language):
        body = _("Embassy of Korea: thank you, your number is confirmed for safety alerts.")
    return Reply(route=InboundRoute.KEYWORD, body=body)
