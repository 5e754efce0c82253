"""Routing of inbound SMS/WhatsApp messages (DESIGN §3).

Order: opt-out/opt-in keywords → an open registration conversation → a check-in reply → a keyword
(REGISTER/등록, SOS/도움, STATUS) → otherwise the staff inbox. Areas plug in by registering a handler;
the first handler that returns a :class:`Reply` (or :data:`HANDLED`) wins.

Contract for handlers (the messaging package implements the router; areas only register):

    @inbound_handler("registration", priority=20)
    def handle(ctx: InboundContext) -> Reply | None: ...

Priorities: 10 opt-out/opt-in, 20 registration conversation, 30 check-in reply, 40 keywords, then inbox.
A handler flushes its changes and never commits; the webhook commits once and answers with TwiML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.models import InboundMessage, InboundRoute, Person, utcnow


@dataclass
class InboundContext:
    inbound: InboundMessage
    #: "sms" or "whatsapp"
    channel: str
    #: E.164 sender, without any "whatsapp:" prefix.
    address: str
    #: The body, stripped.
    text: str
    #: The registered person owning ``address``, if any.
    person: Person | None


@dataclass
class Reply:
    """What to answer. ``body`` is already rendered in the person's language (empty: answer nothing)."""

    route: InboundRoute
    body: str = ""
    extra: dict[str, object] = field(default_factory=dict)


Handler = Callable[[InboundContext], Reply | None]

#: name -> (priority, handler)
HANDLERS: dict[str, tuple[int, Handler]] = {}


def inbound_handler(name: str, priority: int) -> Callable[[Handler], Handler]:
    def decorator(func: Handler) -> Handler:
        HANDLERS[name] = (priority, func)
        return func

    return decorator


def ordered_handlers() -> list[Handler]:
    return [h for _, h in sorted(HANDLERS.values(), key=lambda item: item[0])]


#: A handler may return this instead of a :class:`Reply`: "handled, answer nothing" (route KEYWORD).
HANDLED = Reply(route=InboundRoute.KEYWORD)

#: The inbox acknowledges a sender at most once in this window (no auto-reply storms).
ACK_WINDOW = timedelta(hours=24)

log = logging.getLogger(__name__)


def guess_language(text: str) -> str:
    """The language a message is written in, from its script: Hangul → ko, Khmer → km, Latin → en."""
    for ch in text:
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            return "ko"
        if 0x1780 <= code <= 0x17FF or 0x19E0 <= code <= 0x19FF:
            return "km"
    return "en" if any(ch.isascii() and ch.isalpha() for ch in text) else "ko"


def reply_language(ctx: InboundContext, fallback: str | None = None) -> str:
    """The person's preferred language if we know them, else ``fallback``, else the message's script."""
    if ctx.person is not None and ctx.person.language:
        return ctx.person.language
    return fallback or guess_language(ctx.text)


def route(ctx: InboundContext) -> Reply:
    """Run the handlers in priority order; the first answer wins, else the staff inbox.

    Each handler runs in a savepoint: one that raises is logged and rolled back alone, and routing
    goes on, so the inbound message itself is never lost to a handler's bug.
    """
    from outreach.messaging.hooks import load_area_hooks

    load_area_hooks()
    for handler in ordered_handlers():
        try:
            with db.session.begin_nested():
                result = handler(ctx)
        except Exception:
            log.exception(
                "inbound handler %s failed on message %s",
                getattr(handler, "__name__", handler),
                ctx.inbound.id,
            )
            continue
        if result is not None:
            return Reply(route=result.route, body=result.body, extra=dict(result.extra))
    return inbox_reply(ctx)


def inbox_reply(ctx: InboundContext) -> Reply:
    """Nothing claimed the message: it goes to the staff inbox.

    The sender gets a short acknowledgement in their language — someone writing to an embassy
    about their safety should know the message arrived — but only for their first message in
    :data:`ACK_WINDOW`, so a conversation with staff (or another auto-responder) is not answered
    again and again.
    """
    since = utcnow() - ACK_WINDOW
    earlier = db.session.execute(
        sa.select(InboundMessage.id)
        .where(
            InboundMessage.from_address == ctx.inbound.from_address,
            InboundMessage.routed_to == InboundRoute.INBOX,
            InboundMessage.received_at >= since,
            InboundMessage.id != ctx.inbound.id,
        )
        .limit(1)
    ).first()
    if earlier is not None:
        return Reply(route=InboundRoute.INBOX)
    with for_person_language(reply_language(ctx)):
        body = _("Thank you. The Korean Embassy received your message; our staff will read it.")
    return Reply(route=InboundRoute.INBOX, body=body)
