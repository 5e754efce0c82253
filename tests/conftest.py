"""Shared fixtures: a real PostgreSQL (or SQLite) database, a real Redis, fakes of outside services.

The database is created once per test session and migrated with Alembic (so the migrations are what
every test runs on); each test then starts from empty tables (the province seed data stays).
Run on SQLite with ``pytest --db sqlite``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, make_server

from outreach import create_app
from outreach.extensions import db as _db
from outreach.jobs import run_burst
from outreach.models import User, utcnow
from outreach.sessions import SESSION_KEY, open_session

PG_ADMIN_URL = os.environ.get("OUTREACH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _claim_redis_db() -> str:
    """A Redis database number no other test run on this machine is using.

    Each test flushes its database; two runs at once (two checkouts, a developer and CI) sharing one
    would flush each other's queues. An advisory file lock per database number, held for the life of
    this process, keeps them apart; database 0 is left to the running app.
    """
    if "OUTREACH_TEST_REDIS" in os.environ:
        return os.environ["OUTREACH_TEST_REDIS"]
    import fcntl

    for number in range(15, 0, -1):
        fd = os.open(f"{tempfile.gettempdir()}/outreach-test-redis-{number}.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _REDIS_LOCKS.append(fd)  # keep it open: closing would release the lock
        return f"redis://127.0.0.1:6379/{number}"
    raise RuntimeError("every Redis test database (1-15) is in use by another test run")


_REDIS_LOCKS: list[int] = []
TEST_REDIS_URL = _claim_redis_db()
TWILIO_TEST_SID = "AC" + "0" * 32
TWILIO_TEST_TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_BASE_URL = "http://localhost"
KEEP_TABLES = {"province", "alembic_version"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("OUTREACH_TEST_DB", "postgresql"),
        choices=["postgresql", "sqlite"],
        help="database the suite runs on",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests of PostgreSQL-only behaviour (row locks between processes, large benchmarks) are left
    # out of the SQLite run rather than skipped: they do not apply there.
    if config.getoption("--db") == "sqlite":
        kept = [i for i in items if "postgres_only" not in i.keywords]
        deselected = [i for i in items if "postgres_only" in i.keywords]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, migrated database for this test session."""
    kind = request.config.getoption("--db")
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="outreach-test-")
        url = f"sqlite:///{folder}/test.sqlite3"
        _migrate(url)
        yield url
        return
    name = f"outreach_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(url))
    with app.app_context():
        upgrade()
        _db.engine.dispose()


def _base_config(database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SMS_CHANNEL": "console",
        "MAIL_CHANNEL": "console",
        "TWILIO_ACCOUNT_SID": TWILIO_TEST_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+15005550006",
        "TWILIO_MAX_SEGMENTS_PER_SECOND": 1000.0,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }


def _empty_tables(app: Flask) -> None:
    with app.app_context():
        tables = [t for t in _db.metadata.sorted_tables if t.name not in KEEP_TABLES]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(tables):
                    conn.execute(table.delete())
                conn.execute(sa.text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None


def _has_sqlite_sequence(conn: sa.Connection) -> bool:
    return bool(conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first())


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    conn = Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def make_app(database_url: str, redis_conn: Redis) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test database; keyword arguments override the test configuration."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**_base_config(database_url), **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        app.extensions["redis"].close()
    if apps:
        _empty_tables(apps[0])
        with apps[0].app_context():
            _db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


# --- helpers ---------------------------------------------------------------------------------------


def run_jobs(app: Flask, queues: list[str] | None = None) -> None:
    """Run every queued job now, in this process, with RQ's SimpleWorker in burst mode."""
    run_burst(app, queues)


def sign(url: str, params: dict[str, str], token: str = TWILIO_TEST_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def post_twilio(
    client: FlaskClient, path: str, params: dict[str, str], *, signature: str | None = None
) -> Any:
    """POST a webhook the way Twilio does, signed for the app's public URL."""
    url = PUBLIC_BASE_URL + path
    headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, params)}
    return client.post(path, data=params, headers=headers)


def login(client: FlaskClient, user: Any) -> None:
    """Log ``user`` in on this client without going through the form (second factor included).

    Opens a server-side session the way a sign-in does, so the cookie is accepted by
    ``outreach.sessions.enforce``.
    """
    app = client.application
    with app.app_context():
        token = open_session(_db.session.get(type(user), user.id))
        _db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session[SESSION_KEY] = token


def enrol_totp(app: Flask, user: Any) -> str:
    """Give ``user`` a second factor, as enrolment does; returns the secret (``totp_code`` makes codes)."""
    secret = pyotp.random_base32()
    with app.app_context():
        row = _db.session.get(User, user.id)
        assert row is not None
        row.totp_secret, row.totp_enabled_at = secret, utcnow()
        _db.session.commit()
    return secret


def totp_code(secret: str, offset_steps: int = 0) -> str:
    """The current code of an authenticator app holding ``secret`` (``offset_steps`` 30 s steps away)."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset_steps))


def form_login(client: FlaskClient, app: Flask, email: str, password: str, secret: str | None = None) -> Any:
    """Log in through the forms: the password, then (when ``secret`` is given) the authenticator code."""
    response = client.post("/login", data={"email": email, "password": password})
    if secret is not None and response.status_code == 302 and "/login/code" in response.headers["Location"]:
        response = client.post("/login/code", data={"code": totp_code(secret)})
    return response


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Any]:
    from outreach.accounts import create_user

    counter = iter(range(1, 10_000))

    def factory(role: str = "officer", **kwargs: Any) -> Any:
        n = next(counter)
        kwargs.setdefault("email", f"{role}{n}@test.outreach")
        kwargs.setdefault("name", f"{role.title()} {n}")
        kwargs.setdefault("password", "correct horse battery")
        if role == "community_rep":
            kwargs.setdefault("organisation", "Test Community")
        with app.app_context():
            user = create_user(role=role, **kwargs)
            _db.session.commit()
            _db.session.refresh(user)
            _db.session.expunge(user)
        return user

    return factory


@pytest.fixture
def make_person(app: Flask) -> Callable[..., Any]:
    """Create a registered person directly in the database (bypassing the registry's rules)."""
    from outreach.models import ConsentMethod, Person, PhoneKind, PhoneNumber, utcnow

    counter = iter(range(1, 1_000_000))

    def factory(phone: str | None = None, **kwargs: Any) -> Any:
        n = next(counter)
        phone = phone or f"+8551270{n:04d}"
        whatsapp = kwargs.pop("whatsapp", False)
        kwargs.setdefault("name_ko", f"홍길동{n}")
        kwargs.setdefault("name_latin", f"HONG GILDONG {n}")
        kwargs.setdefault("language", "ko")
        kwargs.setdefault("province_code", "KH-12")
        kwargs.setdefault("consent_at", utcnow())
        kwargs.setdefault("consent_method", ConsentMethod.WEB)
        kwargs.setdefault("consent_version", "test")
        with app.app_context():
            person = Person(**kwargs)
            person.phones.append(
                PhoneNumber(
                    e164=phone,
                    kind=PhoneKind.KR if phone.startswith("+82") else PhoneKind.KH,
                    is_primary=True,
                    is_whatsapp=whatsapp,
                )
            )
            _db.session.add(person)
            _db.session.commit()
            person_id = person.id
        return person_id

    return factory


class LiveServer:
    """The app served over real HTTP on a free port, in a thread (for browsers and callbacks)."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server_overrides() -> dict[str, Any]:
    """Configuration overrides for ``live_server``; override (or parametrize) this fixture to change them."""
    return {}


@pytest.fixture
def live_server(
    make_app: Callable[..., Flask], live_server_overrides: dict[str, Any]
) -> Iterator[LiveServer]:
    """Serve an app whose PUBLIC_BASE_URL is its own address, so signed callbacks validate."""
    server = LiveServer(Flask("placeholder"))
    app = make_app(**{"PUBLIC_BASE_URL": server.url, **live_server_overrides})
    server.server.app = app  # type: ignore[attr-defined]
    server.start()
    server.app = app  # type: ignore[attr-defined]
    yield server
    server.stop()
