"""What the Twilio webhooks do, behind the thin views in ``outreach.web.twilio`` (DESIGN §3, §4).

Both functions add to the request's transaction and never commit; the view commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from outreach.extensions import db
from outreach.messaging.inbound import InboundContext, Reply, route
from outreach.messaging.status import apply_provider_status
from outreach.models import InboundMessage, InboundRoute, Person, PhoneNumber, utcnow

INBOUND = cast(sa.Table, InboundMessage.__table__)
WHATSAPP_PREFIX = "whatsapp:"
#: Webhook fields not worth keeping beside the message (already in columns, or constant).
_NOT_KEPT = frozenset(
    {"Body", "From", "To", "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "ApiVersion"}
)


def split_address(raw: str) -> tuple[str, str]:
    """``"whatsapp:+855…"`` → ``("whatsapp", "+855…")``; anything else is SMS."""
    raw = raw.strip()
    if raw.startswith(WHATSAPP_PREFIX):
        return "whatsapp", raw[len(WHATSAPP_PREFIX) :]
    return "sms", raw


def find_person(address: str) -> Person | None:
    return db.session.execute(
        sa.select(Person)
        .join(PhoneNumber, PhoneNumber.person_id == Person.id)
        .where(PhoneNumber.e164 == address, Person.deleted_at.is_(None))
    ).scalar_one_or_none()


def receive_inbound(
    *, sid: str, sender: str, to: str | None, body: str, params: Mapping[str, str]
) -> Reply | None:
    """Store an inbound SMS/WhatsApp once and route it. None: a duplicate delivery (nothing re-run)."""
    channel, address = split_address(sender)
    values = {
        "provider_sid": sid,
        "channel": channel,
        "from_address": address,
        "to_address": split_address(to)[1] if to else None,
        "body": body,
        "routed_to": InboundRoute.INBOX,
        "received_at": utcnow(),
        "params": {k: v for k, v in params.items() if k not in _NOT_KEPT},
    }
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(INBOUND)
    new_id = db.session.execute(
        insert.values(**values)
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(INBOUND.c.id)
    ).scalar()
    if new_id is None:
        return None
    inbound = db.session.get(InboundMessage, new_id)
    assert inbound is not None
    person = find_person(address)
    if person is not None:
        inbound.person_id = person.id
    reply = route(
        InboundContext(inbound=inbound, channel=channel, address=address, text=body.strip(), person=person)
    )
    inbound.routed_to = reply.route
    if reply.extra:
        inbound.params = {**inbound.params, "route": reply.extra}
    db.session.flush()
    return reply


def receive_status(message_id: int | None, sid: str, twilio_status: str, error_code: str | None) -> bool:
    """Apply a delivery status callback through the state machine (one guarded UPDATE)."""
    return apply_provider_status(message_id, sid, twilio_status, error_code)
