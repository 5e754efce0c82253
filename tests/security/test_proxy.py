"""Item 3 of the security issue: behind TRUSTED_PROXIES proxies, limits and audit see the client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import AuditEvent

PASSWORD = "correct horse battery"


def _login_events(app: Flask) -> list[str | None]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.ip).order_by(AuditEvent.id)))


def _post_login(app: Flask, email: str, forwarded: str, password: str = "wrong password!") -> int:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
    )
    return response.status_code


def test_audit_ip_is_the_clients_behind_one_trusted_proxy(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app(TRUSTED_PROXIES=1)
    user = make_user("community_rep")
    assert _post_login(app, user.email, "198.51.100.7", PASSWORD) == 302
    assert _login_events(app)[-1] == "198.51.100.7"


def test_forwarded_headers_are_ignored_without_trusted_proxies(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app()
    user = make_user("community_rep")
    assert _post_login(app, user.email, "198.51.100.7", PASSWORD) == 302
    assert _login_events(app)[-1] == "10.0.0.2"


def test_rate_limits_count_per_client_not_per_proxy(make_app: Callable[..., Flask]) -> None:
    app = make_app(TRUSTED_PROXIES=1, RATELIMIT_ENABLED=True)
    first = [_post_login(app, "nobody@test.outreach", "198.51.100.7") for _ in range(11)]
    assert first[-1] == 429  # the login limit is 10 a minute
    # Another client behind the same proxy is not locked out by the first one.
    assert _post_login(app, "nobody@test.outreach", "198.51.100.8") == 200
