"""Staff pages (officers and admins). Areas add their own views to this blueprint."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from outreach.alerts.jobs import cambodia_today
from outreach.checkins.render import local_time
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.messaging import review
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


@bp.get("/review")
def review_page() -> str:
    """SMS held past the public hourly budget (PUBLIC_SMS_PER_HOUR), for an officer to send or discard."""
    page = paginate(review.held_messages(), request.args.get("page"))
    return render_template("staff/review.html", page=page, form=FlaskForm(), local_time=local_time)


@bp.post("/review/<int:message_id>/<action>")
def review_action(message_id: int, action: str) -> Response:
    form = FlaskForm()
    if action not in ("send", "discard") or not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.review_page"))
    actor = current_user._get_current_object()
    done = (review.release if action == "send" else review.discard)(message_id, actor=actor)
    db.session.commit()
    if not done:
        flash(_("That message is no longer waiting for review."), "error")
    elif action == "send":
        flash(_("The message is being sent."), "success")
    else:
        flash(_("The message was discarded."), "success")
    return redirect(url_for("staff.review_page"))


__all__ = ["bp", "db"]
