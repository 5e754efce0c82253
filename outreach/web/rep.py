"""Community representatives' portal: submit grievances, follow each one, read the embassy's replies.

Representatives see only their own organisation's grievances, never the registry (every ``/staff``
page answers them 403). The invitation page (``invitation_bp``) is open without logging in.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from outreach.extensions import db, limiter
from outreach.grievances import invitations, labels, operations
from outreach.grievances.errors import NotAllowed, ValidationError
from outreach.grievances.invitations import InvitationProblem, InvitationRefused
from outreach.grievances.timeutil import format_age, format_hours, format_local
from outreach.grievances.workflow import OPEN_STATUSES
from outreach.i18n import current_language
from outreach.models import Grievance, GrievanceStatus, Province, Urgency, User
from outreach.web.pagination import paginate
from outreach.web.security import rep_required

bp = Blueprint("rep", __name__)
#: The invitation link arrives by e-mail before the representative can log in: a blueprint of its own,
#: outside the representatives' guard.
invitation_bp = Blueprint("invitation", __name__)

#: Default cap on submissions per representative; ``GRIEVANCE_SUBMISSION_LIMIT`` overrides it.
DEFAULT_SUBMISSION_LIMIT = "10 per hour;40 per day"


@bp.before_request
@rep_required
def _guard() -> None:
    """Every /rep page is for community representatives only; staff get 403."""
    return None


def _me() -> User:
    return cast(User, current_user._get_current_object())


# --- template helpers, available to every template (staff pages use them too) --------------------


@bp.app_template_filter("grievance_category")
def _category_filter(value: Any) -> str:
    return labels.category_label(value)


@bp.app_template_filter("grievance_urgency")
def _urgency_filter(value: Any) -> str:
    return labels.urgency_label(value)


@bp.app_template_filter("grievance_status")
def _status_filter(value: Any) -> str:
    return labels.status_label(value)


@bp.app_template_filter("local_time")
def _local_time_filter(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return format_local(value, fmt)


@bp.app_template_global("format_age")
def _format_age(delta: Any) -> str:
    return format_age(delta)


@bp.app_template_global("format_hours")
def _format_hours(hours: float | None) -> str:
    return format_hours(hours)


@bp.app_template_global("province_name")
def province_name(code: str | None) -> str:
    if not code:
        return ""
    province = db.session.get(Province, code)
    return province.name(current_language()) if province else code


# --- forms -------------------------------------------------------------------------------------------


def as_choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """WTForms 3.3 wants ``SelectChoice`` objects (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


def province_choices(blank: str | None = None) -> list[tuple[str, str]]:
    lang = current_language()
    provinces = db.session.scalars(sa.select(Province).order_by(Province.number))
    choices = [(p.code, p.name(lang)) for p in provinces]
    return ([("", blank)] if blank is not None else []) + choices


class GrievanceForm(FlaskForm):
    category = SelectField(_l("Category"), validators=[DataRequired(message=_l("Choose a category."))])
    province_code = SelectField(_l("Province"), validators=[DataRequired(message=_l("Choose a province."))])
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(message=_l("Give the grievance a short title.")),
            Length(
                max=operations.TITLE_MAX, message=_l("The title is too long (at most %(max)d characters).")
            ),
        ],
    )
    description = TextAreaField(
        _l("What happened?"),
        validators=[
            DataRequired(message=_l("Describe what happened.")),
            Length(
                max=operations.DESCRIPTION_MAX,
                message=_l("The description is too long (at most %(max)d characters)."),
            ),
        ],
    )
    people_affected = IntegerField(
        _l("Number of people affected"),
        default=1,
        validators=[
            InputRequired(message=_l("Enter the number of people affected.")),
            NumberRange(
                min=1,
                max=operations.PEOPLE_MAX,
                message=_l("Enter the number of people affected (1 to %(max)d)."),
            ),
        ],
    )
    urgency = RadioField(_l("Urgency"), default=Urgency.NORMAL.value)
    contact_consent = BooleanField(_l("The affected people agree that the embassy contacts them"))
    contact_info = TextAreaField(
        _l("Their contact details (optional)"),
        validators=[
            Optional(),
            Length(
                max=operations.CONTACT_MAX,
                message=_l("The contact details are too long (at most %(max)d characters)."),
            ),
        ],
    )
    police_sharing_consent = RadioField(
        _l("May the embassy share this grievance with the Cambodian police?"),
        choices=[
            SelectChoice("yes", _l("Yes, it may be shared with the police")),
            SelectChoice("no", _l("No, do not share it with the police")),
        ],
        validators=[
            InputRequired(message=_l("Answer whether this grievance may be shared with the police."))
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = as_choices(
            [("", _("Choose…"))] + [(c.value, str(lbl)) for c, lbl in labels.CATEGORY_LABELS.items()]
        )
        self.province_code.choices = as_choices(province_choices(blank=_("Choose…")))
        self.urgency.choices = as_choices([(u.value, str(lbl)) for u, lbl in labels.URGENCY_LABELS.items()])

    def validate_contact_info(self, field: TextAreaField) -> None:
        if (field.data or "").strip() and not self.contact_consent.data:
            from wtforms.validators import ValidationError as FieldError

            raise FieldError(
                _("Leave the contact details empty unless the affected people agree to be contacted.")
            )

    def as_data(self) -> dict[str, Any]:
        return {
            "category": self.category.data,
            "province_code": self.province_code.data,
            "title": self.title.data,
            "description": self.description.data,
            "people_affected": self.people_affected.data,
            "urgency": self.urgency.data,
            "contact_consent": bool(self.contact_consent.data),
            "contact_info": self.contact_info.data,
            "police_sharing_consent": self.police_sharing_consent.data,
        }


class AcceptInvitationForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(message=_l("Choose a password.")),
            Length(
                min=invitations.PASSWORD_MIN,
                max=invitations.PASSWORD_MAX,
                message=_l("Choose a password of %(min)d to %(max)d characters."),
            ),
        ],
    )
    confirm = PasswordField(
        _l("The same password again"), validators=[DataRequired(message=_l("Repeat the password."))]
    )


# --- views -------------------------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    me = _me()
    visible = operations.visible_grievances_for(me).subquery()
    counts = dict(
        db.session.execute(sa.select(visible.c.status, sa.func.count()).group_by(visible.c.status))
        .tuples()
        .all()
    )
    recent = list(
        db.session.scalars(operations.visible_grievances_for(me).order_by(Grievance.id.desc()).limit(5))
    )
    return render_template(
        "rep/index.html",
        counts=[(s, counts.get(s, counts.get(s.value, 0))) for s in GrievanceStatus],
        recent=recent,
        open_count=sum(n for s, n in counts.items() if GrievanceStatus(s) in OPEN_STATUSES),
    )


@bp.get("/grievances")
def grievances() -> str:
    stmt = operations.visible_grievances_for(_me()).order_by(Grievance.created_at.desc(), Grievance.id.desc())
    status = request.args.get("status", "")
    if status in {s.value for s in GrievanceStatus}:
        stmt = stmt.where(Grievance.status == GrievanceStatus(status))
    else:
        status = ""
    page = paginate(stmt, request.args.get("page"))
    return render_template("rep/grievances.html", page=page, status=status)


def _submission_limit() -> str:
    return str(current_app.config.get("GRIEVANCE_SUBMISSION_LIMIT") or DEFAULT_SUBMISSION_LIMIT)


def _submission_key() -> str:
    # Keyed on the account, not the address: reps often share one office connection.
    return f"grievance-submit:user:{current_user.get_id()}"


def _limit_message() -> str:
    return _(
        "You have submitted many grievances in a short time, so this one was not saved. "
        "Please wait a while and try again. In an emergency, call the embassy."
    )


@bp.route("/grievances/new", methods=["GET", "POST"])
@limiter.limit(
    _submission_limit,
    key_func=_submission_key,
    methods=["POST"],
    error_message=_limit_message,
    # Only submissions that were saved count; a form sent back with errors does not use up the allowance.
    deduct_when=lambda response: response.status_code in (302, 303),
)
def new_grievance() -> str | Response | tuple[str, int]:
    me = _me()
    form = GrievanceForm()
    if request.method == "GET" and me.province_code:
        form.province_code.data = me.province_code
    if form.validate_on_submit():
        try:
            grievance = operations.submit_grievance(me, form.as_data())
        except ValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                getattr(form, name, form.title).errors.append(message)
            return render_template("rep/grievance_new.html", form=form), 422
        except NotAllowed as exc:
            db.session.rollback()
            abort(403, description=str(exc))
        db.session.commit()
        flash(
            _("Your grievance was submitted. Its reference is %(ref)s.", ref=grievance.reference),
            "success",
        )
        return redirect(url_for("rep.grievance", grievance_id=grievance.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("rep/grievance_new.html", form=form), status


@bp.get("/grievances/<int:grievance_id>")
def grievance(grievance_id: int) -> str:
    me = _me()
    item = operations.get_visible(me, grievance_id)
    if item is None:
        abort(
            404, description=_("There is no grievance with this number among your organisation's grievances.")
        )
    entries = operations.entries_for(me, item)
    return render_template(
        "rep/grievance.html",
        grievance=item,
        entries=entries,
        explanation=labels.STATUS_EXPLANATIONS.get(item.status),
    )


@invitation_bp.route("/<token>", methods=["GET", "POST"])
def accept(token: str) -> str | Response | tuple[str, int]:
    try:
        invitation = invitations.resolve_token(token)
    except InvitationRefused as exc:
        return _invitation_problem(exc.problem)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = invitations.accept_invitation(
                invitation, form.password.data or "", form.confirm.data or ""
            )
        except ValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                getattr(form, name, form.password).errors.append(message)
            return render_template("rep/invitation.html", form=form, invitation=invitation), 422
        except InvitationRefused as exc:
            db.session.rollback()
            return _invitation_problem(exc.problem)
        email = user.email
        db.session.commit()
        flash(_("Your password is set. Log in with your e-mail address %(email)s.", email=email), "success")
        return redirect(url_for("auth.login"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("rep/invitation.html", form=form, invitation=invitation), status


def _invitation_problem(problem: InvitationProblem) -> tuple[str, int]:
    status = 400 if problem == InvitationProblem.INVALID else 410
    return render_template("rep/invitation_problem.html", problem=problem.value), status


__all__ = ["bp", "invitation_bp"]
