"""Alert pages: compose, preview, approve, send, cancel, live progress (staff); feed and CAP (public).

Views are thin: parse the form, call one operation from ``outreach.alerts``, commit, redirect.
Workflow mistakes (wrong status, approving one's own alert) come back as a flash message, never a 500.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from outreach.alerts import cap, compose, progress, workflow
from outreach.alerts.audience import Audience
from outreach.alerts.compose import ComposeError
from outreach.alerts.forms import CAMBODIA, CHANNEL_LABELS, AlertForm, ReturnForm, province_names
from outreach.alerts.render import render_text
from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import LANGUAGE_NAMES, current_language
from outreach.models import Alert, AlertKind, AlertStatus, AuditEvent, User
from outreach.registry.presence import cambodia_today
from outreach.web.pagination import paginate
from outreach.web.staff import bp

#: The public side: the Atom feed, public alert pages and their CAP documents.
public_bp = Blueprint("alerts_public", __name__)


def _get_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404, description=_("There is no alert %(id)s.", id=alert_id))
    return alert


def _me() -> User:
    user: User = current_user._get_current_object()  # the real User, not the proxy
    return user


@bp.get("/alerts")
def alerts() -> str:
    stmt = sa.select(Alert).where(Alert.kind == AlertKind.ALERT).order_by(Alert.id.desc())
    status = request.args.get("status")
    if status in {s.value for s in AlertStatus}:
        stmt = stmt.where(Alert.status == AlertStatus(status))
    page = paginate(stmt, request.args.get("page"))
    return render_template(
        "alerts/list.html", page=page, statuses=[s.value for s in AlertStatus], status=status
    )


def _save_form(form: AlertForm, alert: Alert | None) -> Alert | None:
    try:
        if alert is None:
            return compose.create_alert(form.to_input(), author=_me())
        return compose.update_alert(alert, form.to_input(), actor=_me())
    except ComposeError as exc:
        db.session.rollback()
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors = [*field.errors, str(exc)]
        else:
            flash(str(exc), "error")
        return None


@bp.route("/alerts/new", methods=["GET", "POST"])
def new_alert() -> ResponseReturnValue:
    form = AlertForm()
    if form.validate_on_submit():
        alert = _save_form(form, None)
        if alert is not None:
            db.session.commit()
            flash(_("Draft saved. Check the recipients and the texts before sending."), "success")
            return redirect(url_for("staff.alert", alert_id=alert.id))
    return render_template("alerts/form.html", form=form, alert=None), 200 if request.method == "GET" else 422


@bp.route("/alerts/<int:alert_id>/edit", methods=["GET", "POST"])
def edit_alert(alert_id: int) -> ResponseReturnValue:
    alert = _get_alert(alert_id)
    if alert.status != AlertStatus.DRAFT:
        flash(_("Only a draft can be edited."), "error")
        return redirect(url_for("staff.alert", alert_id=alert.id))
    form = AlertForm()
    if request.method == "GET":
        form.load(alert)
    elif form.validate_on_submit() and _save_form(form, alert) is not None:
        db.session.commit()
        flash(_("Draft saved."), "success")
        return redirect(url_for("staff.alert", alert_id=alert.id))
    return render_template(
        "alerts/form.html", form=form, alert=alert
    ), 200 if request.method == "GET" else 422


@bp.get("/alerts/<int:alert_id>")
def alert(alert_id: int) -> str:
    """The alert as it will go out: texts per language and channel, recipients, cost, and the next step."""
    alert = _get_alert(alert_id)
    pv = compose.preview(alert, today=cambodia_today(), language=current_language())
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.target_type == "alert", AuditEvent.target_id == alert.id)
        .order_by(AuditEvent.id)
    ).all()
    actors = {
        u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_({e.actor_id for e in events})))
    }
    return render_template(
        "alerts/detail.html",
        alert=alert,
        preview=pv,
        events=events,
        actors=actors,
        me=_me(),
        action_form=FlaskForm(),
        return_form=ReturnForm(),
    )


@bp.get("/alerts/<int:alert_id>/email/<lang>")
def alert_email(alert_id: int, lang: str) -> Response:
    """The HTML e-mail exactly as sent to a reader of ``lang`` (shown in the approver's preview)."""
    alert = _get_alert(alert_id)
    if lang not in ("ko", "en", "km"):
        abort(404)
    rendered = render_text(alert, lang, "email")
    response = Response(rendered.html or "", mimetype="text/html")
    # Shown inside our own page only; no scripts are ever part of an alert e-mail.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _action(alert_id: int, operation: str) -> ResponseReturnValue:
    """Run one workflow operation on the alert, commit, and come back with what happened."""
    alert = _get_alert(alert_id)
    me = _me()
    try:
        if operation == "submit":
            workflow.submit(alert, actor=me, today=cambodia_today())
            if alert.status == AlertStatus.APPROVED:
                workflow.send(alert, actor=me)
                message = _("Sending started.")
            else:
                message = _("Submitted. A second officer must approve this alert before it is sent.")
        elif operation == "approve":
            workflow.approve(alert, actor=me)
            message = _("Approved.")
            if request.form.get("and_send"):
                workflow.send(alert, actor=me)
                message = _("Approved. Sending started.")
        elif operation == "return":
            form = ReturnForm()
            workflow.return_to_draft(alert, actor=me, reason=form.reason.data or "")
            message = _("Returned to the author as a draft.")
        elif operation == "send":
            workflow.send(alert, actor=me)
            message = _("Sending started.")
        elif operation == "cancel":
            skipped = workflow.cancel(alert, actor=me)
            message = _("Cancelled. %(count)d messages will not be sent.", count=skipped)
        else:  # pragma: no cover - routes below only pass known operations
            abort(404)
    except workflow.WorkflowError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.alert", alert_id=alert_id))
    db.session.commit()
    flash(message, "success")
    if (
        alert.status in (AlertStatus.DISPATCHING, AlertStatus.SENDING, AlertStatus.CANCELLED)
        and operation != "return"
    ) and alert.dispatch_started_at is not None:
        return redirect(url_for("staff.alert_progress", alert_id=alert_id))
    return redirect(url_for("staff.alert", alert_id=alert_id))


@bp.post("/alerts/<int:alert_id>/submit")
def submit_alert(alert_id: int) -> ResponseReturnValue:
    return _action(alert_id, "submit")


@bp.post("/alerts/<int:alert_id>/approve")
def approve_alert(alert_id: int) -> ResponseReturnValue:
    return _action(alert_id, "approve")


@bp.post("/alerts/<int:alert_id>/return")
def return_alert(alert_id: int) -> ResponseReturnValue:
    return _action(alert_id, "return")


@bp.post("/alerts/<int:alert_id>/send")
def send_alert(alert_id: int) -> ResponseReturnValue:
    return _action(alert_id, "send")


@bp.post("/alerts/<int:alert_id>/cancel")
def cancel_alert(alert_id: int) -> ResponseReturnValue:
    return _action(alert_id, "cancel")


@bp.post("/alerts/<int:alert_id>/test")
def test_alert(alert_id: int) -> ResponseReturnValue:
    """Send the alert as it stands to the officer's own phone and e-mail."""
    alert = _get_alert(alert_id)
    if alert.status in (AlertStatus.COMPLETED, AlertStatus.CANCELLED):
        flash(_("This alert is finished; there is nothing to test."), "error")
        return redirect(url_for("staff.alert", alert_id=alert_id))
    channels = compose.send_test(alert, officer=_me())
    db.session.commit()
    if channels:
        flash(_("Test sent to you by %(channels)s.", channels=", ".join(channels)), "success")
    else:
        flash(_("No test was sent: add a mobile number or e-mail address to your account."), "error")
    return redirect(url_for("staff.alert", alert_id=alert_id))


@bp.get("/alerts/<int:alert_id>/progress")
def alert_progress(alert_id: int) -> str:
    alert = _get_alert(alert_id)
    return render_template(
        "alerts/progress.html", alert=alert, progress=progress.alert_progress(alert), action_form=FlaskForm()
    )


@bp.get("/alerts/<int:alert_id>/progress.json")
def alert_progress_json(alert_id: int) -> Response:
    alert = _get_alert(alert_id)
    payload = progress.alert_progress(alert).as_json()
    payload["status_label"] = str(progress.ALERT_STATUS_LABELS[AlertStatus(alert.status)])
    payload["time_left_label"] = _duration(payload["seconds_left"])
    response = Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _csv_cell(value: str) -> str:
    # Spreadsheet formula injection: names come from public self-registration.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get("/alerts/<int:alert_id>/failures.csv")
def alert_failures_csv(alert_id: int) -> Response:
    """Failed and skipped messages with names and numbers, for follow-up by phone (streamed)."""
    alert = _get_alert(alert_id)
    record("alert.export_failures", target=alert)
    db.session.commit()
    # The rows are written after this function returns; fix the language now, not per row.
    language = current_language()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel needs the BOM to read Korean in UTF-8
        writer.writerow(progress.CSV_HEADER)
        with force_locale(language):
            for row in progress.failure_rows(alert_id):
                writer.writerow([_csv_cell(v) for v in row])
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="alert-{alert_id}-failures.csv"'
    return response


@bp.get("/alerts/<int:alert_id>/cap.xml")
def alert_cap(alert_id: int) -> Response:
    alert = _get_alert(alert_id)
    return Response(cap.alert_to_cap(alert), mimetype="application/cap+xml")


# --- public ------------------------------------------------------------------------------------------


def _public_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None or not alert.public or alert.status not in cap.ISSUED:
        abort(404, description=_("There is no public alert %(id)s.", id=alert_id))
    return alert


@public_bp.get("/alerts/feed.atom")
def feed() -> Response:
    body = cap.atom_feed(cap.public_alerts(), language=current_language())
    return Response(body, mimetype="application/atom+xml")


@public_bp.get("/alerts/<int:alert_id>")
def show(alert_id: int) -> str:
    alert = _public_alert(alert_id)
    return render_template("alerts/public.html", alert=alert, content=alert.content_for(current_language()))


@public_bp.get("/alerts/<int:alert_id>/cap.xml")
def cap_document(alert_id: int) -> Response:
    alert = _public_alert(alert_id)
    return Response(cap.alert_to_cap(alert), mimetype="application/cap+xml")


# --- template helpers ----------------------------------------------------------------------------------


def _local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(CAMBODIA).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return _("%(s)d s", s=whole)
    if whole < 3600:
        return _("%(m)d min %(s)d s", m=whole // 60, s=whole % 60)
    return _("%(h)d h %(m)d min", h=whole // 3600, m=(whole % 3600) // 60)


def _audience_summary(audience: dict[str, Any]) -> str:
    aud = Audience.from_dict(audience)
    parts = []
    if aud.provinces:
        names = dict(province_names())
        parts.append(", ".join(names.get(code, code) for code in aud.provinces))
    else:
        parts.append(_("all provinces"))
    statuses = {"resident": _("residents"), "traveler": _("travelers")}
    parts.append(
        ", ".join(statuses.get(s, s) for s in aud.statuses) if aud.statuses else _("residents and travelers")
    )
    parts.append(
        ", ".join(LANGUAGE_NAMES.get(x, x) for x in aud.languages) if aud.languages else _("all languages")
    )
    if aud.present_only:
        parts.append(_("only people in Cambodia now"))
    return " · ".join(parts)


@public_bp.app_context_processor
def _helpers() -> dict[str, Any]:
    severity_labels = {
        "Extreme": _("Extreme"),
        "Severe": _("Severe"),
        "Moderate": _("Moderate"),
        "Minor": _("Minor"),
    }
    return {
        "status_label": lambda s: str(progress.ALERT_STATUS_LABELS.get(AlertStatus(s), s)),
        "message_status_label": lambda s: str(progress.MESSAGE_STATUS_LABELS.get(s, s)),
        "severity_label": lambda s: severity_labels.get(str(s), str(s)),
        "channel_label": lambda c: str(CHANNEL_LABELS.get(c, c)),
        "action_label": lambda a: str(progress.ACTION_LABELS.get(a, a)),
        "local_time": _local_time,
        "duration": _duration,
        "audience_summary": _audience_summary,
    }
