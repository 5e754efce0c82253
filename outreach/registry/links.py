"""Signed, expiring self-service links: ``/me/<token>`` lets a person see, change or delete their record.

The token carries the person id and their ``link_generation``; deleting or merging the record bumps
the generation, so every link issued before dies with it. It is signed with ``SECRET_KEY`` and
expires after :data:`MAX_AGE_SECONDS`.
"""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from outreach.extensions import db
from outreach.models import Person

SALT = "outreach.registry.self-service"
MAX_AGE_SECONDS = 30 * 24 * 3600


class LinkError(Exception):
    """The link cannot be used; ``reason`` is "expired" or "invalid"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(person: Person) -> str:
    # A list, not a dict: the token goes into SMS, where every character counts.
    return str(_serializer().dumps([person.id, person.link_generation]))


def self_service_url(person: Person) -> str:
    """The absolute link, built on ``PUBLIC_BASE_URL`` (jobs have no request to take a host from)."""
    path = url_for("register.me", token=make_token(person), _external=False)
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def load_person(token: str, *, max_age: int | None = None) -> Person:
    """The live person a token names; raises :class:`LinkError` for expired, tampered or dead links."""
    try:
        payload = _serializer().loads(
            token, max_age=max_age or current_app.config.get("SELF_SERVICE_LINK_MAX_AGE", MAX_AGE_SECONDS)
        )
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc
    if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(v, int) for v in payload)):
        raise LinkError("invalid")
    person_id, generation = payload
    person = db.session.get(Person, person_id)
    if person is None or person.deleted_at is not None or person.link_generation != generation:
        raise LinkError("invalid")
    return person
