"""Logs carry no bearer links: ``/me/<token>``, ``/c/<code>`` and ``/invitation/<token>`` are redacted.

Anyone who reads an access or error log line with such a path could open that person's record or
answer their check-in. :class:`RedactingFilter` rewrites every record of the loggers that print
request paths (the app's own error log, werkzeug's development server, gunicorn's error and access
logs); ``outreach/gunicorn_conf.py`` does the same for gunicorn's access-log fields. SQL parameters
(names, numbers) are kept out of logs by the engine's ``hide_parameters``.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

#: Path segments that are bearer secrets, after these prefixes.
_BEARER_PATH = re.compile(r"(/(?:c|me|invitation)/)[^/\s?#\"'&]+")
REDACTED = "[redacted]"
#: Loggers that print request paths.
PATH_LOGGERS = ("werkzeug", "gunicorn.error", "gunicorn.access")


def redact_paths(text: str) -> str:
    """``GET /me/eyJ…/delete`` → ``GET /me/[redacted]/delete``."""
    return _BEARER_PATH.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrite a record's message with :func:`redact_paths` (the record is kept, never dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_paths(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Tracebacks are formatted later by the handler; format now so the text can be cleaned.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_paths(record.exc_text)
        return True


def install(logger: logging.Logger) -> None:
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def init_app(app: Flask) -> None:
    install(app.logger)
    for name in PATH_LOGGERS:
        install(logging.getLogger(name))


#: RQ's description of the jobs :mod:`outreach.schedule` enqueues ("periodic messaging.sweep").
PERIODIC_PREFIX = "periodic "
#: How many periodic job ids to remember between a job's first and last log line.
_REMEMBERED = 256


class QuietPeriodicJobs(logging.Filter):
    """Drop RQ's routine INFO lines about periodic jobs (three per job, a dozen jobs a minute).

    An idle worker then prints nothing per tick: a periodic job that does something logs it itself
    ("applied 12 status callbacks …"), and a failing one still shows RQ's warning and traceback. RQ
    names the description only in a job's first and "completed" lines; its "Job OK (id)" line is
    matched by the job id remembered from the first.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ids: dict[str, None] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        texts = [a for a in args if isinstance(a, str)]
        if any(PERIODIC_PREFIX in t for t in texts):
            # "Worker W: queue: <description> (<job id>)": the job id is the last argument.
            if texts and texts[-1] not in self._ids and PERIODIC_PREFIX not in texts[-1]:
                self._ids[texts[-1]] = None
                while len(self._ids) > _REMEMBERED:
                    del self._ids[next(iter(self._ids))]
            return False
        for text in texts:
            if text in self._ids:
                if "Job OK" in record.getMessage():
                    del self._ids[text]
                return False
        return True


def quiet_periodic_jobs() -> None:
    """Install :class:`QuietPeriodicJobs` on RQ's worker logger (``worker.py``)."""
    logging.getLogger("rq.worker").addFilter(QuietPeriodicJobs())
    # WeasyPrint reports every stylesheet it parses at INFO (three lines at every start).
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
