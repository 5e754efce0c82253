"""Cambodia's administrative areas: look-up by code, parents and children, containment, name search.

Three levels, one code space:

* **province** (and the capital, Phnom Penh): ISO 3166-2:KH, ``KH-1`` … ``KH-25``, as the registry
  already stores them (``outreach/data/provinces.py``);
* **district**: 4-digit gazetteer code, the province's two digits first (``2008`` Krong Bavet is in
  ``20`` Svay Rieng = ``KH-20``); a srok, a krong (municipality) or, in Phnom Penh, a khan;
* **commune**: 6-digit code, the district's four first (``200802`` Sangkat Bavet); a khum, or a
  sangkat in a krong or khan.

So containment is a prefix test, and a stored code says its own parents. Named places such as Bavet,
Poipet or Bokor are not units of their own: ``outreach/data/kh_places.py`` maps each to the official
unit and gives it its Korean name. Everything is loaded once from small files in ``outreach/data/``
and kept in memory (about 1,900 areas), so every function here is a dictionary look-up or a scan of
a few thousand strings, safe to call on every request.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from outreach.data.kh_places import PLACES, Place
from outreach.data.provinces import PROVINCES
from outreach.registry.provinces import ALIASES as PROVINCE_ALIASES


class Level(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


#: The kind of unit, in the words staff and residents use.
UNIT_NAMES: dict[str, LazyString] = {
    "capital": _l("capital"),
    "province": _l("province"),
    "krong": _l("municipality (krong)"),
    "srok": _l("district (srok)"),
    "khan": _l("section (khan)"),
    "sangkat": _l("quarter (sangkat)"),
    "khum": _l("commune (khum)"),
}

_LEVEL_ORDER = {Level.PROVINCE: 0, Level.DISTRICT: 1, Level.COMMUNE: 2}
_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")


@dataclass(frozen=True, slots=True)
class Area:
    """One administrative unit. ``name_ko`` is set for provinces and for the named places."""

    code: str
    level: Level
    unit: str
    name_km: str
    name_en: str
    name_ko: str | None = None
    parent_code: str | None = None
    #: Other spellings that find this area in a search (common English names, old names, Korean).
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def name(self, language: str) -> str:
        """The name in ``language`` (ko, en or km); Korean falls back to English where none is kept."""
        if language == "km":
            return self.name_km
        if language == "ko" and self.name_ko:
            return self.name_ko
        return self.name_en

    @property
    def unit_name(self) -> LazyString:
        return UNIT_NAMES[self.unit]


@dataclass(frozen=True, slots=True)
class _Index:
    by_code: dict[str, Area]
    children: dict[str | None, tuple[Area, ...]]
    #: (search key, area, is an exact official or Korean name rather than an alias)
    keys: tuple[tuple[str, Area], ...]


def search_key(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a name ("Paoy-Paet" == "paoypaet").

    Letters, digits and combining marks are kept: Khmer vowels and subscripts are marks, and dropping
    them would make different names equal.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNM")


def _province_code(two_digits: str) -> str:
    return f"KH-{int(two_digits)}"


def _read_areas() -> list[tuple[str, str, str, str]]:
    text = resources.files("outreach.data").joinpath("kh_areas.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader((line for line in text.splitlines() if not line.startswith("#")), delimiter="\t")
    return [(r["code"], r["unit"], r["name_km"], r["name_en"]) for r in rows]


@cache
def _index() -> _Index:
    places: dict[str, Place] = {p.code: p for p in PLACES}
    areas: list[Area] = []
    for code, _number, ko, en, km in PROVINCES:
        place = places.get(code)
        aliases = tuple(a for a, c in PROVINCE_ALIASES.items() if c == code)
        areas.append(
            Area(
                code=code,
                level=Level.PROVINCE,
                unit="capital" if code == "KH-12" else "province",
                name_km=km,
                name_en=en,
                name_ko=ko,
                aliases=aliases + (place.aliases if place else ()),
            )
        )
    for code, unit, km, en in _read_areas():
        level = Level.DISTRICT if len(code) == 4 else Level.COMMUNE
        parent = _province_code(code[:2]) if level is Level.DISTRICT else code[:4]
        place = places.get(code)
        areas.append(
            Area(
                code=code,
                level=level,
                unit=unit,
                name_km=km,
                name_en=(place.name_en if place and place.name_en else en),
                name_ko=place.name_ko if place else None,
                parent_code=parent,
                # The official romanisation stays searchable when a common name is shown instead.
                aliases=((en,) if place and place.name_en else ()) + (place.aliases if place else ()),
            )
        )
    by_code = {a.code: a for a in areas}
    children: dict[str | None, list[Area]] = {}
    for a in areas:
        children.setdefault(a.parent_code, []).append(a)
    keys: list[tuple[str, Area]] = []
    for a in areas:
        names = {a.name_en, a.name_km, *a.aliases, *([a.name_ko] if a.name_ko else [])}
        keys.extend((search_key(n), a) for n in names if search_key(n))
    return _Index(
        by_code=by_code,
        children={k: tuple(v) for k, v in children.items()},
        keys=tuple(keys),
    )


def normalise_code(code: str | None) -> str | None:
    """The canonical form of an area code as people type it, or None when it cannot be one.

    "KH-20", "kh20" and "20" are the province; "2008" and "២០០៨" (Khmer digits) the district;
    "200802" the commune. Whether the area exists is :func:`get`'s question.
    """
    if not code:
        return None
    raw = unicodedata.normalize("NFKC", code).strip().upper().translate(_KHMER_DIGITS)
    if raw.startswith("KH"):
        digits = raw[2:].lstrip("- ")
        return f"KH-{int(digits)}" if digits.isdigit() and 0 < int(digits) < 100 else None
    if raw.isdigit() and len(raw) <= 3:
        return f"KH-{int(raw)}" if int(raw) > 0 else None
    if raw.isdigit() and len(raw) in (4, 6):
        return raw
    return None


def get(code: str | None) -> Area | None:
    """The area with ``code`` (any form :func:`normalise_code` accepts), or None."""
    canonical = normalise_code(code)
    return _index().by_code.get(canonical) if canonical else None


def area(code: str) -> Area:
    """Like :func:`get` for codes that must exist (stored ones); raises ``KeyError`` otherwise."""
    found = get(code)
    if found is None:
        raise KeyError(code)
    return found


def provinces() -> tuple[Area, ...]:
    """The 25 provinces in ISO order."""
    return _index().children[None]


def parents(code: str) -> list[Area]:
    """The units above ``code``, nearest first: a commune's district, then its province."""
    out: list[Area] = []
    current = area(code)
    while current.parent_code is not None:
        current = _index().by_code[current.parent_code]
        out.append(current)
    return out


def children(code: str) -> tuple[Area, ...]:
    """The units directly inside ``code``: a province's districts, a district's communes."""
    return _index().children.get(area(code).code, ())


def is_within(inner: str, outer: str) -> bool:
    """Whether area ``inner`` lies inside area ``outer`` (an area lies within itself).

    False when either code is unknown, so a stale code never puts someone inside a zone.
    """
    a, b = get(inner), get(outer)
    if a is None or b is None:
        return False
    return a.code == b.code or any(p.code == b.code for p in parents(a.code))


def search(
    query: str,
    *,
    limit: int | None = 10,
    levels: Iterable[Level] | None = None,
    within: str | None = None,
) -> list[Area]:
    """Areas whose name (Khmer, English, Korean or an alias) matches ``query``, best first.

    A code finds its area. Exact names come before names that start with the query, which come before
    names that merely contain it; then named places, then larger units, then by code. ``levels`` and
    ``within`` (an area code) narrow the search, e.g. to districts and communes of one province.
    """
    wanted = set(levels) if levels is not None else None
    scope = get(within) if within else None
    if within and scope is None:
        return []

    def allowed(a: Area) -> bool:
        return (wanted is None or a.level in wanted) and (scope is None or is_within(a.code, scope.code))

    by_code = get(query)
    key = search_key(query)
    if not key:
        return [by_code] if by_code and allowed(by_code) else []
    best: dict[str, tuple[int, Area]] = {}
    if by_code is not None:
        best[by_code.code] = (-1, by_code)
    for name, a in _index().keys:
        if name == key:
            rank = 0
        elif name.startswith(key):
            rank = 1
        elif key in name:
            rank = 2
        else:
            continue
        if a.code not in best or rank < best[a.code][0]:
            best[a.code] = (rank, a)
    ranked = sorted(
        (entry for entry in best.values() if allowed(entry[1])),
        key=lambda e: (e[0], e[1].name_ko is None, _LEVEL_ORDER[e[1].level], e[1].code),
    )
    found = [a for _rank, a in ranked]
    return found if limit is None else found[:limit]


def label(a: Area, language: str, *, with_unit: bool = False) -> str:
    """The area's name with where it is, so equal names are told apart: "Bavet, Svay Rieng"."""
    names = [a.name(language)]
    if with_unit:
        names[0] = f"{names[0]} ({a.unit_name})"
    names.extend(p.name(language) for p in parents(a.code))
    return ", ".join(names)


def numbered_menu(areas: Sequence[Area], language: str) -> str:
    """A numbered list for an SMS reply ("1 Bavet, Svay Rieng"); the person answers with the number.

    The number is the area's position in ``areas``; keep the same sequence to read the answer back
    (:func:`menu_choice`).
    """
    return "\n".join(f"{i} {label(a, language)}" for i, a in enumerate(areas, start=1))


def menu_choice(areas: Sequence[Area], answer: str) -> Area | None:
    """The area a numbered-menu answer picks ("2", "២", " 2. "), or None for anything else."""
    digits = unicodedata.normalize("NFKC", answer).strip().rstrip(".)").translate(_KHMER_DIGITS)
    if not digits.isdigit():
        return None
    n = int(digits)
    return areas[n - 1] if 1 <= n <= len(areas) else None


def choices(language: str, parent: str | None = None) -> list[tuple[str, str]]:
    """(code, label) pairs for a select list: the provinces, or the units directly inside ``parent``.

    Sorted by name in ``language`` so a long list reads like a directory; each label carries the kind
    of unit, since a srok and a krong often share a name (Kampot district and Kampot city).
    """
    items = provinces() if parent is None else children(parent)
    return sorted(
        ((a.code, f"{a.name(language)} ({a.unit_name})") for a in items),
        key=lambda c: search_key(c[1]),
    )
