"""Extensions, created unbound at import time and bound to the app in ``create_app``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from rq import Queue

from outreach.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)

#: Queue names in priority order: a worker always empties ``high`` (replies, check-ins, help
#: notifications) before it touches ``bulk`` (alert fan-out), so a call for help never waits.
QUEUE_NAMES = ("high", "default", "bulk")

#: What the database being away looks like (refused, cut, pool exhausted): the caller may wait and
#: try again, or fall back (a status callback is spooled in Redis), instead of failing for good.
DB_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
)


def init_sqlite(app: Flask) -> None:
    """SQLite (the quick-start default) serves a web process and a worker at once: WAL lets readers
    and one writer work side by side, the busy timeout makes a second writer wait instead of failing,
    and foreign keys are off unless asked for."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def init_redis(app: Flask) -> None:
    app.extensions["redis"] = Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )


def redis_conn() -> Redis:
    conn: Redis = current_app.extensions["redis"]
    return conn


def queue(name: str) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_conn())
