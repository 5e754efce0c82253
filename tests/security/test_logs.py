"""Item 9 of the security issue: no personal data or bearer links in logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from gunicorn.config import Config

from outreach.extensions import db
from outreach.gunicorn_conf import RedactingLogger
from outreach.logs import redact_paths
from tests.conftest import LiveServer

TOKEN = "eyJzZWNyZXQiOiJ0b2tlbiJ9.c2lnbmF0dXJl"


def test_sql_errors_hide_their_parameters(app: Flask) -> None:
    with app.app_context(), pytest.raises(sa.exc.DBAPIError) as caught:
        db.session.execute(
            sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "홍길동 +85512345678"}
        )
    assert "홍길동" not in str(caught.value) and "+85512345678" not in str(caught.value)
    assert "hidden" in str(caught.value)


def test_redact_paths_keeps_the_shape() -> None:
    assert redact_paths(f"GET /me/{TOKEN}/delete HTTP/1.1") == "GET /me/[redacted]/delete HTTP/1.1"
    assert redact_paths("POST /c/AbC123?a=safe") == "POST /c/[redacted]?a=safe"
    assert redact_paths(f"/invitation/{TOKEN}") == "/invitation/[redacted]"
    assert redact_paths("/staff/cases/12") == "/staff/cases/12"


def test_the_development_servers_access_log_is_redacted(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer(make_app()).start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            requests.get(f"{server.url}/me/{TOKEN}", timeout=10)
            requests.get(f"{server.url}/c/SECRETCODE123", timeout=10)
    finally:
        server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/me/[redacted]" in line for line in lines) and any("/c/[redacted]" in line for line in lines)
    assert not any(TOKEN in line or "SECRETCODE123" in line for line in lines)


def test_the_error_log_of_a_failing_bearer_page_is_redacted(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def boom(token: str) -> str:
        raise RuntimeError("broken")

    app.add_url_rule("/me/<token>/boom", "boom", boom)
    with caplog.at_level(logging.ERROR):
        assert app.test_client().get(f"/me/{TOKEN}/boom").status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("/me/[redacted]/boom" in m for m in messages)
    assert not any(TOKEN in m for m in messages)
    assert not any(TOKEN in (r.exc_text or "") for r in caplog.records)


def test_gunicorns_access_log_is_redacted(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(log_file))
    logger = RedactingLogger(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/me/{TOKEN}?lang=ko",
        "PATH_INFO": f"/me/{TOKEN}",
        "QUERY_STRING": "lang=ko",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://outreach.example/c/{TOKEN}",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=10)
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger.access(response, request, environ, timedelta(milliseconds=5))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = log_file.read_text()
    assert "GET /me/[redacted]?lang=ko HTTP/1.1" in line and "203.0.113.9" in line
    assert TOKEN not in line
