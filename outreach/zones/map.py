"""The advisory map: Cambodia's provinces and named areas coloured by Korea's advisory level, as SVG.

Rendered on the server into the page (no script, no tiles, nothing fetched), from outlines prepared
once by ``outreach/data/build/build_kh_map.py`` into ``outreach/data/kh_map.json``: at run time this
module only joins strings, in well under a millisecond, so it can go on every dashboard view.

Colours follow the Ministry of Foreign Affairs' advisory map: level 1 여행유의 blue, 2 여행자제
yellow, 3 출국권고 red, 4 여행금지 black. The special advisory (특별여행주의보) has no colour of its own
there; it is "treated like level 2–3", so it is drawn as yellow and red diagonal stripes: between the
two, unlike any solid level, and told apart by pattern as well as by colour (grey-scale print,
colour-blind readers). Areas under no advisory are light grey.

Provinces are outlines. Districts and communes (Bavet, Poipet, Bokor, …) and Tboung Khmum, which the
outline source predates, are point markers drawn over their province, so a level-4 city reads on a
level-2 province. A district or commune the data has no point for is drawn at its province's centre.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, TypeAlias

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape

from outreach.zones import geo

AdvisoryLevel: TypeAlias = Literal[1, 2, 3, 4, "special"]
LEVELS: tuple[AdvisoryLevel, ...] = (1, 2, 3, 4, "special")

#: Solid fills per level; "special" is the striped pattern below.
FILLS: dict[AdvisoryLevel, str] = {1: "#1f63c6", 2: "#f4c300", 3: "#d7261e", 4: "#111111"}
NO_LEVEL_FILL = "#dfe3e8"
SPECIAL_STRIPES = ("#f4c300", "#d7261e")
#: Text on a fill: dark on light fills, white on dark ones.
_INK = {1: "#ffffff", 2: "#111111", 3: "#ffffff", 4: "#ffffff", "special": "#111111", None: "#111111"}

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,40}$")
LEGEND_ROW = 30.0
#: Provinces too small for a number on top: it goes beside them so their colour still shows.
_SMALL = frozenset({"KH-12", "KH-23"})
LEGEND_TOP_GAP = 14.0


def level_name(level: AdvisoryLevel | None) -> str:
    """The level's words in the current locale, as the Ministry names them."""
    return _level_names()[level]


def _level_names() -> dict[AdvisoryLevel | None, str]:
    # Built once per render: a gettext call costs microseconds, and a map needs dozens of them.
    return {
        1: _("Level 1: travel with caution"),
        2: _("Level 2: avoid non-essential travel"),
        3: _("Level 3: leave the area"),
        4: _("Level 4: travel ban"),
        "special": _("Special travel advisory"),
        None: _("No advisory"),
    }


@dataclass(frozen=True, slots=True)
class _Shape:
    code: str
    d: str
    label: tuple[float, float]


@dataclass(frozen=True, slots=True)
class _Base:
    width: float
    height: float
    provinces: tuple[_Shape, ...]
    markers: dict[str, tuple[float, float]]
    anchors: dict[str, tuple[float, float]]


@cache
def _base() -> _Base:
    raw = json.loads(resources.files("outreach.data").joinpath("kh_map.json").read_text(encoding="utf-8"))
    shapes = tuple(
        _Shape(code, p["d"], (float(p["label"][0]), float(p["label"][1])))
        for code, p in sorted(raw["provinces"].items(), key=lambda kv: int(kv[0][3:]))
    )
    anchors = {s.code: s.label for s in shapes}
    markers = {code: (float(x), float(y)) for code, (x, y) in raw["markers"].items()}
    # A province drawn as a marker (Tboung Khmum) has its label where its marker is.
    anchors.update({code: xy for code, xy in markers.items() if code.startswith("KH-")})
    return _Base(float(raw["width"]), float(raw["height"]), shapes, markers, anchors)


def _fill(level: AdvisoryLevel | None, prefix: str) -> str:
    if level is None:
        return NO_LEVEL_FILL
    if level == "special":
        return f"url(#{prefix}-special)"
    return FILLS[level]


def _check_level(code: str, level: object) -> AdvisoryLevel | None:
    # bool is an int in Python (True == 1): refuse it rather than paint a province blue.
    if level is None or (level in LEVELS and not isinstance(level, bool)):
        return level
    raise ValueError(f"advisory level for {code} must be 1, 2, 3, 4, 'special' or None, not {level!r}")


def _badge(x: float, y: float, count: int, anchor: Literal["middle", "start"]) -> str:
    text = f"{count:,}"
    w = 10.0 + 8.4 * len(text)
    left = x - w / 2 if anchor == "middle" else x
    return (
        f'<g class="count" aria-hidden="true"><rect x="{left:.1f}" y="{y - 10:.1f}" width="{w:.1f}" '
        f'height="20" rx="10" fill="#ffffff" stroke="#333333" stroke-width="1"/>'
        f'<text x="{left + w / 2:.1f}" y="{y + 5:.1f}" text-anchor="middle">{text}</text></g>'
    )


def render_map(
    levels: Mapping[str, AdvisoryLevel | None],
    counts: Mapping[str, int] | None = None,
    *,
    language: str,
    title: str | None = None,
    id_prefix: str = "kh-map",
) -> Markup:
    """An inline SVG of Cambodia with each area in ``levels`` coloured by its advisory level.

    ``levels`` maps area codes (provinces ``KH-n``, districts, communes; see ``outreach.zones.geo``)
    to 1–4, ``"special"`` or None; provinces not in it are drawn as under no advisory, districts and
    communes in neither mapping are not drawn. ``counts`` (area code → people) puts a number on each area,
    e.g. registered people inside, for staff pages; leave it out on public pages. Names are in
    ``language``; the legend and descriptions in the current locale. ``id_prefix`` keeps ids unique
    when a page shows two maps. Raises ``ValueError`` for an unknown area code or level.
    """
    if not _ID.match(id_prefix):
        raise ValueError(f"id_prefix must be a short identifier, not {id_prefix!r}")
    base = _base()
    counts = dict(counts or {})
    areas: dict[str, geo.Area] = {}
    level_of: dict[str, AdvisoryLevel | None] = {}
    for code, level in levels.items():
        a = geo.get(code)
        if a is None:
            raise ValueError(f"unknown area code {code!r}")
        areas[a.code] = a
        level_of[a.code] = _check_level(a.code, level)
    normalised_counts: dict[str, int] = {}
    for code, n in counts.items():
        a = geo.get(code)
        if a is None:
            raise ValueError(f"unknown area code {code!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"count for {a.code} must be a whole number of people, not {n!r}")
        areas.setdefault(a.code, a)
        normalised_counts[a.code] = n

    p = id_prefix
    out: list[str] = []
    names = _level_names()
    map_title = title or _("Korea's travel advisories for Cambodia")

    # Provinces with outlines.
    paths: list[str] = []
    for shape in base.provinces:
        a = geo.area(shape.code)
        level = level_of.get(shape.code)
        tip = f"{a.name(language)}: {names[level]}"
        if shape.code in normalised_counts:
            n = normalised_counts[shape.code]
            tip += " · " + ngettext("%(num)s person", "%(num)s people", n)
        paths.append(
            f'<path d="{shape.d}" fill="{_fill(level, p)}" data-code="{shape.code}" '
            f'data-level="{"" if level is None else level}"><title>{escape(tip)}</title></path>'
        )

    # Everything else as markers: provinces without an outline, districts and communes.
    def position(a: geo.Area, nth: int) -> tuple[float, float, bool]:
        if a.code in base.markers:
            return (*base.markers[a.code], True)
        province = a.code if a.level is geo.Level.PROVINCE else geo.parents(a.code)[-1].code
        x, y = base.anchors[province]
        # Spread areas without a point of their own around their province's centre.
        angle = nth * 2.4
        return (x + 14 * math.cos(angle), y + 14 * math.sin(angle), False)

    outlined = {shape.code for shape in base.provinces}
    # Every area asked about that has no outline; Tboung Khmum always, as every province is shown.
    marker_codes = [code for code in areas if code not in outlined]
    if "KH-25" not in marker_codes:
        marker_codes.append("KH-25")
    order = {None: 0, 1: 1, 2: 2, "special": 3, 3: 4, 4: 5}
    marker_codes.sort(key=lambda c: (order[level_of.get(c)], c))
    markers: list[str] = []
    badges: list[str] = []
    unplaced = 0
    for code in marker_codes:
        a = geo.area(code)
        x, y, exact = position(a, unplaced)
        if not exact:
            unplaced += 1
        level = level_of.get(code)
        where = geo.label(a, language)
        tip = f"{where}: {names[level]}"
        if code in normalised_counts:
            tip += " · " + ngettext("%(num)s person", "%(num)s people", normalised_counts[code])
        if not exact:
            tip += " · " + _("position approximate")
        markers.append(
            f'<g class="marker" data-code="{code}" data-level="{"" if level is None else level}">'
            f"<title>{escape(tip)}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#ffffff" stroke="#444444" stroke-width="1"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6.5" fill="{_fill(level, p)}"/></g>'
        )
        if code in normalised_counts:
            badges.append(_badge(x + 11, y, normalised_counts[code], "start"))
    for shape in base.provinces:
        if shape.code in normalised_counts:
            x, y = shape.label
            if shape.code in _SMALL:
                badges.append(_badge(x + 7, y, normalised_counts[shape.code], "start"))
            else:
                badges.append(_badge(x, y, normalised_counts[shape.code], "middle"))

    # Legend: two rows of three under the map, words in the current locale.
    legend: list[str] = []
    top = base.height + LEGEND_TOP_GAP
    col_w = base.width / 3
    entries: list[AdvisoryLevel | None] = [1, 2, 3, 4, "special", None]
    short = _short_levels()
    for i, level in enumerate(entries):
        lx = 8 + (i % 3) * col_w
        ly = top + (i // 3) * LEGEND_ROW
        legend.append(
            f'<rect x="{lx:.1f}" y="{ly:.1f}" width="20" height="20" rx="3" fill="{_fill(level, p)}" '
            f'stroke="#555555" stroke-width="0.8"/>'
            f'<text x="{lx + 26:.1f}" y="{ly + 15:.1f}">{escape(short[level])}</text>'
        )
    note_y = top + 2 * LEGEND_ROW + 14
    # Outside the f-string: Babel's extractor does not look inside f-string expressions.
    marker_note = _("● a city or area inside a province")
    credits = _("Outlines: Natural Earth. Places: GeoNames (CC BY 4.0).")
    legend.append(
        f'<text x="8" y="{note_y:.1f}" class="note">{escape(marker_note)}</text>'
        f'<text x="8" y="{note_y + 18:.1f}" class="note">{escape(credits)}</text>'
    )
    height = note_y + 26

    desc = _describe(level_of, normalised_counts, language, names)
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {base.width:g} {height:.0f}" '
        f'width="100%" class="advisory-map" role="img" aria-labelledby="{p}-title {p}-desc" '
        f'style="max-width:{base.width:g}px;height:auto" font-family="system-ui, sans-serif" font-size="16">'
        f'<title id="{p}-title">{escape(map_title)}</title><desc id="{p}-desc">{escape(desc)}</desc>'
        f'<defs><pattern id="{p}-special" width="10" height="10" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="10" height="10" fill="{SPECIAL_STRIPES[0]}"/>'
        f'<rect width="5" height="10" fill="{SPECIAL_STRIPES[1]}"/></pattern>'
        f"<style>.advisory-map .count text{{font-size:13px;font-weight:600;fill:#111}}"
        f".advisory-map .note{{font-size:13px;fill:#444}}</style></defs>"
        f'<g class="provinces" stroke="#ffffff" stroke-width="0.9" stroke-linejoin="round">'
        f"{''.join(paths)}</g>"
        f'<g class="markers">{"".join(markers)}</g><g class="counts">{"".join(badges)}</g>'
        f'<g class="legend">{"".join(legend)}</g></svg>'
    )
    return Markup("".join(out))


def _short_levels() -> dict[AdvisoryLevel | None, str]:
    return {
        1: _("1 Caution"),
        2: _("2 Avoid travel"),
        3: _("3 Leave"),
        4: _("4 Travel ban"),
        "special": _("Special advisory"),
        None: _("No advisory"),
    }


def _describe(
    level_of: Mapping[str, AdvisoryLevel | None],
    counts: Mapping[str, int],
    language: str,
    names: Mapping[AdvisoryLevel | None, str],
) -> str:
    """The map in words, for screen readers: each level with its areas, then the counts."""
    parts: list[str] = []
    for level in (4, 3, "special", 2, 1):
        areas = [geo.label(geo.area(c), language) for c, lv in level_of.items() if lv == level]
        if areas:
            parts.append(f"{names[level]}: {'; '.join(sorted(areas))}.")
    if not parts:
        parts.append(_("No area is under an advisory."))
    else:
        parts.append(_("Other provinces: no advisory."))
    if counts:
        listed = "; ".join(f"{geo.area(c).name(language)} {n:,}" for c, n in sorted(counts.items()))
        parts.append(_("People registered inside: %(list)s.", list=listed))
    return " ".join(parts)
