"""The API's plumbing: bearer tokens, roles, problem+json errors, body limits, cookies and CSRF."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import ApiToken, User
from tests.api.conftest import Api, assert_problem
from tests.conftest import login


def test_no_token_is_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/people")
    body = assert_problem(response, 401)
    assert "create-token" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer otr_not-a-real-token", "Token abc", "Bearer " + "x" * 500],
)
def test_bad_authorization_headers_are_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/people", headers={"Authorization": header})
    assert_problem(response, 401)
    assert "error=" in response.headers["WWW-Authenticate"]


def test_a_token_acts_as_its_user_and_records_its_last_use(app: Flask, api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.last_used_at)) is None
    assert officer.get("/people").status_code == 200
    with app.app_context():
        token = db.session.scalars(sa.select(ApiToken)).one()
        assert token.last_used_at is not None
        assert token.user_id == officer.user.id  # type: ignore[attr-defined]


def test_revoked_token_and_deactivated_user_are_401(app: Flask, api_as: Callable[..., Api]) -> None:
    from outreach.accounts import revoke_token

    revoked = api_as("officer")
    deactivated = api_as("officer")
    with app.app_context():
        token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == revoked.user.id))  # type: ignore[attr-defined]
        assert token is not None
        revoke_token(token)
        user = db.session.get(User, deactivated.user.id)  # type: ignore[attr-defined]
        assert user is not None
        user.active = False
        db.session.commit()
    assert_problem(revoked.get("/people"), 401)
    assert_problem(deactivated.get("/people"), 401)


def test_a_browser_session_is_ignored_and_never_set(
    client: FlaskClient, make_user: Callable[..., Any]
) -> None:
    """A logged-in staff browser cannot use the API with its cookie (no CSRF through the API)."""
    officer = make_user("officer")
    login(client, officer)
    assert client.get("/staff/").status_code == 200  # the session works for the staff pages
    response = client.get("/api/v1/people")
    assert_problem(response, 401)
    assert "Set-Cookie" not in response.headers


def test_post_needs_no_csrf_token(
    make_app: Callable[..., Flask], make_user: Callable[..., Any], make_token: Any
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    user = make_user("community_rep")
    token = make_token(user)
    response = app.test_client().post(
        "/api/v1/grievances",
        json={
            "category": "unpaid_work",
            "province_code": "KH-12",
            "title": "Wages withheld",
            "description": "Twelve workers have not been paid for three months.",
            "police_sharing_consent": False,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/people", "community_rep"),
        ("/alerts", "community_rep"),
        ("/cases", "community_rep"),
        ("/checkins/1", "community_rep"),
    ],
)
def test_wrong_role_is_403(api_as: Callable[..., Api], path: str, role: str) -> None:
    body = assert_problem(api_as(role).get(path), 403)
    assert "community_rep" in body["detail"]


def test_malformed_json_is_400(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    for raw in (b"{not json", b'{"title": "x"', b"\xff\xfe", b"[" * 100_000, b"NaN", b""):
        response = officer.post("/alerts", data=raw, headers={"Content-Type": "application/json"})
        assert_problem(response, 400)


def test_body_that_is_not_json_is_415(api_as: Callable[..., Api]) -> None:
    response = api_as("officer").post(
        "/alerts", data="title=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_problem(response, 415)


def test_body_over_the_limit_is_413(
    make_app: Callable[..., Flask], make_user: Callable[..., Any], make_token: Any
) -> None:
    app = make_app(API_MAX_BODY_BYTES=2048)
    token = make_token(make_user("officer"))
    client = app.test_client()
    big = {"title": "x", "content": {"ko": {"body": "가" * 5000}}, "channels": ["sms"]}
    response = client.post("/api/v1/alerts", json=big, headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(response, 413)
    assert "2048" in body["detail"]
    # Without Content-Length (chunked), the limit still holds.
    response = client.post(
        "/api/v1/alerts",
        input_stream=io.BytesIO(b'{"title": "' + b"x" * 5000 + b'"}'),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        # What a real server passes for a chunked body: no length, and a stream that ends by itself.
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert_problem(response, 413)


def test_validation_errors_name_every_failing_field(api_as: Callable[..., Api]) -> None:
    response = api_as("officer").post(
        "/alerts", json={"title": "", "severity": "Apocalyptic", "channels": "sms", "surprise": 1}
    )
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"title", "severity", "content", "channels", "surprise"} <= fields


def test_text_the_database_cannot_store_is_422(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    body = assert_problem(officer.post("/alerts", json={"title": "a\x00b"}), 422)
    assert body["errors"][0]["field"] == "title"
    assert_problem(officer.get("/people", query_string={"q": "a\x00"}), 422)
    lone_surrogate = b'{"title": "\\ud800"}'
    assert_problem(
        officer.post("/alerts", data=lone_surrogate, headers={"Content-Type": "application/json"}), 422
    )


def test_bad_query_values_are_422(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    for query in ({"page": "zero"}, {"page": "0"}, {"status": "asleep"}, {"province": "KH-99"}):
        body = assert_problem(officer.get("/people", query_string=query), 422)
        assert body["errors"][0]["field"] in query


def test_unknown_ids_are_404_even_when_huge(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    for path in (
        "/people/999",
        "/people/99999999999999999999",
        "/alerts/5",
        "/cases/7",
        "/checkins/3",
        "/grievances/4",
    ):
        assert_problem(officer.get(path), 404)


def test_unknown_path_and_method_answer_problem_json(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    assert_problem(officer.get("/nothing-here"), 404)
    assert_problem(officer.call("PUT", "/people"), 405)


def test_times_have_an_offset_and_ids_are_integers(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    make_person()
    item = api_as("officer").get("/people").get_json()["items"][0]
    assert isinstance(item["id"], int)
    assert item["created_at"].endswith("+00:00")


def test_cli_create_token_prints_a_working_token(app: Flask, make_user: Callable[..., Any]) -> None:
    user = make_user("officer")
    result = app.test_cli_runner().invoke(
        args=["create-token", "--user", user.email, "--name", "nightly import"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    response = app.test_client().get("/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    with app.app_context():
        stored = db.session.scalars(sa.select(ApiToken)).one()
        assert stored.name == "nightly import"
        assert token not in stored.token_hash  # only the hash is stored
