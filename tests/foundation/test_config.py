"""Configuration from the environment (DESIGN §5): every variable is read, and a bad setup stops start-up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from outreach import create_app
from outreach.config import ConfigError, Settings
from outreach.extensions import db
from tests.conftest import TEST_REDIS_URL

#: Every variable DESIGN §5 names, a value to set it to, and the value the app must end up with.
DESIGN_VARIABLES: list[tuple[str, str, Any]] = [
    ("SECRET_KEY", "s3cret-from-the-environment", "s3cret-from-the-environment"),
    ("DATABASE_URL", "sqlite:////srv/outreach/data.sqlite3", "sqlite:////srv/outreach/data.sqlite3"),
    ("REDIS_URL", "redis://redis.internal:6380/2", "redis://redis.internal:6380/2"),
    ("PUBLIC_BASE_URL", "https://outreach.embassy.example", "https://outreach.embassy.example"),
    ("SMS_CHANNEL", "twilio", "twilio"),
    ("TWILIO_ACCOUNT_SID", "AC" + "1" * 32, "AC" + "1" * 32),
    ("TWILIO_AUTH_TOKEN", "f" * 32, "f" * 32),
    ("TWILIO_FROM", "+15005550006", "+15005550006"),
    ("TWILIO_MESSAGING_SERVICE_SID", "MG" + "2" * 32, "MG" + "2" * 32),
    ("TWILIO_WHATSAPP_FROM", "whatsapp:+15005550006", "whatsapp:+15005550006"),
    ("TWILIO_API_BASE_URL", "http://127.0.0.1:8999", "http://127.0.0.1:8999"),
    ("TWILIO_MAX_SEGMENTS_PER_SECOND", "2.5", 2.5),
    ("MAIL_CHANNEL", "smtp", "smtp"),
    ("SMTP_HOST", "smtp.embassy.example", "smtp.embassy.example"),
    ("SMTP_PORT", "587", 587),
    ("SMTP_USERNAME", "outreach", "outreach"),
    ("SMTP_PASSWORD", "mail-password", "mail-password"),
    ("SMTP_STARTTLS", "true", True),
    (
        "MAIL_FROM",
        "주캄보디아 대한민국 대사관 <outreach@embassy.example>",
        "주캄보디아 대한민국 대사관 <outreach@embassy.example>",
    ),
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No setting leaks in from the machine running the tests."""
    for f in fields(Settings):
        monkeypatch.delenv(f.name, raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    yield monkeypatch


@pytest.fixture
def built_apps() -> Iterator[list[Flask]]:
    apps: list[Flask] = []
    yield apps
    for app in apps:
        with app.app_context():
            db.engine.dispose()
        app.extensions["redis"].close()


def _production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/prod.sqlite3")
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)


def test_production_without_secret_key_refuses_to_start(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _production_env(clean_env, tmp_path)
    with pytest.raises(ConfigError) as info:
        create_app()
    assert "SECRET_KEY is not set" in str(info.value)


def test_empty_secret_key_is_no_secret_key(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _production_env(clean_env, tmp_path)
    clean_env.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_starts_with_a_secret_key(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, built_apps: list[Flask]
) -> None:
    _production_env(clean_env, tmp_path)
    clean_env.setenv("SECRET_KEY", "a-long-random-production-secret")
    app = create_app()
    built_apps.append(app)
    assert app.config["SECRET_KEY"] == "a-long-random-production-secret"
    assert not app.debug and not app.testing


def test_development_gets_a_throwaway_secret(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, built_apps: list[Flask]
) -> None:
    _production_env(clean_env, tmp_path)
    clean_env.setenv("FLASK_DEBUG", "1")
    app = create_app()
    built_apps.append(app)
    assert app.debug
    assert app.config["SECRET_KEY"]


@pytest.mark.parametrize(("name", "raw", "expected"), DESIGN_VARIABLES, ids=[v[0] for v in DESIGN_VARIABLES])
def test_each_variable_is_read_from_the_environment(
    clean_env: pytest.MonkeyPatch, name: str, raw: str, expected: Any
) -> None:
    default = getattr(Settings(), name)
    assert default != expected, "pick a test value that differs from the default"
    clean_env.setenv(name, raw)
    assert getattr(Settings.from_env(), name) == expected


def test_the_app_takes_every_variable_from_the_environment(
    clean_env: pytest.MonkeyPatch, built_apps: list[Flask]
) -> None:
    for name, raw, _ in DESIGN_VARIABLES:
        clean_env.setenv(name, raw)
    app = create_app()
    built_apps.append(app)
    for name, _, expected in DESIGN_VARIABLES:
        assert app.config[name] == expected, name
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/outreach/data.sqlite3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("false", False),
        ("0", False),
        ("no", False),
        ("", False),
        ("1", True),
        ("yes", True),
        ("ON", True),
    ],
)
def test_booleans(clean_env: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    clean_env.setenv("SMTP_STARTTLS", raw)
    assert Settings.from_env().SMTP_STARTTLS is expected


@pytest.mark.parametrize("name", ["SMTP_PORT", "TWILIO_MAX_SEGMENTS_PER_SECOND"])
def test_a_bad_number_names_the_variable(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.setenv(name, "fast")
    with pytest.raises(ConfigError, match=name):
        Settings.from_env()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://outreach:pw@db:5432/outreach", "postgresql+psycopg://outreach:pw@db:5432/outreach"),
        ("postgres://outreach@db/outreach", "postgresql+psycopg://outreach@db/outreach"),
        ("postgresql+psycopg://outreach@db/outreach", "postgresql+psycopg://outreach@db/outreach"),
        ("sqlite:////var/lib/outreach.sqlite3", "sqlite:////var/lib/outreach.sqlite3"),
    ],
)
def test_database_urls_get_the_psycopg_driver(clean_env: pytest.MonkeyPatch, url: str, expected: str) -> None:
    clean_env.setenv("DATABASE_URL", url)
    config = Settings.from_env().as_flask_config("/srv/instance")
    assert config["SQLALCHEMY_DATABASE_URI"] == expected
    assert config["DATABASE_URL"] == expected


def test_default_database_is_sqlite_in_the_instance_folder(clean_env: pytest.MonkeyPatch) -> None:
    config = Settings.from_env().as_flask_config("/srv/instance")
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/instance/outreach.sqlite3"


def test_public_base_url_loses_a_trailing_slash(clean_env: pytest.MonkeyPatch) -> None:
    # Links and Twilio signatures are PUBLIC_BASE_URL + "/path": no double slash.
    clean_env.setenv("PUBLIC_BASE_URL", "https://outreach.embassy.example/")
    config = Settings.from_env().as_flask_config("/srv/instance")
    assert config["PUBLIC_BASE_URL"] == "https://outreach.embassy.example"


def test_twilio_channel_needs_its_credentials(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _production_env(clean_env, tmp_path)
    clean_env.setenv("SECRET_KEY", "a-long-random-production-secret")
    clean_env.setenv("SMS_CHANNEL", "twilio")
    with pytest.raises(ConfigError) as info:
        create_app()
    message = str(info.value)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
        assert name in message


@pytest.mark.parametrize("name", ["SMS_CHANNEL", "MAIL_CHANNEL"])
def test_unknown_channel_is_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    _production_env(clean_env, tmp_path)
    clean_env.setenv("FLASK_DEBUG", "1")
    clean_env.setenv(name, "carrier-pigeon")
    with pytest.raises(ConfigError, match=name):
        create_app()


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://outreach.embassy.example", True), ("http://127.0.0.1:5000", False)]
)
def test_session_cookie_is_hardened(clean_env: pytest.MonkeyPatch, base_url: str, secure: bool) -> None:
    clean_env.setenv("PUBLIC_BASE_URL", base_url)
    config = Settings.from_env().as_flask_config("/srv/instance")
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is secure
