"""Item 1 of the security issue: sessions end on the server (logout, changes, idle, lifetime)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import AuditEvent, Role, User, UserSession
from tests.conftest import login


def _copy_cookie(source: FlaskClient, target: FlaskClient) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def _can_open_registry(client: FlaskClient) -> bool:
    return client.get("/staff/people").status_code == 200


def test_a_cookie_saved_before_logout_opens_nothing_after(app: Flask, make_user: Callable[..., Any]) -> None:
    officer = make_user("officer")
    browser = app.test_client()
    login(browser, officer)
    assert _can_open_registry(browser)
    thief = app.test_client()
    _copy_cookie(browser, thief)
    assert _can_open_registry(thief)
    assert browser.post("/logout").status_code == 302
    assert not _can_open_registry(thief)
    assert thief.get("/staff/people").headers["Location"].startswith("/login")
    with app.app_context():
        row = db.session.scalars(sa.select(UserSession)).one()
        assert row.end_reason == "logout"
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.logout")) is not None


def _change(app: Flask, user_id: int, **values: Any) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        for key, value in values.items():
            if key == "password":
                user.set_password(value)
            else:
                setattr(user, key, value)
        db.session.commit()


def test_password_role_and_deactivation_end_every_session(app: Flask, make_user: Callable[..., Any]) -> None:
    for change, reason in (
        ({"password": "a brand new passphrase"}, "password"),
        ({"role": Role.ADMIN}, "role"),
        ({"active": False}, "deactivated"),
    ):
        user = make_user("officer")
        phone, laptop = app.test_client(), app.test_client()
        login(phone, user)
        login(laptop, user)
        assert _can_open_registry(phone) and _can_open_registry(laptop)
        _change(app, user.id, **change)
        assert not _can_open_registry(phone) and not _can_open_registry(laptop)
        with app.app_context():
            reasons = set(
                db.session.scalars(sa.select(UserSession.end_reason).where(UserSession.user_id == user.id))
            )
        assert reasons == {reason}


def test_an_unrelated_change_ends_nothing(app: Flask, make_user: Callable[..., Any]) -> None:
    user = make_user("officer")
    client = app.test_client()
    login(client, user)
    _change(app, user.id, name="Renamed", on_duty=True)
    assert _can_open_registry(client)


def _age(app: Flask, *, created: timedelta, seen: timedelta) -> None:
    with app.app_context():
        row = db.session.scalars(sa.select(UserSession)).one()
        row.created_at = row.created_at - created
        row.last_seen_at = row.last_seen_at - seen
        db.session.commit()


def test_idle_timeout(make_app: Callable[..., Flask], make_user: Callable[..., Any]) -> None:
    app = make_app(SESSION_IDLE_MINUTES=30)
    client = app.test_client()
    login(client, make_user("officer"))
    _age(app, created=timedelta(minutes=29), seen=timedelta(minutes=29))
    assert _can_open_registry(client)  # and that request counts as activity
    _age(app, created=timedelta(minutes=31), seen=timedelta(minutes=31))
    assert not _can_open_registry(client)
    with app.app_context():
        assert db.session.scalars(sa.select(UserSession.end_reason)).one() == "idle"


def test_absolute_lifetime(make_app: Callable[..., Flask], make_user: Callable[..., Any]) -> None:
    app = make_app(SESSION_MAX_HOURS=12)
    client = app.test_client()
    login(client, make_user("officer"))
    _age(app, created=timedelta(hours=11, minutes=59), seen=timedelta(seconds=0))
    assert _can_open_registry(client)
    _age(app, created=timedelta(minutes=2), seen=timedelta(seconds=0))
    assert not _can_open_registry(client)
    with app.app_context():
        assert db.session.scalars(sa.select(UserSession.end_reason)).one() == "expired"


def test_a_forged_cookie_without_a_server_session_is_refused(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    user = make_user("officer")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # what the cookie alone used to need
    assert not _can_open_registry(client)
