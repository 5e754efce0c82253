"""The OpenAPI document matches the routes, the reference page renders it, and tokens are managed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import ApiToken
from tests.api.conftest import Api, assert_problem
from tests.conftest import login


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, methods in doc["paths"].items() for method in methods}


def _routed(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in ("api.openapi_json", "api.docs"):
            continue
        path = re.sub(r"<int:(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((method, path))
    return routes


def test_document_is_openapi_3_1_and_covers_every_route(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")  # public: no token needed
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert _documented(doc) == _routed(app)
    wanted = {
        ("GET", "/api/v1/people"),
        ("POST", "/api/v1/people"),
        ("GET", "/api/v1/people/{person_id}"),
        ("PATCH", "/api/v1/people/{person_id}"),
        ("DELETE", "/api/v1/people/{person_id}"),
        ("POST", "/api/v1/alerts"),
        ("GET", "/api/v1/alerts/{alert_id}"),
        ("POST", "/api/v1/alerts/{alert_id}/approve"),
        ("POST", "/api/v1/alerts/{alert_id}/send"),
        ("POST", "/api/v1/alerts/{alert_id}/cancel"),
        ("GET", "/api/v1/alerts/{alert_id}/messages"),
        ("GET", "/api/v1/alerts/{alert_id}/cap"),
        ("POST", "/api/v1/checkins"),
        ("GET", "/api/v1/checkins/{checkin_id}"),
        ("GET", "/api/v1/checkins/{checkin_id}/responses"),
        ("GET", "/api/v1/cases"),
        ("GET", "/api/v1/cases/{case_id}"),
        ("PATCH", "/api/v1/cases/{case_id}"),
        ("GET", "/api/v1/grievances"),
        ("POST", "/api/v1/grievances"),
        ("GET", "/api/v1/grievances/{grievance_id}"),
        ("PATCH", "/api/v1/grievances/{grievance_id}"),
    }
    assert wanted <= _documented(doc)
    schemas = doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            for answer in op["responses"].values():
                for content in answer.get("content", {}).values():
                    ref = content["schema"].get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in schemas
            if "requestBody" in op:
                assert {"400", "413", "415", "422"} <= set(op["responses"])
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_reference_page_lists_every_operation(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in doc["paths"]:
        assert path in html
    assert "AlertCreate" in html and "Authorization: Bearer" in html
    assert "<script" not in html  # rendered on the server, nothing fetched from a CDN


def test_staff_list_create_and_revoke_their_own_tokens(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    officer, colleague = make_user("officer", language="en"), make_user("officer")
    old = make_token(officer, "nightly import")
    theirs = make_token(colleague, "colleague's")
    login(client, officer)

    page = client.get("/staff/api-tokens").get_data(as_text=True)
    assert "nightly import" in page and "colleague&#39;s" not in page and "never" in page

    created = client.post("/staff/api-tokens", data={"name": "alerts bridge"})
    assert created.status_code == 200
    plain = re.search(r'id="new-token">(otr_[^<]+)<', created.get_data(as_text=True))
    assert plain is not None
    assert Api(client, plain.group(1)).get("/alerts").status_code == 200

    with app.app_context():
        mine = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "nightly import"))
        other = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "colleague's"))
        assert mine is not None and other is not None
        mine_id, other_id = mine.id, other.id
    assert client.post(f"/staff/api-tokens/{other_id}/revoke").status_code == 404
    response = client.post(f"/staff/api-tokens/{mine_id}/revoke")
    assert response.status_code == 302
    assert "revoked" in client.get("/staff/api-tokens").get_data(as_text=True)

    anonymous = app.test_client()
    assert_problem(Api(anonymous, old).get("/alerts"), 401)
    assert Api(anonymous, theirs).get("/alerts").status_code == 200


def test_revoking_needs_the_csrf_token(
    make_app: Callable[..., Flask], make_user: Callable[..., Any], make_token: Any
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    officer = make_user("officer")
    make_token(officer)
    client = app.test_client()
    login(client, officer)
    with app.app_context():
        token_id = db.session.scalars(sa.select(ApiToken.id)).one()
    assert client.post(f"/staff/api-tokens/{token_id}/revoke").status_code == 400
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None  # type: ignore[union-attr]


def test_reps_cannot_open_the_token_page(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    login(client, make_user("community_rep"))
    assert client.get("/staff/api-tokens").status_code == 403
