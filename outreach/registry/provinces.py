"""Provinces as people write them: ISO code, SMS menu number, or a name in Korean, English or Khmer."""

from __future__ import annotations

import unicodedata

from outreach.data.provinces import PROVINCES

#: Other spellings people use (old names, short forms, common Korean transliterations).
ALIASES: dict[str, str] = {
    "pp": "KH-12",
    "phnompenh": "KH-12",
    "프놈팬": "KH-12",
    "씨엠립": "KH-17",
    "시엠레아프": "KH-17",
    "siemreap": "KH-17",
    "sihanoukville": "KH-18",
    "kampongsom": "KH-18",
    "kompongsom": "KH-18",
    "시하누크빌": "KH-18",
    "시아누크": "KH-18",
    "시하누크": "KH-18",
    "프레아시아누크": "KH-18",
    "캄퐁솜": "KH-18",
    "ratanakkiri": "KH-16",
    "rattanakiri": "KH-16",
    "mondolkiri": "KH-11",
    "battambong": "KH-2",
    "siemriep": "KH-17",
    "kompongcham": "KH-3",
    "kompongchhnang": "KH-4",
    "kompongspeu": "KH-5",
    "kompongthom": "KH-6",
}

CODES: frozenset[str] = frozenset(code for code, *_ in PROVINCES)
BY_NUMBER: dict[int, str] = {number: code for code, number, *_ in PROVINCES}


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


_BY_NAME: dict[str, str] = {}
for _code, _number, _ko, _en, _km in PROVINCES:
    for _name in (_ko, _en, _km, _code):
        _BY_NAME[_key(_name)] = _code
_BY_NAME.update({_key(alias): code for alias, code in ALIASES.items()})


_NOISE = tuple(_key(word) for word in ("province", "city", "ខេត្ត", "រាជធានី", "krong", "khet"))


def match_province(text: str | None) -> str | None:
    """The ISO code for ``text`` ("12", "KH-12", "프놈펜", "Phnom Penh", "ភ្នំពេញ"), or None.

    Prefixes such as "ខេត្ត" (province) or "Province" are ignored, and an unambiguous start of a name
    ("phnom", "시엠") is accepted too: people answer an SMS menu in few letters.
    """
    if not text:
        return None
    raw = unicodedata.normalize("NFKC", text).strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if digits and digits == "".join(ch for ch in raw if not ch.isspace() and ch not in ".)"):
        return BY_NUMBER.get(int("".join(str(unicodedata.digit(ch)) for ch in digits)))
    key = _key(raw)
    for noise in _NOISE:
        key = key.replace(noise, "")
    if not key:
        return None
    if key in _BY_NAME:
        return _BY_NAME[key]
    # Hangul and Khmer carry a syllable per letter, so two of them say as much as three Latin ones.
    if len(key) >= (3 if key.isascii() else 2):
        candidates = {code for name, code in _BY_NAME.items() if name.startswith(key)}
        if len(candidates) == 1:
            return candidates.pop()
    return None
