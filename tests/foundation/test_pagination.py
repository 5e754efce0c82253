"""Pagination shared by HTML lists and the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import OutboxEntry, utcnow
from outreach.web.pagination import PER_PAGE, paginate, parse_page
from tests.conftest import login
from tests.foundation.conftest import english


def _add_entries(app: Flask, count: int) -> None:
    now = utcnow()
    rows = [
        {
            "channel": "sms",
            "to_address": f"+855120{n:05d}",
            "body": f"message {n}",
            "sid": f"PAGE-{n}",
            "created_at": now,
        }
        for n in range(1, count + 1)
    ]
    with app.app_context():
        db.session.execute(sa.insert(OutboxEntry), rows)
        db.session.commit()


@pytest.mark.parametrize(
    ("raw", "page"),
    [(None, 1), ("", 1), ("abc", 1), ("0", 1), ("-3", 1), ("2", 2), (" 3 ", 3), ("99999999999", 1_000_000)],
)
def test_parse_page(raw: Any, page: int) -> None:
    assert parse_page(raw) == page


def test_pages_of_a_query(app: Flask) -> None:
    _add_entries(app, 120)
    stmt = sa.select(OutboxEntry).order_by(OutboxEntry.id)
    with app.app_context():
        first = paginate(stmt, "1")
        assert (first.page, first.pages, first.total, len(first.items)) == (1, 3, 120, PER_PAGE)
        assert first.has_next and not first.has_prev
        assert first.items[0].body == "message 1"

        last = paginate(stmt, "3")
        assert (len(last.items), last.has_next, last.has_prev) == (20, False, True)
        assert last.items[-1].body == "message 120"

        beyond = paginate(stmt, "4")
        assert beyond.items == [] and beyond.total == 120

        rows = paginate(
            sa.select(OutboxEntry.id, OutboxEntry.sid).order_by(OutboxEntry.id), 2, per_page=10, scalars=False
        )
        assert [r.sid for r in rows.items] == [f"PAGE-{n}" for n in range(11, 21)]


def test_empty_query_has_one_page(app: Flask) -> None:
    with app.app_context():
        page = paginate(sa.select(OutboxEntry), None)
    assert (page.items, page.page, page.pages, page.total) == ([], 1, 1, 0)


def test_outbox_pages_in_the_browser(app: Flask, make_user: Callable[..., Any]) -> None:
    _add_entries(app, PER_PAGE + 5)
    client = english(app.test_client())
    login(client, make_user("officer", language="en"))

    first = client.get("/staff/outbox").get_data(as_text=True)
    assert first.count('class="outbox-entry"') == PER_PAGE
    assert f"message {PER_PAGE + 5}<" in first  # newest first
    assert "Page 1 of 2 (55 in all)" in first
    assert 'href="/staff/outbox?page=2"' in first
    assert "Previous" not in first

    second = client.get("/staff/outbox?page=2").get_data(as_text=True)
    assert second.count('class="outbox-entry"') == 5
    assert 'href="/staff/outbox?page=1"' in second

    # A bad page number is page 1, never an error.
    resp = client.get("/staff/outbox?page=x")
    assert resp.status_code == 200
    assert "Page 1 of 2" in resp.get_data(as_text=True)
