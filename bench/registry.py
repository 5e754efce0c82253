"""Benchmark: the staff registry search with 100,000 people on PostgreSQL.

Creates a scratch database, migrates it (so the trigram indexes of migration 0002 are there), fills it
with 100,000 people in a few set-based statements (``INSERT … SELECT generate_series``), then times
typical filtered searches twice: the search function the view calls (query + count), and the whole
``GET /staff/people`` page as an officer sees it. Prints median and 95th percentile per search.

    .venv/bin/python bench/registry.py [--people 100000] [--repeat 20] [--keep]

Needs PostgreSQL (``OUTREACH_BENCH_PG``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
and Redis (``OUTREACH_BENCH_REDIS``; a database no test run holds). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.resources import redis_database, scratch_database
from outreach import create_app
from outreach.extensions import db

FILL = """
WITH n AS (SELECT i FROM generate_series(1, :count) AS i),
surnames AS (SELECT ARRAY['김','이','박','최','정','강','조','윤','장',
                           '임','한','오','서','신','권','황','안','송'] AS ko,
                    ARRAY['KIM','LEE','PARK','CHOI','JUNG','KANG','CHO','YOON','JANG',
                          'LIM','HAN','OH','SEO','SHIN','KWON','HWANG','AHN','SONG'] AS la),
given AS (SELECT ARRAY['민','서','지','현','준','우','영','수','하','진','은','호','연','도','윤',
                       '성','재','예','시','주','아','원','태','승','혜','경','동','소','유','나'] AS ko,
                 ARRAY['MIN','SEO','JI','HYUN','JUN','WOO','YOUNG','SU','HA','JIN','EUN','HO','YEON','DO',
                       'YUN','SUNG','JAE','YE','SI','JU','A','WON','TAE','SEUNG','HYE','KYUNG','DONG','SO',
                       'YU','NA'] AS la),
provinces AS (SELECT ARRAY['KH-12','KH-12','KH-12','KH-12','KH-12','KH-12','KH-12','KH-12','KH-12',
                           'KH-12','KH-17','KH-17','KH-17','KH-18','KH-18','KH-8','KH-2','KH-7',
                           'KH-23','KH-3'] AS codes)
INSERT INTO person (name_ko, name_latin, email, language, province_code, district_note, status, arrival_date,
                    departure_date, emergency_contact_consent, consent_at, consent_method, consent_version,
                    last_known_status, link_generation, source, created_at, updated_at)
SELECT s.ko[1 + (i % 18)] || g.ko[1 + (i * 7 % 30)] || g.ko[1 + (i * 13 % 30)],
       s.la[1 + (i % 18)] || ' ' || g.la[1 + (i * 7 % 30)] || lower(g.la[1 + (i * 13 % 30)]),
       CASE WHEN i % 5 < 3 THEN 'person' || i || '@example.org' END,
       CASE WHEN i % 20 < 17 THEN 'ko' WHEN i % 20 < 19 THEN 'en' ELSE 'km' END,
       p.codes[1 + (i * 31 % 20)],
       CASE WHEN i % 4 = 0 THEN 'Sangkat ' || (i % 90) END,
       CASE WHEN i % 20 < 7 THEN 'traveler' ELSE 'resident' END,
       CURRENT_DATE - ((i % 40) + CASE WHEN i % 20 < 7 THEN 0 ELSE 200 END),
       CASE WHEN i % 20 < 7 THEN CURRENT_DATE + ((i % 30) - 12) END,
       i % 3 = 0, now(), 'import', 'bench', 'unknown', 0, 'bench', now(), now()
FROM n, surnames s, given g, provinces p
"""
PHONES = """
INSERT INTO phone_number (person_id, e164, kind, is_primary, is_whatsapp, created_at)
SELECT id, '+85512' || lpad(id::text, 6, '0'), 'kh', true, id % 3 = 0, now() FROM person
UNION ALL
SELECT id, '+8210' || lpad((50000000 + id)::text, 8, '0'), 'kr', false, false, now()
FROM person WHERE id % 5 = 0
"""
OPT_OUTS = """
INSERT INTO opt_out (channel, address, person_id, source, created_at)
SELECT 'sms', e164, person_id, 'keyword', now() FROM phone_number WHERE person_id % 97 = 0 AND is_primary
"""


def searches(sample: tuple[str, str, str]) -> list[tuple[str, dict[str, str]]]:
    """Typical searches; the name searches use a real person's name (``sample``: Hangul, Latin, e-mail)."""
    name_ko, name_latin, email = sample
    surname, given = name_latin.split(" ", 1)
    return [
        ("first page, no filter", {}),
        ("province Siem Reap", {"province": "KH-17"}),
        ("travelers present now in Phnom Penh", {"province": "KH-12", "status": "traveler", "present": "1"}),
        ("English speakers who opted out", {"language": "en", "opted_out": "1"}),
        (f"Hangul full name '{name_ko}'", {"q": name_ko}),
        (f"Hangul given name '{name_ko[1:]}'", {"q": name_ko[1:]}),
        (f"Hangul surname '{name_ko[0]}' + province", {"q": name_ko[0], "province": "KH-18"}),
        (f"Latin words '{given.lower()} {surname.lower()}'", {"q": f"{given.lower()} {surname.lower()}"}),
        ("Latin 2 letters 'oh' + present", {"q": "oh", "present": "1"}),
        ("whole phone number, local format", {"q": "012 045 678"}),
        ("part of a number '45678'", {"q": "45678"}),
        ("Korean number", {"q": "010-5004-5000"}),
        (f"e-mail fragment '{email.split('@')[0]}'", {"q": email.split("@")[0]}),
        ("deep page (keyset, before=1000)", {"before": "1000", "start": "99000"}),
    ]


def timed(func: Callable[[], object], repeat: int) -> tuple[float, float]:
    func()  # warm the caches and the connection pool
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    with scratch_database("registry", keep=args.keep) as url, redis_database() as redis_url:
        run(url, redis_url, args.people, args.repeat)


def run(url: str, redis_url: str, people: int, repeat: int) -> None:
    from flask_migrate import upgrade

    from outreach.accounts import create_user
    from outreach.registry.search import PeopleFilter, search_people

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        start = time.perf_counter()
        db.session.execute(sa.text(FILL), {"count": people})
        db.session.execute(sa.text(PHONES))
        db.session.execute(sa.text(OPT_OUTS))
        officer = create_user(
            email="bench@officer.test",
            role="officer",
            name="Bench",
            password="bench-password-1",
            language="en",
        )
        db.session.commit()
        officer_id = officer.id
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        total = db.session.scalar(sa.text("SELECT count(*) FROM person"))
        numbers = db.session.scalar(sa.text("SELECT count(*) FROM phone_number"))
        indexes = db.session.scalars(
            sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_trgm_%' ORDER BY 1")
        ).all()
        sample = db.session.execute(
            sa.text("SELECT name_ko, name_latin, email FROM person WHERE id = 4240")
        ).one()
        print(
            f"filled {total} people, {numbers} numbers in {time.perf_counter() - start:.1f} s; "
            f"trigram indexes: {', '.join(indexes)}"
        )

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(officer_id)
        session["_fresh"] = True

    print(
        f"\n{'search':<42} {'matches':>8} {'function ms (median / p95)':>28} {'page ms (median / p95)':>24}"
    )
    worst = 0.0
    for label, query in searches(tuple(sample)):
        f = PeopleFilter.from_args(query)
        before = int(query["before"]) if "before" in query else None
        with app.app_context():
            page = search_people(f, before=before)
            fn_median, fn_p95 = timed(lambda f=f, before=before: search_people(f, before=before), repeat)
            db.session.remove()

        def get(query: dict[str, str] = query) -> None:
            response = client.get("/staff/people", query_string=query)
            assert response.status_code == 200, response.status_code

        page_median, page_p95 = timed(get, repeat)
        worst = max(worst, page_p95)
        matches = f"{page.total - 1}+" if page.total_capped else str(page.total)
        print(f"{label:<42} {matches:>8} {fn_median:>15.1f} / {fn_p95:>6.1f}", end="")
        print(f" {page_median:>15.1f} / {page_p95:>6.1f}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nslowest page p95: {worst:.1f} ms (target: well under 1000 ms)")
    print(f"load average {load} on {os.cpu_count()} cores: other work on the machine slows every figure")
    with app.app_context():
        db.engine.dispose()
    app.extensions["redis"].close()


if __name__ == "__main__":
    main()
