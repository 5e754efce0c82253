"""The private duress word: set at registration, checked in every check-in answer, never shown.

A person held in a scam compound may be made to answer "safe" while someone watches. If they have set
a duress word and write it anywhere in an answer or its note, the answer looks exactly like "safe" on
their phone, but an urgent case opens and the duty officer is paged (``outreach.checkins.operations``).

The word is normalised (Unicode NFKC, case-folded, every space and punctuation mark removed: "Blue
Bird", "bluebird" and "BLUE-BIRD" are one word) and stored as ``v1$<salt>$<HMAC-SHA256>``, keyed with
a key derived from ``SECRET_KEY`` and salted per person, so the same word gives a different value for
everyone and nothing in the database reveals it. Rotating ``SECRET_KEY`` voids every duress word (the
self-service page lets people set it again). An HMAC, not a slow password hash, because every answer
is checked against every stretch of its text; the key, not the cost, is what protects it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from outreach.audit import record
from outreach.models import Person

#: Shorter words would match by accident inside ordinary notes; longer ones nobody types under stress.
MIN_LENGTH = 3
MAX_LENGTH = 40


class DuressWordError(ValueError):
    """The word cannot be used; the message says why (shown on the form)."""


def normalise(word: str) -> str:
    """Letters and digits only, case-folded: spacing and punctuation never matter."""
    text = unicodedata.normalize("NFKC", word or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hashlib.sha256(b"outreach-duress-word\x00" + secret).digest()


def _salted(salt: str) -> hmac.HMAC:
    return hmac.new(_key(), f"{salt}\x00".encode(), hashlib.sha256)


def _mac(salt: str, normalised: str) -> str:
    mac = _salted(salt)
    mac.update(normalised.encode())
    return mac.hexdigest()


def hash_word(word: str) -> str:
    """The stored form of ``word``; :class:`DuressWordError` if it is too short or too long."""
    norm = normalise(word)
    if len(norm) < MIN_LENGTH:
        raise DuressWordError(
            _("The duress word needs at least %(count)d letters or digits.", count=MIN_LENGTH)
        )
    if len(norm) > MAX_LENGTH:
        raise DuressWordError(_("The duress word can have at most %(count)d letters.", count=MAX_LENGTH))
    salt = secrets.token_hex(8)
    return f"v1${salt}${_mac(salt, norm)}"


@dataclass(frozen=True)
class DuressMatch:
    #: The text with the duress word cut out (what the database and staff may see).
    redacted: str


def find(stored: str | None, text: str | None) -> DuressMatch | None:
    """Whether ``text`` contains the word behind ``stored``, anywhere (also inside a longer word)."""
    if not stored or not text:
        return None
    try:
        version, salt, expected = stored.split("$", 2)
    except ValueError:
        return None
    if version != "v1":
        return None
    # Keep a map from each kept character back to its place in the original text, so the word can
    # be cut out of what is stored while the rest of the note stays readable.
    kept: list[str] = []
    where: list[int] = []
    for index, ch in enumerate(text):
        for part in unicodedata.normalize("NFKC", ch).casefold():
            if part.isalnum():
                kept.append(part)
                where.append(index)
    flat = "".join(kept)
    base = _salted(salt)  # keyed and salted once; each stretch of text only copies it
    for start in range(len(flat)):
        for end in range(start + MIN_LENGTH, min(len(flat), start + MAX_LENGTH) + 1):
            mac = base.copy()
            mac.update(flat[start:end].encode())
            if hmac.compare_digest(mac.hexdigest(), expected):
                first, last = where[start], where[end - 1]
                redacted = (text[:first] + text[last + 1 :]).strip()
                return DuressMatch(redacted=" ".join(redacted.split()))
    return None


def set_word(person: Person, word: str | None, *, via: str) -> bool:
    """Set (or, with an empty ``word``, keep) the person's duress word; True if it was set.

    The audit event says that it changed and how, never the word. Flushes nothing: the caller's
    transaction carries it with the rest of the registration.
    """
    if not (word or "").strip():
        return False
    person.duress_hash = hash_word(word or "")
    record("person.duress_word", target_type="person", target_id=person.id, via=via, action_taken="set")
    return True


def clear_word(person: Person, *, via: str) -> None:
    person.duress_hash = None
    record("person.duress_word", target_type="person", target_id=person.id, via=via, action_taken="cleared")
