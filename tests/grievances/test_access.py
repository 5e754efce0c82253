"""Who may read what: representatives see their own organisation's grievances only, and no /staff page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from outreach.extensions import db
from outreach.grievances import operations
from outreach.models import Role, User
from tests.grievances.conftest import client_for


def _staff_get_urls(app: Flask, grievance_id: int) -> list[str]:
    """Every GET page under /staff, found in the URL map (so pages added later are covered too)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff") or "GET" not in (rule.methods or set()):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", str(grievance_id)).replace(f"<{arg}>", "x")
        urls.append(path)
    return urls


def test_rep_gets_403_on_every_staff_page(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    gid = submit(rep)
    client = client_for(app, rep)
    urls = _staff_get_urls(app, gid)
    assert {
        "/staff/grievances",
        f"/staff/grievances/{gid}",
        "/staff/grievances/summary",
        "/staff/users",
    } <= set(urls)
    wrong = {url: client.get(url).status_code for url in urls}
    assert {url: code for url, code in wrong.items() if code != 403} == {}
    # Acting is refused as well, and changes nothing.
    for url, data in [
        (f"/staff/grievances/{gid}/reply", {"body": "hello"}),
        (f"/staff/grievances/{gid}/note", {"body": "hello"}),
        (f"/staff/grievances/{gid}/status", {"to_status": "in_review"}),
        (f"/staff/grievances/{gid}/assign", {"assignee_id": str(rep.id)}),
        ("/staff/grievances/bulk-assign", {"ids": str(gid)}),
        ("/staff/grievances/export.csv", {}),
        ("/staff/users/invite", {"email": "x@ngo.example"}),
    ]:
        assert client.post(url, data=data).status_code == 403, url
    assert client.get("/staff/people").status_code in (403, 404)  # the registry, whoever builds it


def test_rep_cannot_read_another_organisations_grievance(
    app: Flask, rep: User, other_rep: User, submit: Callable[..., int]
) -> None:
    mine = submit(rep, title="Ours")
    theirs = submit(other_rep, title="Theirs: confidential")
    client = client_for(app, rep)
    assert client.get(f"/rep/grievances/{mine}").status_code == 200
    resp = client.get(f"/rep/grievances/{theirs}")
    assert resp.status_code == 404
    assert "Theirs: confidential" not in resp.get_data(as_text=True)
    listing = client.get("/rep/grievances").get_data(as_text=True)
    assert "Ours" in listing and "Theirs" not in listing
    home = client.get("/rep/").get_data(as_text=True)
    assert "Theirs" not in home
    # The operations answer the same for the API.
    with app.app_context():
        me = db.session.get(User, rep.id)
        assert operations.get_visible(me, theirs) is None
        assert [g.id for g in db.session.scalars(operations.visible_grievances_for(me))] == [mine]


def test_same_organisation_reps_share_their_grievances(
    app: Flask, rep: User, ko_rep: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    assert client_for(app, ko_rep).get(f"/rep/grievances/{gid}").status_code == 200


@pytest.mark.parametrize("role", [Role.OFFICER, Role.ADMIN])
def test_staff_read_all_grievances_but_not_the_rep_portal(
    app: Flask,
    rep: User,
    other_rep: User,
    submit: Callable[..., int],
    make_user: Callable[..., User],
    role: Role,
) -> None:
    a, b = submit(rep), submit(other_rep)
    staff = make_user(role.value)
    client = client_for(app, staff)
    for gid in (a, b):
        assert client.get(f"/staff/grievances/{gid}").status_code == 200
    assert client.get(f"/rep/grievances/{a}").status_code == 403
    assert client.get("/rep/grievances/new").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    gid = submit(rep)
    client = app.test_client()
    for url in ("/rep/", "/rep/grievances", f"/rep/grievances/{gid}", "/staff/grievances", "/staff/users"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next="), url


def test_officers_see_users_but_only_admins_invite(app: Flask, officer: User, admin: User) -> None:
    officer_client = client_for(app, officer)
    page = officer_client.get("/staff/users")
    assert page.status_code == 200
    assert "Invite a community representative" not in page.get_data(as_text=True)
    assert officer_client.get("/staff/users/invite").status_code == 403
    admin_page = client_for(app, admin).get("/staff/users").get_data(as_text=True)
    assert "Invite a community representative" in admin_page
    assert client_for(app, admin).get("/staff/users/invite").status_code == 200


def test_deactivated_rep_sees_nothing(app: Flask, rep: User, submit: Callable[..., int]) -> None:
    gid = submit(rep)
    with app.app_context():
        me = db.session.get(User, rep.id)
        assert me is not None
        me.active = False
        db.session.commit()
        assert operations.get_visible(me, gid) is None
    resp = client_for(app, rep).get(f"/rep/grievances/{gid}")
    assert resp.status_code in (302, 403)
