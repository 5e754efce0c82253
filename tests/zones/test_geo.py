"""Cambodia's areas: the shipped data holds together, and the look-ups answer as staff and SMS need."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from outreach.data.kh_places import PLACES
from outreach.data.provinces import PROVINCES
from outreach.zones import geo
from outreach.zones.geo import Level


def _tsv_rows() -> list[dict[str, str]]:
    text = resources.files("outreach.data").joinpath("kh_areas.tsv").read_text(encoding="utf-8")
    return list(csv.DictReader((ln for ln in text.splitlines() if not ln.startswith("#")), delimiter="\t"))


# --- the data ---------------------------------------------------------------------------------------


def test_codes_are_unique_and_well_formed() -> None:
    rows = _tsv_rows()
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))
    assert all(c.isdigit() and len(c) in (4, 6) for c in codes)
    assert all(r["name_km"] and r["name_en"] for r in rows)
    assert {r["unit"] for r in rows} == {"srok", "krong", "khan", "khum", "sangkat"}


def test_every_district_has_its_province_and_every_commune_its_district() -> None:
    rows = _tsv_rows()
    provinces = {f"{n:02d}" for _code, n, *_ in PROVINCES}
    districts = {r["code"] for r in rows if len(r["code"]) == 4}
    assert {d[:2] for d in districts} == provinces  # and no province is without districts
    communes = [r["code"] for r in rows if len(r["code"]) == 6]
    assert all(c[:4] in districts for c in communes)
    # Sizes as the 2025 lists have them, so a truncated rebuild cannot pass unnoticed.
    assert len(districts) == 210
    assert len(communes) > 1600


def test_units_follow_the_law_sangkats_in_krongs_and_khans_khums_in_sroks() -> None:
    by_code = {r["code"]: r["unit"] for r in _tsv_rows()}
    for code, unit in by_code.items():
        if len(code) == 6:
            assert unit == ("sangkat" if by_code[code[:4]] in ("krong", "khan") else "khum"), code
        elif code.startswith("12"):
            assert unit == "khan", code
        else:
            assert unit in ("srok", "krong"), code
    assert sum(1 for c, u in by_code.items() if len(c) == 4 and u == "khan") == 14


@pytest.mark.parametrize(
    ("place", "province"),
    [("2008", "KH-20"), ("0110", "KH-1"), ("0709", "KH-7"), ("1801", "KH-18"), ("220405", "KH-22")],
)
def test_named_places_lie_in_the_right_province(place: str, province: str) -> None:
    # Bavet in Svay Rieng, Poipet in Banteay Meanchey, Bokor in Kampot, Sihanoukville city in
    # Preah Sihanouk, O'Smach in Oddar Meanchey.
    assert geo.is_within(place, province)
    assert geo.area(place).unit in ("krong", "sangkat")


def test_every_named_place_maps_to_an_existing_unit_with_a_korean_name() -> None:
    for place in PLACES:
        a = geo.area(place.code)
        assert a.name("ko") == place.name_ko
    assert geo.area("2008").name("ko") == "바벳"
    assert geo.area("0110").name("en") == "Poipet"
    assert geo.area("0709").name("ko") == "보코산"
    assert geo.area("KH-18").name("ko") == "시아누크빌"


def test_every_province_has_a_korean_name() -> None:
    assert len(geo.provinces()) == 25
    assert all(p.name_ko and p.name("ko") == p.name_ko for p in geo.provinces())


# --- look-ups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["KH-20", "kh20", "kh-20", "20", "020", "២០"])
def test_province_codes_as_people_type_them(typed: str) -> None:
    assert geo.get(typed) == geo.area("KH-20")


def test_district_and_commune_codes_and_unknown_ones() -> None:
    assert geo.get("2008") is not None and geo.get("2008").level is Level.DISTRICT  # type: ignore[union-attr]
    assert geo.get("២០០៨") == geo.get("2008")
    assert geo.get("200802").level is Level.COMMUNE  # type: ignore[union-attr]
    for bad in ("", None, "KH-99", "9999", "12345", "bavet", "KH-", "0"):
        assert geo.get(bad) is None
    with pytest.raises(KeyError):
        geo.area("9999")


def test_parents_nearest_first_and_children() -> None:
    assert [a.code for a in geo.parents("200802")] == ["2008", "KH-20"]
    assert geo.parents("KH-20") == []
    districts = geo.children("KH-20")
    assert "2008" in {d.code for d in districts}
    assert all(d.level is Level.DISTRICT and d.parent_code == "KH-20" for d in districts)
    assert {c.code[:4] for c in geo.children("2008")} == {"2008"}
    assert geo.children("200802") == ()


def test_is_within_is_exact_about_neighbours() -> None:
    assert geo.is_within("200802", "2008")
    assert geo.is_within("200802", "KH-20")
    assert geo.is_within("2008", "2008")
    assert not geo.is_within("KH-20", "2008")  # a province is not inside its city
    assert not geo.is_within("2006", "2008")  # Svay Rieng city is not in Bavet: same province
    assert not geo.is_within("200802", "KH-14")
    assert not geo.is_within("9999", "KH-20")  # unknown codes are inside nothing


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("bavet", "2008"),
        ("Bavet", "2008"),
        ("바벳", "2008"),
        ("바벳시", "2008"),
        ("Poipet", "0110"),
        ("paoy paet", "0110"),
        ("포이펫", "0110"),
        ("보코산", "0709"),
        ("Bokor", "0709"),
        ("Bouk Kou", "0709"),
        ("ប៉ោយប៉ែត", "0110"),
        ("Sihanoukville", "KH-18"),
        ("시아누크빌", "KH-18"),
        ("프놈펜", "KH-12"),
        ("ភ្នំពេញ", "KH-12"),
        ("2008", "2008"),
        ("o'smach", "220405"),
    ],
)
def test_search_finds_places_in_korean_english_and_khmer(query: str, first: str) -> None:
    assert geo.search(query)[0].code == first


def test_search_ranks_exact_before_prefix_before_substring_and_narrows() -> None:
    results = geo.search("kampot", limit=None)
    assert results[0].code == "KH-7"
    assert "0708" in [a.code for a in results]
    communes = geo.search("bavet", levels=[Level.COMMUNE])
    assert [a.code for a in communes] == ["200802"]
    inside = geo.search("svay", within="KH-20", limit=None)
    assert inside and all(geo.is_within(a.code, "KH-20") for a in inside)
    assert geo.search("zzzz") == []
    assert geo.search("   ") == []
    assert geo.search("bavet", within="KH-99") == []
    assert len(geo.search("a", limit=5)) == 5


def test_numbered_menu_and_reading_the_answer_back() -> None:
    found = geo.search("bavet")
    menu = geo.numbered_menu(found, "en")
    assert menu.splitlines()[0] == "1 Bavet, Svay Rieng"
    assert menu.splitlines()[1] == "2 Bavet, Bavet, Svay Rieng"
    assert geo.numbered_menu(found, "ko").splitlines()[0] == "1 바벳, 스바이리엥"
    assert geo.menu_choice(found, " 2. ") == geo.area("200802")
    assert geo.menu_choice(found, "១") == geo.area("2008")
    for bad in ("0", "3", "two", "", "-1"):
        assert geo.menu_choice(found, bad) is None


def test_choices_for_a_select_list() -> None:
    top = geo.choices("en")
    assert len(top) == 25 and ("KH-20", "Svay Rieng (province)") in top
    inner = dict(geo.choices("en", parent="KH-20"))
    assert inner["2008"] == "Bavet (municipality (krong))"
    labels = [label for _code, label in geo.choices("km", parent="2008")]
    assert labels == sorted(labels, key=geo.search_key)
