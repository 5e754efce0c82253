"""Staff pages (officers and admins). Areas add their own views to this blueprint."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import InboundMessage, InboundRoute, OutboxEntry, utcnow
from outreach.web.pagination import paginate
from outreach.web.security import staff_required
from outreach.zones.views import advisory_map, staff_rows

bp = Blueprint("staff", __name__)


@bp.before_request
@staff_required
def _guard() -> None:
    """Every /staff page is for officers and admins only; community reps get 403."""
    return None


@bp.get("/")
def index() -> str:
    # The advisory map with people inside each zone: the first thing staff look at in a crisis.
    rows = staff_rows(today=cambodia_today(), now=utcnow())
    svg = advisory_map(rows, language=current_language(), with_counts=True)
    return render_template("staff/index.html", zone_map=svg)


@bp.get("/outbox")
def outbox() -> str:
    """What the console channel "sent": the development stand-in for a real provider."""
    page = paginate(sa.select(OutboxEntry).order_by(OutboxEntry.id.desc()), request.args.get("page"))
    return render_template("staff/outbox.html", page=page)


@bp.get("/inbox")
def inbox() -> str:
    stmt = (
        sa.select(InboundMessage)
        .where(InboundMessage.routed_to == InboundRoute.INBOX)
        .order_by(InboundMessage.id.desc())
    )
    page = paginate(stmt, request.args.get("page"))
    return render_template("staff/inbox.html", page=page)


__all__ = ["bp", "db"]
