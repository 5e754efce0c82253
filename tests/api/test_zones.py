"""``/api/v1/zones`` and ``/api/v1/permits``: levels with admin approval for a ban, who is inside by
permit state, permits and grace, and clear 4xx answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from outreach.alerts.jobs import cambodia_today
from tests.api.conftest import Api, assert_problem


def test_a_ban_by_api_waits_for_an_admin_and_then_lists_the_people_inside(
    api_as: Callable[..., Api], make_person: Callable[..., int]
) -> None:
    today = cambodia_today()
    inside = make_person(province_code="KH-20", area_code="2008")
    holder = make_person(province_code="KH-20", area_code="200802")
    make_person(province_code="KH-20", area_code="2001")
    officer, admin = api_as("officer"), api_as("admin")
    body = {
        "area_code": "2008",
        "level": "4",
        "effective_from": today.isoformat(),
        "reason": "Scam compounds",
    }
    response = officer.post("/zones", json=body)
    assert response.status_code == 201, response.get_json()
    change = response.get_json()
    assert change["status"] == "pending" and change["to_level"] == "4" and change["alert_id"] is None
    zone_id = change["zone_id"]
    assert officer.get(f"/zones/{zone_id}").get_json()["level"] is None
    assert_problem(officer.post(f"/zones/changes/{change['id']}/decision", json={"approve": True}), 403)
    decided = admin.post(f"/zones/changes/{change['id']}/decision", json={"approve": True}).get_json()
    assert decided["status"] == "applied" and decided["alert_id"] is not None
    assert_problem(admin.post(f"/zones/changes/{change['id']}/decision", json={"approve": True}), 409)

    permit = officer.post(
        "/permits",
        json={
            "person_id": holder,
            "zone_id": zone_id,
            "number": "EX-9",
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=3)).isoformat(),
        },
    )
    assert permit.status_code == 201
    zone = officer.get(f"/zones/{zone_id}").get_json()
    assert zone["level"] == "4" and zone["area_name"]["en"] == "Bavet, Svay Rieng"
    assert zone["inside"] == 2 and zone["by_permit_state"]["expiring"] == 1
    assert [c["status"] for c in zone["history"]] == ["applied"]
    listed = officer.get(f"/zones/{zone_id}/inside").get_json()
    assert listed["total"] == 2
    assert {i["person_id"]: i["permit_state"] for i in listed["items"]} == {
        holder: "expiring",
        inside: "none",
    }
    only = officer.get(f"/zones/{zone_id}/inside?state=none").get_json()
    assert [i["person_id"] for i in only["items"]] == [inside]
    assert officer.get("/zones?active=true").get_json()["total"] == 1
    assert officer.get(f"/permits?zone_id={zone_id}").get_json()["items"][0]["number"] == "EX-9"
    grace = officer.post(
        f"/zones/{zone_id}/graces", json={"ends_on": (today + timedelta(days=20)).isoformat()}
    )
    assert grace.status_code == 201 and grace.get_json()["person_id"] is None
    ended = officer.post(f"/zones/{zone_id}/end", json={"reason": "lifted"}).get_json()
    assert ended["level"] is None and [c["to_level"] for c in ended["history"]] == ["4", None]


def test_bad_zone_input_is_a_422_naming_the_field(api_as: Callable[..., Api]) -> None:
    officer = api_as("officer")
    today = cambodia_today().isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"area_code": "9999", "level": "3", "effective_from": today, "reason": "x"}, "area_code"),
        ({"area_code": "KH-18", "level": "special", "effective_from": today, "reason": "x"}, "expires_on"),
        ({"area_code": "KH-18", "level": "5", "effective_from": today, "reason": "x"}, "level"),
    ]
    for body, field in cases:
        problem = assert_problem(officer.post("/zones", json=body), 422)
        assert field in {e["field"] for e in problem["errors"]}, problem
    assert_problem(officer.get("/zones/999"), 404)
    problem = assert_problem(
        officer.post(
            "/permits",
            json={"person_id": 1, "zone_id": 1, "number": "x", "valid_from": today, "valid_to": today},
        ),
        422,
    )
    assert problem["errors"][0]["field"] == "person_id"


def test_the_openapi_document_describes_the_zone_endpoints(api_as: Callable[..., Api]) -> None:
    doc = api_as("officer").get("/openapi.json").get_json()
    paths = {"/zones", "/zones/{zone_id}", "/zones/{zone_id}/inside", "/permits"}
    assert {"/api/v1" + p for p in paths} <= set(doc["paths"])
    assert "zones" in {t["name"] for t in doc["tags"]}
