"""Staff and representative log-in."""

from __future__ import annotations

import time
from functools import cache

import sqlalchemy as sa
from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from outreach import sessions, twofactor
from outreach.audit import record
from outreach.extensions import db, limiter, login_manager
from outreach.models import Role, User, utcnow
from outreach.twofactor import LOCK_MINUTES
from outreach.web.security import safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    # No syntax check on the address: it is only looked up, and an account created with an address the
    # validator dislikes (e.g. ``@embassy.local``) must still be able to log in.
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # Checked on every request, not only at log-in: deactivating an account ends its open sessions.
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def home_for(user: User) -> str:
    if user.role == Role.COMMUNITY_REP:
        return url_for("rep.index")
    return url_for("staff.index")


@cache
def _dummy_hash() -> str:
    return generate_password_hash("no account has this password")


def _authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
    if user is None:
        # Spend the same time as a real check, so response times do not reveal which addresses exist.
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


#: How long the step between the password and the second factor may take.
PENDING_SECONDS = 300
_PENDING = "_pending_login"
_ENROL_SECRET = "_enrol_secret"


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=20)],
    )


def _locked_message() -> str:
    return _(
        "Too many failed attempts. This account is locked for %(minutes)d minutes.", minutes=LOCK_MINUTES
    )


def _complete_login(user: User, via: str) -> Response:
    session.pop(_PENDING, None)
    session.pop(_ENROL_SECRET, None)
    target = safe_next(session.pop("_login_next", None))
    login_user(user)
    sessions.start(user)
    twofactor.register_success(user)
    user.last_login_at = utcnow()
    record("user.login", actor=user, target=user, second_factor=via)
    db.session.commit()
    return redirect(target or home_for(user))


def _pending_user() -> User | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = db.session.get(User, int(pending.get("uid", 0)))
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
        if user is not None and twofactor.is_locked(user):
            record("user.login_refused_locked", actor=user, target=user)
            db.session.commit()
            flash(_locked_message(), "error")
        elif _authenticate(email, form.password.data or "") is None:
            if user is not None:
                twofactor.register_failure(user, "password")
            else:
                record("user.login_failed", target_type="user", email=email[:254], stage="password")
            db.session.commit()
            flash(_("Wrong e-mail or password."), "error")
        elif not user or not user.active:
            flash(_("This account has been deactivated. Ask an administrator to reactivate it."), "error")
        elif not user.has_totp and not user.needs_totp:
            session["_login_next"] = request.args.get("next")
            return _complete_login(user, "none")
        else:
            session[_PENDING] = {"uid": user.id, "at": time.time()}
            session["_login_next"] = request.args.get("next")
            return redirect(url_for("auth.second_factor"))
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def second_factor() -> str | Response:
    """The second step: a code from the authenticator app (or a recovery code); enrolment when needed."""
    user = _pending_user()
    if user is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    if not user.has_totp:
        return redirect(url_for("auth.enrol"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        if twofactor.is_locked(user):
            flash(_locked_message(), "error")
            return redirect(url_for("auth.login"))
        via = twofactor.verify(user, form.code.data or "")
        if via is not None:
            return _complete_login(user, via)
        twofactor.register_failure(user, "second_factor")
        db.session.commit()
        form.code.errors = [_("This code is not right, or it was already used. Try the next one.")]
    return render_template("auth/second_factor.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def enrol() -> str | Response:
    """Set up the authenticator app: scan the QR code (or type the key), then type a code from it.

    Reached during sign-in (admins and officers must), or by a signed-in representative who wants one.
    """
    user = _pending_user() or (current_user._get_current_object() if current_user.is_authenticated else None)
    if user is None:
        return redirect(url_for("auth.login"))
    if user.has_totp:
        # Replacing a working factor needs an admin's reset (audited), not just an open session.
        flash(_("Two-factor sign-in is already set up for this account."), "info")
        return redirect(home_for(user))
    secret = session.get(_ENROL_SECRET)
    if not isinstance(secret, str):
        secret = twofactor.new_secret()
        session[_ENROL_SECRET] = secret
    form = SecondFactorForm()
    if form.validate_on_submit():
        codes = twofactor.enable(user, secret, form.code.data or "")
        if codes is not None:
            session.pop(_ENROL_SECRET, None)
            target = safe_next(session.get("_login_next")) or home_for(user)
            if current_user.is_authenticated:
                db.session.commit()
            else:
                _complete_login(user, "enrolled")
            return render_template("auth/recovery_codes.html", codes=codes, next=target)
        twofactor.register_failure(user, "enrolment")
        db.session.commit()
        form.code.errors = [_("This code is not right. Check the time on your phone and try again.")]
    uri = twofactor.provisioning_uri(user, secret)
    return render_template("auth/enrol.html", form=form, qr=Markup(twofactor.qr_svg(uri)), secret=secret)


@bp.post("/logout")
@login_required
def logout() -> Response:
    # Ended on the server too: a copy of the cookie saved before logging out opens nothing.
    sessions.end(sessions.current_token(), "logout")
    record("user.logout", target=current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
