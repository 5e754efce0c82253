"""Zone pages: set and approve a level, the people inside by permit state, the CSV, the dashboard map,
the public advisory page and the Atom feed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask
from lxml import etree

from outreach.extensions import db
from outreach.models import AuditEvent, User, Zone, ZoneLevel
from outreach.zones import operations
from tests.conftest import login


def _bavet(app: Flask, make_person: Callable[..., int], today: date) -> dict[str, int]:
    return {
        "inside": make_person(province_code="KH-20", area_code="2008", name_latin="KIM INSIDE"),
        "permit": make_person(province_code="KH-20", area_code="200802", name_latin="LEE PERMIT"),
        "neighbour": make_person(province_code="KH-20", area_code="2003", name_latin="PARK NEIGHBOUR"),
        "formula": make_person(
            province_code="KH-20", area_code="2008", name_latin=None, name_ko="=HYPERLINK(1)"
        ),
    }


def test_officer_requests_a_ban_admin_approves_and_the_zone_lists_people_by_permit_state(
    app: Flask, make_person: Callable[..., int], officer: User, admin: User, today: date
) -> None:
    ids = _bavet(app, make_person, today)
    client = app.test_client()
    login(client, officer)
    form = {
        "area_code": "2008",
        "level": "4",
        "effective_from": today.isoformat(),
        "reason": "Scam compounds",
    }
    response = client.post("/staff/zones/level", data=form)
    assert response.status_code == 302
    with app.app_context():
        zone = db.session.scalar(sa.select(Zone).where(Zone.area_code == "2008"))
        assert zone is not None and zone.level is None
        zone_id, change_id = zone.id, zone.changes[0].id
    page = client.get(f"/staff/zones/{zone_id}")
    assert page.headers["Cache-Control"] == "no-store"
    assert b"decide" not in page.data  # no approval form for an officer
    # An officer cannot approve it, even by posting the form.
    client.post(f"/staff/zones/changes/{change_id}/decide", data={"decision": "approve"})
    with app.app_context():
        assert db.session.get(Zone, zone_id).level is None  # type: ignore[union-attr]

    admin_client = app.test_client()
    login(admin_client, admin)
    admin_client.post(f"/staff/zones/changes/{change_id}/decide", data={"decision": "approve"})
    with app.app_context():
        zone = db.session.get(Zone, zone_id)
        assert zone is not None and zone.level == ZoneLevel.L4
        actor = db.session.get(User, officer.id)
        assert actor is not None
        operations.add_permit(
            operations.PermitInput(ids["permit"], zone_id, "EX-1", today, today + timedelta(days=30)),
            actor=actor,
        )
        db.session.commit()

    html = client.get(f"/staff/zones/{zone_id}?lang=en").get_data(as_text=True)
    doc = etree.HTML(html)
    states = {row.get("data-person"): row.get("data-state") for row in doc.iterfind(".//tr[@data-person]")}
    assert states == {str(ids["inside"]): "none", str(ids["permit"]): "valid", str(ids["formula"]): "none"}
    assert doc.find(".//a[@data-state='none']").text.endswith("(2)")
    prepared = doc.find(".//p[@id='prepared']/a")
    assert prepared is not None and "/staff/alerts/" in prepared.get("href")
    assert doc.find(".//p[@id='prepared']/span").get("data-status") == "draft"  # nobody told yet
    only_valid = etree.HTML(client.get(f"/staff/zones/{zone_id}?state=valid").get_data(as_text=True))
    assert [r.get("data-person") for r in only_valid.iterfind(".//tr[@data-person]")] == [str(ids["permit"])]
    assert client.get(f"/staff/zones/{zone_id}?state=bogus").status_code == 400

    response = client.get(f"/staff/zones/{zone_id}/inside.csv")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "permit_state" and len(rows) == 4
    assert {r[1]: r[0] for r in rows[1:]} == {
        str(ids["inside"]): "none",
        str(ids["permit"]): "valid",
        str(ids["formula"]): "none",
    }
    assert "'=HYPERLINK(1)" in [r[2] for r in rows[1:]]  # a formula is neutralised
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "zone.export")) == 1

    # The dashboard map: Bavet in black with the count of people inside.
    dashboard = etree.HTML(client.get("/staff/").get_data(as_text=True))
    marker = dashboard.find(".//*[@data-code='2008']")
    assert marker is not None and marker.get("data-level") == "4"
    assert "3" in [t.text for t in dashboard.iterfind(".//*[@class='count']/{*}text")] + [
        t.text for t in dashboard.iterfind(".//g[@class='count']/text")
    ]


def test_bad_level_input_is_refused_with_a_reason_and_nothing_saved(
    app: Flask, officer: User, today: date
) -> None:
    client = app.test_client()
    login(client, officer)
    form = {"area_code": "KH-18", "level": "special", "effective_from": today.isoformat(), "reason": "x"}
    response = client.post("/staff/zones/level?lang=en", data=form, follow_redirects=True)
    assert "A special advisory needs an expiry date" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Zone)) == 0


def test_the_public_page_and_the_feed_show_levels_without_counts(
    app: Flask, make_person: Callable[..., int], admin: User, today: date
) -> None:
    make_person(province_code="KH-20", area_code="2008")
    from tests.zones.conftest import set_level

    with app.app_context():
        set_level(admin, "2008", "4", since=today)
        set_level(admin, "KH-12", "2", since=today - timedelta(days=40))
        db.session.commit()
    client = app.test_client()
    for lang, words in (("en", "Level 4: travel ban"), ("ko", "여행금지"), ("km", "បាវិត")):
        response = client.get(f"/advisories?lang={lang}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert words in html, lang
        doc = etree.HTML(html)
        assert doc.find(".//*[@class='count']") is None  # no counts in public
        items = {li.get("data-area"): li.get("data-level") for li in doc.iterfind(".//li[@data-area]")}
        assert items == {"2008": "4", "KH-12": "2"}
    feed = etree.fromstring(client.get("/alerts/feed.atom?lang=en").data)
    titles = [
        e.findtext("{http://www.w3.org/2005/Atom}title")
        for e in feed.iterfind("{http://www.w3.org/2005/Atom}entry")
    ]
    assert "Bavet, Svay Rieng: Level 4: travel ban" in titles
    assert "Phnom Penh: Level 2: avoid non-essential travel" in titles
