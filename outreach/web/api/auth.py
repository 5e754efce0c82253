"""Bearer-token authentication for the API.

A request is authenticated by ``Authorization: Bearer <token>`` alone. Session cookies are never
looked at under ``/api`` (see :class:`ApiSessionInterface`): a browser that happens to be logged in to
the staff UI must not be able to drive the API for a page on another site (CSRF), which is also why
the blueprint is exempt from CSRF tokens. The token's user becomes ``current_user`` for the request,
so audit events and translations follow the token's owner, with exactly that user's role.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, g, request
from flask.sessions import SecureCookieSession, SessionInterface, SessionMixin
from flask.wrappers import Request, Response
from flask_login import AnonymousUserMixin

from outreach.accounts import user_for_token
from outreach.extensions import db
from outreach.models import Role, User
from outreach.web.api.errors import ApiError

API_PREFIX = "/api/"

STAFF = frozenset({Role.ADMIN, Role.OFFICER, Role.LIAISON})
TASK_FORCE = frozenset({Role.ADMIN, Role.LIAISON})
EVERYONE = frozenset(Role)

#: Longest token we look up; anything longer is not one of ours (and is not hashed for nothing).
_MAX_TOKEN_LENGTH = 200


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="outreach"' + (f', error="{error}"' if error else "")
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def authenticate() -> User:
    """The user the request's bearer token belongs to; 401 without a live token.

    The token's last use is recorded in its own small transaction (when it changed), so a read-only
    request records it too and a failing request still does.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise _unauthorized(
            "This endpoint needs an API token: send 'Authorization: Bearer <token>' "
            "(create one with 'flask --app outreach create-token --user EMAIL')."
        )
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.", "invalid_request")
    user = user_for_token(token) if len(token) <= _MAX_TOKEN_LENGTH else None
    if user is None:
        db.session.rollback()
        raise _unauthorized(
            "The token is not valid: it is unknown, revoked, or its user is deactivated.", "invalid_token"
        )
    if db.session.dirty:  # the last use changed (recorded to the minute): keep it even if the request fails
        db.session.commit()
    set_current_user(user)
    return user


def set_current_user(user: User | AnonymousUserMixin) -> None:
    # Flask-Login keeps the request's user in ``g._login_user``; setting it first means Flask-Login
    # never falls back to the session or the remember-me cookie for this request.
    g._login_user = user
    g.api_user = user


def api_user() -> User:
    user: User = g.api_user
    return user


def require_role(roles: Iterable[Role]) -> None:
    allowed = frozenset(roles)
    user = api_user()
    if user.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise ApiError(403, f"A {user.role.value} token cannot do this; it needs the role {names}.")


class ApiSessionInterface(SessionInterface):
    """The app's session interface, except that API requests get an empty session that is never saved."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    @staticmethod
    def _is_api(request: Request) -> bool:
        return request.path.startswith(API_PREFIX)

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if self._is_api(request):
            return SecureCookieSession()
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        from flask import request as current_request

        if self._is_api(current_request):
            return
        self.inner.save_session(app, session, response)
