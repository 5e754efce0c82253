"""Logging in and out: passwords, deactivated accounts, where a log-in may lead, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import AuditEvent, User
from tests.conftest import enrol_totp, login, totp_code
from tests.foundation.conftest import PASSWORD, csrf_token, english

WRONG = "Wrong e-mail or password."


def _post_login(
    client: FlaskClient, email: str, password: str, next_: str | None = None, secret: str | None = None
) -> Any:
    """The log-in form, then the authenticator code when the account has ``secret`` as its second factor."""
    url = "/login" if next_ is None else "/login?next=" + quote(next_, safe="")
    response = client.post(url, data={"email": email, "password": password})
    if secret is not None and response.headers.get("Location") == "/login/code":
        response = client.post("/login/code", data={"code": totp_code(secret)})
    return response


def test_officer_logs_in_with_the_right_password(
    app: Flask, en_client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user = make_user("officer", email="officer.kim@embassy.example")
    secret = enrol_totp(app, user)

    # Addresses are matched without regard to case or surrounding spaces.
    resp = _post_login(en_client, "  Officer.Kim@EMBASSY.example ", PASSWORD, secret=secret)

    assert resp.status_code == 302
    assert resp.headers["Location"] == "/staff/"
    assert en_client.get("/staff/").status_code == 200
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None and stored.last_login_at is not None
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.login"))
        assert event is not None and event.actor_id == user.id


def test_community_rep_lands_on_the_rep_portal(en_client: FlaskClient, make_user: Callable[..., Any]) -> None:
    rep = make_user("community_rep")
    resp = _post_login(en_client, rep.email, PASSWORD)
    assert resp.headers["Location"] == "/rep/"


@pytest.mark.parametrize(
    ("email", "password"),
    [("officer1@test.outreach", "wrong password!"), ("nobody@test.outreach", PASSWORD)],
    ids=["wrong-password", "unknown-address"],
)
def test_log_in_fails_with_one_clear_message(
    en_client: FlaskClient, make_user: Callable[..., Any], email: str, password: str
) -> None:
    make_user("officer")  # officer1@test.outreach
    resp = _post_login(en_client, email, password)
    # The same answer for a wrong password and an unknown address: no hint which addresses exist.
    assert resp.status_code == 200
    assert WRONG in resp.get_data(as_text=True)
    assert en_client.get("/staff/").status_code == 302


def test_empty_form_is_answered_with_field_errors(en_client: FlaskClient) -> None:
    resp = en_client.post("/login", data={"email": "", "password": ""})
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).count("This field is required.") == 2


def test_account_without_password_cannot_log_in(
    en_client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    invited = make_user("community_rep", password=None)
    resp = _post_login(en_client, invited.email, "any password at all")
    assert WRONG in resp.get_data(as_text=True)


def test_deactivated_user_cannot_log_in(
    app: Flask, en_client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user = make_user("officer")
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user.id).values(active=False))
        db.session.commit()
    resp = _post_login(en_client, user.email, PASSWORD)
    assert resp.status_code == 200
    assert "This account has been deactivated." in resp.get_data(as_text=True)
    assert en_client.get("/staff/").status_code == 302


def test_deactivating_an_account_ends_its_open_sessions(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user = make_user("officer")
    login(client, user)
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user.id).values(active=False))
        db.session.commit()
    resp = client.get("/staff/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_passwords_are_stored_salted_and_hashed(app: Flask, make_user: Callable[..., Any]) -> None:
    first, second = make_user("officer"), make_user("admin")
    with app.app_context():
        hashes = [db.session.get(User, u.id).password_hash for u in (first, second)]  # type: ignore[union-attr]
        stored = db.session.get(User, first.id)
        assert stored is not None
        assert stored.check_password(PASSWORD)
        assert not stored.check_password(PASSWORD.upper())
    for h in hashes:
        assert h and PASSWORD not in h
        assert h.split(":")[0] in {"scrypt", "pbkdf2"}
    # Salted: the same password never gives the same hash.
    assert hashes[0] != hashes[1]


def test_logged_in_user_visiting_login_goes_home(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    login(client, make_user("admin"))
    resp = client.get("/login")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/staff/"


def test_log_out_is_a_post_with_csrf_token(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    client = english(app.test_client())
    login(client, make_user("officer"))
    page = client.get("/staff/")
    token = csrf_token(page.get_data(as_text=True))

    assert client.get("/logout").status_code == 405
    # Without the token nothing happens: a hostile page cannot log staff out.
    assert client.post("/logout").status_code == 400
    assert client.get("/staff/").status_code == 200

    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login"
    assert "You have logged out." in client.get("/login").get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("/staff/outbox", True),
        ("/staff/outbox?page=2", True),
        ("http://evil.example/", False),
        ("https://evil.example/staff/", False),
        ("//evil.example/", False),
        ("/\\evil.example/", False),  # browsers read /\ as //
        ("/\t/evil.example/", False),  # browsers drop the tab
        ("https:evil.example", False),
        ("javascript:alert(1)", False),
        ("staff/outbox", False),
    ],
)
def test_next_only_follows_local_paths(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], target: str, followed: bool
) -> None:
    user = make_user("officer")
    resp = _post_login(client, user.email, PASSWORD, next_=target, secret=enrol_totp(app, user))
    assert resp.status_code == 302
    assert resp.headers["Location"] == (target if followed else "/staff/")


def test_language_switch_only_returns_to_local_paths(client: FlaskClient) -> None:
    resp = client.get("/lang/en?next=" + quote("/\\evil.example/", safe=""))
    assert resp.headers["Location"] == "/"
    resp = client.get("/lang/km?next=" + quote("/login?lang=en&next=/staff/", safe=""))
    # The chosen language is remembered and a stale ?lang= does not override it.
    assert resp.headers["Location"] == "/login?next=%2Fstaff%2F"
    assert "lang=km" in resp.headers["Set-Cookie"]
    assert '<html lang="km">' in client.get("/").get_data(as_text=True)


def test_login_attempts_are_rate_limited(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    user = make_user("officer")
    statuses = [_post_login(client, user.email, "wrong password!").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
