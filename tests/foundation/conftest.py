"""Helpers for the foundation's tests (log-in, roles, CSRF, configuration, CLI, jobs, migrations)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

#: make_user's default password.
PASSWORD = "correct horse battery"

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def english(client: FlaskClient) -> FlaskClient:
    """Ask for English, as a browser set to English would (the default language is Korean)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def en_client(app: Flask) -> FlaskClient:
    return english(app.test_client())
