"""Staff → API tokens: see one's own bearer tokens (when made, when last used), make one, revoke one.

The plain token is shown once, in the answer to the request that made it, and never stored (only its
SHA-256 is); it is not put in a flash message because the session cookie is signed, not encrypted.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length, Optional

from outreach.accounts import create_token, revoke_token
from outreach.extensions import db
from outreach.models import ApiToken, User
from outreach.web.staff import bp


class NewTokenForm(FlaskForm):
    name = StringField(
        _l("What the token is for"),
        validators=[
            Optional(),
            Length(max=100, message=_l("The name is too long (at most %(max)d characters).")),
        ],
    )


class RevokeForm(FlaskForm):
    """Only the CSRF token: revoking is a state change and must not be triggered from another site."""


def _me() -> User:
    return cast(User, current_user._get_current_object())


def _render(form: NewTokenForm, new_token: str | None = None) -> str:
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == _me().id).order_by(ApiToken.id.desc())
    ).all()
    return render_template(
        "api/tokens.html", tokens=tokens, form=form, revoke_form=RevokeForm(), new_token=new_token
    )


@bp.get("/api-tokens")
def api_tokens() -> str:
    return _render(NewTokenForm())


@bp.post("/api-tokens")
def create_api_token() -> str:
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _render(form)
    _, plain = create_token(_me(), (form.name.data or "").strip())
    db.session.commit()
    return _render(NewTokenForm(formdata=None), new_token=plain)


@bp.post("/api-tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int) -> Response:
    if not RevokeForm().validate_on_submit():
        abort(400)
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == _me().id)
    )
    if token is None:
        abort(404)
    revoke_token(token, actor=_me())
    db.session.commit()
    flash(_("The token was revoked; programs using it now get 401."), "success")
    return redirect(url_for("staff.api_tokens"))
