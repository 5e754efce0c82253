"""Staff two-factor sign-in: TOTP (RFC 6238) with pyotp, recovery codes, lock-out after failures.

Admins and officers must have a second factor; representatives may enrol. The secret is shown once at
enrolment (QR code and text) and saved only when the person has typed a code from their app. Ten
recovery codes are shown once and stored as password hashes; each works once. A TOTP code works once
too (``totp_last_step``), so a code read over a shoulder cannot be replayed within its 30 seconds.
These functions flush, never commit.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import pyotp
import segno
import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from outreach import sessions
from outreach.audit import record
from outreach.extensions import db
from outreach.models import RecoveryCode, User, utcnow

ISSUER = "Outreach"
RECOVERY_CODES = 10
#: Failed attempts in a row (password or code) before sign-in is refused for LOCK_MINUTES.
MAX_FAILURES = 5
LOCK_MINUTES = 15
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no image request, nothing leaves the page)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code is ``code`` (this one or its neighbours, for clock drift)."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = int((now if now is not None else time.time()) // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Save ``secret`` as the user's second factor if ``code`` comes from it; the new recovery codes."""
    step = _matching_step(secret, code)
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    record("user.second_factor_enrol", actor=user, target=user)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)
    ]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=generate_password_hash(c)) for c in codes)
    db.session.flush()
    return codes


def verify(user: User, code: str) -> str | None:
    """How ``code`` signs ``user`` in ("totp" or "recovery"), or None; each code works once."""
    if not user.has_totp or user.totp_secret is None:
        return None
    step = _matching_step(user.totp_secret, code)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return None  # already used
        user.totp_last_step = step
        return "totp"
    typed = code.strip().lower()
    if len(typed) != 14:
        return None
    unused = db.session.scalars(
        sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    for row in unused:
        if check_password_hash(row.code_hash, typed):
            row.used_at = utcnow()
            return "recovery"
    return None


def reset(user: User, actor: User) -> None:
    """An admin removes a user's second factor (lost phone); they enrol again at their next sign-in."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    sessions.end_all(user.id, "second_factor_reset")
    record("user.second_factor_reset", actor=actor, target=user)


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def register_failure(user: User, stage: str) -> None:
    """A wrong password or code: audited; the MAX_FAILURES-th in a row locks the account a while."""
    user.failed_logins = (user.failed_logins or 0) + 1
    record("user.login_failed", actor=user, target=user, stage=stage, failures=user.failed_logins)
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = utcnow() + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
        record("user.locked", actor=user, target=user, minutes=LOCK_MINUTES)


def register_success(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
