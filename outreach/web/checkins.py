"""Check-in pages: create, approve and send (staff), the live dashboard, lists, the call list, and the
public one-tap page ``/c/<code>``.

Views are thin: parse input, call one operation from ``outreach.checkins``, commit, respond.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf import FlaskForm
from limits import parse as parse_limit
from werkzeug.wrappers import Response
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from outreach.alerts.forms import CHANNEL_CHOICES, SEVERITY_CHOICES, AudienceForm, MultiCheckboxField
from outreach.audit import record
from outreach.checkins import dashboard, hooks  # noqa: F401  (hooks: registers handlers at app start)
from outreach.checkins.links import expires_at, link_for, lookup
from outreach.checkins.operations import (
    CheckInClosedError,
    CheckInError,
    close_checkin,
    create_checkin,
    record_answer,
    staff_record_answer,
)
from outreach.checkins.render import CAMBODIA, local_time
from outreach.checkins.verification import VERIFY_METHODS, VerificationError, confirm_safe
from outreach.csvexport import csv_chunks
from outreach.extensions import csrf, db, limiter
from outreach.i18n import LOCALES, current_language, for_person_language
from outreach.models import (
    Alert,
    AlertStatus,
    Answer,
    AnswerVia,
    CheckIn,
    CheckInRecipient,
    CheckInResponse,
    CheckInStep,
    Person,
    Severity,
    User,
    utcnow,
)
from outreach.registry.presence import cambodia_today
from outreach.web.pagination import paginate
from outreach.web.staff import bp
from outreach.zones import location as zone_location

#: ``/c/<code>``: no log-in, no JavaScript, in the person's language.
public_bp = Blueprint("checkin_public", __name__)


def _me() -> User:
    user: User = current_user._get_current_object()  # the real User, not the proxy
    return user


# --- forms ---------------------------------------------------------------------------------------


def _hours_list(raw: str | None) -> list[int]:
    parts = [p for p in (raw or "").replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        raise ValidationError(_l("Write whole hours separated by commas, for example 2, 6.")) from exc


def as_select_choices(form: FlaskForm) -> None:
    """WTForms 3.3 deprecates tuple choices; turn every field's tuples into ``SelectChoice``."""
    for field in form:
        choices = getattr(field, "choices", None)
        if isinstance(choices, list):
            field.choices = [SelectChoice(*c) if isinstance(c, tuple) else c for c in choices]


class CheckInForm(AudienceForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    severity = SelectField(_l("Severity"), choices=SEVERITY_CHOICES, default=Severity.MODERATE.value)
    question_ko = TextAreaField(_l("Question in Korean (required)"), validators=[DataRequired()])
    question_en = TextAreaField(_l("Question in English (optional; Korean is sent when empty)"))
    question_km = TextAreaField(_l("Question in Khmer (optional; Korean is sent when empty)"))
    channels = MultiCheckboxField(
        _l("Channels"), choices=CHANNEL_CHOICES, default=["sms", "whatsapp", "email"]
    )
    deadline = DateTimeLocalField(
        _l("Deadline (Cambodia time)"), validators=[DataRequired()], format="%Y-%m-%dT%H:%M"
    )
    grace_hours = IntegerField(
        _l("Links keep working this many hours after the deadline"),
        default=24,
        validators=[NumberRange(min=0, max=168)],
    )
    reminder_hours = StringField(_l("Remind non-responders after (hours, e.g. 2, 6)"), default="2, 6")
    escalate_email_hours = IntegerField(_l("E-mail non-responders after (hours)"), validators=[Optional()])
    escalate_contact_hours = IntegerField(
        _l("Contact their emergency contact (where they consented) after (hours)"), validators=[Optional()]
    )
    escalate_rep_hours = IntegerField(
        _l("Tell the province's community representatives after (hours)"), validators=[Optional()]
    )
    parent_alert_id = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        as_select_choices(self)

    def validate_channels(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one channel."))

    def validate_reminder_hours(self, field: StringField) -> None:
        _hours_list(field.data)

    def escalation(self) -> list[dict[str, Any]]:
        steps = [
            (self.escalate_email_hours.data, "email"),
            (self.escalate_contact_hours.data, "emergency_contact"),
            (self.escalate_rep_hours.data, "community_rep"),
        ]
        chosen = [(hours, action) for hours, action in steps if hours]
        # The configured order is the order of the hours (ties keep e-mail → contact → representative).
        return [
            {"after_hours": hours, "action": action} for hours, action in sorted(chosen, key=lambda s: s[0])
        ]

    def deadline_utc(self) -> datetime | None:
        value = self.deadline.data
        return value.replace(tzinfo=CAMBODIA) if isinstance(value, datetime) else None


class ActionForm(FlaskForm):
    """An empty form: CSRF for the workflow buttons."""


class StaffAnswerForm(FlaskForm):
    answer = SelectField(
        _l("Answer"),
        choices=[
            SelectChoice(Answer.SAFE.value, _l("Safe")),
            SelectChoice(Answer.NEED_HELP.value, _l("Needs help")),
        ],
    )
    note = StringField(_l("Note"), validators=[Length(max=1000)])


# --- staff: list and create ------------------------------------------------------------------------


def _get_checkin(checkin_id: int) -> tuple[CheckIn, Alert]:
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None:
        abort(404, description=_("There is no check-in %(id)s.", id=checkin_id))
    alert = db.session.get(Alert, checkin.alert_id)
    assert alert is not None
    return checkin, alert


@bp.get("/checkins")
def checkins() -> str:
    stmt = sa.select(CheckIn, Alert).join(Alert, Alert.id == CheckIn.alert_id).order_by(CheckIn.id.desc())
    page = paginate(stmt, request.args.get("page"), scalars=False)
    ids = [row[0].id for row in page.items]
    totals: dict[int, dict[str, int]] = {i: {a.value: 0 for a in dashboard.ANSWERS} for i in ids}
    if ids:
        for checkin_id, answer, n in db.session.execute(
            sa.select(CheckInRecipient.checkin_id, CheckInRecipient.answer, sa.func.count())
            .where(CheckInRecipient.checkin_id.in_(ids))
            .group_by(CheckInRecipient.checkin_id, CheckInRecipient.answer)
        ):
            totals[checkin_id][Answer(answer).value] = int(n)
    return render_template("checkins/list.html", page=page, totals=totals, local_time=local_time)


@bp.route("/checkins/new", methods=["GET", "POST"])
def new_checkin() -> str | Response:
    form = CheckInForm()
    parent = None
    raw_parent = request.args.get("alert") or form.parent_alert_id.data
    if raw_parent and str(raw_parent).isdigit():
        parent = db.session.get(Alert, int(raw_parent))
    if request.method == "GET":
        deadline = (
            (utcnow() + timedelta(hours=24))
            .astimezone(CAMBODIA)
            .replace(tzinfo=None, second=0, microsecond=0)
        )
        form.deadline.data = deadline
        for lang in LOCALES:
            with for_person_language(lang):
                getattr(form, f"question_{lang}").data = _("Are you safe? Please let the embassy know.")
        if parent is not None:
            form.parent_alert_id.data = str(parent.id)
            form.title.data = _("Check-in: %(title)s", title=parent.title)[:200]
            form.load_audience(parent.audience or {})
            form.channels.data = list(parent.channels) or ["sms"]
    if form.validate_on_submit():
        deadline_utc = form.deadline_utc()
        assert deadline_utc is not None
        try:
            checkin = create_checkin(
                title=form.title.data or "",
                questions={lang: getattr(form, f"question_{lang}").data or "" for lang in LOCALES},
                audience=form.audience(),
                channels=list(form.channels.data or []),
                deadline=deadline_utc,
                grace_hours=form.grace_hours.data if form.grace_hours.data is not None else 24,
                reminder_hours=_hours_list(form.reminder_hours.data),
                escalation=form.escalation(),
                severity=Severity(form.severity.data or Severity.MODERATE.value),
                parent_alert_id=parent.id if parent is not None else None,
                actor=_me(),
            )
        except CheckInError as exc:
            db.session.rollback()
            field = _form_field(form, exc.field)
            if field is not None:
                field.errors = [*field.errors, str(exc)]
            else:
                flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Check-in saved as a draft. Review it, then submit it for sending."), "success")
            return redirect(url_for("staff.checkin", checkin_id=checkin.id))
    return render_template("checkins/new.html", form=form, parent=parent)


def _form_field(form: CheckInForm, name: str | None) -> Any:
    mapping = {
        "body_ko": "question_ko",
        "body_en": "question_en",
        "body_km": "question_km",
        "escalation": "escalate_email_hours",
    }
    if not name:
        return None
    return getattr(form, mapping.get(name, name), None)


# --- staff: dashboard --------------------------------------------------------------------------


@bp.get("/checkins/<int:checkin_id>")
def checkin(checkin_id: int) -> str:
    checkin, alert = _get_checkin(checkin_id)
    data = dashboard.counts(checkin.id, current_language())
    steps = list(
        db.session.scalars(
            sa.select(CheckInStep).where(CheckInStep.checkin_id == checkin.id).order_by(CheckInStep.position)
        )
    )
    need_help = db.session.execute(dashboard.people(checkin.id, Answer.NEED_HELP.value).limit(20)).all()
    return render_template(
        "checkins/dashboard.html",
        checkin=checkin,
        alert=alert,
        data=data,
        bars=dashboard.bars(data),
        steps=steps,
        need_help=need_help,
        form=ActionForm(),
        local_time=local_time,
        link_expires=expires_at(checkin),
        now=utcnow(),
    )


@bp.get("/checkins/<int:checkin_id>/counts.json")
def checkin_counts(checkin_id: int) -> Response:
    checkin, _alert = _get_checkin(checkin_id)
    response = jsonify(dashboard.counts(checkin.id, current_language()).as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/checkins/<int:checkin_id>/people")
def checkin_people(checkin_id: int) -> str:
    checkin, alert = _get_checkin(checkin_id)
    answer = request.args.get("answer") or None
    province = request.args.get("province") or None
    if answer is not None and answer not in {a.value for a in dashboard.ANSWERS} | {dashboard.UNVERIFIED}:
        abort(400, description=_("Unknown answer filter."))
    page = paginate(dashboard.people(checkin.id, answer, province), request.args.get("page"), scalars=False)
    return render_template(
        "checkins/people.html",
        checkin=checkin,
        alert=alert,
        page=page,
        answer=answer,
        province=province,
        answer_form=StaffAnswerForm(),
        confirm_form=ConfirmSafeForm(),
        local_time=local_time,
    )


class ConfirmSafeForm(FlaskForm):
    how = SelectField(
        _l("How it was confirmed"),
        choices=[SelectChoice(key, label) for key, label in VERIFY_METHODS.items()],
        validators=[DataRequired()],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


@bp.post("/checkins/<int:checkin_id>/people/<int:person_id>/confirm")
def checkin_confirm_safe(checkin_id: int, person_id: int) -> Response:
    """An officer confirms an unverified "safe" (after a call, a video, meeting them); audited."""
    checkin, _alert = _get_checkin(checkin_id)
    recipient = db.session.scalar(
        sa.select(CheckInRecipient).where(
            CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.person_id == person_id
        )
    )
    if recipient is None:
        abort(404, description=_("This person was not asked in this check-in."))
    form = ConfirmSafeForm()
    back = url_for("staff.checkin_people", checkin_id=checkin.id, answer=dashboard.UNVERIFIED)
    if not form.validate_on_submit():
        flash(_("Say how the answer was confirmed."), "error")
        return redirect(back)
    try:
        confirm_safe(recipient, actor=_me(), how=form.how.data or "", note=form.note.data)
    except VerificationError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    db.session.commit()
    flash(_("The answer is confirmed."), "success")
    return redirect(back)


@bp.post("/checkins/<int:checkin_id>/people/<int:person_id>/answer")
def checkin_staff_answer(checkin_id: int, person_id: int) -> Response:
    checkin, _alert = _get_checkin(checkin_id)
    recipient = db.session.scalar(
        sa.select(CheckInRecipient).where(
            CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.person_id == person_id
        )
    )
    if recipient is None:
        abort(404, description=_("This person was not asked in this check-in."))
    form = StaffAnswerForm()
    back = request.form.get("next") or url_for("staff.checkin_people", checkin_id=checkin.id)
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("staff.checkin_people", checkin_id=checkin.id)
    if not form.validate_on_submit():
        flash(_("The answer could not be recorded: choose safe or needs help."), "error")
        return redirect(back)
    try:
        result = staff_record_answer(recipient, form.answer.data or "", actor=_me(), note=form.note.data)
    except CheckInError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    db.session.commit()
    flash(
        _("Answer recorded.") if result.recorded else _("Nothing changed: that answer was already recorded."),
        "success",
    )
    return redirect(back)


@bp.get("/checkins/<int:checkin_id>/call-list.csv")
def checkin_call_list(checkin_id: int) -> Response:
    """Non-responders for the phone team. Personal data leaves the system: the export is audited."""
    checkin, _alert = _get_checkin(checkin_id)
    count = int(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                CheckInRecipient.checkin_id == checkin.id, CheckInRecipient.answer == Answer.NO_RESPONSE
            )
        )
        or 0
    )
    record("checkin.call_list_export", target=checkin, rows=count)
    db.session.commit()

    def generate() -> Iterator[str]:
        yield from csv_chunks(dashboard.CALL_LIST_HEADER, dashboard.call_list_rows(checkin.id))

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="checkin-{checkin.id}-call-list.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/checkins/<int:checkin_id>/<any(submit, approve, send, cancel, close):operation>")
def checkin_action(checkin_id: int, operation: str) -> Response:
    """The alert workflow (the same approval rule as any alert), and closing the check-in."""
    from outreach.alerts import workflow

    checkin, alert = _get_checkin(checkin_id)
    if not ActionForm().validate_on_submit():
        abort(400, description=_("The form expired; go back, reload the page and try again."))
    me = _me()
    try:
        if operation == "submit":
            workflow.submit(alert, actor=me, today=cambodia_today())
            if alert.status == AlertStatus.APPROVED:
                workflow.send(alert, actor=me)
                message = _("Sending started.")
            else:
                message = _("Submitted. A second officer must approve this check-in before it is sent.")
        elif operation == "approve":
            workflow.approve(alert, actor=me)
            workflow.send(alert, actor=me)
            message = _("Approved. Sending started.")
        elif operation == "send":
            workflow.send(alert, actor=me)
            message = _("Sending started.")
        elif operation == "cancel":
            workflow.cancel(alert, actor=me)
            message = _("Cancelled.")
        else:
            close_checkin(checkin, actor=me)
            message = _("Check-in closed: links no longer take answers and no more reminders are sent.")
    except (workflow.WorkflowError, CheckInError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.checkin", checkin_id=checkin_id))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("staff.checkin", checkin_id=checkin_id))


# --- public: the one-tap page --------------------------------------------------------------------


class AnswerForm(FlaskForm):
    note = TextAreaField(_l("Message to the embassy (optional)"), validators=[Optional(), Length(max=1000)])
    location = StringField(_l("Where are you? (optional)"), validators=[Optional(), Length(max=300)])
    safe = SubmitField(_l("I am safe"))
    need_help = SubmitField(_l("I need help"))


ANSWER_LABELS = {Answer.SAFE: _l("I am safe"), Answer.NEED_HELP: _l("I need help")}


def _page_language(person: Person | None) -> str:
    requested = request.args.get("lang")
    if requested in LOCALES:
        return str(requested)
    if person is not None and person.language in LOCALES:
        return person.language
    return request.accept_languages.best_match(LOCALES) or "ko"


def _tiny(template: str, status: int, language: str, **context: Any) -> Response:
    with for_person_language(language):
        body = render_template(template, language=language, **context)
    response = make_response(body, status)
    # A personal page: never cached by a shared proxy, never leaking its code through a Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


#: Unknown codes one client may try per minute before it is told to wait (valid codes never count).
BAD_CODE_LIMIT = parse_limit("30/minute")


def _bad_code_client() -> str:
    """Who a failed look-up is counted against: the address *and* the browser.

    After an incident one carrier-NAT address serves thousands of phones: a script guessing codes
    behind it must not make everyone else's mistyped link say "too many". (Valid codes are never
    limited at all; this only decides who shares a budget of failures.)
    """
    agent = hashlib.sha256(request.headers.get("User-Agent", "").encode()).hexdigest()[:16]
    return f"{get_remote_address()}|{agent}"


def _too_many_bad_codes() -> bool:
    """Count one failed look-up; True once this client is past :data:`BAD_CODE_LIMIT`."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    return not limiter.limiter.hit(BAD_CODE_LIMIT, "checkin-bad-code", _bad_code_client())


@public_bp.route("/c/<code>", methods=["GET", "POST"])
@csrf.exempt  # the form validates its own CSRF token, so a stale token gets a friendly page, not a 400
def answer(code: str) -> Response:
    """The one-tap page. Only failed look-ups are rate-limited: a valid code is always answered,
    however many wrong ones came from the same address before it (carrier NAT)."""
    found = lookup(code)
    person = db.session.get(Person, found.recipient.person_id) if found.recipient else None
    if found.state == "invalid" or person is None or person.deleted_at is not None:
        if _too_many_bad_codes():
            response = _tiny("checkins/link_problem.html", 429, _page_language(None), problem="too_many")
            response.headers["Retry-After"] = "60"
            return response
        return _tiny("checkins/link_problem.html", 404, _page_language(None), problem="invalid")
    language = _page_language(person)
    assert found.recipient is not None and found.checkin is not None
    recipient, checkin = found.recipient, found.checkin
    if found.state == "expired":
        return _tiny("checkins/link_problem.html", 410, language, problem="expired")
    with for_person_language(language):
        form = AnswerForm()
    error = None
    if request.method == "POST":
        if form.validate_on_submit() and (form.safe.data or form.need_help.data):
            choice = Answer.NEED_HELP if form.need_help.data else Answer.SAFE
            try:
                result = record_answer(recipient, choice, AnswerVia.LINK, form.note.data, form.location.data)
                # Coordinates come only after a tap on "share my location" (static/checkin-location.js).
                coordinates = zone_location.parse(
                    request.form.get("latitude"), request.form.get("longitude"), request.form.get("accuracy")
                )
                if coordinates is not None and result.response is not None:
                    zone_location.record(person, result.response, *coordinates)
            except CheckInClosedError:
                db.session.rollback()
                return _tiny("checkins/link_problem.html", 410, language, problem="expired")
            db.session.commit()
            target = url_for("checkin_public.answer", code=recipient.code, done=1)
            if request.args.get("lang") in LOCALES:
                target += f"&lang={request.args['lang']}"
            return redirect(target, code=303)
        error = "form"
    alert = db.session.get(Alert, checkin.alert_id)
    assert alert is not None
    content = alert.content_for(language)
    last = db.session.scalar(
        sa.select(CheckInResponse)
        .where(CheckInResponse.checkin_id == checkin.id, CheckInResponse.person_id == recipient.person_id)
        .order_by(CheckInResponse.id.desc())
        .limit(1)
    )
    return _tiny(
        "checkins/answer.html",
        400 if error else 200,
        language,
        form=form,
        question=content.body if content else alert.title,
        recipient=recipient,
        person=person,
        last=last,
        done=bool(request.args.get("done")) and recipient.answer != Answer.NO_RESPONSE,
        error=error,
        deadline=local_time(checkin.deadline),
        labels=ANSWER_LABELS,
        code=recipient.code,
        languages=LOCALES,
        link=link_for(recipient.code),
    )
