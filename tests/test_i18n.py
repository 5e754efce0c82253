"""The translation catalogs are present, compiled, complete and in step with the source."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from flask import Flask

from outreach.i18n import (
    LOCALES,
    TRANSLATIONS_DIR,
    check_catalogs,
    compiled_messages,
    for_person_language,
    missing_catalogs,
    translated_messages,
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
    # The committed .mo must hold exactly what the .po compiles to: a stale .mo shows old texts.
    expected = translated_messages(po)
    assert len(expected) > 100
    assert compiled_messages(po.with_suffix(".mo")) == expected


def _copy_translations(tmp_path: Path) -> Path:
    target = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, target)
    return target


def test_catalog_check_ignores_file_times(tmp_path: Path) -> None:
    """A checkout that writes the .po after the .mo is not stale (the check once read mtimes)."""
    translations = _copy_translations(tmp_path)
    for lang in LOCALES:
        po = translations / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        os.utime(mo, (1_000_000_000, 1_000_000_000))
        os.utime(po, (2_000_000_000, 2_000_000_000))
    assert missing_catalogs(translations) == []


def test_catalog_check_reports_a_changed_translation(tmp_path: Path) -> None:
    translations = _copy_translations(tmp_path)
    po = translations / "km" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    message = catalog["Outbox"]
    assert message is not None and message.string
    message.string = "changed, not compiled"
    with po.open("wb") as fh:
        write_po(fh, catalog)
    # An older .mo would have been excused by the old mtime rule; content decides now.
    os.utime(po, (1_000_000_000, 1_000_000_000))
    problems = missing_catalogs(translations)
    assert [p.split(":")[0] for p in problems] == ["km"]
    assert "messages.mo does not match messages.po" in problems[0]


def test_catalog_check_reports_a_missing_mo(tmp_path: Path) -> None:
    translations = _copy_translations(tmp_path)
    (translations / "ko" / "LC_MESSAGES" / "messages.mo").unlink()
    assert missing_catalogs(translations) == ["ko: missing messages.mo"]


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


def test_start_up_check_is_quiet_on_a_fresh_checkout(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """The app's start-up check and the test above agree: the committed catalogs raise no warning."""
    with caplog.at_level("WARNING"):
        check_catalogs(app)
    assert [r.getMessage() for r in caplog.records if "translation catalog" in r.getMessage()] == []
