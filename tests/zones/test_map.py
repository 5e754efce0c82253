"""The advisory map: valid, accessible SVG with every province, the right colours, counts and escaping."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from flask import Flask
from lxml import etree

from outreach.zones import geo
from outreach.zones.map import FILLS, NO_LEVEL_FILL, render_map

SVG = "{http://www.w3.org/2000/svg}"
LEVELS = {"KH-12": 2, "KH-18": 3, "KH-7": "special", "KH-9": 1, "KH-1": 4, "2008": 4, "0110": 4}
COUNTS = {"KH-12": 3120, "KH-18": 412, "2008": 37, "KH-17": 5}


def _render(app: Flask, lang: str = "en", **kwargs: object) -> etree._Element:
    with app.test_request_context(f"/?lang={lang}"):
        svg = render_map(kwargs.pop("levels", LEVELS), kwargs.pop("counts", COUNTS), language=lang, **kwargs)  # type: ignore[arg-type]
    return etree.fromstring(str(svg).encode())


def test_valid_accessible_svg_without_scripts_or_outside_resources(app: Flask) -> None:
    root = _render(app)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert set(root.get("aria-labelledby", "").split()) == {"kh-map-title", "kh-map-desc"} <= ids
    assert root.find(f"{SVG}title").text == "Korea's travel advisories for Cambodia"
    desc = root.find(f"{SVG}desc").text
    assert "Level 4: travel ban: Banteay Meanchey; Bavet, Svay Rieng; Poipet, Banteay Meanchey." in desc
    assert "Phnom Penh 3,120" in desc
    text = etree.tostring(root).decode()
    assert "<script" not in text and "href" not in text and "http" not in text.replace(SVG[1:-1], "")
    assert root.get("viewBox").startswith("0 0 600 ")
    assert "max-width:600px" in root.get("style")  # scales down to a 390 px phone, never up


def test_every_province_is_drawn_with_the_fill_of_its_level(app: Flask) -> None:
    root = _render(app)
    paths = {p.get("data-code"): p for p in root.iter(f"{SVG}path")}
    markers = {g.get("data-code"): g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"}
    # 24 outlines; Tboung Khmum, which the outline source predates, is a marker.
    assert set(paths) | {"KH-25"} == {p.code for p in geo.provinces()}
    assert "KH-25" in markers
    assert paths["KH-12"].get("fill") == FILLS[2]
    assert paths["KH-18"].get("fill") == FILLS[3]
    assert paths["KH-9"].get("fill") == FILLS[1]
    assert paths["KH-1"].get("fill") == FILLS[4]
    assert paths["KH-7"].get("fill") == "url(#kh-map-special)"
    assert root.find(f".//{SVG}pattern[@id='kh-map-special']") is not None
    for code in set(paths) - set(LEVELS):
        assert paths[code].get("fill") == NO_LEVEL_FILL, code
    assert paths["KH-1"].get("data-level") == "4" and paths["KH-20"].get("data-level") == ""
    assert "Banteay Meanchey: Level 4: travel ban" in paths["KH-1"].find(f"{SVG}title").text


def test_named_areas_are_markers_coloured_by_their_own_level(app: Flask) -> None:
    root = _render(app)
    markers = {g.get("data-code"): g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"}
    assert {"2008", "0110", "KH-25"} <= set(markers)
    inner = markers["2008"].findall(f"{SVG}circle")[-1]
    assert inner.get("fill") == FILLS[4]
    assert "Bavet, Svay Rieng: Level 4: travel ban · 37 people" in markers["2008"].find(f"{SVG}title").text
    # A district without a point of its own is still drawn, near its province's centre, and says so.
    root = _render(app, levels={"0305": 3}, counts={})
    markers = {g.get("data-code"): g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"}
    assert "position approximate" in markers["0305"].find(f"{SVG}title").text


def test_counts_are_rendered_as_labels(app: Flask) -> None:
    root = _render(app)
    counts = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "count" for t in g.iter(f"{SVG}text")]
    assert sorted(counts) == sorted(["3,120", "412", "37", "5"])
    public = _render(app, counts=None)
    assert not [g for g in public.iter(f"{SVG}g") if g.get("class") == "count"]


def test_text_is_escaped(app: Flask) -> None:
    root = _render(app, title='<script>alert("x")</script> & co')
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script> & co'
    assert not list(root.iter(f"{SVG}script"))
    # Names with quotes and apostrophes survive as text.
    root = _render(app, levels={"220405": 4}, counts={})
    markers = {g.get("data-code"): g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"}
    assert markers["220405"].find(f"{SVG}title").text.startswith("O'Smach, Samraong, Oddar Meanchey")


def test_bad_input_is_refused_with_a_reason(app: Flask) -> None:
    with app.test_request_context("/"):
        with pytest.raises(ValueError, match="unknown area code 'KH-99'"):
            render_map({"KH-99": 2}, language="en")
        with pytest.raises(ValueError, match="level for KH-12"):
            render_map({"KH-12": 5}, language="en")  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="unknown area code"):
            render_map({}, {"nowhere": 3}, language="en")
        with pytest.raises(ValueError, match="level for KH-12"):
            render_map({"KH-12": True}, language="en")  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="count for KH-12"):
            render_map({}, {"KH-12": -1}, language="en")
        with pytest.raises(ValueError, match="id_prefix"):
            render_map({}, language="en", id_prefix='x"><script>')


def test_two_maps_on_one_page_keep_their_ids_apart(app: Flask) -> None:
    a = _render(app, id_prefix="staff-map")
    b = _render(app, id_prefix="public-map")
    ids_a = {el.get("id") for el in a.iter() if el.get("id")}
    ids_b = {el.get("id") for el in b.iter() if el.get("id")}
    assert ids_a and not ids_a & ids_b
    assert any(p.get("fill") == "url(#staff-map-special)" for p in a.iter(f"{SVG}path"))


def test_names_and_legend_follow_the_language(app: Flask) -> None:
    root = _render(app, lang="ko")
    legend = [
        t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend" for t in g.iter(f"{SVG}text")
    ]
    assert "4 여행금지" in legend
    paths = {p.get("data-code"): p for p in root.iter(f"{SVG}path")}
    assert paths["KH-12"].find(f"{SVG}title").text.startswith("프놈펜: ")
    root = _render(app, lang="km")
    paths = {p.get("data-code"): p for p in root.iter(f"{SVG}path")}
    assert paths["KH-12"].find(f"{SVG}title").text.startswith("ភ្នំពេញ: ")


def _polygons(d: str) -> list[list[tuple[float, float]]]:
    rings = []
    for part in re.findall(r"M([^MZ]+)Z", d):
        nums = [float(n) for n in part.split()]
        rings.append(list(zip(nums[::2], nums[1::2], strict=True)))
    return rings


def _inside(x: float, y: float, rings: list[list[tuple[float, float]]]) -> bool:
    hits = 0
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                hits += 1
    return hits % 2 == 1


def test_every_marker_point_lies_inside_its_province_outline() -> None:
    data = json.loads(resources.files("outreach.data").joinpath("kh_map.json").read_text("utf-8"))
    outlines = {code: _polygons(p["d"]) for code, p in data["provinces"].items()}
    for code, (x, y) in data["markers"].items():
        a = geo.area(code)
        province = "KH-3" if code == "KH-25" else geo.parents(code)[-1].code  # Tboung Khmum: see map.py
        assert _inside(x, y, outlines[province]), (code, province)
        assert not any(_inside(x, y, rings) for other, rings in outlines.items() if other != province), code
        assert a.level is not geo.Level.PROVINCE or code == "KH-25"
    for code, p in data["provinces"].items():
        assert _inside(*p["label"], outlines[code]), code


def test_the_template_macro_embeds_the_svg_unescaped_with_an_escaped_caption(app: Flask) -> None:
    with app.test_request_context("/?lang=en"):
        from flask import render_template_string

        html = render_template_string(
            '{% from "zones/_map.html" import advisory_map %}{{ advisory_map(svg, caption=caption) }}',
            svg=render_map({"2008": 4}, language="en"),
            caption="As of <today>",
        )
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "As of &lt;today&gt;" in html


def test_the_legend_notes_are_translated_too(app: Flask) -> None:
    root = _render(app, lang="ko")
    notes = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["● 주 안의 도시·지역", "경계: Natural Earth. 지명 위치: GeoNames (CC BY 4.0)."]
