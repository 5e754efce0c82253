"""The grievance lifecycle: one guarded function changes a grievance's status.

Allowed transitions (as drawn in ``outreach.models.grievances``)::

    received ─▶ in_review ─▶ referred ─▶ resolved ─▶ closed
                    │                        ▲          │
                    └────────────────────────┘          │
       resolved/closed ──re-open──▶ in_review ◀─────────┘

Every path (staff web views, the JSON API, scripts) goes through :func:`transition`, which checks the
table, applies the change with a compare-and-set ``UPDATE`` (two officers clicking at once cannot both
move the same grievance), writes a timeline entry and an audit event, and e-mails the representative.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.audit import record
from outreach.extensions import db
from outreach.grievances.errors import NotAllowed, TransitionError
from outreach.grievances.labels import status_label
from outreach.models import Grievance, GrievanceEntry, GrievanceStatus, User, utcnow

S = GrievanceStatus

ALLOWED_TRANSITIONS: dict[GrievanceStatus, frozenset[GrievanceStatus]] = {
    S.RECEIVED: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.REFERRED, S.RESOLVED}),
    S.REFERRED: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_REVIEW}),
    S.CLOSED: frozenset({S.IN_REVIEW}),
}

#: Statuses in which a grievance still waits for the embassy (counted as open, can be overdue).
OPEN_STATUSES: frozenset[GrievanceStatus] = frozenset({S.RECEIVED, S.IN_REVIEW, S.REFERRED})

#: Longest message a status change may carry to the representative.
STATUS_MESSAGE_MAX = 5000


def allowed_next(status: GrievanceStatus | str) -> list[GrievanceStatus]:
    """The statuses ``status`` may move to, in lifecycle order (for buttons and the API)."""
    targets = ALLOWED_TRANSITIONS.get(GrievanceStatus(status), frozenset())
    return [s for s in GrievanceStatus if s in targets]


def is_reopen(from_status: GrievanceStatus, to_status: GrievanceStatus) -> bool:
    return from_status in (S.RESOLVED, S.CLOSED) and to_status == S.IN_REVIEW


def require_staff(actor: User | None) -> User:
    if actor is None or not actor.is_staff or not actor.active:
        raise NotAllowed(_("Only embassy staff can do this."))
    return actor


def transition(
    grievance: Grievance, to_status: GrievanceStatus | str, actor: User | None, *, message: str | None = None
) -> GrievanceEntry:
    """Move ``grievance`` to ``to_status`` if the table allows it; flush, never commit.

    ``message`` (optional) is shown to the representative with the change. Raises
    :class:`TransitionError` for a move the table does not allow, or when the grievance changed
    status since it was read; :class:`NotAllowed` when ``actor`` is not staff.
    """
    staff = require_staff(actor)
    try:
        target = GrievanceStatus(to_status)
    except ValueError as exc:
        raise TransitionError(_("Unknown status: %(status)s.", status=str(to_status))) from exc
    current = GrievanceStatus(grievance.status)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise TransitionError(
            _(
                "A grievance cannot go from “%(from_status)s” to “%(to_status)s”.",
                from_status=status_label(current),
                to_status=status_label(target),
            )
        )
    text = (message or "").strip() or None
    if text is not None and len(text) > STATUS_MESSAGE_MAX:
        raise TransitionError(
            _("The message is too long (at most %(max)d characters).", max=STATUS_MESSAGE_MAX)
        )

    now = utcnow()
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target == S.RESOLVED:
        values["resolved_at"] = now
    elif target == S.CLOSED:
        values["closed_at"] = now
    elif is_reopen(current, target):
        values["resolved_at"] = None
        values["closed_at"] = None
    if grievance.first_response_at is None:
        # A status change is something the representative sees: it counts as the first response.
        values["first_response_at"] = now
    db.session.flush()
    result = db.session.execute(
        sa.update(Grievance)
        .where(Grievance.id == grievance.id, Grievance.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(grievance)
        raise TransitionError(
            _("Someone else changed this grievance just now. Reload the page and try again.")
        )
    db.session.refresh(grievance)

    entry = GrievanceEntry(
        grievance=grievance,
        kind="status",
        body=text,
        internal=False,
        from_status=current.value,
        to_status=target.value,
        author_id=staff.id,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "grievance.reopen" if is_reopen(current, target) else "grievance.status",
        actor=staff,
        target=grievance,
        from_status=current.value,
        to_status=target.value,
    )
    from outreach.grievances.notifications import notify_representative

    notify_representative(grievance, entry)
    return entry
