"""Server-side sessions for signed-in users (ASVS 3.3).

The signed session cookie alone cannot be revoked: a copy saved before logging out would keep working
until it expires. So each sign-in opens a :class:`~outreach.models.UserSession` row and the cookie
carries only its random id; :func:`enforce` checks it on every request and signs the browser out when
the row was ended (logout, an admin, a password/role/activation change), has been idle longer than
``SESSION_IDLE_MINUTES`` or is older than ``SESSION_MAX_HOURS``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, flash, has_request_context, request, session
from flask_babel import gettext as _
from flask_login import logout_user
from sqlalchemy import orm as so

from outreach.extensions import db
from outreach.models import User, UserSession, utcnow

#: The key of the session id in Flask's (signed) session cookie.
SESSION_KEY = "_sid"
#: last_seen_at is written at most this often (a page load is not a write each time).
TOUCH_EVERY = timedelta(minutes=1)
#: User columns whose change ends every open session of that user, with the reason recorded.
ENDING_CHANGES = {"password_hash": "password", "role": "role", "active": "deactivated"}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("SESSION_IDLE_MINUTES") or 30))


def max_age() -> timedelta:
    return timedelta(hours=float(current_app.config.get("SESSION_MAX_HOURS") or 12))


def open_session(user: User) -> str:
    """A new server-side session for ``user`` (flushed, not committed); returns the id for the cookie."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            ip=request.remote_addr if has_request_context() else None,
        )
    )
    db.session.flush()
    return token


def start(user: User) -> None:
    """Open a session for ``user`` and put its id in the cookie (after Flask-Login's ``login_user``)."""
    session[SESSION_KEY] = open_session(user)


def end(token: str | None, reason: str) -> None:
    if not token:
        return
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


def end_all(user_id: int, reason: str, connection: Any = None) -> None:
    """End every open session of a user (on ``connection`` when called during a flush)."""
    stmt = (
        sa.update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    (connection or db.session).execute(stmt)


def current_token() -> str | None:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) else None


def is_valid(user_id: int, token: str | None) -> bool:
    """True while ``token`` names an open, recent session of ``user_id``; ends it when it ran out."""
    if not token:
        return False
    row = db.session.scalar(sa.select(UserSession).where(UserSession.token_hash == _hash(token)))
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return False
    now = utcnow()
    reason = None
    if now - row.created_at > max_age():
        reason = "expired"
    elif now - row.last_seen_at > idle_limit():
        reason = "idle"
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        return False
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return True


def enforce() -> None:
    """Before every request: a cookie whose server-side session is not valid is signed out."""
    if request.blueprint == "api" or request.endpoint == "static":
        return  # the API ignores session cookies (bearer tokens only)
    raw_user = session.get("_user_id")
    if raw_user is None:
        return
    try:
        user_id = int(raw_user)
    except (TypeError, ValueError):
        user_id = -1
    valid = is_valid(user_id, current_token())
    # Nothing else is pending this early in the request: committing here writes only the session row.
    db.session.commit()
    if not valid:
        logout_user()
        session.pop(SESSION_KEY, None)
        flash(_("Your session has ended. Please log in again."), "info")


def _end_sessions_on_account_changes(db_session: so.Session, _context: Any, _instances: Any) -> None:
    """Before a flush: a changed password, role or activation ends all of that user's sessions."""
    for obj in db_session.dirty:
        if not isinstance(obj, User) or obj.id is None:
            continue
        state: Any = sa.inspect(obj)
        for attr, reason in ENDING_CHANGES.items():
            history = state.attrs[attr].history
            if not history.has_changes() or not history.deleted:
                continue
            if attr == "active" and obj.active:
                continue  # reactivating ends nothing
            end_all(obj.id, reason, connection=db_session.connection())
            break


def init_app(app: Flask) -> None:
    app.before_request(enforce)
    if not sa.event.contains(so.Session, "before_flush", _end_sessions_on_account_changes):
        sa.event.listen(so.Session, "before_flush", _end_sessions_on_account_changes)
