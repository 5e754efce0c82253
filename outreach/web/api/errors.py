"""Errors as ``application/problem+json`` (RFC 9457).

Every answer the API gives for something that went wrong has the same shape: ``type``, ``title``,
``status`` and a ``detail`` that says what to change; a validation failure (422) adds ``errors``, one
``{"field": ..., "message": ...}`` per failing field. Views raise :class:`ApiError`; HTTP errors
raised anywhere under the blueprint (413 from the body limit, 405, 404) get the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from outreach.extensions import db

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"


class ApiError(Exception):
    """An answer other than success; ``detail`` is shown to the client as is."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Iterable[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors is not None else None
        self.headers = dict(headers or {})
        self.title = title


T = TypeVar("T")


def get_or_404(model: type[T], ident: int, detail: str) -> T:
    """The row of ``model`` with this primary key, or a 404 saying ``detail``."""
    row = db.session.get(model, ident)
    if row is None:
        raise ApiError(404, detail)
    return row


def validation_error(
    errors: Mapping[str, str] | Iterable[Mapping[str, str]], detail: str | None = None
) -> ApiError:
    """A 422 naming each failing field; ``errors`` is ``{field: message}`` or a list of such pairs."""
    if isinstance(errors, Mapping):
        items = [{"field": str(field), "message": str(message)} for field, message in errors.items()]
    else:
        items = [{"field": str(e["field"]), "message": str(e["message"])} for e in errors]
    if detail is None:
        detail = "The request is not valid: " + "; ".join(f"{e['field']}: {e['message']}" for e in items)
    return ApiError(422, detail, errors=items)


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


#: Details for HTTP errors raised outside the views (werkzeug's defaults talk about browsers and forms).
_HTTP_DETAILS = {
    404: "There is no such resource (or it is not visible to this token).",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
}


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the session may be unusable (an error inside commit); start afresh
        log.warning("rollback failed; discarding the session", exc_info=True)
        db.session.remove()


def _handle_api_error(exc: ApiError) -> Response:
    _rollback()
    return problem(exc.status, exc.detail, errors=exc.errors, headers=exc.headers, title=exc.title)


def _handle_http_error(exc: HTTPException) -> Response:
    _rollback()
    code = exc.code or 500
    detail = _HTTP_DETAILS.get(code) or exc.description or HTTP_STATUS_CODES.get(code, "Error")
    headers: dict[str, str] = {}
    if code == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem(code, detail, headers=headers)


def _handle_unexpected(exc: Exception) -> Response:
    # Never an HTML page or a stack trace for a program: log it, answer in the same shape.
    log.exception("unhandled error in the API")
    _rollback()
    return problem(500, "Something went wrong on our side; the error was logged. Try again later.")


def register_handlers(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, _handle_api_error)
    bp.register_error_handler(HTTPException, _handle_http_error)
    bp.register_error_handler(Exception, _handle_unexpected)
