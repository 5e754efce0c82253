"""Messages held past the public SMS budget (``outreach.messaging.budget``), and staff's answer.

An officer or admin sends a held message (``held`` → ``pending``, queued after the commit) or
discards it (``held`` → ``skipped``); both are audited. One guarded transition each: a message two
officers act on at once is sent or discarded once.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa

from outreach.audit import record
from outreach.messaging.send import queue_messages
from outreach.messaging.status import transition
from outreach.models import Message, MessageStatus, User

MESSAGE = cast(sa.Table, Message.__table__)


def held_messages() -> sa.Select[tuple[Message]]:
    """Held messages, oldest first (the order they would have gone out)."""
    return sa.select(Message).where(Message.status == MessageStatus.HELD).order_by(Message.id)


def release(message_id: int, *, actor: User) -> bool:
    """Send a held message after the commit; False if it is no longer held."""
    if not transition(message_id, MessageStatus.PENDING, guard=MESSAGE.c.status == MessageStatus.HELD):
        return False
    queue_messages([message_id], "high")
    record("message.release", actor=actor, target_type="message", target_id=message_id)
    return True


def discard(message_id: int, *, actor: User) -> bool:
    """Never send a held message; False if it is no longer held."""
    if not transition(message_id, MessageStatus.SKIPPED, guard=MESSAGE.c.status == MessageStatus.HELD):
        return False
    record("message.discard", actor=actor, target_type="message", target_id=message_id)
    return True
