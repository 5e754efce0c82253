"""Item 2 of the security issue: TOTP for admins and officers, recovery codes, admin reset, lock-out,
audited failures and logouts, and the password policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash

from outreach.accounts import AccountError, create_user
from outreach.extensions import db
from outreach.models import AuditEvent, RecoveryCode, User, UserSession
from outreach.passwords import password_problem
from tests.conftest import enrol_totp, form_login, login, totp_code

PASSWORD = "correct horse battery"


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/staff/people").status_code == 200


def test_an_officer_with_a_second_factor_needs_the_code(app: Flask, make_user: Callable[..., Any]) -> None:
    officer = make_user("officer")
    secret = enrol_totp(app, officer)
    client = app.test_client()
    first = client.post("/login", data={"email": officer.email, "password": PASSWORD})
    assert first.headers["Location"] == "/login/code"
    assert not _signed_in(client)  # the password alone opens nothing
    wrong = client.post("/login/code", data={"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and not _signed_in(client)
    good = client.post("/login/code", data={"code": totp_code(secret)})
    assert good.status_code == 302 and _signed_in(client)
    assert "user.login_failed" in _actions(app) and _actions(app)[-1] == "user.login"


def test_a_code_works_once(app: Flask, make_user: Callable[..., Any]) -> None:
    officer = make_user("officer")
    secret = enrol_totp(app, officer)
    first, second = app.test_client(), app.test_client()
    assert form_login(first, app, officer.email, PASSWORD, secret).status_code == 302 and _signed_in(first)
    code = totp_code(secret)
    second.post("/login", data={"email": officer.email, "password": PASSWORD})
    second.post("/login/code", data={"code": code})
    assert not _signed_in(second)  # the same code replayed


def test_admins_and_officers_must_enrol_with_a_qr_code(app: Flask, make_user: Callable[..., Any]) -> None:
    admin = make_user("admin")
    client = app.test_client()
    assert client.post("/login", data={"email": admin.email, "password": PASSWORD}).headers["Location"] == (
        "/login/code"
    )
    assert client.get("/login/code").headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and not _signed_in(client)
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert match is not None
    secret = match.group(1)
    done = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert "no-store" in done.headers["Cache-Control"]
    assert _signed_in(client)
    with app.app_context():
        user = db.session.get(User, admin.id)
        assert user is not None and user.totp_secret == secret and user.totp_enabled_at is not None
        stored = list(db.session.scalars(sa.select(RecoveryCode.code_hash)))
        assert len(stored) == 10 and not any(c in h for c in codes for h in stored)  # hashed
        assert any(check_password_hash(h, codes[0]) for h in stored)
    # A recovery code stands in for the phone, once.
    other = app.test_client()
    other.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert other.post("/login/code", data={"code": codes[0]}).status_code == 302 and _signed_in(other)
    again = app.test_client()
    again.post("/login", data={"email": admin.email, "password": PASSWORD})
    again.post("/login/code", data={"code": codes[0]})
    assert not _signed_in(again)


def test_representatives_may_sign_in_without_a_second_factor(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    rep = make_user("community_rep")
    client = app.test_client()
    assert (
        client.post("/login", data={"email": rep.email, "password": PASSWORD}).headers["Location"] == "/rep/"
    )
    assert client.get("/login/enrol").status_code == 200  # and may enrol when they want


def test_an_admin_resets_a_second_factor_and_it_is_audited(app: Flask, make_user: Callable[..., Any]) -> None:
    officer = make_user("officer")
    secret = enrol_totp(app, officer)
    officer_client = app.test_client()
    assert form_login(officer_client, app, officer.email, PASSWORD, secret).status_code == 302
    admin_client = app.test_client()
    admin = make_user("admin")
    login(admin_client, admin)
    users_page = admin_client.get("/staff/users").get_data(as_text=True)
    assert f"/staff/users/{officer.id}/reset-second-factor" in users_page
    assert admin_client.post(f"/staff/users/{officer.id}/reset-second-factor").status_code == 303
    assert not _signed_in(officer_client)  # their sessions ended
    with app.app_context():
        user = db.session.get(User, officer.id)
        assert user is not None and user.totp_secret is None
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "user.second_factor_reset")
        )
        assert event is not None and event.actor_id == admin.id and event.target_id == officer.id
        assert (
            db.session.scalar(sa.select(UserSession.end_reason).where(UserSession.user_id == officer.id))
            == "second_factor_reset"
        )
    officer_only = app.test_client()
    login(officer_only, make_user("officer"))
    assert officer_only.post(f"/staff/users/{officer.id}/reset-second-factor").status_code == 403


def test_five_failures_lock_the_account(app: Flask, make_user: Callable[..., Any]) -> None:
    rep = make_user("community_rep")
    client = app.test_client()
    for _ in range(5):
        client.post("/login", data={"email": rep.email, "password": "not the password"})
    locked = client.post("/login", data={"email": rep.email, "password": PASSWORD})
    assert (
        locked.status_code == 200 and "locked" in locked.get_data(as_text=True).lower()
    ) or "잠" in locked.get_data(as_text=True)
    assert client.get("/rep/").status_code == 302
    actions = _actions(app)
    assert actions.count("user.login_failed") == 5 and "user.locked" in actions
    assert actions[-1] == "user.login_refused_locked"


def test_logout_is_audited(app: Flask, make_user: Callable[..., Any]) -> None:
    rep = make_user("community_rep")
    client = app.test_client()
    client.post("/login", data={"email": rep.email, "password": PASSWORD})
    client.post("/logout")
    assert _actions(app)[-1] == "user.logout"


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short pass", False),
        ("q1w2e3r4t5y6", False),
        ("QWERTY123456", False),
        ("correct horse battery", True),
    ],
)
def test_password_policy(app: Flask, password: str, ok: bool) -> None:
    with app.test_request_context():
        assert (password_problem(password) is None) is ok
        if not ok:
            with pytest.raises(AccountError):
                create_user(email="new@test.outreach", role="officer", password=password)
