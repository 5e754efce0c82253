"""Staff → users: every account at a glance (all staff), and inviting community representatives (admins).

An invited representative has no password until they follow the e-mailed link; the list shows whether
the invitation is pending, expired or accepted, and an admin can send a fresh link.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from outreach import twofactor
from outreach.extensions import db
from outreach.grievances import invitations
from outreach.grievances.errors import NotAllowed, ValidationError
from outreach.i18n import LANGUAGE_NAMES, LOCALES
from outreach.models import Invitation, Organisation, Role, User, utcnow
from outreach.web.pagination import paginate
from outreach.web.rep import as_choices, province_choices
from outreach.web.security import admin_required
from outreach.web.staff import bp

ROLE_LABELS = {
    Role.ADMIN: _l("Admin"),
    Role.OFFICER: _l("Officer"),
    Role.COMMUNITY_REP: _l("Community representative"),
    Role.LIAISON: _l("Task-force liaison officer"),
}
NEW_ORGANISATION = "__new__"


def _me() -> User:
    return cast(User, current_user._get_current_object())


class InviteRepForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(message=_l("Enter the representative's e-mail address.")),
            Email(message=_l("Enter a valid e-mail address.")),
            Length(max=254, message=_l("The e-mail address is too long.")),
        ],
    )
    name = StringField(
        _l("Name"),
        validators=[
            Optional(),
            Length(max=100, message=_l("The name is too long (at most %(max)d characters).")),
        ],
    )
    organisation_id = SelectField(_l("Organisation"), validators=[Optional()])
    new_organisation = StringField(
        _l("Or a new organisation"),
        validators=[
            Optional(),
            Length(max=200, message=_l("The organisation's name is too long (at most %(max)d characters).")),
        ],
    )
    province_code = SelectField(_l("Province"), validators=[DataRequired(message=_l("Choose a province."))])
    language = SelectField(_l("Language of the e-mails"), default="ko")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs = db.session.scalars(sa.select(Organisation).order_by(Organisation.name))
        self.organisation_id.choices = as_choices([("", _("Choose…"))] + [(str(o.id), o.name) for o in orgs])
        self.province_code.choices = as_choices(province_choices(blank=_("Choose…")))
        self.language.choices = as_choices([(code, LANGUAGE_NAMES[code]) for code in LOCALES])

    def organisation_name(self) -> str:
        new = (self.new_organisation.data or "").strip()
        if new:
            return new
        raw = self.organisation_id.data or ""
        org = db.session.get(Organisation, int(raw)) if raw.isdigit() else None
        return org.name if org else ""


@bp.get("/users")
def users() -> str:
    stmt = sa.select(User).order_by(User.role, User.name, User.email)
    role = request.args.get("role", "")
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == Role(role))
    else:
        role = ""
    page = paginate(stmt, request.args.get("page"))
    ids = [u.id for u in page.items]
    latest: dict[int, Invitation] = {}
    if ids:
        newest = (
            sa.select(sa.func.max(Invitation.id))
            .where(Invitation.user_id.in_(ids))
            .group_by(Invitation.user_id)
        )
        for inv in db.session.scalars(sa.select(Invitation).where(Invitation.id.in_(newest))):
            latest[inv.user_id] = inv
    form = InviteRepForm(formdata=None) if _me().role == Role.ADMIN else None
    return render_template(
        "admin/users.html",
        page=page,
        role=role,
        invitations=latest,
        form=form,
        role_labels=ROLE_LABELS,
        now=utcnow(),
    )


@bp.route("/users/invite", methods=["GET", "POST"])
@admin_required
def invite_rep() -> str | Response | tuple[str, int]:
    form = InviteRepForm()
    if form.validate_on_submit():
        data = invitations.RepInput(
            email=form.email.data or "",
            name=form.name.data or "",
            organisation=form.organisation_name(),
            province_code=form.province_code.data or "",
            language=form.language.data or "ko",
        )
        try:
            user, _invitation = invitations.invite_rep(data, _me())
        except ValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                target = "organisation_id" if name == "organisation" else name
                getattr(form, target, form.email).errors.append(message)
            return render_template("admin/invite.html", form=form), 422
        except NotAllowed:
            db.session.rollback()
            abort(403)
        email = user.email
        db.session.commit()
        flash(
            _(
                "Invitation sent to %(email)s. The link works for %(hours)d hours.",
                email=email,
                hours=invitations.invitation_hours(),
            ),
            "success",
        )
        return redirect(url_for("staff.users"), code=303)
    return render_template("admin/invite.html", form=form), (422 if request.method == "POST" else 200)


@bp.post("/users/<int:user_id>/resend-invitation")
@admin_required
def resend_invitation(user_id: int) -> Response:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    try:
        invitations.resend_invitation(user, _me())
    except ValidationError as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("staff.users"), code=303)
    email = user.email
    db.session.commit()
    flash(_("A new invitation was sent to %(email)s; earlier links no longer work.", email=email), "success")
    return redirect(url_for("staff.users"), code=303)


@bp.post("/users/<int:user_id>/reset-second-factor")
@admin_required
def reset_second_factor(user_id: int) -> Response:
    """For a lost phone: the user enrols again at the next sign-in; audited, their sessions end."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    twofactor.reset(user, _me())
    email = user.email
    db.session.commit()
    flash(
        _(
            "Two-factor sign-in of %(email)s was reset; they set it up again at their next log-in.",
            email=email,
        ),
        "success",
    )
    return redirect(url_for("staff.users"), code=303)
