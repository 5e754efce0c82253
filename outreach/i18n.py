"""Internationalisation in one place: supported locales, the locale selector, catalog checks.

Staff pages follow the staff member's language (Korean or English); public pages follow ``?lang=``,
then the ``lang`` cookie, then the browser, defaulting to Korean. Anything sent to a resident is
rendered with :func:`for_person_language` in *their* language, wherever it is sent from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import force_locale, get_locale
from flask_login import current_user

#: Languages residents can choose. Korean first: it is the default everywhere.
LOCALES: tuple[str, ...] = ("ko", "en", "km")
#: Languages the staff UI is translated into.
STAFF_LOCALES: tuple[str, ...] = ("ko", "en")
DEFAULT_LOCALE = "ko"

TRANSLATIONS_DIR = Path(__file__).parent / "translations"

LANGUAGE_NAMES = {"ko": "한국어", "en": "English", "km": "ខ្មែរ"}


def normalise_language(value: str | None, allowed: tuple[str, ...] = LOCALES) -> str:
    """The supported language closest to ``value`` ("ko-KR" → "ko"), or the default."""
    if not value:
        return DEFAULT_LOCALE
    short = value.strip().lower().replace("_", "-").split("-")[0]
    return short if short in allowed else DEFAULT_LOCALE


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    requested = request.args.get("lang")
    if requested in LOCALES:
        return requested
    if current_user and getattr(current_user, "is_authenticated", False):
        return normalise_language(getattr(current_user, "language", None), LOCALES)
    cookie = request.cookies.get("lang")
    if cookie in LOCALES:
        return cookie
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


@contextmanager
def for_person_language(language: str | None) -> Iterator[str]:
    """Render everything inside in ``language`` (a resident's or staff member's), whatever the request's."""
    lang = normalise_language(language)
    with force_locale(lang):
        yield lang


def missing_catalogs(translations_dir: Path = TRANSLATIONS_DIR) -> list[str]:
    """Locales whose compiled catalog is missing or does not hold what its source ``.po`` says.

    Judged by content, never by file times: a git checkout writes files in index order, so the
    ``.mo`` is often "older" than its ``.po`` although both hold the same messages, and Babel's
    bytes differ between its versions. What matters is whether people would read the texts the
    ``.po`` holds.
    """
    problems = []
    for lang in LOCALES:
        if lang == "en":
            continue  # English is the source language; its catalog is optional
        po = translations_dir / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not po.exists() or not mo.exists():
            problems.append(f"{lang}: missing {'messages.po' if not po.exists() else 'messages.mo'}")
        elif compiled_messages(mo) != translated_messages(po):
            problems.append(f"{lang}: messages.mo does not match messages.po (run pybabel compile)")
    return problems


MessageKey = tuple[str | None, str | tuple[str, ...]]


def _key(context: str | None, msgid: str | tuple[str, ...] | list[str]) -> MessageKey:
    # Babel's type hints allow a plural id to be a list; a key must be hashable, so it becomes a tuple.
    return (context, msgid if isinstance(msgid, str) else tuple(msgid))


def translated_messages(po: Path) -> dict[MessageKey, object]:
    """What a compiled ``.po`` would hold: translated, non-fuzzy messages by (context, id)."""
    with po.open("rb") as fh:
        return {_key(m.context, m.id): m.string for m in read_po(fh) if m.id and m.string and not m.fuzzy}


def compiled_messages(mo: Path) -> dict[MessageKey, object]:
    """The messages a compiled ``.mo`` holds, by (context, id)."""
    with mo.open("rb") as fh:
        return {_key(m.context, m.id): m.string for m in read_mo(fh) if m.id}


def check_catalogs(app: Flask) -> None:
    """Warn at start-up when a translation catalog is not compiled: people would read English."""
    for problem in missing_catalogs():
        app.logger.warning("translation catalog problem: %s", problem)


def current_language() -> str:
    locale = get_locale()
    return str(locale.language) if locale else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["current_language"] = current_language
    if not app.config.get("TESTING"):
        check_catalogs(app)


__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "STAFF_LOCALES",
    "check_catalogs",
    "compiled_messages",
    "current_app",
    "for_person_language",
    "missing_catalogs",
    "normalise_language",
    "select_locale",
    "translated_messages",
]
