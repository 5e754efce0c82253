"""Personal one-tap links ``/c/<code>``.

A code is 8 characters drawn with :mod:`secrets` from 31 letters and digits that cannot be confused
when read aloud or typed from a small screen (no 0, 1, I, L or O): 31⁸ ≈ 8.5·10¹¹
possibilities, so with 100,000 live codes a guess succeeds about once in 8.5 million tries — and
failed look-ups are rate-limited per address. Short enough that the link fits in an SMS beside the
question (a signed token would cost a segment of its own).

A link works until the check-in's deadline plus its grace period (or until staff close the
check-in); it can be answered again, and the latest answer counts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from outreach.extensions import db
from outreach.models import CheckIn, CheckInRecipient, utcnow

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_codes(count: int) -> list[str]:
    """``count`` distinct fresh codes (uniqueness against the table is the insert's job)."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    return list(codes)


def normalise_code(raw: str | None) -> str | None:
    """The code as stored, or None if ``raw`` cannot be one (wrong length or characters)."""
    if not raw:
        return None
    code = raw.strip().upper()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def link_for(code: str) -> str:
    """The absolute one-tap URL for ``code`` (``PUBLIC_BASE_URL`` is what people can reach)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/c/" + code


def expires_at(checkin: CheckIn) -> datetime:
    return checkin.deadline + timedelta(hours=checkin.grace_hours)


def is_open(checkin: CheckIn, now: datetime | None = None) -> bool:
    """Whether answers are still accepted for ``checkin`` (by link and by SMS alike)."""
    now = now or utcnow()
    return checkin.closed_at is None and now <= expires_at(checkin)


@dataclass
class LinkLookup:
    recipient: CheckInRecipient | None
    checkin: CheckIn | None
    #: "ok", "invalid" (no such code: mistyped, tampered or never issued) or "expired".
    state: str


def lookup(raw_code: str, now: datetime | None = None) -> LinkLookup:
    code = normalise_code(raw_code)
    if code is None:
        return LinkLookup(None, None, "invalid")
    row = db.session.execute(
        sa.select(CheckInRecipient, CheckIn)
        .join(CheckIn, CheckIn.id == CheckInRecipient.checkin_id)
        .where(CheckInRecipient.code == code)
    ).first()
    if row is None:
        return LinkLookup(None, None, "invalid")
    recipient, checkin = row
    return LinkLookup(recipient, checkin, "ok" if is_open(checkin, now) else "expired")
