"""The audit log: one call records who did what to which record."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from outreach.extensions import db
from outreach.models import AuditEvent, User


def record(
    action: str,
    *,
    actor: User | None = None,
    target: Any = None,
    target_type: str | None = None,
    target_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session (the caller's transaction commits it with the change itself)."""
    if actor is None and has_request_context() and getattr(current_user, "is_authenticated", False):
        actor = current_user._get_current_object()  # the real User, not the proxy
    if target is not None:
        target_type = target_type or target.__tablename__
        target_id = target_id if target_id is not None else target.id
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
