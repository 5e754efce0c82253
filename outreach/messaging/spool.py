"""Status callbacks that arrived while the database was away: kept in Redis, applied when it answers.

Twilio does not retry a status callback answered with an error, so a ``delivered`` that meets a
database outage would be lost for good. The webhook therefore applies a callback directly when it
can and otherwise spools it here (one Redis list) and answers 204. The messaging sweep drains the
list in bulk once the database answers again. Applying is the state machine's guarded UPDATE, so a
callback applied twice (a drainer died after its commit, before trimming) or late (after a newer
status) changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from redis import Redis

from outreach.extensions import DB_UNAVAILABLE, db, redis_conn
from outreach.messaging.status import apply_provider_status

log = logging.getLogger(__name__)

SPOOL_KEY = "outreach:status-spool"
#: One drainer at a time: two would trim each other's entries.
DRAIN_LOCK_KEY = "outreach:status-spool:drain"
DRAIN_LOCK_SECONDS = 60
#: Callbacks applied per commit.
DRAIN_CHUNK = 500


@dataclass(frozen=True)
class SpooledStatus:
    message_id: int | None
    sid: str
    status: str
    error_code: str | None

    def dumps(self) -> str:
        return json.dumps(
            {"m": self.message_id, "sid": self.sid, "status": self.status, "error": self.error_code}
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> SpooledStatus:
        data = json.loads(raw)
        return cls(data.get("m"), str(data["sid"]), str(data["status"]), data.get("error"))


def spool_status(entry: SpooledStatus, conn: Redis | None = None) -> None:
    """Keep a status callback for later (raises if Redis is unreachable too)."""
    (conn or redis_conn()).rpush(SPOOL_KEY, entry.dumps())


def spooled_count(conn: Redis | None = None) -> int:
    return int((conn or redis_conn()).llen(SPOOL_KEY))


def drain_statuses(*, max_entries: int = 20_000) -> int:
    """Apply spooled callbacks in commits of ``DRAIN_CHUNK``; returns how many were applied.

    Entries are trimmed only after the commit that applied them, under a lock, so a crash in between
    applies them again (harmlessly) instead of losing them.
    """
    conn = redis_conn()
    if not conn.llen(SPOOL_KEY):
        return 0
    if not conn.set(DRAIN_LOCK_KEY, "1", nx=True, ex=DRAIN_LOCK_SECONDS):
        return 0
    applied = 0
    try:
        while applied < max_entries:
            raw = conn.lrange(SPOOL_KEY, 0, DRAIN_CHUNK - 1)
            if not raw:
                break
            for item in raw:
                try:
                    entry = SpooledStatus.loads(item)
                except (ValueError, KeyError, TypeError):
                    log.error("dropping an unreadable spooled status callback: %r", item[:200])
                    continue
                try:
                    with db.session.begin_nested():
                        apply_provider_status(entry.message_id, entry.sid, entry.status, entry.error_code)
                except DB_UNAVAILABLE:
                    raise  # the database went away again: nothing trimmed, the next sweep goes on
                except Exception:
                    # One entry the database refuses must not block the spool for good.
                    log.exception("dropping a spooled status callback the database refuses: %s", entry)
            db.session.commit()
            conn.ltrim(SPOOL_KEY, len(raw), -1)
            applied += len(raw)
    finally:
        conn.delete(DRAIN_LOCK_KEY)
    if applied:
        log.info("applied %d status callbacks spooled while the database was away", applied)
    return applied
