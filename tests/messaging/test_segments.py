"""SMS segment counting at the boundaries that decide what a message costs."""

from __future__ import annotations

import random

import pytest

from outreach.messaging.segments import count_segments
from tests.fakes.twilio_server import sms_segments

KO = "가"  # any Hangul syllable: UCS-2, one code unit
KM = "ក"  # Khmer letter KA: UCS-2, one code unit


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        (KO * 70, "UCS-2", 1, 70),
        (KO * 71, "UCS-2", 2, 71),
        (KO * 134, "UCS-2", 2, 134),
        (KO * 135, "UCS-2", 3, 135),
        (KM * 70, "UCS-2", 1, 70),
        (KM * 71, "UCS-2", 2, 71),
        (KM * 134, "UCS-2", 2, 134),
        (KM * 135, "UCS-2", 3, 135),
        # extension characters cost two septets
        ("€" * 80, "GSM-7", 1, 160),
        ("€" * 81, "GSM-7", 2, 162),
        ("a" * 159 + "{", "GSM-7", 2, 161),
        ("a" * 158 + "{", "GSM-7", 1, 160),
        # ... and are never split across parts: 152 septets + a 2-septet char does not fit in 153
        ("a" * 152 + "[" + "a" * 10, "GSM-7", 2, 164),
        ("a" * 152 + "[" + "a" * 153, "GSM-7", 3, 307),
        # one emoji makes an English text UCS-2 and costs two code units
        ("a" * 68 + "🙂", "UCS-2", 1, 70),
        ("a" * 69 + "🙂", "UCS-2", 2, 71),
        ("", "GSM-7", 1, 0),
    ],
)
def test_boundaries(text: str, encoding: str, segments: int, units: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_surrogate_pair_is_not_split() -> None:
    # 134 units would fill two 67-unit parts exactly, but the emoji after 66 units cannot straddle
    # the boundary: it moves whole to the second part, and the last character needs a third.
    assert count_segments(KO * 66 + "🙂" + KO * 66).units == 134
    assert count_segments(KO * 66 + "🙂" + KO * 66).segments == 3
    assert count_segments(KO * 67 + "🙂" + KO * 65).segments == 2


def test_a_korean_alert_of_typical_length() -> None:
    text = (
        "[주캄보디아 대한민국 대사관] 프놈펜 시내 시위로 교통이 통제되고 있습니다. "
        "외출을 자제하시고 안전에 유의하시기 바랍니다."
    )
    info = count_segments(text)
    assert info.encoding == "UCS-2"
    assert info.segments == (1 if len(text) <= 70 else -(-len(text) // 67))


def test_agrees_with_the_fake_provider_on_random_texts() -> None:
    rng = random.Random(7)
    alphabet = "abc XYZ 123 €{}[]~^|\\ 가나다 ក ខ 🙂 éàü"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        assert count_segments(text).segments == sms_segments(text), text
