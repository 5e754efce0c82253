"""Staff and representative log-in."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from outreach import sessions
from outreach.audit import record
from outreach.extensions import db, limiter, login_manager
from outreach.models import Role, User, utcnow
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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = _authenticate(email, form.password.data or "")
        if user is None:
            flash(_("Wrong e-mail or password."), "error")
        elif not user.active:
            flash(_("This account has been deactivated. Ask an administrator to reactivate it."), "error")
        else:
            login_user(user)
            sessions.start(user)
            user.last_login_at = utcnow()
            record("user.login", actor=user, target=user)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form)


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
