"""``/api/v1/grievances``: representatives submit and read their organisation's; staff act on all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.api.conftest import Api, assert_problem

GRIEVANCE: dict[str, Any] = {
    "category": "passport_confiscated",
    "province_code": "KH-18",
    "title": "Passports held by employer",
    "description": "Eight workers' passports were taken on arrival at the compound.",
    "people_affected": 8,
    "urgency": "high",
    "contact_consent": True,
    "contact_info": "Call the organisation's office",
    "police_sharing_consent": True,
}


def test_rep_submits_staff_act_rep_sees_replies_not_notes(api_as: Callable[..., Api]) -> None:
    rep = api_as("community_rep", organisation="Korean Association Sihanoukville")
    officer = api_as("officer")

    created = rep.post("/grievances", json=GRIEVANCE)
    assert created.status_code == 201, created.get_json()
    grievance = created.get_json()
    assert grievance["status"] == "received" and grievance["reference"].startswith("G-")
    assert grievance["organisation"]["name"] == "Korean Association Sihanoukville"
    gid = grievance["id"]

    updated = officer.patch(
        f"/grievances/{gid}",
        json={
            "assignee_id": officer.user.id,  # type: ignore[attr-defined]
            "status": "in_review",
            "message": "We are looking into it.",
            "reply": "Can you tell us the company's name?",
            "note": "Possibly linked to case 12.",
        },
    )
    assert updated.status_code == 200, updated.get_json()
    staff_view = updated.get_json()
    assert staff_view["status"] == "in_review" and staff_view["assignee_id"] == officer.user.id  # type: ignore[attr-defined]
    assert {e["kind"] for e in staff_view["entries"]} >= {"status", "reply", "note", "assign"}
    assert staff_view["allowed_next"] == ["referred", "resolved"]

    rep_view = rep.get(f"/grievances/{gid}").get_json()
    assert not any(e["internal"] for e in rep_view["entries"])
    assert "Can you tell us the company's name?" in [e["body"] for e in rep_view["entries"]]
    assert "Possibly linked to case 12." not in [e["body"] for e in rep_view["entries"]]

    # Along the lifecycle only.
    assert_problem(officer.patch(f"/grievances/{gid}", json={"status": "closed"}), 409)
    assert officer.get("/grievances?status=in_review").get_json()["total"] == 1
    assert officer.get("/grievances?status=received").get_json()["total"] == 0


def test_reps_see_only_their_organisations_grievances(api_as: Callable[..., Api]) -> None:
    mine = api_as("community_rep", organisation="Org A")
    colleague = api_as("community_rep", organisation="Org A")
    other = api_as("community_rep", organisation="Org B")
    gid = mine.post("/grievances", json=GRIEVANCE).get_json()["id"]
    other.post("/grievances", json={**GRIEVANCE, "title": "Another one"})

    assert [g["id"] for g in mine.get("/grievances").get_json()["items"]] == [gid]
    assert colleague.get(f"/grievances/{gid}").status_code == 200
    assert_problem(other.get(f"/grievances/{gid}"), 404)  # existence is not revealed
    assert other.get("/grievances").get_json()["total"] == 1
    assert api_as("admin").get("/grievances").get_json()["total"] == 2
    # Representatives read; they do not act on grievances, and staff do not submit them.
    assert_problem(mine.patch(f"/grievances/{gid}", json={"status": "in_review"}), 403)
    assert_problem(api_as("officer").post("/grievances", json=GRIEVANCE), 403)


def test_grievance_validation(api_as: Callable[..., Api]) -> None:
    rep = api_as("community_rep")
    body = assert_problem(rep.post("/grievances", json={**GRIEVANCE, "province_code": "KH-99"}), 422)
    assert body["errors"] == [{"field": "province_code", "message": "Choose a province."}]
    body = assert_problem(rep.post("/grievances", json={**GRIEVANCE, "contact_consent": False}), 422)
    assert body["errors"][0]["field"] == "contact_info"
    missing = {k: v for k, v in GRIEVANCE.items() if k != "police_sharing_consent"}
    assert (
        assert_problem(rep.post("/grievances", json=missing), 422)["errors"][0]["field"]
        == "police_sharing_consent"
    )
    officer = api_as("officer")
    gid = rep.post("/grievances", json=GRIEVANCE).get_json()["id"]
    assert_problem(officer.patch(f"/grievances/{gid}", json={}), 422)
    assert_problem(officer.patch(f"/grievances/{gid}", json={"message": "alone"}), 422)
    assert_problem(officer.patch(f"/grievances/{gid}", json={"assignee_id": rep.user.id}), 422)  # type: ignore[attr-defined]
