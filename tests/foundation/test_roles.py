"""Role guards over every /staff and /rep page, found in the URL map so new pages are covered at once.

Each area is for its roles (/staff: officers and admins; /rep: community representatives), and a view
can narrow that with its own ``roles_required`` (which marks the view with the roles it admits).
Anonymous visitors are sent to log in, logged-in users of other roles get 403, the roles admitted get
the page.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, url_for
from werkzeug.routing import (
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    Rule,
    UUIDConverter,
)

from outreach.models import Role
from outreach.web.security import allowed_roles
from tests.conftest import login

#: Who each area is for (DESIGN §4); a view may narrow it further with its own ``roles_required``.
AREA_ROLES = {
    "staff": frozenset({Role.ADMIN, Role.OFFICER, Role.LIAISON}),
    "rep": frozenset({Role.COMMUNITY_REP}),
}
#: The pages the foundation itself must have; more are found in the URL map.
REQUIRED = {"staff.index", "staff.outbox", "staff.inbox", "rep.index"}


@dataclass(frozen=True)
class Page:
    endpoint: str
    method: str
    url: str
    has_arguments: bool
    roles: frozenset[Role]


def _public_endpoints(app: Flask, blueprint: str) -> frozenset[str]:
    # An area may open a page to anyone (a rep's invitation link); its module lists such pages.
    module = sys.modules[app.blueprints[blueprint].import_name]
    return frozenset(getattr(module, "PUBLIC_ENDPOINTS", frozenset()))


def _sample(converter: BaseConverter) -> Any:
    # Any value of the right shape: the guard decides before the view looks anything up.
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    return "x"


def _url(app: Flask, rule: Rule) -> str:
    converters = rule._converters
    values = {arg: _sample(converters[arg]) for arg in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def guarded_pages(app: Flask) -> Iterator[Page]:
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else None
        if blueprint not in AREA_ROLES or rule.endpoint in _public_endpoints(app, blueprint):
            continue
        roles = AREA_ROLES[blueprint]
        own = allowed_roles(app.view_functions[rule.endpoint])
        if own is not None:
            roles &= own
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Page(rule.endpoint, method, _url(app, rule), bool(rule.arguments), roles)


class _Raised:
    """Stands for the response of a view that raised (the test client re-raises in testing)."""

    def __init__(self, exc: Exception) -> None:
        self.status_code = f"raised {exc!r}"[:300]
        self.headers: dict[str, str] = {}


def _request(client: Any, page: Page) -> Any:
    # One broken page must not hide the verdict on the others: collect, then report them all.
    try:
        # buffered: read and close each response, as a WSGI server does (streamed pages hold a context).
        return client.open(page.url, method=page.method, buffered=True)
    except Exception as exc:
        return _Raised(exc)


def test_the_foundation_pages_are_guarded(app: Flask) -> None:
    assert {p.endpoint for p in guarded_pages(app)} >= REQUIRED


def test_anonymous_visitors_are_sent_to_log_in(app: Flask) -> None:
    client = app.test_client()
    wrong = []
    for page in guarded_pages(app):
        resp = _request(client, page)
        location = resp.headers.get("Location", "")
        if resp.status_code != 302 or not location.startswith("/login?next="):
            wrong.append(f"{page.method} {page.url}: {resp.status_code} {location}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_exactly_its_pages(app: Flask, make_user: Callable[..., Any], role: Role) -> None:
    client = app.test_client()
    login(client, make_user(role.value))
    wrong = []
    for page in guarded_pages(app):
        if role not in page.roles:
            resp = _request(client, page)
            if resp.status_code != 403:
                wrong.append(f"{page.method} {page.url}: {resp.status_code}, expected 403")
        elif page.method == "GET":
            # Admitted. POSTs are not sent: they would act. A page about a record that does not
            # exist may answer 404, never 403, a log-in redirect or a 500.
            resp = _request(client, page)
            expected = {200} if not page.has_arguments else {200, 404}
            if resp.status_code not in expected:
                wrong.append(f"{page.method} {page.url}: {resp.status_code}, expected {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def test_staff_and_rep_areas_are_split(app: Flask, make_user: Callable[..., Any]) -> None:
    rep_client, officer_client, admin_client = app.test_client(), app.test_client(), app.test_client()
    login(rep_client, make_user("community_rep"))
    login(officer_client, make_user("officer"))
    login(admin_client, make_user("admin"))
    assert rep_client.get("/rep/").status_code == 200
    assert rep_client.get("/staff/").status_code == 403
    for staff in (officer_client, admin_client):
        assert staff.get("/staff/").status_code == 200
        assert staff.get("/rep/").status_code == 403
