"""One configuration object, read from the environment (DESIGN §5).

Every setting has a safe development default except the secrets: outside debug and testing,
a missing ``SECRET_KEY`` stops start-up with a message that says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """The environment cannot run the app as configured."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def default_database_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "outreach.sqlite3")


@dataclass
class Settings:
    """The app's settings. Field names are the Flask config keys and the environment variable names."""

    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None
    REDIS_URL: str = "redis://localhost:6379/0"
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    SMS_CHANNEL: str = "console"
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: str | None = None
    TWILIO_WHATSAPP_FROM: str | None = None
    TWILIO_API_BASE_URL: str = "https://api.twilio.com"
    TWILIO_MAX_SEGMENTS_PER_SECOND: float = 10.0
    #: Twilio's timeout per request; a hung provider must never hold a worker for long.
    TWILIO_TIMEOUT_SECONDS: float = 10.0
    MAIL_CHANNEL: str = "console"
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS: bool = False
    SMTP_TIMEOUT_SECONDS: float = 10.0
    MAIL_FROM: str = "Outreach <outreach@localhost>"
    #: Price of one SMS segment in USD, for the cost estimate before an alert is sent.
    SMS_PRICE_PER_SEGMENT: float = 0.0515
    #: Alerts to more people than this need a second officer's approval.
    APPROVAL_THRESHOLD: int = 500
    #: Travelers are anonymised this many days after their departure date.
    RETENTION_DAYS_AFTER_DEPARTURE: int = 30
    #: Grievances not answered within this many hours are marked overdue.
    GRIEVANCE_RESPONSE_HOURS: int = 72
    #: Flask-Limiter rule for grievance submissions per representative.
    GRIEVANCE_SUBMISSION_LIMIT: str = "10 per hour;40 per day"
    #: How long a representative's invitation link works.
    INVITATION_HOURS: int = 72
    #: Messages in ``sending`` longer than this are reconciled with the provider (those claimed
    #: without a lease; leased ones are settled as soon as their lease expires).
    SENDING_STUCK_SECONDS: int = 300
    #: A send job's lease: renewed every fifth of it while the job works; once it has expired (the
    #: worker died) the sweep settles the job's messages with the provider. A job that cannot renew
    #: it (database away) stops handing over half a lease (at most ``TWILIO_TIMEOUT_SECONDS``) before
    #: it could expire, so that the last request it handed over has landed when the sweep asks.
    SEND_LEASE_SECONDS: float = 10.0
    #: How often the messaging sweep runs: expired leases, pending messages no queued job holds
    #: (Redis lost them), status callbacks spooled while the database was away.
    SEND_SWEEP_SECONDS: int = 5
    #: How many messages a bulk send job claims at once. 400 halves the per-job cost (claim, commits,
    #: result writes) of 200 and still leaves a job well inside its hand-off budget at the rate cap.
    SEND_BATCH_SIZE: int = 400
    #: Concurrent provider requests within one send job: at 150 ms a request, 64 in flight per worker
    #: keep two workers above 250 messages/s (bench/dispatch.py); the rate limiter sets the pace.
    SEND_CONCURRENCY: int = 64
    #: A message failing transiently this many times (429, 5xx, timeouts) is marked failed.
    SEND_MAX_ATTEMPTS: int = 5
    #: First retry delay after a transient error; doubles per attempt (with jitter) up to the max.
    SEND_RETRY_BASE_SECONDS: float = 30.0
    SEND_RETRY_MAX_SECONDS: float = 1800.0
    #: Longest a send job waits on the shared rate limiter for one message before re-queueing the rest.
    SEND_RATE_WAIT_SECONDS: float = 30.0
    #: Where evidence files are kept (default ``instance/evidence``); never a folder the web server serves.
    EVIDENCE_DIR: str | None = None
    #: Largest evidence file accepted, in bytes; reading stops one byte past it.
    EVIDENCE_MAX_BYTES: int = 15 * 1024 * 1024
    #: How long a one-time evidence upload link works.
    EVIDENCE_UPLOAD_LINK_HOURS: int = 72
    #: Per-address limit on the public report form and the upload page (Flask-Limiter syntax).
    REPORT_RATE_LIMIT: str = "5 per minute;30 per hour"
    #: Who issues the rescue-request bundle (printed on the PDF).
    BUNDLE_ISSUER: str = "Embassy of the Republic of Korea in Cambodia"
    #: Countries (ISO 3166-1, comma-separated) whose numbers may register themselves on the web or by SMS.
    ALLOWED_PHONE_COUNTRIES: str = "KH,KR"
    #: SMS/WhatsApp messages that unauthenticated actions (public registration, self-service links, the
    #: public report form) may cause per clock hour, counted in Redis across all processes; past it they
    #: are held for staff review (``/staff/review``) instead of sent. Staff sends are never counted.
    PUBLIC_SMS_PER_HOUR: int = 200
    #: A signed-in browser is signed out after this many minutes without a request.
    SESSION_IDLE_MINUTES: int = 30
    #: ... and this many hours after signing in, however busy.
    SESSION_MAX_HOURS: int = 12
    #: How many proxies in front of the app set X-Forwarded-For/-Proto (0: trust no such header).
    TRUSTED_PROXIES: int = 0
    #: Largest request body in bytes for the whole app (the API has its own, lower limit).
    MAX_CONTENT_LENGTH: int = 20 * 1024 * 1024
    RATELIMIT_STORAGE_URI: str | None = None
    RATELIMIT_ENABLED: bool = True
    DEBUG: bool = False
    TESTING: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        s = cls()
        for f in fields(cls):
            if f.name == "extra" or f.name not in os.environ:
                continue
            raw = os.environ[f.name]
            current = getattr(s, f.name)
            if isinstance(current, bool) or f.type in ("bool",):
                setattr(s, f.name, _bool(raw))
            elif f.type == "int":
                setattr(s, f.name, _int(f.name, 0))
            elif f.type == "float":
                setattr(s, f.name, _float(f.name, 0.0))
            else:
                setattr(s, f.name, raw or None if f.type.endswith("None") else raw)
        s.DEBUG = _bool(os.environ.get("FLASK_DEBUG"), s.DEBUG)
        return s

    def as_flask_config(self, instance_path: str) -> dict[str, Any]:
        cfg = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        cfg.update(self.extra)
        url = cfg["DATABASE_URL"] or default_database_url(instance_path)
        # psycopg 3 is the driver we ship; accept the common "postgresql://" spelling for it.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        cfg["DATABASE_URL"] = url
        # Links and Twilio signatures are built as PUBLIC_BASE_URL + path; a trailing slash would double it.
        cfg["PUBLIC_BASE_URL"] = (cfg["PUBLIC_BASE_URL"] or "").rstrip("/")
        cfg["SQLALCHEMY_DATABASE_URI"] = url
        cfg["EVIDENCE_DIR"] = cfg["EVIDENCE_DIR"] or str(Path(instance_path) / "evidence")
        # A pooled connection is pinged before use, so the first requests after a database outage
        # do not fail on sockets it cut; a refused or unreachable server fails within seconds.
        # hide_parameters: a failed statement's error (and so the log) shows no names, numbers or tokens.
        engine_options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if url.startswith("postgresql"):
            engine_options["connect_args"] = {"connect_timeout": 5}
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
        # Session cookies: never readable by scripts, not sent on cross-site POSTs, and only over HTTPS
        # when the site is served over HTTPS (so local development over http still works).
        cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
        cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=cfg["SESSION_MAX_HOURS"])
        cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
        cfg.setdefault("SESSION_COOKIE_SECURE", cfg["PUBLIC_BASE_URL"].startswith("https://"))
        cfg["RATELIMIT_STORAGE_URI"] = cfg["RATELIMIT_STORAGE_URI"] or (
            "memory://" if cfg["TESTING"] else cfg["REDIS_URL"]
        )
        return cfg


def validate(config: dict[str, Any]) -> None:
    """Fail loudly, before serving anything, on a configuration that cannot work."""
    problems: list[str] = []
    if not config.get("SECRET_KEY"):
        if config.get("DEBUG") or config.get("TESTING"):
            config["SECRET_KEY"] = "dev-only-not-secret"  # development default, never in production
        else:
            problems.append(
                "SECRET_KEY is not set. Outreach signs sessions, self-service and check-in links with it; "
                "set SECRET_KEY to a long random value "
                "(python -c 'import secrets; print(secrets.token_hex(32))') "
                "or run with FLASK_DEBUG=1 for development."
            )
    if config.get("SMS_CHANNEL") not in {"twilio", "console"}:
        problems.append("SMS_CHANNEL must be 'twilio' or 'console'.")
    if config.get("MAIL_CHANNEL") not in {"smtp", "console"}:
        problems.append("MAIL_CHANNEL must be 'smtp' or 'console'.")
    if config.get("SMS_CHANNEL") == "twilio":
        for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not config.get(key):
                problems.append(f"SMS_CHANNEL=twilio needs {key}.")
        if not (config.get("TWILIO_FROM") or config.get("TWILIO_MESSAGING_SERVICE_SID")):
            problems.append("SMS_CHANNEL=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID.")
    if int(config.get("EVIDENCE_MAX_BYTES") or 0) <= 0:
        problems.append("EVIDENCE_MAX_BYTES must be a positive number of bytes (15728640 is 15 MB).")
    if int(config.get("TRUSTED_PROXIES") or 0) < 0:
        problems.append("TRUSTED_PROXIES must be 0 or the number of proxies in front of the app.")
    if int(config.get("MAX_CONTENT_LENGTH") or 0) <= 0:
        problems.append("MAX_CONTENT_LENGTH must be a positive number of bytes (20971520 is 20 MiB).")
    if problems:
        raise ConfigError("Outreach cannot start:\n- " + "\n- ".join(problems))
