"""Error pages: HTML for people, problem+json for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

#: What people read on an error page, in their language (werkzeug's own texts are English only).
PAGE_TEXTS: dict[int, tuple[LazyString, LazyString]] = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (_l("Not allowed"), _l("Your account cannot open this page.")),
    404: (_l("Page not found"), _l("There is no page at this address. Check the link.")),
    405: (_l("Not allowed"), _l("This page cannot be used this way.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many attempts"), _l("Too many attempts in a short time. Wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("Something went wrong on our side. Please try again in a moment.")),
}
CSRF_TEXT = (
    _l("The form has expired"),
    _l("The form was open too long or came from another page. Reload the page and try again."),
)


def _page_text(exc: HTTPException, code: int) -> tuple[object, object]:
    # A specific description given with abort(…) is kept; only werkzeug's generic one is replaced.
    name, description = PAGE_TEXTS.get(code, (exc.name, exc.description))
    if exc.description and exc.description != type(exc).description:
        description = exc.description
    return name, description


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/twilio/")


def handle_http_error(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    if _wants_json():
        body = jsonify(
            {"type": "about:blank", "title": exc.name, "status": code, "detail": exc.description or exc.name}
        )
        body.mimetype = "application/problem+json"
        return body, code
    name, description = _page_text(exc, code)
    return render_template("errors/error.html", code=code, name=name, description=description), code


def handle_csrf_error(exc: CSRFError) -> ResponseReturnValue:
    # exc.description says which check failed (missing, expired, …); kept in the log-friendly detail.
    name, description = CSRF_TEXT
    page = render_template(
        "errors/error.html", code=400, name=name, description=description, detail=exc.description
    )
    return page, 400


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
