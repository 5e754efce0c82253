"""Inbound SMS/WhatsApp that arrived while the database was away: kept in Redis, routed when it answers.

Twilio does not retry an inbound webhook we fail (it would only try a fallback URL, if one is set),
so an "SOS" that meets a database outage would be lost. The webhook therefore stores the signed form
here and answers at once with a holding reply in the language the text is written in; the messaging
sweep routes the spooled messages as if they had just arrived (a call for help opens its case and
pages the duty officer then) and sends the router's answer as a one-off SMS or WhatsApp message,
since the TwiML answer has already gone. Each message is routed and answered in its own commit and
trimmed only afterwards; storing is keyed by the provider's sid, so an entry routed twice (a drainer
died between its commit and the trim) or a Twilio retry spooled beside the first is stored once and
answered once.
"""

from __future__ import annotations

import json
import logging

from flask_babel import gettext as _
from redis import Redis

from outreach.extensions import DB_UNAVAILABLE, db, redis_conn
from outreach.i18n import for_person_language
from outreach.messaging.inbound import guess_language
from outreach.messaging.outbound import queue_one
from outreach.messaging.webhooks import receive_inbound, split_address
from outreach.models import InboundMessage, Person, SourceKind

log = logging.getLogger(__name__)

SPOOL_KEY = "outreach:inbound-spool"
DRAIN_LOCK_KEY = "outreach:inbound-spool:drain"
DRAIN_LOCK_SECONDS = 60


def spool_inbound(form: dict[str, str], conn: Redis | None = None) -> None:
    """Keep an inbound webhook's form for later (raises if Redis is unreachable too)."""
    (conn or redis_conn()).rpush(SPOOL_KEY, json.dumps(form, ensure_ascii=False))


def spooled_inbound_count(conn: Redis | None = None) -> int:
    return int((conn or redis_conn()).llen(SPOOL_KEY))


def holding_reply(body: str) -> str:
    """What the sender reads at once: their message is kept, and where to turn if they are in danger.

    Their language cannot be looked up without the database, so it is guessed from the script.
    """
    with for_person_language(guess_language(body)):
        return _(
            "The Korean Embassy received your message and is passing it on. "
            "In immediate danger call the police: 117."
        )


def drain_inbound(*, max_entries: int = 5_000) -> int:
    """Route spooled inbound messages, oldest first, one commit each; returns how many were routed."""
    conn = redis_conn()
    if not conn.llen(SPOOL_KEY):
        return 0
    if not conn.set(DRAIN_LOCK_KEY, "1", nx=True, ex=DRAIN_LOCK_SECONDS):
        return 0
    routed = 0
    try:
        while routed < max_entries:
            raw = conn.lindex(SPOOL_KEY, 0)
            if raw is None:
                break
            try:
                form = json.loads(raw)
                sid = str(form["MessageSid"])
                sender = str(form["From"])
            except (ValueError, KeyError, TypeError):
                log.error("dropping an unreadable spooled inbound message: %r", raw[:200])
                conn.lpop(SPOOL_KEY)
                continue
            try:
                _route_one(sid, sender, form)
                db.session.commit()
            except DB_UNAVAILABLE:
                db.session.rollback()
                raise  # away again: nothing trimmed, the next sweep goes on
            except Exception:
                # One message the database refuses must not hold back the calls for help behind it;
                # its form stays in the log for staff.
                db.session.rollback()
                log.exception("dropping a spooled inbound message the database refuses: %s", sid)
            conn.lpop(SPOOL_KEY)
            routed += 1
            conn.expire(DRAIN_LOCK_KEY, DRAIN_LOCK_SECONDS)
    finally:
        conn.delete(DRAIN_LOCK_KEY)
    if routed:
        log.info("routed %d inbound messages spooled while the database was away", routed)
    return routed


def _route_one(sid: str, sender: str, form: dict[str, str]) -> None:
    reply = receive_inbound(
        sid=sid,
        sender=sender,
        to=form.get("To") or None,
        body=form.get("Body", ""),
        params=form,
    )
    if reply is None or not reply.body:
        return  # already routed (a retry or an earlier drain), or nothing to answer
    inbound = db.session.execute(
        db.select(InboundMessage).where(InboundMessage.provider_sid == sid)
    ).scalar_one()
    channel, address = split_address(sender)
    person = db.session.get(Person, inbound.person_id) if inbound.person_id is not None else None
    queue_one(
        channel=channel,
        to=address,
        body=reply.body,
        source_kind=SourceKind.REPLY,
        source_id=inbound.id,
        person_id=inbound.person_id,
        language=person.language if person is not None else guess_language(inbound.body or ""),
        queue="high",
        # A stranger's message makes us pay for this answer (TwiML would have been free): it takes
        # from the hourly budget of SMS that unauthenticated actions can cause.
        public=person is None,
    )
