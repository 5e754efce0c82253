"""Opt-outs by (channel, address): recorded from STOP keywords, the provider (21610), staff or self-service.

The one home of opt-out checks: every area asks here (the SQL clauses for set-based audiences
included), so "opted out" means one thing everywhere. Keyed by address, not person, so a STOP from an
unknown number is honoured too. Functions add to the caller's transaction and never commit.

**At the hand-off.** The database is the record. Beside it, Redis keeps the set of opted-out
addresses (like the cancel key of :mod:`outreach.messaging.hooks`), so a send job can ask right
before each provider hand-off — with no database connection — through :func:`hand_off_permit`:

- a change is applied to the set *after* its transaction commits (never a Redis opt-in for a
  rolled-back one), inside ``commit()``: a STOP's reply, sent after the commit, always comes after
  its address is in the set;
- a permit is granted atomically (Lua) only if the address is not in the set, and it marks the
  address "being handed over" until the provider has answered. Adding an opt-out then waits (at most
  :data:`FENCE_SECONDS`) for such hand-offs to finish, so once a STOP is answered nothing more to that
  address reaches the provider — not even a request that was already on its way;
- the set carries a sentinel member: without it (Redis flushed or restarted) the set is rebuilt from
  the database before any permit is granted. Every change bumps a generation counter that the
  rebuild watches, so a change made while it reads the table makes it start again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from redis import Redis
from redis.exceptions import WatchError
from sqlalchemy.dialects import postgresql, sqlite

from outreach.extensions import db, redis_conn
from outreach.models import OptOut, utcnow

OPT_OUT = cast(sa.Table, OptOut.__table__)
log = logging.getLogger(__name__)

#: Redis set of ``"<channel> <address>"`` that must not be handed to a provider.
MIRROR_KEY = "outreach:optouts"
#: Bumped by every change of the set; a rebuild that sees it move starts again.
GENERATION_KEY = "outreach:optouts:generation"
#: Member that says "this set was built from the database" (an address never contains a space first).
COMPLETE = " complete"
#: ``<prefix><member>``: how many hand-offs to that address are under way (a counter).
IN_FLIGHT_PREFIX = "outreach:optouts:in-flight:"
#: A hand-off marker outlives any provider request (their timeouts are seconds); a worker killed
#: mid-request leaves one behind only this long.
IN_FLIGHT_TTL_SECONDS = 60
#: Longest an opt-out waits for hand-offs already under way before its commit returns (Twilio waits
#: 15 s for a webhook answer).
FENCE_SECONDS = 5.0
_FENCE_POLL_SECONDS = 0.01
_REBUILD_TRIES = 5
_PENDING_KEY = "outreach_pending_optout_mirror"

# 1: opted out; 0: permitted (and marked in flight); -1: the set is not built.
_ADMIT = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then return 1 end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 0
"""
_RELEASE = """
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
return 0
"""


class OptOutsUnavailable(RuntimeError):
    """The Redis set could not be rebuilt (it kept changing); hand nothing over, try again later."""


def normalise_address(channel: str, address: str) -> str:
    """E.164 numbers as they are (without a ``whatsapp:`` prefix); e-mail addresses lower-cased."""
    address = address.strip()
    if address.startswith("whatsapp:"):
        address = address[len("whatsapp:") :]
    return address.lower() if channel == "email" else address


def opt_out(channel: str, address: str, *, person_id: int | None = None, source: str = "keyword") -> bool:
    """Record that ``address`` wants nothing more on ``channel``; True if it was not opted out before."""
    normalised = normalise_address(channel, address)
    values = {
        "channel": channel,
        "address": normalised,
        "person_id": person_id,
        "source": source,
        "created_at": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OPT_OUT)
    stmt = insert.values(**values).on_conflict_do_nothing().returning(OPT_OUT.c.id)
    added = db.session.execute(stmt).first() is not None
    # Also when the row existed: the set may have missed it (Redis lost it between rebuilds).
    _mirror_after_commit("add", [_member(channel, normalised)])
    return added


def opt_in(channel: str, address: str) -> bool:
    """Remove the opt-out of ``address`` on ``channel``; True if there was one."""
    return bool(clear_opt_outs(channel, [address]))


def clear_opt_outs(channel: str, addresses: Sequence[str], *, person_id: int | None = None) -> int:
    """Remove the opt-outs on ``channel`` of these addresses (and of ``person_id``'s); rows removed."""
    wanted = [normalise_address(channel, a) for a in addresses]
    owner = OPT_OUT.c.person_id == person_id if person_id is not None else sa.false()
    stmt = (
        sa.delete(OPT_OUT)
        .where(
            OPT_OUT.c.channel == channel,
            sa.or_(OPT_OUT.c.address.in_(wanted) if wanted else sa.false(), owner),
        )
        .returning(OPT_OUT.c.address)
    )
    removed = list(db.session.execute(stmt).scalars())
    _mirror_after_commit("remove", [_member(channel, a) for a in {*wanted, *removed}])
    return len(removed)


def opted_out_clause(channel: Any, address: Any) -> sa.ColumnElement[bool]:
    """SQL: the (channel, address) columns or values name an opt-out (for set-based audiences)."""
    return sa.exists().where(OPT_OUT.c.channel == channel, OPT_OUT.c.address == address)


def opted_out_since(address: str, channels: Sequence[str], since: Any) -> sa.Exists:
    """SQL: ``address`` opted out of one of ``channels`` at or after ``since``."""
    return sa.exists().where(
        OPT_OUT.c.address == address, OPT_OUT.c.channel.in_(list(channels)), OPT_OUT.c.created_at >= since
    )


def person_opted_out_clause(person_id: Any) -> sa.ColumnElement[bool]:
    """SQL: the person owns an opted-out address on some channel (``OptOut.person_id`` is kept equal
    to each address's current owner by ``registry.operations.link_opt_outs``; one indexed look-up)."""
    return sa.exists().where(OPT_OUT.c.person_id == person_id)


def channels_opted_out(person_id: int, numbers: Sequence[str], email: str | None) -> set[str]:
    """The channels on which the person (or one of their addresses) opted out."""
    conditions = [OPT_OUT.c.person_id == person_id]
    if numbers:
        conditions.append(sa.and_(OPT_OUT.c.channel.in_(["sms", "whatsapp"]), OPT_OUT.c.address.in_(numbers)))
    if email:
        conditions.append(sa.and_(OPT_OUT.c.channel == "email", OPT_OUT.c.address == email.lower()))
    return set(db.session.scalars(sa.select(OPT_OUT.c.channel).where(sa.or_(*conditions)).distinct()))


def is_opted_out(channel: str, address: str) -> bool:
    stmt = sa.select(OPT_OUT.c.id).where(
        OPT_OUT.c.channel == channel, OPT_OUT.c.address == normalise_address(channel, address)
    )
    return db.session.execute(stmt).first() is not None


def opted_out_addresses(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (channel, address) pairs are opted out (addresses compared normalised), in one query."""
    wanted = {(channel, normalise_address(channel, address)) for channel, address in pairs}
    if not wanted:
        return set()
    addresses = sorted({address for _, address in wanted})
    stmt = sa.select(OPT_OUT.c.channel, OPT_OUT.c.address).where(OPT_OUT.c.address.in_(addresses))
    found = {(row.channel, row.address) for row in db.session.execute(stmt)}
    return found & wanted


# --- the Redis set checked at the hand-off ---------------------------------------------------------


def _member(channel: str, normalised_address: str) -> str:
    return f"{channel} {normalised_address}"


class HandOffPermit:
    """Leave to hand one message over; :meth:`release` once the provider has answered (any thread)."""

    __slots__ = ("_conn", "_key")

    def __init__(self, conn: Redis, key: str) -> None:
        self._conn = conn
        self._key = key

    def release(self, _done: object = None) -> None:
        try:
            self._conn.eval(_RELEASE, 1, self._key)
        except Exception:  # the marker then expires by itself; an opt-out waits for it at most FENCE_SECONDS
            log.warning("could not clear the hand-off marker %s", self._key, exc_info=True)


def hand_off_permit(channel: str, address: str) -> HandOffPermit | None:
    """Ask right before handing a message to ``address`` to a provider: None means opted out (skip it).

    Uses Redis only, apart from rebuilding the set from the database when Redis lost it (a short
    query on its own connection, returned at once). Raises when Redis cannot answer: the caller
    hands nothing more over and gives the rest back.
    """
    conn = redis_conn()
    member = _member(channel, normalise_address(channel, address))
    key = IN_FLIGHT_PREFIX + member
    for _attempt in range(2):
        verdict = int(conn.eval(_ADMIT, 2, MIRROR_KEY, key, COMPLETE, member, IN_FLIGHT_TTL_SECONDS))
        if verdict == 0:
            return HandOffPermit(conn, key)
        if verdict == 1:
            return None
        rebuild_mirror(conn)
    raise OptOutsUnavailable("the opt-out set was lost again while it was rebuilt")


def rebuild_mirror(conn: Redis | None = None) -> int:
    """Build the Redis set from the database (all opt-outs); returns how many. Retries when a change
    lands meanwhile; raises :class:`OptOutsUnavailable` if they keep landing."""
    conn = conn or redis_conn()
    with conn.pipeline() as pipe:
        for _attempt in range(_REBUILD_TRIES):
            try:
                pipe.watch(GENERATION_KEY)
                # Its own short connection: a send job holds no database connection while it hands off.
                with db.engine.connect() as connection:
                    rows = connection.execute(sa.select(OPT_OUT.c.channel, OPT_OUT.c.address)).all()
                members = [COMPLETE, *(_member(row.channel, row.address) for row in rows)]
                pipe.multi()
                pipe.delete(MIRROR_KEY)
                for start in range(0, len(members), 10_000):
                    pipe.sadd(MIRROR_KEY, *members[start : start + 10_000])
                pipe.execute()
                log.info("opt-out set rebuilt from the database: %d addresses", len(rows))
                return len(rows)
            except WatchError:
                continue
    raise OptOutsUnavailable("the opt-outs kept changing while the set was rebuilt")


def _mirror_after_commit(op: str, members: list[str]) -> None:
    """Apply ``op`` ("add" / "remove") to the Redis set once the current transaction commits."""
    if not members:
        return
    _listen()
    session = db.session()
    session.info.setdefault(_PENDING_KEY, []).append((op, members, session.get_nested_transaction()))


def _apply_pending(session: sa.orm.Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint was released
    pending: list[tuple[str, list[str], Any]] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    conn = redis_conn()
    added: list[str] = []
    try:
        with conn.pipeline(transaction=True) as pipe:
            for op, members, _savepoint in pending:
                if op == "add":
                    pipe.sadd(MIRROR_KEY, *members)
                    added.extend(members)
                else:
                    pipe.srem(MIRROR_KEY, *members)
            pipe.incr(GENERATION_KEY)
            pipe.execute()
    except Exception:
        # The database has it; hand-offs are checked against it again when the next batch is claimed.
        log.exception("could not update the opt-out set in Redis")
        return
    if added:
        _wait_for_hand_offs(conn, added)


def _wait_for_hand_offs(conn: Redis, members: list[str]) -> None:
    """Wait until no hand-off to these addresses is under way (each was permitted before the add)."""
    keys = [IN_FLIGHT_PREFIX + m for m in dict.fromkeys(members)]
    deadline = time.monotonic() + FENCE_SECONDS
    while True:
        try:
            busy = [k for k, v in zip(keys, conn.mget(keys), strict=True) if v is not None and int(v) > 0]
        except Exception:
            log.exception("could not read the hand-off markers")
            return
        if not busy:
            return
        if time.monotonic() >= deadline:
            log.warning("opt-out recorded while %d hand-offs to it were still under way", len(busy))
            return
        time.sleep(_FENCE_POLL_SECONDS)


def _inside(savepoint: Any, ended: Any) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


def _discard_savepoint(session: sa.orm.Session, previous: sa.orm.SessionTransaction) -> None:
    # A savepoint rolled back (an inbound handler failed): only the changes made inside it go.
    if previous.nested and _PENDING_KEY in session.info:
        session.info[_PENDING_KEY] = [p for p in session.info[_PENDING_KEY] if not _inside(p[2], previous)]


def _discard_pending(session: sa.orm.Session, transaction: sa.orm.SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _listen() -> None:
    # On the Session class, once, the first time an opt-out changes (as outreach.jobs does for jobs).
    if not sa.event.contains(sa.orm.Session, "after_commit", _apply_pending):
        sa.event.listen(sa.orm.Session, "after_commit", _apply_pending)
        sa.event.listen(sa.orm.Session, "after_soft_rollback", _discard_savepoint)
        sa.event.listen(sa.orm.Session, "after_transaction_end", _discard_pending)
