"""Fixtures for the JSON API tests: tokens for users of each role and a small client helper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from outreach.extensions import db


@pytest.fixture
def make_token(app: Flask) -> Callable[..., str]:
    """A new bearer token for ``user`` (a detached User from ``make_user``)."""
    from outreach.accounts import create_token
    from outreach.models import User

    def factory(user: Any, name: str = "test") -> str:
        with app.app_context():
            _, plain = create_token(db.session.get(User, user.id), name)
            db.session.commit()
        return plain

    return factory


class Api:
    """``client`` with a bearer token; ``api.get("/people")`` calls ``/api/v1/people``."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> TestResponse:
        return self.client.open("/api/v1" + path, method=method, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api_as(
    client: FlaskClient, make_user: Callable[..., Any], make_token: Callable[..., str]
) -> Callable[..., Api]:
    """``api_as("officer")`` → an :class:`Api` acting as a new user of that role (``.user`` is the user)."""

    def factory(role: str = "officer", **kwargs: Any) -> Api:
        user = make_user(role, **kwargs)
        api = Api(client, make_token(user))
        api.user = user  # type: ignore[attr-defined]
        return api

    return factory


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status`` and a non-empty detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body
