"""Benchmark: everyone's zone now and the inside-lists of every zone, 100,000 people and 50 zones.

Creates a scratch PostgreSQL database, migrates it, fills it set-based with 100,000 people spread over
the provinces, most with a district or commune (some with a fresh shared phone location), and 50
active zones at every level — provinces, districts and communes, Bavet, Poipet and Bokor among them —
with permits and grace deadlines. Then times, ``--repeat`` times each, the two questions of the night:

* **zone now**: every person's zone (``outreach.zones.inside.zone_now_select``), all rows fetched;
* **inside-lists**: every zone's people with their permit state (``inside_with_state``), all rows
  fetched and counted by zone and state, as the dashboard shows them.

Prints the median and worst of each and of both together (the issue's bound: ≤ 2 s).

    .venv/bin/python bench/zones.py [--people 100000] [--repeat 5] [--keep]

Needs PostgreSQL (``OUTREACH_BENCH_PG``) and Redis (``OUTREACH_BENCH_REDIS``); see ``bench/resources.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.resources import redis_database, scratch_database
from outreach import create_app
from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.models import utcnow
from outreach.zones import geo
from outreach.zones.inside import inside_with_state, zone_now_select

PEOPLE = """
INSERT INTO person (name_ko, name_latin, language, province_code, area_code, located_area_code,
                    located_province_code, located_at, status, arrival_date, departure_date,
                    emergency_contact_consent, consent_at, consent_method, consent_version,
                    last_known_status, link_generation, source, created_at, updated_at)
SELECT '홍길동' || i, 'HONG ' || i, CASE WHEN i % 10 < 8 THEN 'ko' WHEN i % 10 < 9 THEN 'en' ELSE 'km' END,
       a.province, CASE WHEN i % 4 = 0 THEN NULL ELSE a.area END,
       CASE WHEN i % 50 = 0 THEN a.area END, CASE WHEN i % 50 = 0 THEN a.province END,
       CASE WHEN i % 50 = 0 THEN now() - interval '1 day' END,
       CASE WHEN i % 5 = 0 THEN 'traveler' ELSE 'resident' END,
       CURRENT_DATE - 30, CASE WHEN i % 5 = 0 THEN CURRENT_DATE + (i % 20) - 5 END,
       false, now(), 'import', 'bench', 'unknown', 0, 'bench', now(), now()
FROM generate_series(1, :count) AS i
JOIN areas a ON a.n = i % :areas
"""

ZONES = """
INSERT INTO zone (area_code, level, effective_from, expires_on, reason, level_since, created_at, updated_at)
VALUES (:code, :level, CURRENT_DATE - 10,
        CASE WHEN CAST(:level AS varchar) = 'special' THEN CURRENT_DATE + 60 END, 'bench',
        now(), now(), now())
"""
PERMITS = """
INSERT INTO zone_permit (person_id, zone_id, number, valid_from, valid_to, created_at, updated_at)
SELECT p.id, z.id, 'P-' || p.id, CURRENT_DATE - 30, CURRENT_DATE + (p.id % 40) - 10, now(), now()
FROM person p JOIN zone z ON z.area_code = p.area_code OR z.area_code = substr(p.area_code, 1, 4)
WHERE z.level = '4' AND p.id % 3 = 0
"""
GRACES = """
INSERT INTO zone_grace (zone_id, ends_on, created_at, updated_at)
SELECT id, CURRENT_DATE + 20, now(), now() FROM zone WHERE level = '3'
"""
COUNTS = (
    "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM zone), (SELECT count(*) FROM zone_permit)"
)


def _areas() -> list[tuple[int, str, str]]:
    """(n, province, area): every district and commune, so people spread over the whole country."""
    rows: list[tuple[int, str, str]] = []
    for province in geo.provinces():
        for district in geo.children(province.code):
            rows.append((len(rows), province.code, district.code))
            rows.extend(
                (len(rows) + i, province.code, c.code) for i, c in enumerate(geo.children(district.code))
            )
    return [(i, p, a) for i, (_n, p, a) in enumerate(rows)]


def _zones() -> list[tuple[str, str]]:
    """50 zones: Korea's autumn-2025 picture, then more districts and communes at rotating levels."""
    fixed = [("KH-12", "2"), ("KH-18", "3"), ("2008", "4"), ("0110", "4"), ("0709", "4")]
    fixed += [(c, "special") for c in ("KH-1", "KH-2", "KH-7", "KH-9", "KH-20", "KH-22", "KH-24")]
    taken = {c for c, _ in fixed}
    levels = ["1", "2", "3", "4", "special"]
    extra: list[tuple[str, str]] = []
    for province in geo.provinces():
        for district in geo.children(province.code)[:3]:
            if district.code not in taken and len(fixed) + len(extra) < 50:
                code = district.code if len(extra) % 2 == 0 else geo.children(district.code)[0].code
                extra.append((code, levels[len(extra) % 5]))
    return fixed + extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    with scratch_database("zones", keep=args.keep) as url, redis_database() as redis_url:
        run(url, redis_url, args.people, args.repeat)


def run(url: str, redis_url: str, people: int, repeat: int) -> None:
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url, "REDIS_URL": redis_url})
    with app.app_context():
        upgrade()
        start = time.perf_counter()
        areas = _areas()
        db.session.execute(sa.text("CREATE TEMPORARY TABLE areas (n int, province text, area text)"))
        db.session.execute(
            sa.text("INSERT INTO areas VALUES (:n, :p, :a)"), [{"n": n, "p": p, "a": a} for n, p, a in areas]
        )
        db.session.execute(sa.text(PEOPLE), {"count": people, "areas": len(areas)})
        zones = _zones()
        db.session.execute(sa.text(ZONES), [{"code": c, "level": lv} for c, lv in zones])
        # Permits for a third of the people inside level-4 zones (some expiring, some expired), and a
        # zone-wide grace in every level-3 zone.
        db.session.execute(sa.text(PERMITS))
        db.session.execute(sa.text(GRACES))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        counts = db.session.execute(sa.text(COUNTS)).one()
        print(
            f"filled {counts[0]:,} people, {counts[1]} zones, {counts[2]:,} permits "
            f"in {time.perf_counter() - start:.1f} s"
        )

        today = cambodia_today()
        zone_now_times: list[float] = []
        lists_times: list[float] = []
        both: list[float] = []
        for _ in range(repeat):
            now = utcnow()
            t0 = time.perf_counter()
            zone_rows = db.session.execute(zone_now_select(today=today, now=now)).all()
            t1 = time.perf_counter()
            inside_rows = db.session.execute(inside_with_state(today=today, now=now)).all()
            by_state: dict[int, Counter[str]] = {}
            for zone_id, _person_id, state, _valid_to, _grace_end in inside_rows:
                by_state.setdefault(zone_id, Counter())[state] += 1
            t2 = time.perf_counter()
            db.session.rollback()
            zone_now_times.append(t1 - t0)
            lists_times.append(t2 - t1)
            both.append(t2 - t0)
        states: dict[str, int] = {}
        for per_zone in by_state.values():
            for state, n in per_zone.items():
                states[state] = states.get(state, 0) + n
        print(
            f"zone now: {len(zone_rows):,} people in a zone; inside-lists: {len(inside_rows):,} rows over "
            f"{len(by_state)} zones; by permit state {states}"
        )
        for label, times in (("zone now", zone_now_times), ("inside-lists", lists_times), ("both", both)):
            median, worst = statistics.median(times), max(times)
            print(f"{label:>13}: median {median:.3f} s, worst {worst:.3f} s ({repeat} runs)")


if __name__ == "__main__":
    main()
