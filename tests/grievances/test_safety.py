"""Safety of content: stored HTML is shown as text everywhere, and submissions per rep are rate limited."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import Grievance, User
from tests.grievances.conftest import client_for, valid_data

SCRIPT = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def test_html_in_a_grievance_is_rendered_harmless(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep, title=SCRIPT, description=SCRIPT, contact_info=SCRIPT, contact_consent=True)
    staff = client_for(app, officer)
    staff.post(f"/staff/grievances/{gid}/reply", data={"body": SCRIPT})
    staff.post(f"/staff/grievances/{gid}/note", data={"body": SCRIPT})
    staff.post(f"/staff/grievances/{gid}/status", data={"to_status": "in_review", "message": SCRIPT})
    pages = {
        "rep detail": client_for(app, rep).get(f"/rep/grievances/{gid}"),
        "rep list": client_for(app, rep).get("/rep/grievances"),
        "rep home": client_for(app, rep).get("/rep/"),
        "staff detail": staff.get(f"/staff/grievances/{gid}"),
        "staff queue": staff.get("/staff/grievances"),
    }
    for name, resp in pages.items():
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, name
        assert "<script>alert" not in html and "<img src=x" not in html, name
        assert ESCAPED in html, name
    # Stored as typed: escaping happens on output, the data is not altered.
    with app.app_context():
        assert db.session.scalars(sa.select(Grievance.description)).one() == SCRIPT


def test_html_in_an_organisation_name_is_escaped(
    app: Flask, make_user: Callable[..., User], officer: User, submit: Callable[..., int]
) -> None:
    evil = make_user("community_rep", organisation='<svg onload="alert(1)">')
    gid = submit(evil)
    staff = client_for(app, officer)
    for url in (f"/staff/grievances/{gid}", "/staff/users"):
        html = staff.get(url).get_data(as_text=True)
        assert '<svg onload="alert(1)">' not in html, url
        assert "&lt;svg onload=&#34;alert(1)&#34;&gt;" in html, url


def test_submissions_per_rep_are_rate_limited(
    make_app: Callable[..., Flask], rep: User, ko_rep: User, other_rep: User
) -> None:
    app = make_app(RATELIMIT_ENABLED=True, GRIEVANCE_SUBMISSION_LIMIT="3 per hour")
    client = client_for(app, rep)
    # A form sent back with errors does not use up the allowance.
    assert client.post("/rep/grievances/new", data=valid_data(title="")).status_code == 422
    for _ in range(3):
        assert client.post("/rep/grievances/new", data=valid_data()).status_code == 303
    resp = client.post("/rep/grievances/new", data=valid_data(title="Fourth"))
    assert resp.status_code == 429
    assert "You have submitted many grievances in a short time, so this one was not saved." in resp.get_data(
        as_text=True
    )
    # Reading still works, and the limit is per account: a colleague on the same connection may submit.
    assert client.get("/rep/grievances/new").status_code == 200
    assert client_for(app, other_rep).post("/rep/grievances/new", data=valid_data()).status_code == 303
    korean = client_for(app, ko_rep)
    for _ in range(3):
        assert korean.post("/rep/grievances/new", data=valid_data()).status_code == 303
    resp = korean.post("/rep/grievances/new", data=valid_data())
    assert resp.status_code == 429 and "짧은 시간에 고충을 많이 제출하셔서" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Grievance)) == 7
        assert db.session.scalar(sa.select(sa.func.count()).where(Grievance.title == "Fourth")) == 0


def test_default_limit_applies_without_configuration(make_app: Callable[..., Flask], rep: User) -> None:
    app = make_app(RATELIMIT_ENABLED=True)
    client = client_for(app, rep)
    codes = [client.post("/rep/grievances/new", data=valid_data()).status_code for _ in range(11)]
    assert codes == [303] * 10 + [429]
