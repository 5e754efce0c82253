"""Input limits for every route: ids that fit the database, no NUL characters, bounded bodies.

- ``<int:…>`` in any route means a database id: the converter refuses values past 2³¹−1 (the largest
  PostgreSQL ``integer``), so ``/alerts/99999999999`` is a 404 instead of a database error (500).
- A NUL character (U+0000) cannot be stored in PostgreSQL text; a form field or query parameter with
  one is refused with a 400 that says so, before any view runs. The Twilio webhook is the exception:
  its form is signed as sent and an inbound SMS must never be lost, so that view strips NULs itself
  (:func:`strip_nul`) after checking the signature.
- ``MAX_CONTENT_LENGTH`` (a setting) bounds every request body; the API has its own lower limit.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, IntegerConverter

#: The largest value of a PostgreSQL ``integer`` (and of every id column here).
MAX_ID = 2**31 - 1
NUL = "\x00"
#: Blueprints that handle NUL characters themselves: the Twilio webhook (see the module docstring) and
#: the API, which answers them with its own problem+json 422 naming the field.
NUL_TOLERANT_BLUEPRINTS = frozenset({"twilio", "api"})


class IdConverter(IntegerConverter):
    """``<int:…>`` limited to the range of an id column: a larger number is a 404 at once.

    Raising NotFound (rather than werkzeug's ValidationError, which would try the route's other
    methods and answer 405) makes every method of every id route say "no such thing".
    """

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise NotFound()
        return number


def strip_nul(value: str) -> str:
    return value.replace(NUL, "")


def _has_nul(values: Any) -> bool:
    return any(NUL in key or any(NUL in v for v in values.getlist(key)) for key in values)


def refuse_nul() -> None:
    """Before every request: a NUL anywhere in the query or the form is a clear 400, not a 500."""
    if request.blueprint in NUL_TOLERANT_BLUEPRINTS:
        return
    if _has_nul(request.args):
        abort(400, description=_("The address contains a NUL character (U+0000), which is not allowed."))
    form_body = request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )
    if form_body and (
        _has_nul(request.form) or any(NUL in (f.filename or "") for f in request.files.values())
    ):
        abort(
            400,
            description=_(
                "A field contains a NUL character (U+0000), which is not allowed. "
                "Remove it and send the form again."
            ),
        )


def register_converters(app: Flask) -> None:
    """Before any blueprint is registered: rules bind their converters when they are added."""
    converters: dict[str, type[BaseConverter]] = app.url_map.converters
    converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
