"""Role guards for views, and the check that keeps redirects on this site."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from outreach.models import Role

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute set on every guarded view: the roles it admits (tests walk the URL map and check it).
ALLOWED_ROLES_ATTR = "allowed_roles"


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Only logged-in users with one of ``roles``; others are sent to log in (anonymous) or get 403."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from outreach.extensions import login_manager

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, ALLOWED_ROLES_ATTR, allowed)
        return wrapped  # type: ignore[return-value]

    return decorator


def allowed_roles(view: Callable[..., Any]) -> frozenset[Role] | None:
    """The roles a view guarded by :func:`roles_required` admits, or None when it has no guard of its own."""
    roles = getattr(view, ALLOWED_ROLES_ATTR, None)
    return frozenset(roles) if roles is not None else None


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None: an open redirect is a phishing tool.

    Browsers read ``/\\evil.example`` and ``/<tab>/evil.example`` as ``//evil.example`` (another host),
    so backslashes, whitespace and control characters are refused outright.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    return target


staff_required = roles_required(Role.ADMIN, Role.OFFICER, Role.LIAISON)
task_force_required = roles_required(Role.ADMIN, Role.LIAISON)
admin_required = roles_required(Role.ADMIN)
rep_required = roles_required(Role.COMMUNITY_REP)
