"""Case pages for officers: the list, one case with the person's whole timeline, and the workflow
(acknowledge, note, assign, resolve, re-open). Views are thin; logic is in ``outreach.cases``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from outreach.cases.operations import (
    CaseError,
    add_note,
    assign,
    open_or_reopen_case,
    split_via,
    transition,
    via_label,
)
from outreach.checkins.render import local_time
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import (
    Alert,
    Case,
    CaseEvent,
    CaseStatus,
    CheckIn,
    CheckInEvent,
    CheckInResponse,
    InboundMessage,
    Message,
    Person,
    Province,
    Report,
    Role,
    SourceKind,
    User,
)
from outreach.reports.operations import stage_label
from outreach.web.pagination import paginate
from outreach.web.staff import bp

#: How far back the timeline looks on each source; a case is about now, not the person's history.
TIMELINE_LIMIT = 40


def _me() -> User:
    user: User = current_user._get_current_object()  # the real User, not the proxy
    return user


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=5000)])


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assign to"), coerce=int, choices=[])


class ActionForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=5000)])


class OpenCaseForm(FlaskForm):
    person_id = IntegerField(_l("Person number"), validators=[DataRequired(), NumberRange(min=1)])
    note = TextAreaField(_l("Why"), validators=[Length(max=5000)])


def _officer_choices() -> list[SelectChoice]:
    officers = db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.role.in_([Role.OFFICER, Role.LIAISON, Role.ADMIN]))
        .order_by(User.name, User.email)
    )
    return [SelectChoice(0, _("Nobody"))] + [SelectChoice(u.id, u.name or u.email) for u in officers]


def _get_case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        abort(404, description=_("There is no case %(id)s.", id=case_id))
    return case


STATUS_FILTERS = ("active", "open", "acknowledged", "resolved", "all")


@bp.get("/cases")
def cases() -> str:
    status = request.args.get("status") or "active"
    if status not in STATUS_FILTERS:
        abort(400, description=_("Unknown status filter."))
    stmt = sa.select(Case, Person).outerjoin(Person, Person.id == Case.person_id)
    if status == "active":
        stmt = stmt.where(Case.status != CaseStatus.RESOLVED)
    elif status != "all":
        stmt = stmt.where(Case.status == CaseStatus(status))
    # Unacknowledged first, then the oldest call: whoever has waited longest is seen first.
    order = sa.case((Case.status == CaseStatus.OPEN, 0), (Case.status == CaseStatus.ACKNOWLEDGED, 1), else_=2)
    page = paginate(stmt.order_by(order, Case.opened_at), request.args.get("page"), scalars=False)
    return render_template(
        "cases/list.html",
        page=page,
        status=status,
        filters=STATUS_FILTERS,
        local_time=local_time,
        via_label=via_label,
        open_form=OpenCaseForm(),
    )


@bp.post("/cases/open")
def open_case() -> Response:
    """An officer opens a case for a registered person (a call, a visit, a report from family)."""
    form = OpenCaseForm()
    if not form.validate_on_submit():
        flash(_("Give the number of a registered person to open a case."), "error")
        return redirect(url_for("staff.cases"))
    person = db.session.get(Person, form.person_id.data)
    if person is None or person.deleted_at is not None:
        flash(_("There is no registered person %(id)s.", id=form.person_id.data), "error")
        return redirect(url_for("staff.cases"))
    try:
        call = open_or_reopen_case(person, "staff", note=form.note.data, actor=_me())
    except CaseError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.cases"))
    db.session.commit()
    flash(_("Case %(id)s is open; the duty officers were notified.", id=call.case.id), "success")
    return redirect(url_for("staff.case", case_id=call.case.id))


@dataclass
class Entry:
    at: datetime
    kind: str
    title: str
    body: str = ""
    detail: str = ""


def timeline(case: Case) -> list[Entry]:
    """The case's events, and the person's answers, reminders, messages in and out, newest first."""
    names = {u.id: u.name or u.email for u in db.session.scalars(sa.select(User))}
    event_titles = {
        "opened": _("Case opened"),
        "reopened": _("Case re-opened"),
        "help_again": _("Asked for help again"),
        "acknowledged": _("Acknowledged"),
        "resolved": _("Resolved"),
        "assigned": _("Assigned"),
        "note": _("Note"),
        "notified": _("Duty officers notified"),
        "answered_safe": _("Answered: safe"),
        "unacknowledged": _("Not acknowledged: duty officers notified again"),
        "stage": _("Report stage changed"),
        "timer_not_verified": _("Not verified in 2 hours: duty officers paged"),
        "timer_not_located": _("Not located in 24 hours: duty officers paged"),
        "timer_no_news": _("No news for 48 hours: duty officers paged"),
    }
    entries: list[Entry] = []
    events = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)))
    for event in events:
        via, text = split_via(event.body)
        who = names.get(event.author_id, "") if event.author_id else ""
        entries.append(
            Entry(
                event.created_at,
                "case",
                str(event_titles.get(event.kind, event.kind)),
                text,
                " · ".join(p for p in (via_label(via) if via else "", who) if p),
            )
        )
    # The notifications this case caused: whether each reached its officer.
    event_ids = [e.id for e in events]
    if event_ids:
        for message in db.session.scalars(
            sa.select(Message).where(
                Message.source_kind == SourceKind.CASE_NOTIFY, Message.source_id.in_(event_ids)
            )
        ):
            entries.append(
                Entry(
                    message.created_at,
                    "notify",
                    _(
                        "Notification to %(name)s by %(channel)s",
                        name=names.get(message.user_id or 0, ""),
                        channel=message.channel,
                    ),
                    "",
                    message.status.value,
                )
            )
    if case.person_id is not None:
        pid = case.person_id
        titles = dict(
            db.session.execute(sa.select(CheckIn.id, Alert.title).join(Alert, Alert.id == CheckIn.alert_id))
            .tuples()
            .all()
        )
        answer_labels = {"safe": _("Answered: safe"), "need_help": _("Answered: needs help")}
        for response in db.session.scalars(
            sa.select(CheckInResponse)
            .where(CheckInResponse.person_id == pid)
            .order_by(CheckInResponse.id.desc())
            .limit(TIMELINE_LIMIT)
        ):
            body = " — ".join(p for p in (response.text, response.location) if p)
            entries.append(
                Entry(
                    response.created_at,
                    "answer",
                    str(answer_labels.get(response.answer.value, response.answer.value)),
                    body,
                    f"{titles.get(response.checkin_id, '')} · {response.via.value}",
                )
            )
        step_titles = {
            "reminder": _("Reminder sent"),
            "email": _("Escalation: e-mail"),
            "emergency_contact": _("Escalation: emergency contact"),
            "community_rep": _("Escalation: community representative"),
            "staff_answer": _("Answer recorded by staff"),
        }
        for ev in db.session.scalars(
            sa.select(CheckInEvent)
            .where(CheckInEvent.person_id == pid)
            .order_by(CheckInEvent.id.desc())
            .limit(TIMELINE_LIMIT)
        ):
            entries.append(
                Entry(
                    ev.created_at,
                    "step",
                    str(step_titles.get(ev.kind, ev.kind)),
                    ev.detail or "",
                    titles.get(ev.checkin_id, ""),
                )
            )
        for message in db.session.scalars(
            sa.select(Message)
            .where(Message.person_id == pid)
            .order_by(Message.id.desc())
            .limit(TIMELINE_LIMIT)
        ):
            entries.append(
                Entry(
                    message.created_at,
                    "out",
                    _(
                        "Message sent (%(channel)s, %(kind)s)",
                        channel=message.channel,
                        kind=message.source_kind.value,
                    ),
                    message.body or "",
                    f"{message.to_address or ''} · {message.status.value}",
                )
            )
        inbound_filter = InboundMessage.person_id == pid
    else:
        inbound_filter = InboundMessage.from_address == (case.contact_address or "")
    for inbound in db.session.scalars(
        sa.select(InboundMessage)
        .where(inbound_filter)
        .order_by(InboundMessage.id.desc())
        .limit(TIMELINE_LIMIT)
    ):
        entries.append(
            Entry(
                inbound.received_at,
                "in",
                _("Message received (%(channel)s)", channel=inbound.channel),
                inbound.body,
                inbound.from_address,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


@bp.get("/cases/<int:case_id>")
def case(case_id: int) -> str:
    case = _get_case(case_id)
    person = db.session.get(Person, case.person_id) if case.person_id else None
    province = db.session.get(Province, person.province_code) if person and person.province_code else None
    assign_form = AssignForm()
    assign_form.assignee.choices = _officer_choices()
    assign_form.assignee.data = case.assigned_to_id or 0
    return render_template(
        "cases/detail.html",
        case=case,
        person=person,
        province_name=province.name(current_language()) if province else "",
        assigned=db.session.get(User, case.assigned_to_id) if case.assigned_to_id else None,
        entries=timeline(case),
        note_form=NoteForm(),
        assign_form=assign_form,
        action_form=ActionForm(),
        local_time=local_time,
        via_label=via_label,
        reports=list(
            db.session.scalars(sa.select(Report).where(Report.case_id == case.id).order_by(Report.id))
        ),
        stage_label=stage_label,
    )


@bp.post("/cases/<int:case_id>/<any(acknowledge, resolve, reopen):operation>")
def case_action(case_id: int, operation: str) -> Response:
    case = _get_case(case_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description=_("The form expired; go back, reload the page and try again."))
    target = {
        "acknowledge": CaseStatus.ACKNOWLEDGED,
        "resolve": CaseStatus.RESOLVED,
        "reopen": CaseStatus.OPEN,
    }[operation]
    try:
        transition(case, target, actor=_me(), note=(form.note.data or "").strip() or None)
    except CaseError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.case", case_id=case_id))
    db.session.commit()
    flash(
        {
            "acknowledge": _("Acknowledged. The case is yours until you assign it."),
            "resolve": _("Resolved."),
            "reopen": _("Re-opened."),
        }[operation],
        "success",
    )
    return redirect(url_for("staff.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/note")
def case_note(case_id: int) -> Response:
    case = _get_case(case_id)
    form = NoteForm()
    if not form.validate_on_submit():
        flash(_("Write the note first."), "error")
        return redirect(url_for("staff.case", case_id=case_id))
    try:
        add_note(case, form.body.data or "", actor=_me())
    except CaseError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.case", case_id=case_id))
    db.session.commit()
    flash(_("Note added."), "success")
    return redirect(url_for("staff.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/assign")
def case_assign(case_id: int) -> Response:
    case = _get_case(case_id)
    form = AssignForm()
    form.assignee.choices = _officer_choices()
    if not form.validate_on_submit():
        flash(_("Choose an officer from the list."), "error")
        return redirect(url_for("staff.case", case_id=case_id))
    assignee = db.session.get(User, form.assignee.data) if form.assignee.data else None
    try:
        assign(case, assignee, actor=_me())
    except CaseError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.case", case_id=case_id))
    db.session.commit()
    flash(_("Assigned."), "success")
    return redirect(url_for("staff.case", case_id=case_id))
