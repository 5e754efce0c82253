"""gunicorn settings for Outreach: ``gunicorn -c python:outreach.gunicorn_conf "outreach:create_app()"``.

Its access log would otherwise print the request line and path as sent, bearer links included
(``/me/<token>``, ``/c/<code>``); the logger class below redacts them in every field that holds a path.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from outreach.logs import RedactingFilter, redact_paths

#: Access-log fields (gunicorn "atoms") that hold the path or the whole request line.
_PATH_ATOMS = ("r", "U", "{raw_uri}e", "{path_info}e", "{request_uri}e", "f", "{referer}i")


class RedactingLogger(Logger):
    """gunicorn's logger with bearer links redacted from access-log fields and error-log lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in _PATH_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_paths(atoms[key])
        return atoms


logger_class = RedactingLogger
accesslog = "-"
