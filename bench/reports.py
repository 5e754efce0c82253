"""Benchmark: the report dashboard, the weekly summary and the timer scan over many reports.

What it does, against real PostgreSQL on this machine:

1. a scratch database, migrated; ``--reports`` (20,000) reports with their welfare cases, filled
   set-based, spread over the last twelve weeks and over every stage, a fifth of them still open;
2. times ``figures.dashboard()`` (open reports by stage and province, and the wait at each stage),
   ``figures.weekly()`` + the SVG chart, and ``timers.escalate_overdue()`` when nothing is due (the
   scan a worker runs every five minutes), ``--runs`` times each, and prints median and slowest.

    .venv/bin/python bench/reports.py [--reports 20000] [--runs 5]

Needs PostgreSQL (``OUTREACH_BENCH_PG``); no Redis is used (nothing is paged: every timer is marked
as fired). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.resources import scratch_database  # noqa: E402
from outreach import create_app  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.reports import figures, timers  # noqa: E402


def fill(n: int) -> None:
    """Cases and reports in two ``INSERT … SELECT`` statements over ``generate_series``."""
    db.session.execute(
        sa.text(
            """
            INSERT INTO "case" (contact_address, status, opened_via, opened_at, created_at, updated_at)
            SELECT '+8210' || lpad(g::text, 8, '0'),
                   CASE WHEN g % 5 = 0 THEN 'acknowledged' ELSE 'resolved' END,
                   'report', now() - (g % 84) * interval '1 day', now(), now()
              FROM generate_series(1, :n) g
            """
        ),
        {"n": n},
    )
    db.session.execute(
        sa.text(
            """
            INSERT INTO report (reference, case_id, kind, stage, stage_changed_at, reported_at, located_at,
                                rescued_at, repatriated_at, province_code, reporter_language, subject_name,
                                verify_escalated_at, locate_escalated_at, news_escalated_at, last_news_at,
                                created_at, updated_at)
            SELECT 'R-B-' || c.id, c.id, 'family',
                   CASE WHEN c.id % 5 = 0
                        THEN (ARRAY['reported','verifying','located','referred','supported'])[1 + c.id % 4]
                        ELSE 'closed' END,
                   c.opened_at + interval '3 hours', c.opened_at,
                   c.opened_at + (c.id % 40) * interval '1 hour',
                   CASE WHEN c.id % 3 = 0 THEN c.opened_at + (40 + c.id % 30) * interval '1 hour' END,
                   CASE WHEN c.id % 6 = 0 THEN c.opened_at + interval '9 days' END,
                   'KH-' || (1 + c.id % 25), 'ko', 'Person ' || c.id,
                   now(), now(), now() + interval '1 day', now(), now(), now()
              FROM "case" c
            """
        )
    )
    db.session.commit()


def timed(runs: int, func: Callable[[], Any]) -> tuple[float, float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        seconds.append(time.perf_counter() - start)
        db.session.rollback()
    return statistics.median(seconds), max(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with scratch_database("reports") as url:
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "TESTING": True})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            start = time.perf_counter()
            fill(args.reports)
            print(f"filled {args.reports} reports and cases in {time.perf_counter() - start:.2f} s")
            open_count = sum(figures.dashboard().by_stage.values())
            median, worst = timed(args.runs, figures.dashboard)
            print(
                f"dashboard ({open_count} open reports): "
                f"median {median * 1000:.0f} ms, slowest {worst * 1000:.0f} ms"
            )
            median, worst = timed(args.runs, lambda: figures.chart(figures.weekly()))
            print(
                f"weekly summary + chart (12 weeks): "
                f"median {median * 1000:.0f} ms, slowest {worst * 1000:.0f} ms"
            )
            median, worst = timed(args.runs, timers.escalate_overdue)
            print(f"timer scan, nothing due: median {median * 1000:.1f} ms, slowest {worst * 1000:.1f} ms")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
