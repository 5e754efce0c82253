"""Security headers on every response, from one after-request hook (ASVS 14.4).

- ``Content-Security-Policy``: scripts only from our own ``static/`` files (no inline scripts or
  ``on…=`` handlers anywhere in ``templates/``), no framing, forms post only here. Inline *styles*
  stay allowed: the pages carry their small stylesheets inline, and a style cannot run code.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers without CSP 2).
- ``Referrer-Policy: same-origin``; ``no-referrer`` on the bearer-link pages ``/c/…`` and ``/me/…``, so
  their token never leaves in a Referer header, not even to our own pages.
- ``Cache-Control: no-store`` on everything except the few pages that are public by nature (static
  files, the landing page, published alerts): staff pages, exports, the API, self-service and check-in
  pages and the page that shows a new token all carry personal data or secrets. The default is
  no-store, so a page added later is private until someone decides otherwise.
- ``Strict-Transport-Security`` when the site is served over https (``PUBLIC_BASE_URL``).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.wrappers import Response

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"

#: Endpoints whose answers hold nothing personal and may be cached (everything else is no-store).
CACHEABLE_ENDPOINTS = frozenset(
    {
        "static",
        "public.index",
        "public.healthz",
        "alerts_public.feed",
        "alerts_public.show",
        "alerts_public.cap_document",
    }
)

#: Path prefixes of pages opened through a bearer link: no Referer at all.
NO_REFERRER_PREFIXES = ("/c/", "/me/")


def wants_no_store(endpoint: str | None) -> bool:
    """True for every endpoint except the public, cacheable ones (404s included: no endpoint)."""
    return endpoint not in CACHEABLE_ENDPOINTS


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    path = request.path
    bearer_page = path.startswith(NO_REFERRER_PREFIXES)
    headers["Referrer-Policy"] = "no-referrer" if bearer_page else "same-origin"
    if bearer_page or wants_no_store(request.endpoint):
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
        headers.pop("ETag", None)
        headers.pop("Last-Modified", None)
    if _https():
        headers["Strict-Transport-Security"] = HSTS
    return response


def _https() -> bool:
    return str(current_app.config.get("PUBLIC_BASE_URL", "")).startswith("https://")


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
