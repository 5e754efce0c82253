"""Opt-outs by (channel, address): recorded from STOP keywords, the provider (21610), staff or self-service.

Keyed by address, not person, so a STOP from an unknown number is honoured too. The registry's
person-level operations call these; the send pipeline checks :func:`opted_out_addresses` at send time.
Functions add to the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from outreach.extensions import db
from outreach.models import OptOut, utcnow

OPT_OUT = cast(sa.Table, OptOut.__table__)


def normalise_address(channel: str, address: str) -> str:
    """E.164 numbers as they are (without a ``whatsapp:`` prefix); e-mail addresses lower-cased."""
    address = address.strip()
    if address.startswith("whatsapp:"):
        address = address[len("whatsapp:") :]
    return address.lower() if channel == "email" else address


def opt_out(channel: str, address: str, *, person_id: int | None = None, source: str = "keyword") -> bool:
    """Record that ``address`` wants nothing more on ``channel``; True if it was not opted out before."""
    values = {
        "channel": channel,
        "address": normalise_address(channel, address),
        "person_id": person_id,
        "source": source,
        "created_at": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OPT_OUT)
    stmt = insert.values(**values).on_conflict_do_nothing().returning(OPT_OUT.c.id)
    return db.session.execute(stmt).first() is not None


def opt_in(channel: str, address: str) -> bool:
    """Remove the opt-out of ``address`` on ``channel``; True if there was one."""
    stmt = sa.delete(OPT_OUT).where(
        OPT_OUT.c.channel == channel, OPT_OUT.c.address == normalise_address(channel, address)
    )
    return bool(cast("sa.CursorResult[Any]", db.session.execute(stmt)).rowcount)


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
