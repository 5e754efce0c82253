"""The operator's commands (DESIGN §4): create-user, create-token, seed-demo."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.accounts import user_for_token
from outreach.extensions import db
from outreach.models import ApiToken, Organisation, Person, PhoneNumber, Role, User
from tests.foundation.conftest import english

PASSWORD = "a long enough password"


def _user(app: Flask, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        assert user is not None
        db.session.expunge(user)
        return user


def test_create_user_with_every_option(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "Rep.Park@Community.example",
            "--role",
            "community_rep",
            "--name",
            "박대표",
            "--phone",
            "012 345 678",
            "--language",
            "km",
            "--duty",
            "--organisation",
            "시엠립 한인회",
            "--province",
            "KH-17",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created community_rep rep.park@community.example" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "rep.park@community.example"))
        assert user is not None
        assert (user.role, user.name, user.phone, user.language, user.on_duty, user.province_code) == (
            Role.COMMUNITY_REP,
            "박대표",
            "+85512345678",
            "km",
            True,
            "KH-17",
        )
        assert user.organisation is not None and user.organisation.name == "시엠립 한인회"
        assert user.organisation.province_code == "KH-17"
        assert user.check_password(PASSWORD)


def test_create_user_defaults(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "officer@embassy.example",
            "--role",
            "officer",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    user = _user(app, "officer@embassy.example")
    assert (user.role, user.language, user.on_duty, user.phone, user.organisation_id) == (
        Role.OFFICER,
        "ko",
        False,
        None,
        None,
    )


def test_create_user_asks_for_the_password(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=["create-user", "--email", "admin@embassy.example", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert PASSWORD not in result.output  # typed, never echoed
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "admin@embassy.example"))
        assert user is not None and user.check_password(PASSWORD)


def test_create_user_prompt_needs_matching_passwords(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=["create-user", "--email", "admin@embassy.example", "--role", "admin"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "superuser"], "'superuser' is not one of 'admin', 'officer', 'community_rep'"),
        (["--role", "community_rep"], "needs an organisation"),
        (["--role", "officer", "--province", "KH-99"], "unknown province KH-99"),
        (["--role", "officer", "--phone", "12"], "This number has the wrong number of digits."),
        (["--role", "officer", "--language", "fr"], "'fr' is not one of 'ko', 'en', 'km'"),
    ],
    ids=["bad-role", "rep-without-organisation", "bad-province", "bad-phone", "bad-language"],
)
def test_create_user_refuses_bad_input(app: Flask, runner: Any, args: list[str], message: str) -> None:
    result = runner.invoke(
        args=["create-user", "--email", "x@embassy.example", "--password", PASSWORD, *args]
    )
    assert result.exit_code != 0
    assert result.exception is None or isinstance(
        result.exception, SystemExit
    )  # an error message, no traceback
    assert "Error" in result.output
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_create_user_refuses_a_short_password(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=["create-user", "--email", "x@embassy.example", "--role", "admin", "--password", "short"]
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output


def test_create_user_refuses_a_duplicate_email(app: Flask, runner: Any) -> None:
    first = ["create-user", "--email", "kim@embassy.example", "--role", "officer", "--password", PASSWORD]
    assert runner.invoke(args=first).exit_code == 0
    again = ["create-user", "--email", "KIM@embassy.example", "--role", "admin", "--password", PASSWORD]
    result = runner.invoke(args=again)
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert _user(app, "kim@embassy.example").role == Role.OFFICER


def test_create_token_prints_only_the_token_and_stores_its_hash(
    app: Flask, runner: Any, make_user: Any
) -> None:
    user = make_user("officer")
    result = runner.invoke(args=["create-token", "--user", user.email.upper(), "--name", "automation"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert result.output == token + "\n"
    assert token.startswith("otr_") and len(token) > 40 and " " not in token
    with app.app_context():
        stored = db.session.scalars(sa.select(ApiToken)).one()
        assert stored.user_id == user.id
        assert stored.name == "automation"
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([getattr(stored, c.key) for c in sa.inspect(ApiToken).columns])
        found = user_for_token(token)
        assert found is not None and found.id == user.id
        assert user_for_token(token + "x") is None


def test_create_token_twice_gives_two_tokens(runner: Any, make_user: Any) -> None:
    user = make_user("admin")
    tokens = {runner.invoke(args=["create-token", "--user", user.email]).output.strip() for _ in range(2)}
    assert len(tokens) == 2


def test_create_token_for_an_unknown_user(runner: Any) -> None:
    result = runner.invoke(args=["create-token", "--user", "nobody@embassy.example"])
    assert result.exit_code == 1
    assert "no user with e-mail nobody@embassy.example" in result.output


def _logins(output: str) -> list[tuple[str, str, str]]:
    found = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] == "password:":
            found.append((parts[0], parts[1], parts[3]))
    return found


def test_seed_demo_creates_people_and_three_logins_that_work(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["seed-demo", "--people", "40"])
    assert result.exit_code == 0, result.output
    assert "seeded 40 demo people" in result.output
    logins = _logins(result.output)
    assert sorted(role for role, _, _ in logins) == ["admin", "community_rep", "officer"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 40
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 40
        languages = set(db.session.scalars(sa.select(Person.language)))
        assert languages <= {"ko", "en", "km"} and "ko" in languages

    # Admins and officers set up their authenticator app at the first log-in (the second step).
    homes = {"admin": "/login/code", "officer": "/login/code", "community_rep": "/rep/"}
    for role, email, password in logins:
        client = english(app.test_client())
        resp = client.post("/login", data={"email": email, "password": password})
        assert resp.status_code == 302, (role, resp.get_data(as_text=True))
        assert resp.headers["Location"] == homes[role]
        if role == "community_rep":
            assert client.get(homes[role]).status_code == 200
        else:
            assert client.get("/login/code").headers["Location"] == "/login/enrol"
            assert "<svg" in client.get("/login/enrol").get_data(as_text=True)


def test_seed_demo_again_adds_nobody_twice(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["seed-demo", "--people", "30"]).exit_code == 0
    result = runner.invoke(args=["seed-demo", "--people", "30"])
    assert result.exit_code == 0, result.output
    assert "seeded 0 demo people" in result.output
    assert len(_logins(result.output)) == 3
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 30
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3
