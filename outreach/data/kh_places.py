"""Named places the embassy's advisories use, and how each maps onto Cambodia's official units.

Korea's advisories name places, not codes: "시아누크빌주", "바벳시", "포이펫시", "보코산". Each entry
here says which official unit (ISO 3166-2:KH province, or district/commune code from
``kh_areas.tsv``) the name means, gives it a Korean name for staff pages, a common English name where
the official romanisation is not what people write (Paoy Paet → Poipet), and other spellings to
search by. None of them is a unit of its own: zones attach to the official unit.
"""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    code: str  #: the official unit the name means
    name_ko: str
    name_en: str | None  #: common English name, when it differs from the official romanisation
    aliases: tuple[str, ...]  #: other spellings (any language) that find it
    note: str  #: how the name maps to the unit (for the README and staff help)


PLACES: tuple[Place, ...] = (
    Place(
        "KH-12",
        "프놈펜",
        None,
        ("Phnom Penh city", "프놈펜시"),
        "The capital is a province-level unit of its own (KH-12), divided into 14 khans.",
    ),
    Place(
        "KH-18",
        "시아누크빌",
        None,
        ("Sihanoukville", "Kampong Som", "시아누크빌주", "시하누크빌"),
        "Advisories' 'Sihanoukville (시아누크빌주)' is the whole province of Preah Sihanouk (KH-18).",
    ),
    Place(
        "1801",
        "시아누크빌시",
        "Sihanoukville city",
        ("Krong Preah Sihanouk",),
        "The city itself is Krong Preah Sihanouk (1801), one of the province's municipalities.",
    ),
    Place(
        "2008",
        "바벳",
        "Bavet",
        ("바벳시", "Krong Bavet"),
        "Bavet, the border city facing Moc Bai (Vietnam), is Krong Bavet (2008) in Svay Rieng.",
    ),
    Place(
        "0110",
        "포이펫",
        "Poipet",
        ("포이펫시", "Paoy Paet", "Krong Poipet"),
        "Poipet, the border city facing Aranyaprathet (Thailand), is Krong Paoy Paet (0110) in"
        " Banteay Meanchey.",
    ),
    Place(
        "0709",
        "보코산",
        "Bokor",
        ("보코", "보꼬", "Bokor Mountain", "Phnom Bokor", "Bouk Kou", "Krong Bokor"),
        "Bokor mountain (Phnom Bokor) and its hill station lie in Krong Bokor (0709, officially romanised"
        " Bouk Kou) in Kampot; advisories naming 'Bokor' mean the whole krong.",
    ),
    Place(
        "220405",
        "오스맛",
        "O'Smach",
        ("O Smach", "Ou Smach", "오스막"),
        "O'Smach, the border crossing to Thailand, is Sangkat Ou Smach (220405) of Krong Samraong,"
        " Oddar Meanchey.",
    ),
    Place(
        "1710",
        "시엠립시",
        "Siem Reap city",
        ("Krong Siem Reap", "씨엠립시"),
        "The city is Krong Siem Reap (1710); the province is KH-17.",
    ),
    Place(
        "0708",
        "캄폿시",
        "Kampot city",
        ("Krong Kampot",),
        "The town is Krong Kampot (0708); the province is KH-7.",
    ),
)
