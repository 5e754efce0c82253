"""Outreach: safety and consular outreach for Koreans in Cambodia."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from outreach import i18n, logs, sessions
from outreach.config import Settings, validate
from outreach.extensions import babel, csrf, db, init_redis, init_sqlite, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests pass their database and fakes)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_relative_config=True,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    settings = Settings.from_env()
    if config:
        known = {k: v for k, v in config.items() if hasattr(settings, k) and k != "extra"}
        for key, value in known.items():
            setattr(settings, key, value)
        settings.extra.update({k: v for k, v in config.items() if k not in known})
    app.config.update(settings.as_flask_config(app.instance_path))
    validate(app.config)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    logs.init_app(app)

    db.init_app(app)
    init_sqlite(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    babel.init_app(
        app, locale_selector=i18n.select_locale, default_translation_directories=str(i18n.TRANSLATIONS_DIR)
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    sessions.init_app(app)
    limiter.init_app(app)
    init_redis(app)
    i18n.init_app(app)

    from outreach import cli, jobs
    from outreach.web import headers, inputs, register_blueprints

    inputs.register_converters(app)
    register_blueprints(app)
    inputs.init_app(app)
    headers.init_app(app)
    _trust_proxies(app)
    cli.init_app(app)
    jobs.init_app(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` proxies, the client is the address the farthest trusted one saw.

    Every rate limit and every audit ``ip`` reads ``request.remote_addr``; without this it would be the
    proxy's. With 0 (the default) forwarded headers are ignored, since anyone can send them.
    """
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
