"""Where a shared phone location falls: its province, and the named place or district near it.

A check-in answer may carry the phone's coordinates (browser geolocation, only on the person's tap).
They are kept on the answer, and the area they fall in becomes the person's place for "zone now"
(``outreach.zones.inside``) while fresh. No GIS library and no network: the point is projected the way
``outreach/data/kh_map.json`` was drawn and tested against the province outlines (about 450 m
simplified, so a point within a few hundred metres of a border may land next door), and a point
within :data:`NEAR_KM` of a named place's marker (Bavet, Poipet, Bokor…) is put in that place.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from outreach.models import CheckInResponse, Person, utcnow
from outreach.zones import geo

#: A named place's area reaches this far from its marker (a border town is a few km across).
NEAR_KM = 6.0
#: A fix less precise than this says the province, not the town.
MAX_ACCURACY_FOR_AREA_M = 3000.0
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class _Outlines:
    lon0: float
    lat1: float
    kx: float
    scale: float
    pad: float
    rings: dict[str, tuple[tuple[tuple[float, float], ...], ...]]
    markers: dict[str, tuple[float, float]]


@cache
def _outlines() -> _Outlines:
    raw = json.loads(resources.files("outreach.data").joinpath("kh_map.json").read_text(encoding="utf-8"))
    rings: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {}
    for code, shape in raw["provinces"].items():
        parts = []
        for part in shape["d"].split("M")[1:]:
            numbers = [float(n) for n in _NUMBER.findall(part)]
            parts.append(tuple(zip(numbers[0::2], numbers[1::2], strict=False)))
        rings[code] = tuple(parts)
    proj = raw["projection"]
    markers = {code: (float(x), float(y)) for code, (x, y) in raw["markers"].items()}
    return _Outlines(proj["lon0"], proj["lat1"], proj["kx"], proj["scale"], proj["pad"], rings, markers)


def _project(lat: float, lon: float) -> tuple[float, float]:
    o = _outlines()
    return ((lon - o.lon0) * o.kx * o.scale + o.pad, (o.lat1 - lat) * o.scale + o.pad)


def _inside(point: tuple[float, float], ring: tuple[tuple[float, float], ...]) -> bool:
    x, y = point
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class Located:
    province_code: str | None
    #: A district or commune (a named place), or None when only the province is known.
    area_code: str | None


def locate(lat: float, lon: float, accuracy_m: float | None = None) -> Located:
    """The province (and, for a precise fix near a named place, its district or commune)."""
    point = _project(lat, lon)
    o = _outlines()
    province = next(
        (code for code, parts in o.rings.items() if sum(_inside(point, ring) for ring in parts) % 2 == 1),
        None,
    )
    km_per_unit = 111.2 / o.scale  # one degree of latitude is 111.2 km
    near: tuple[float, str] | None = None
    for code, (mx, my) in o.markers.items():
        distance = math.dist(point, (mx, my)) * km_per_unit
        if distance <= NEAR_KM and (near is None or distance < near[0]):
            near = (distance, code)
    area = None
    if near is not None and (accuracy_m is None or accuracy_m <= MAX_ACCURACY_FOR_AREA_M):
        found = geo.get(near[1])
        if found is not None and found.level is not geo.Level.PROVINCE:
            area = found.code
            province = geo.parents(found.code)[-1].code
        elif found is not None and province is None:
            province = found.code  # Tboung Khmum is a marker, not an outline
    return Located(province, area)


def parse(
    latitude: str | None, longitude: str | None, accuracy: str | None
) -> tuple[float, float, float | None] | None:
    """Coordinates from a form, or None when absent or not a position on Earth."""
    try:
        lat, lon = float(latitude or ""), float(longitude or "")
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        return None
    try:
        acc: float | None = float(accuracy) if accuracy else None
    except ValueError:
        acc = None
    if acc is not None and (math.isnan(acc) or acc < 0):
        acc = None
    return lat, lon, acc


def record(
    person: Person, response: CheckInResponse, lat: float, lon: float, accuracy_m: float | None
) -> Located:
    """Keep the coordinates on the answer and, inside Cambodia, the place on the person (flushes nothing
    itself: the caller's commit writes both with the answer)."""
    response.latitude, response.longitude, response.accuracy_m = lat, lon, accuracy_m
    located = locate(lat, lon, accuracy_m)
    if located.province_code is not None:
        person.located_province_code = located.province_code
        person.located_area_code = located.area_code
        person.located_at = utcnow()
    return located
