"""The summary: counts by category, province, status and month equal the stored data; charts are SVG."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.grievances import reporting
from outreach.grievances.timeutil import LOCAL_TZ
from outreach.models import Grievance, GrievanceCategory, GrievanceStatus, User, utcnow
from tests.grievances.conftest import client_for

PROVINCES = ["KH-12", "KH-18", "KH-17", "KH-2"]


def _seed(app: Flask, rep: User, other_rep: User, submit: Callable[..., int], n: int = 30) -> None:
    """Grievances spread over categories, provinces and months, some answered, with known waits."""
    rnd = random.Random(7)
    categories = list(GrievanceCategory)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    for i in range(n):
        created = start + timedelta(days=rnd.randint(0, 150), hours=rnd.randint(0, 23))
        gid = submit(
            rep if i % 3 else other_rep,
            category=rnd.choice(categories).value,
            province_code=rnd.choice(PROVINCES),
            people_affected=str(rnd.randint(1, 40)),
            created_at=created,
        )
        if i % 4:
            with app.app_context():
                g = db.session.get(Grievance, gid)
                assert g is not None
                g.first_response_at = created + timedelta(hours=rnd.randint(1, 200))
                g.status = rnd.choice(
                    [GrievanceStatus.IN_REVIEW, GrievanceStatus.RESOLVED, GrievanceStatus.CLOSED]
                )
                db.session.commit()


def _stored(app: Flask) -> list[Grievance]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Grievance)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_summary_counts_equal_the_stored_data(
    app: Flask, rep: User, other_rep: User, submit: Callable[..., int]
) -> None:
    _seed(app, rep, other_rep, submit)
    stored = _stored(app)
    with app.app_context():
        result = reporting.summary()
    assert result.total == len(stored) == 30
    assert result.people_affected == sum(g.people_affected for g in stored)
    assert dict(result.by_category) == {c: Counter(g.category for g in stored)[c] for c in GrievanceCategory}
    assert dict(result.by_status) == {s: Counter(g.status for g in stored)[s] for s in GrievanceStatus}
    assert dict(result.by_province) == dict(Counter(g.province_code for g in stored))
    months = Counter(g.created_at.astimezone(LOCAL_TZ).strftime("%Y-%m") for g in stored)
    assert {m: n for m, n in result.by_month if n} == dict(months)
    # Months run without gaps from the first to the last.
    assert [m for m, _ in result.by_month] == sorted({m for m, _ in result.by_month})
    assert result.by_month[0][0] == min(months) and result.by_month[-1][0] == max(months)
    waits = [
        (g.first_response_at - g.created_at).total_seconds() / 3600 for g in stored if g.first_response_at
    ]
    assert result.responded == len(waits)
    assert result.median_first_response_hours == statistics.median(waits)
    now = utcnow()
    assert result.overdue == sum(1 for g in stored if reporting.is_overdue(g, now, 72))


def test_months_are_cambodian(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    """20:00 UTC on 31 January is already 1 February in Phnom Penh."""
    submit(rep, created_at=datetime(2026, 1, 31, 20, 0, tzinfo=UTC))
    submit(rep, created_at=datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    with app.app_context():
        assert reporting.summary().by_month == [("2026-01", 1), ("2026-02", 1)]
        only_feb = reporting.summary(since=date(2026, 2, 1), until=date(2026, 2, 28))
        assert only_feb.total == 1


def test_summary_page_draws_charts_from_the_same_figures(
    app: Flask, rep: User, other_rep: User, officer: User, submit: Callable[..., int]
) -> None:
    _seed(app, rep, other_rep, submit, n=12)
    stored = _stored(app)
    resp = client_for(app, officer).get("/staff/grievances/summary")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for chart in ("chart-category", "chart-status", "chart-province", "chart-month"):
        assert f'id="{chart}"' in html
    assert html.count("<svg ") == 4
    assert "<script" not in html  # drawn on the server, no JavaScript
    assert re.search(r'id="fig-total"><strong>12</strong>', html)
    # The figures table under the category chart matches the stored counts.
    category_section = html[html.index('id="chart-category"') : html.index('id="chart-status"')]
    scam = Counter(g.category for g in stored)[GrievanceCategory.SCAM_RECRUITMENT]
    assert f'<th scope="row">Scam recruitment</th><td class="n">{scam}</td>' in category_section
    # Bars are proportional: the largest category has the full width.
    widths = [float(w) for w in re.findall(r'<rect class="bar"[^>]* width="([\d.]+)"', category_section)]
    assert max(widths) == 300.0


def test_summary_date_filter_and_bad_dates(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    submit(rep, created_at=datetime(2026, 3, 5, 3, 0, tzinfo=UTC))
    submit(rep, created_at=datetime(2026, 4, 5, 3, 0, tzinfo=UTC))
    client = client_for(app, officer)
    html = client.get("/staff/grievances/summary?since=2026-04-01&until=2026-04-30").get_data(as_text=True)
    assert re.search(r'id="fig-total"><strong>1</strong>', html)
    resp = client.get("/staff/grievances/summary?since=yesterday")
    assert resp.status_code == 400
    assert "The start date is not a date (use YYYY-MM-DD)." in resp.get_data(as_text=True)
    resp = client.get("/staff/grievances/summary?since=2026-05-01&until=2026-04-01")
    assert resp.status_code == 400 and "The start date is after the end date." in resp.get_data(as_text=True)


def test_empty_summary(app: Flask, officer: User) -> None:
    with app.app_context():
        result = reporting.summary()
    assert result.total == 0 and result.by_month == [] and result.median_first_response_hours is None
    html = client_for(app, officer).get("/staff/grievances/summary").get_data(as_text=True)
    assert "No grievances in this period." in html
