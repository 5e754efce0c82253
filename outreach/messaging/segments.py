"""How many SMS segments a text costs (Twilio bills, and rate-limits, per segment).

GSM-7 (the GSM 03.38 default alphabet plus its extension table): 160 septets in a single SMS, 153 per
part once concatenated (the user-data header takes 7). Extension characters (``€ { } [ ] ~ \\ ^ |``
and form feed) are sent as ESC + character, cost two septets, and are never split across parts.

Anything outside GSM-7 — every Korean or Khmer text, and one emoji in an English text — is sent as
UCS-2: 70 UTF-16 code units in a single SMS, 67 per part. Characters outside the Basic Multilingual
Plane (most emoji) take two code units, and a surrogate pair is never split across parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic table (ESC, 0x1B, excluded: it only introduces an extension character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")

Encoding = Literal["GSM-7", "UCS-2"]

#: (units in a single SMS, units per part of a concatenated SMS)
LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    segments: int
    #: Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
    units: int

    @property
    def single_limit(self) -> int:
        """Units that fit in one SMS with this encoding (160 or 70)."""
        return LIMITS[self.encoding][0]


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def count_segments(text: str) -> SegmentInfo:
    """Encoding, segment count and length in units of ``text``; an empty text still costs one SMS."""
    encoding: Encoding
    if is_gsm7(text):
        encoding = "GSM-7"
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding = "UCS-2"
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(costs)
    single, per_part = LIMITS[encoding]
    if units <= single:
        return SegmentInfo(encoding, 1, units)
    # Fill parts greedily; a two-unit character that does not fit moves whole to the next part.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            segments += 1
            used = 0
        used += cost
    return SegmentInfo(encoding, segments, units)
