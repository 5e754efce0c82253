"""One-time evidence upload links: ``/u/<token>``, sent by an officer to a reporter or a victim.

The token is signed with ``SECRET_KEY`` (itsdangerous, as the registry's self-service links) and
carries ``[case id, link id]``: a forged or mistyped link is turned away before the database is
asked, and the signature's timestamp caps its life at ``EVIDENCE_UPLOAD_LINK_HOURS``. A link is used
once; that needs a row per link, which the reports models will hold (``upload_token``, see below).
This module takes what it needs from that row as parameters, so it does not depend on the model:

* :func:`check_upload_token` — may this link still be used? (The page shows the form, or says why not.)
* :func:`consume_upload_token` — spend it, exactly once, in the transaction that records the files.
  It calls ``mark_used``, which must be one conditional statement so that two submissions racing
  (two taps, two tabs) cannot both win::

      UPDATE upload_token SET used_at = :now
       WHERE link_id = :link_id AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :now

  and report whether it changed a row. The files are checked and stored *before* that (a refused
  photo must not spend the link); if the update changes nothing, the transaction rolls back and
  the stored copies are left unreferenced (content-addressed, so harmless, and swept later).

Proposed ``upload_token`` columns: ``id``; ``link_id`` (unique, the random part of the token);
``case_id``; ``created_by_id`` (the officer); ``sent_to`` (the address it went to) and ``language``
(of the page and the statement template); ``created_at``; ``expires_at``; ``used_at``;
``revoked_at`` (an officer withdraws a link sent to the wrong number); ``files_received``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from outreach.models import utcnow

SALT = "outreach.reports.evidence-upload"
#: Where the upload page will be served (the reports pages add the route).
PATH_PREFIX = "/u/"


class UploadLinkError(Exception):
    """The link cannot be used; ``reason`` is "invalid", "expired", "used" or "revoked"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> LazyString:
        """What the person who opened the link reads."""
        return REASONS[self.reason]


#: What a person reads when their link does not work: each says what to do next.
REASONS: dict[str, LazyString] = {
    "invalid": _l(
        "This upload link is not valid. Check that you opened the whole link, "
        "or ask the embassy officer for a new one."
    ),
    "expired": _l("This upload link has expired. Ask the embassy officer for a new one."),
    "used": _l(
        "Files have already been sent with this link, and it works only once. "
        "If you have more to send, ask the embassy officer for a new link."
    ),
    "revoked": _l("This upload link was withdrawn by the embassy. Ask the officer for a new one."),
}


class UploadTokenRow(Protocol):
    """What :func:`check_upload_token` reads from the stored link (the later ``upload_token`` row)."""

    @property
    def case_id(self) -> int: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def used_at(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class UploadGrant:
    """A link that may be used now: which case the files go to, and which link to spend."""

    case_id: int
    link_id: str


def new_link_id() -> str:
    """The random, unique part of a link (128 bits; also the row's key)."""
    return secrets.token_urlsafe(16)


def default_expiry(now: datetime | None = None) -> datetime:
    """When a link made now stops working (``EVIDENCE_UPLOAD_LINK_HOURS``)."""
    return (now or utcnow()) + timedelta(hours=current_app.config["EVIDENCE_UPLOAD_LINK_HOURS"])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_upload_token(case_id: int, link_id: str) -> str:
    return str(_serializer().dumps([case_id, link_id]))


def upload_url(token: str) -> str:
    """The absolute link (on ``PUBLIC_BASE_URL``: it is sent by SMS or e-mail from a job)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + PATH_PREFIX + token


def read_upload_token(token: str) -> UploadGrant:
    """The case and link a token names, if its signature holds and it is not past the longest life."""
    max_age = int(current_app.config["EVIDENCE_UPLOAD_LINK_HOURS"]) * 3600
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise UploadLinkError("expired") from exc
    except BadSignature as exc:
        raise UploadLinkError("invalid") from exc
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        raise UploadLinkError("invalid")
    return UploadGrant(case_id=payload[0], link_id=payload[1])


def check_upload_token(
    token: str, *, lookup: Callable[[str], UploadTokenRow | None], now: datetime | None = None
) -> UploadGrant:
    """Whether ``token`` may be used now; raises :class:`UploadLinkError` saying why not.

    ``lookup`` finds the stored link by its id (``None`` if there is none). The signature is checked
    first, so a guessed or damaged token never reaches the database.
    """
    grant = read_upload_token(token)
    row = lookup(grant.link_id)
    if row is None or row.case_id != grant.case_id:
        raise UploadLinkError("invalid")
    if row.revoked_at is not None:
        raise UploadLinkError("revoked")
    if row.used_at is not None:
        raise UploadLinkError("used")
    if (now or utcnow()) >= row.expires_at:
        raise UploadLinkError("expired")
    return grant


def consume_upload_token(
    grant: UploadGrant, *, mark_used: Callable[[str, datetime], bool], now: datetime | None = None
) -> None:
    """Spend the link once: ``mark_used(link_id, now)`` is the conditional update above.

    Raises ``UploadLinkError("used")`` when it changed nothing (another submission won, or the link
    ran out or was withdrawn meanwhile): the caller rolls back what it recorded.
    """
    if not mark_used(grant.link_id, now or utcnow()):
        raise UploadLinkError("used")
