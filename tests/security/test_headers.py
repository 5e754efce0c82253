"""Item 4 of the security issue: every route answers with the security headers, and with
``Cache-Control: no-store`` unless it is one of the few public, cacheable pages.

The walker reads ``app.url_map``, so a route added later is covered without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import AnyConverter, IntegerConverter, Rule
from werkzeug.test import TestResponse

from outreach.extensions import db
from outreach.models import Person
from outreach.registry.links import make_token
from outreach.web.headers import CACHEABLE_ENDPOINTS
from tests.conftest import login

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _directives(response: TestResponse) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    out = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value
    return out


def assert_security_headers(response: TestResponse, path: str, *, no_store: bool) -> None:
    csp = _directives(response)
    where = f"{path} ({response.status_code})"
    assert csp.get("script-src") == "'self'", where
    assert "unsafe-inline" not in csp.get("script-src", "") + csp.get("default-src", ""), where
    assert csp.get("frame-ancestors") == "'none'", where
    assert csp.get("object-src") == "'none'", where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    bearer = path.startswith(("/c/", "/me/"))
    assert response.headers.get("Referrer-Policy") == ("no-referrer" if bearer else "same-origin"), where
    if no_store or bearer:
        assert "no-store" in response.headers.get("Cache-Control", ""), where


def _sample_path(rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "sample"
    built = rule.build(values, append_unknown=False)
    assert built is not None
    return built[1]


def _method(rule: Rule) -> str:
    methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
    return "GET" if "GET" in methods else sorted(methods)[0]


@pytest.fixture
def csrf_app(make_app: Callable[..., Flask]) -> Flask:
    # CSRF on: the walker's POSTs are refused before any view runs (and still carry the headers).
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_route_sends_the_security_headers(
    csrf_app: Flask, make_user: Callable[..., Any], who: str
) -> None:
    client = csrf_app.test_client()
    if who == "admin":
        login(client, make_user("admin"))
    rules = [r for r in csrf_app.url_map.iter_rules()]
    assert len(rules) > 80  # the whole app, not a stub
    checked = 0
    for rule in rules:
        path = _sample_path(rule)
        response = client.open(path, method=_method(rule))
        assert_security_headers(response, path, no_store=rule.endpoint not in CACHEABLE_ENDPOINTS)
        checked += 1
    assert checked == len(rules)


def test_pages_with_personal_data_are_no_store(
    app: Flask, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> None:
    """Real answers (200s, not just refusals): a staff page, an export, the API, the new token page."""
    pid = make_person()
    client = app.test_client()
    admin = make_user("admin")
    login(client, admin)
    for path in ("/staff/people", f"/staff/people/{pid}"):
        response = client.get(path)
        assert response.status_code == 200
        assert_security_headers(response, path, no_store=True)
    export = client.post("/staff/people/export.csv")
    assert export.status_code == 200
    assert export.get_data(as_text=True).count("\n") == 2  # header and the one person
    assert_security_headers(export, "/staff/people/export.csv", no_store=True)
    created = client.post("/staff/api-tokens", data={"name": "bridge"}, follow_redirects=True)
    assert "otr_" in created.get_data(as_text=True)
    assert_security_headers(created, "/staff/api-tokens", no_store=True)
    token = re.search(r"otr_[A-Za-z0-9_-]+", created.get_data(as_text=True))
    assert token is not None
    api = app.test_client().get("/api/v1/people", headers={"Authorization": f"Bearer {token.group(0)}"})
    assert api.status_code == 200
    assert_security_headers(api, "/api/v1/people", no_store=True)
    with app.app_context():
        person = db.session.get(Person, pid)
        assert person is not None
        me_path = f"/me/{make_token(person)}"
    me = app.test_client().get(me_path)
    assert me.status_code == 200
    assert_security_headers(me, me_path, no_store=True)


def test_public_pages_may_be_cached_but_keep_the_other_headers(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert_security_headers(response, "/", no_store=False)


def test_hsts_only_when_the_site_is_https(make_app: Callable[..., Flask]) -> None:
    plain = make_app().test_client().get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = make_app(PUBLIC_BASE_URL="https://outreach.example").test_client().get("/")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    """The CSP forbids them: they would silently stop working in the browser."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if _INLINE_SCRIPT.search(text) or _HANDLER.search(text):
            offenders.append(str(template.relative_to(TEMPLATES)))
    assert offenders == []
