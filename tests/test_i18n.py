"""The translation catalogs are present, compiled, complete and in step with the source."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

from outreach.i18n import (
    LOCALES,
    TRANSLATIONS_DIR,
    compile_catalog_bytes,
    for_person_language,
    missing_catalogs,
)

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("outreach/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
}


@cache
def source_msgids() -> frozenset[str]:
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        ids.add(message if isinstance(message, str) else message[0])
    ids.discard("")
    return frozenset(ids)


def catalog(lang: str) -> dict[str, object]:
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in read_po(fh) if m.id}


@pytest.mark.parametrize("lang", [lang for lang in LOCALES if lang != "en"])
def test_catalog_compiled_and_current(lang: str) -> None:
    assert missing_catalogs() == []
    po = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    # The committed .mo must be exactly what the .po compiles to: a stale .mo shows old texts.
    with mo.open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    with po.open("rb") as fh:
        expected = {m.id: m.string for m in read_po(fh) if m.id and m.string and not m.fuzzy}
    assert compiled == expected
    assert compile_catalog_bytes(po)


@pytest.mark.parametrize("lang", [lang for lang in LOCALES if lang != "en"])
def test_every_source_string_is_translated(lang: str) -> None:
    entries = catalog(lang)
    wanted = source_msgids()
    missing = sorted(wanted - set(entries))
    assert missing == [], f"{lang}: strings not in the catalog (extract and update): {missing[:20]}"
    untranslated = sorted(
        k for k, v in entries.items() if k in wanted and not (v if isinstance(v, str) else any(v))
    )
    assert untranslated == [], f"{lang}: untranslated strings: {untranslated[:20]}"


def test_rendering_follows_the_persons_language(app: Flask) -> None:
    from flask_babel import gettext

    with app.app_context():
        with for_person_language("ko"):
            ko = gettext("Outbox")
        with for_person_language("km"):
            km = gettext("Outbox")
        with for_person_language("en"):
            en = gettext("Outbox")
        with for_person_language("xx-unknown"):
            fallback = gettext("Outbox")
    assert en == "Outbox"
    assert ko != en and ko == fallback  # unknown languages fall back to Korean
    assert km not in (en, ko)
