"""Numbers, provinces and dates as people type them."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from outreach.models import PhoneKind
from outreach.registry.dates import parse_date
from outreach.registry.phones import PhoneError, normalise_phone
from outreach.registry.provinces import match_province


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("012 345 678", "+85512345678", PhoneKind.KH),
        ("+855 12-345-678", "+85512345678", PhoneKind.KH),
        ("00855 12 345 678", "+85512345678", PhoneKind.KH),
        ("097 123 4567", "+855971234567", PhoneKind.KH),
        ("010 123 456", "+85510123456", PhoneKind.KH),  # Cambodia has an 010 prefix too (9 digits)
        ("010-1234-5678", "+821012345678", PhoneKind.KR),
        ("+82 10 1234 5678", "+821012345678", PhoneKind.KR),
        ("０１０-１２３４-５６７８", "+821012345678", PhoneKind.KR),  # full-width digits
        ("០១២ ៣៤៥ ៦៧៨", "+85512345678", PhoneKind.KH),  # Khmer digits
        ("whatsapp:+85512345678", "+85512345678", PhoneKind.KH),
        ("+1 415 555 2671", "+14155552671", PhoneKind.OTHER),
    ],
)
def test_numbers_normalise_to_e164(raw: str, e164: str, kind: PhoneKind) -> None:
    phone = normalise_phone(raw)
    assert (phone.e164, phone.kind) == (e164, kind)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter a mobile number."),
        ("abc", "This is not a phone number: it has no digits."),
        ("12345", "This number has the wrong number of digits."),
        ("+855 20 123 456", "This number does not exist."),
        ("023 211 900", "This is a landline"),  # Phnom Penh landline
        ("02-123-4567", "This is a landline"),  # Seoul landline, typed the Korean way
        ("070-1234-5678", "This is a landline or internet number"),  # Korean internet phone
    ],
)
def test_bad_numbers_say_what_is_wrong(app: Flask, raw: str, reason: str) -> None:
    with app.test_request_context("/?lang=en"), pytest.raises(PhoneError) as exc:
        normalise_phone(raw)
    assert str(exc.value).startswith(reason)


def test_landline_is_fine_where_any_number_will_do() -> None:
    assert normalise_phone("023 211 900", mobile_only=False).e164 == "+85523211900"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("12", "KH-12"),
        ("១២", "KH-12"),
        ("KH-17", "KH-17"),
        ("프놈펜", "KH-12"),
        ("Phnom Penh", "KH-12"),
        ("phnom", "KH-12"),
        ("ភ្នំពេញ", "KH-12"),
        ("ខេត្តសៀមរាប", "KH-17"),
        ("시엠", "KH-17"),
        ("씨엠립", "KH-17"),
        ("Sihanoukville", "KH-18"),
        ("Siem Reap Province", "KH-17"),
        ("26", None),
        ("kampong", None),
        ("", None),
    ],
)
def test_provinces_in_three_languages(text: str, code: str | None) -> None:
    assert match_province(text) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-31", date(2025, 12, 31)),
        ("2025.12.31", date(2025, 12, 31)),
        ("2025. 12. 31.", date(2025, 12, 31)),
        ("2025년 12월 31일", date(2025, 12, 31)),
        ("20251231", date(2025, 12, 31)),
        ("12/31", date(2025, 12, 31)),
        ("12월 31일", date(2025, 12, 31)),
        ("31/12", date(2025, 12, 31)),
        ("1/5", date(2026, 1, 5)),
        ("2025-02-30", None),
        ("soon", None),
        ("", None),
    ],
)
def test_dates(text: str, expected: date | None) -> None:
    assert parse_date(text, today=date(2025, 11, 20), allow_no_year=True) == expected
    if "/" in text or ("월" in text and "년" not in text):
        assert parse_date(text) is None  # a spreadsheet must carry the year
