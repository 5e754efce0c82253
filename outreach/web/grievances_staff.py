"""Staff grievance views on ``outreach.web.staff.bp``: the triage queue, one grievance, the summary.

Views are thin: parse the form, call one operation from ``outreach.grievances``, commit, redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, cast

from flask import Response as FlaskResponse
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from outreach.extensions import db
from outreach.grievances import labels, operations, reporting
from outreach.grievances.errors import GrievanceError, NotAllowed, ValidationError
from outreach.grievances.workflow import STATUS_MESSAGE_MAX, allowed_next, transition
from outreach.models import Grievance, GrievanceStatus, User, utcnow
from outreach.web.pagination import paginate
from outreach.web.rep import as_choices, province_choices, province_name
from outreach.web.staff import bp


def _me() -> User:
    return cast(User, current_user._get_current_object())


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Reply to the representative"),
        validators=[
            DataRequired(message=_l("Write the reply first.")),
            Length(
                max=operations.ENTRY_MAX, message=_l("The text is too long (at most %(max)d characters).")
            ),
        ],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Internal note (never shown to the representative)"),
        validators=[
            DataRequired(message=_l("Write the note first.")),
            Length(
                max=operations.ENTRY_MAX, message=_l("The text is too long (at most %(max)d characters).")
            ),
        ],
    )


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("Assigned officer"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignee_id.choices = as_choices(assignee_choices(_("Nobody")))


class StatusForm(FlaskForm):
    to_status = HiddenField(validators=[DataRequired()])
    message = TextAreaField(
        _l("Message to the representative with the change (optional)"),
        validators=[
            Optional(),
            Length(max=STATUS_MESSAGE_MAX, message=_l("The text is too long (at most %(max)d characters).")),
        ],
    )


def assignee_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [(str(u.id), u.name or u.email) for u in operations.assignable_staff()]


def _filter_choices() -> dict[str, list[tuple[str, str]]]:
    any_label = _("Any")
    return {
        "status": [("open", _("Open (not resolved)")), ("all", _("All"))]
        + [(s.value, str(lbl)) for s, lbl in labels.STATUS_LABELS.items()],
        "category": [("", any_label)] + [(c.value, str(lbl)) for c, lbl in labels.CATEGORY_LABELS.items()],
        "urgency": [("", any_label)] + [(u.value, str(lbl)) for u, lbl in labels.URGENCY_LABELS.items()],
        "province": province_choices(blank=any_label),
        "assignee": [("", any_label), ("me", _("Me")), ("none", _("Nobody"))]
        + [(str(u.id), u.name or u.email) for u in operations.assignable_staff()],
    }


@bp.get("/grievances")
def grievances() -> str:
    filters = reporting.GrievanceFilters.from_args(request.args, viewer=_me())
    now = utcnow()
    hours = reporting.response_target_hours()
    page = paginate(reporting.queue_query(filters, now=now, hours=hours), request.args.get("page"))
    return render_template(
        "grievances/queue.html",
        page=page,
        filters=filters,
        choices=_filter_choices(),
        assignees=assignee_choices(_("Nobody")),
        now=now,
        hours=hours,
        is_overdue=reporting.is_overdue,
        age=reporting.age,
    )


@bp.post("/grievances/bulk-assign")
def grievances_bulk_assign() -> Response:
    raw_ids = request.form.getlist("ids")
    back = request.form.get("next") or url_for("staff.grievances")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("staff.grievances")
    try:
        ids = [int(i) for i in raw_ids]
    except ValueError:
        abort(400, description=_("The selection is not valid."))
    if not ids:
        flash(_("Select at least one grievance to assign."), "error")
        return redirect(back, code=303)
    assignee = _assignee_from_form(request.form.get("assignee_id", ""))
    try:
        changed = operations.bulk_assign(ids, assignee, _me())
    except GrievanceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back, code=303)
    db.session.commit()
    flash(_("%(count)d grievances assigned.", count=changed), "success")
    return redirect(back, code=303)


def _assignee_from_form(raw: str) -> User | None:
    if not raw:
        return None
    if not raw.isdigit():
        abort(400, description=_("The chosen officer is not valid."))
    user = db.session.get(User, int(raw))
    if user is None:
        abort(400, description=_("The chosen officer is not valid."))
    return user


@bp.post("/grievances/export.csv")
def grievances_export() -> FlaskResponse:
    filters = reporting.GrievanceFilters.from_args(request.form, viewer=_me())
    data, _count = reporting.export_csv(filters, _me())
    db.session.commit()  # the audit event of the export
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return FlaskResponse(
        data,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="grievances-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/grievances/summary")
def grievances_summary() -> str | tuple[str, int]:
    since = _parse_date(request.args.get("since"))
    until = _parse_date(request.args.get("until"))
    problems = []
    if request.args.get("since") and since is None:
        problems.append(_("The start date is not a date (use YYYY-MM-DD)."))
    if request.args.get("until") and until is None:
        problems.append(_("The end date is not a date (use YYYY-MM-DD)."))
    if since and until and since > until:
        problems.append(_("The start date is after the end date."))
        since = until = None
    result = reporting.summary(since=since, until=until)
    return render_template(
        "grievances/summary.html",
        summary=result,
        problems=problems,
        args=request.args,
        category_rows=[(labels.category_label(c), n) for c, n in result.by_category],
        status_rows=[(labels.status_label(s), n) for s, n in result.by_status],
        province_rows=[
            (province_name(code) if code else _("No province"), n) for code, n in result.by_province
        ],
    ), (400 if problems else 200)


def _parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _load(grievance_id: int) -> Grievance:
    item = operations.get_visible(_me(), grievance_id)
    if item is None:
        abort(404, description=_("There is no grievance with this number."))
    return item


def _detail(
    item: Grievance,
    *,
    reply: ReplyForm | None = None,
    note: NoteForm | None = None,
    status_form: StatusForm | None = None,
    code: int = 200,
) -> tuple[str, int]:
    assign_form = AssignForm(formdata=None, assignee_id=str(item.assignee_id or ""))
    now = utcnow()
    hours = reporting.response_target_hours()
    return (
        render_template(
            "grievances/detail.html",
            grievance=item,
            entries=operations.entries_for(_me(), item),
            reply_form=reply or ReplyForm(formdata=None),
            note_form=note or NoteForm(formdata=None),
            assign_form=assign_form,
            status_form=status_form or StatusForm(formdata=None),
            next_statuses=allowed_next(item.status),
            overdue=reporting.is_overdue(item, now, hours),
            age=reporting.age(item, now),
            hours=hours,
        ),
        code,
    )


@bp.get("/grievances/<int:grievance_id>")
def grievance(grievance_id: int) -> tuple[str, int]:
    return _detail(_load(grievance_id))


def _field_errors(form: FlaskForm, exc: ValidationError, default: str) -> None:
    for name, message in exc.errors.items():
        getattr(form, name, getattr(form, default)).errors.append(message)


def _post_text(
    grievance_id: int,
    form: ReplyForm | NoteForm,
    slot: str,
    operation: Callable[[Grievance, User, str], object],
    done: str,
) -> Response | tuple[str, int]:
    """A reply or an internal note: validate, apply, commit; on error the detail page with the form."""
    item = _load(grievance_id)
    if not form.validate_on_submit():
        return _detail(item, code=422, **{slot: form})
    try:
        operation(item, _me(), form.body.data or "")
    except ValidationError as exc:
        db.session.rollback()
        _field_errors(form, exc, "body")
        return _detail(_load(grievance_id), code=422, **{slot: form})
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("staff.grievance", grievance_id=grievance_id), code=303)


@bp.post("/grievances/<int:grievance_id>/reply")
def grievance_reply(grievance_id: int) -> Response | tuple[str, int]:
    return _post_text(
        grievance_id, ReplyForm(), "reply", operations.add_reply, _("Reply sent to the representative.")
    )


@bp.post("/grievances/<int:grievance_id>/note")
def grievance_note(grievance_id: int) -> Response | tuple[str, int]:
    return _post_text(grievance_id, NoteForm(), "note", operations.add_note, _("Internal note added."))


@bp.post("/grievances/<int:grievance_id>/assign")
def grievance_assign(grievance_id: int) -> Response:
    item = _load(grievance_id)
    assignee = _assignee_from_form(request.form.get("assignee_id", ""))
    try:
        changed = operations.assign(item, assignee, _me())
    except GrievanceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.grievance", grievance_id=grievance_id), code=303)
    db.session.commit()
    if changed is not None:
        flash(_("Assignment saved."), "success")
    return redirect(url_for("staff.grievance", grievance_id=grievance_id), code=303)


@bp.post("/grievances/<int:grievance_id>/status")
def grievance_status(grievance_id: int) -> Response | tuple[str, int]:
    item = _load(grievance_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return _detail(item, status_form=form, code=422)
    try:
        entry = transition(item, form.to_status.data or "", _me(), message=form.message.data)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except GrievanceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _detail(_load(grievance_id), status_form=form, code=409)
    db.session.commit()
    flash(
        _(
            "Status changed to “%(status)s”. The representative is told by e-mail.",
            status=labels.status_label(entry.to_status),
        ),
        "success",
    )
    return redirect(url_for("staff.grievance", grievance_id=grievance_id), code=303)


__all__ = ["GrievanceStatus", "bp"]
