"""Public pages: landing, language choice. Registration and one-tap check-in live in their areas."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from outreach.i18n import LOCALES
from outreach.web.security import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/index.html")


def _without_lang(target: str) -> str:
    # A ``?lang=`` left in the page address would outrank the cookie chosen here.
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    """Remember the visitor's language in a cookie and go back to the page they were on."""
    target = safe_next(request.args.get("next"))
    response = redirect(_without_lang(target) if target else url_for("public.index"))
    if code in LOCALES:
        response.set_cookie(
            "lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True, secure=request.is_secure
        )
    return response


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
