"""The development channel: "sends" by writing an :class:`OutboxEntry` that staff read on /staff/outbox.

Each entry is written in its own short transaction on its own connection — never the caller's
session — so that it exists exactly when the send "happened", like a message at a provider, whatever
the send job does with its own transaction afterwards. Reconciliation asks it like a provider.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from outreach.messaging.channels.base import Lookup, LookupOutcome, Outcome, OutgoingMessage, SendResult
from outreach.messaging.redact import mask_address
from outreach.messaging.segments import count_segments
from outreach.models import OutboxEntry, utcnow

log = logging.getLogger("outreach.messaging.console")

_OUTBOX = cast(sa.Table, OutboxEntry.__table__)


class ConsoleChannel:
    """Works for ``sms``, ``whatsapp`` and ``email``; SMS and WhatsApp are paced like Twilio's."""

    def __init__(self, name: str, engine: sa.Engine) -> None:
        self.name = name
        self.paced = name in ("sms", "whatsapp")
        self.engine = engine

    def send(self, message: OutgoingMessage) -> SendResult:
        sid = "CONSOLE-" + secrets.token_hex(16)
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(_OUTBOX).values(
                    message_id=message.message_id,
                    channel=self.name,
                    to_address=message.to,
                    subject=message.subject,
                    body=message.body,
                    sid=sid,
                    created_at=utcnow(),
                )
            )
        segments = count_segments(message.body).segments if self.name == "sms" else None
        log.info(
            "console %s message=%s to=%s sid=%s", self.name, message.message_id, mask_address(message.to), sid
        )
        return SendResult(Outcome.SENT, provider_sid=sid, segments=segments)

    def find_sent(self, message: OutgoingMessage, since: datetime) -> Lookup:
        if message.message_id is None:
            return Lookup(LookupOutcome.NOT_FOUND)
        stmt = (
            sa.select(_OUTBOX.c.sid, _OUTBOX.c.body)
            .where(
                _OUTBOX.c.message_id == message.message_id,
                _OUTBOX.c.created_at >= since - timedelta(seconds=5),
            )
            .order_by(_OUTBOX.c.id.desc())
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        candidates = [
            (row.sid, count_segments(row.body).segments if self.name == "sms" else None) for row in rows
        ]
        return Lookup(LookupOutcome.FOUND if candidates else LookupOutcome.NOT_FOUND, candidates)

    def close(self) -> None:
        return None
