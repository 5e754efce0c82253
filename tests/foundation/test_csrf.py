"""CSRF protection, switched on as in production (the other tests switch it off for brevity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.foundation.conftest import PASSWORD, csrf_token, english


@pytest.fixture
def csrf_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return english(make_app(WTF_CSRF_ENABLED=True).test_client())


def test_login_without_token_is_refused(csrf_client: FlaskClient, make_user: Callable[..., Any]) -> None:
    user = make_user("officer")
    resp = csrf_client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert "The CSRF token is missing." in resp.get_data(as_text=True)
    assert csrf_client.get("/staff/").status_code == 302


def test_login_with_a_forged_token_is_refused(
    csrf_client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user = make_user("officer")
    csrf_client.get("/login")
    resp = csrf_client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert resp.status_code == 400
    assert csrf_client.get("/staff/").status_code == 302


def test_login_with_the_token_works(csrf_client: FlaskClient, make_user: Callable[..., Any]) -> None:
    user = make_user("community_rep")  # no second step (officers' is in tests/security/test_twofactor.py)
    token = csrf_token(csrf_client.get("/login").get_data(as_text=True))
    resp = csrf_client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/rep/"
    assert csrf_client.get("/rep/").status_code == 200


def test_token_from_another_session_is_refused(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    user = make_user("officer")
    attacker, victim = app.test_client(), app.test_client()
    stolen = csrf_token(attacker.get("/login").get_data(as_text=True))
    victim.get("/login")
    resp = victim.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": stolen})
    assert resp.status_code == 400
