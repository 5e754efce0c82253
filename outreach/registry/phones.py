"""Phone numbers: anything a person types, normalised to E.164 with ``phonenumbers``."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import phonenumbers
from flask import current_app
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberType

from outreach.models import PhoneKind

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class PhoneError(ValueError):
    """The input is not a usable mobile number; ``str(exc)`` says why, in the current language."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: PhoneKind


def _guess_region(raw: str) -> str:
    # Korean mobiles are typed as 010-xxxx-xxxx (11 digits); Cambodian ones as 0xx xxx xxx (9 or 10
    # digits, and Cambodia has an 010 prefix too, hence the length test). Anything with a + or 00
    # prefix carries its own country code.
    digits = "".join(ch for ch in raw if ch.isdigit())
    if digits.startswith("010") and len(digits) == 11:
        return "KR"
    return "KH"


def _clean(raw: str) -> str:
    # NFKC turns full-width digits (typed on Korean and Japanese keyboards) into ASCII ones;
    # phonenumbers itself copes with Khmer and other native digits.
    text = unicodedata.normalize("NFKC", raw or "").strip()
    for prefix in ("whatsapp:", "tel:", "sms:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    return text


def _parse(text: str) -> phonenumbers.PhoneNumber:
    """Parse with the likely region; a national number that is invalid there is tried in the other one."""
    if text.startswith("+"):
        return phonenumbers.parse(text, None)
    region = _guess_region(text)
    parsed = phonenumbers.parse(text, region)
    if not phonenumbers.is_valid_number(parsed):
        other = "KR" if region == "KH" else "KH"
        try:
            alternative = phonenumbers.parse(text, other)
        except NumberParseException:
            return parsed
        if phonenumbers.is_valid_number(alternative):
            return alternative
    return parsed


def normalise_phone(raw: str, *, mobile_only: bool = True) -> Phone:
    """Parse ``raw`` ("012 345 678", "+855 12-345-678", "010-1234-5678") into E.164.

    Raises :class:`PhoneError` for empty, impossible or (with ``mobile_only``) landline numbers; the
    message says what is wrong and what a good number looks like.
    """
    text = _clean(raw)
    if not text:
        raise PhoneError(_l("Enter a mobile number."))
    if not any(ch.isdigit() for ch in text):
        raise PhoneError(_l("This is not a phone number: it has no digits."))
    try:
        parsed = _parse(text)
    except NumberParseException as exc:
        raise PhoneError(_l("This is not a phone number.")) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise PhoneError(
            _l(
                "This number has the wrong number of digits. A Cambodian mobile looks like 012 345 678, "
                "a Korean one like 010-1234-5678."
            )
        )
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(
            _l(
                "This number does not exist. Check the digits: a Cambodian mobile looks like 012 345 678, "
                "a Korean one like 010-1234-5678."
            )
        )
    if mobile_only and phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise PhoneError(
            _l("This is a landline or internet number; enter a mobile number that can receive SMS.")
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, kind=kind_of(parsed.country_code or 0))


def kind_of(country_code: int) -> PhoneKind:
    return {855: PhoneKind.KH, 82: PhoneKind.KR}.get(country_code, PhoneKind.OTHER)


def kind_of_e164(e164: str) -> PhoneKind:
    if e164.startswith("+855"):
        return PhoneKind.KH
    if e164.startswith("+82"):
        return PhoneKind.KR
    return PhoneKind.OTHER


def looks_like_phone(text: str) -> bool:
    """True when ``text`` is made of digits and phone punctuation only (a search for a number)."""
    cleaned = _clean(text)
    return (
        bool(cleaned)
        and any(ch.isdigit() for ch in cleaned)
        and all(ch.isdigit() or ch in "+-(). " for ch in cleaned)
    )


def digits_of(text: str) -> str:
    """ASCII digits of ``text`` (full-width and Khmer digits included)."""
    return "".join(str(unicodedata.digit(ch)) for ch in _clean(text) if ch.isdigit())


def display(e164: str) -> str:
    """A number as people read it: "+855 12 345 678"."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except NumberParseException:
        return e164


def region_of(e164: str) -> str | None:
    """The ISO 3166-1 country of an E.164 number ("KH", "KR"), or None when it has none (+881 satellite)."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return None
    return region if region and region != "001" else None


def public_countries() -> frozenset[str]:
    """``ALLOWED_PHONE_COUNTRIES``: the countries whose numbers may register themselves (web and SMS).

    Every public registration costs an SMS; a form that takes any country's number is a tool for SMS
    pumping (premium and satellite ranges). Staff-entered and imported numbers are not limited.
    """
    raw = str(current_app.config.get("ALLOWED_PHONE_COUNTRIES") or "KH,KR")
    return frozenset(code.strip().upper() for code in raw.split(",") if code.strip())
