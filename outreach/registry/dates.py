"""Dates as people type them in an SMS or a spreadsheet: 2025-12-31, 2025.12.31, 2025년 12월 31일, 12/31."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_YMD = re.compile(r"^(\d{4})\s*[-./년]\s*(\d{1,2})\s*[-./월]\s*(\d{1,2})\s*[.일]?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MD = re.compile(r"^(\d{1,2})\s*[-./월]\s*(\d{1,2})\s*[.일]?$")


def _ascii_digits(text: str) -> str:
    # NFKC for full-width digits; unicodedata.digit for Khmer ones ("៣១/១២").
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)


def parse_date(text: str | None, *, today: date | None = None, allow_no_year: bool = False) -> date | None:
    """The date in ``text``, or None when it is not a date.

    Year-month-day in any common separator is always accepted. With ``allow_no_year`` (SMS), a
    month and day alone ("12/31", "12월 31일") mean the next such day from ``today``.
    """
    if not text:
        return None
    raw = _ascii_digits(text).strip().rstrip(".").strip()
    match = _YMD.match(raw) or _COMPACT.match(raw)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return _safe_date(year, month, day)
    if allow_no_year and today is not None:
        match = _MD.match(raw)
        if match:
            month, day = (int(g) for g in match.groups())
            if month > 12 >= day:  # "31/12": day first, which is unambiguous only this way round
                month, day = day, month
            candidate = _safe_date(today.year, month, day)
            if candidate is not None and candidate < today:
                candidate = _safe_date(today.year + 1, month, day)
            return candidate
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
