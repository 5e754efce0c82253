"""The JSON API, v1 (``/api/v1``): the operations the staff pages use, for programs.

Bearer tokens only (``auth.py``), problem+json errors (``errors.py``), endpoints declared once with
their models (``routing.py``) so that the OpenAPI 3.1 document (``openapi.py``) is generated from the
code. Endpoint modules per area: ``people``, ``alerts``, ``checkins``, ``cases``, ``grievances``, ``zones``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from outreach.extensions import csrf, login_manager
from outreach.web.api.auth import ApiSessionInterface, set_current_user
from outreach.web.api.errors import register_handlers

URL_PREFIX = "/api/v1"

api = Blueprint("api", __name__)


@api.before_request
def _no_cookie_user() -> None:
    # Until a bearer token says otherwise, the request is anonymous: no session, no remember-me cookie.
    set_current_user(login_manager.anonymous_user())


register_handlers(api)

# Importing the modules registers their endpoints on ``api`` (order = order in the document).
from outreach.web.api import alerts, cases, checkins, grievances, openapi, people, reports, welfare, zones  # noqa: E402

openapi.register(api)


def init_app(app: Flask) -> None:
    """Register the blueprint, exempt it from CSRF (no cookies are used) and keep sessions out of it."""
    csrf.exempt(api)
    app.register_blueprint(api, url_prefix=URL_PREFIX)
    if not isinstance(app.session_interface, ApiSessionInterface):
        app.session_interface = ApiSessionInterface(app.session_interface)


__all__ = [
    "alerts",
    "api",
    "cases",
    "checkins",
    "grievances",
    "init_app",
    "people",
    "reports",
    "welfare",
    "zones",
]
