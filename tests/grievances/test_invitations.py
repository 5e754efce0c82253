"""Representative accounts: an admin invites by e-mail; the signed link sets a password once, in time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.grievances import invitations
from outreach.grievances.errors import NotAllowed
from outreach.models import AuditEvent, Invitation, Message, Role, SourceKind, User, utcnow
from tests.grievances.conftest import client_for

NEW_PASSWORD = "a long new password"


def _invite(client: FlaskClient, **overrides: str) -> object:
    data = {
        "email": "new.rep@ngo.example",
        "name": "Choi Minsu",
        "organisation_id": "",
        "new_organisation": "Siem Reap Korean Society",
        "province_code": "KH-17",
        "language": "ko",
    }
    data.update(overrides)
    return client.post("/staff/users/invite", data=data)


def _link(app: Flask, user_id: int) -> str:
    """The path of the link in the latest invitation e-mail to ``user_id``."""
    with app.app_context():
        body = db.session.scalars(
            sa.select(Message.body)
            .where(Message.user_id == user_id, Message.source_kind == SourceKind.INVITATION)
            .order_by(Message.id.desc())
        ).first()
    assert body, "no invitation e-mail"
    match = re.search(r"http://localhost(/invitation/\S+)", body)
    assert match, body
    return match.group(1)


def _new_rep(app: Flask) -> User:
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == "new.rep@ngo.example")).one()
        db.session.expunge(user)
        return user


def _log_in(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"] == "/rep/"
    return client


def test_admin_invites_and_the_rep_sets_a_password(app: Flask, admin: User) -> None:
    resp = _invite(client_for(app, admin))
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/users"
    rep = _new_rep(app)
    assert rep.role == Role.COMMUNITY_REP and rep.password_hash is None
    assert rep.province_code == "KH-17" and rep.language == "ko"
    with app.app_context():
        me = db.session.get(User, rep.id)
        assert me is not None and me.organisation is not None
        assert me.organisation.name == "Siem Reap Korean Society"
        invitation = db.session.scalars(sa.select(Invitation)).one()
        assert invitation.invited_by_id == admin.id
        hours = (invitation.expires_at - invitation.created_at).total_seconds() / 3600
        assert hours == 72
        mail = db.session.scalars(
            sa.select(Message).where(Message.source_kind == SourceKind.INVITATION)
        ).one()
        assert mail.to_address == "new.rep@ngo.example" and mail.language == "ko"
        assert "비밀번호" in (mail.body or "")  # written in the rep's language
    users_page = client_for(app, admin).get("/staff/users").get_data(as_text=True)
    assert "Invited, link valid until" in users_page
    # Without a password nobody can log in as the rep yet.
    assert (
        app.test_client().post("/login", data={"email": rep.email, "password": "anything at all"}).status_code
        == 200
    )

    link = _link(app, rep.id)
    page = app.test_client().get(link)
    assert page.status_code == 200 and "new.rep@ngo.example" in page.get_data(as_text=True)
    resp = app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    client = _log_in(app, rep.email, NEW_PASSWORD)
    assert client.get("/rep/").status_code == 200
    assert client.get("/staff/people").status_code in (403, 404)
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert {"user.create", "invitation.create", "invitation.accept"} <= set(actions)


def test_a_used_link_cannot_be_used_again(app: Flask, admin: User) -> None:
    _invite(client_for(app, admin))
    rep = _new_rep(app)
    link = _link(app, rep.id)
    app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    for method in ("get", "post"):
        resp = getattr(app.test_client(), method)(
            link, data={"password": "another password!", "confirm": "another password!"}
        )
        assert resp.status_code == 410
        assert "invitation-used" in resp.get_data(as_text=True)
    _log_in(app, rep.email, NEW_PASSWORD)  # the first password still stands


def test_an_expired_link_is_refused(app: Flask, admin: User) -> None:
    _invite(client_for(app, admin))
    rep = _new_rep(app)
    link = _link(app, rep.id)
    with app.app_context():
        invitation = db.session.scalars(sa.select(Invitation)).one()
        invitation.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    resp = app.test_client().get(link, headers={"Accept-Language": "en"})
    assert resp.status_code == 410
    assert "The invitation has expired. Ask the embassy to send you a new one." in resp.get_data(as_text=True)
    resp = app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 410
    assert _new_rep(app).password_hash is None


def test_a_tampered_link_is_refused(app: Flask, admin: User) -> None:
    _invite(client_for(app, admin))
    link = _link(app, _new_rep(app).id)
    token = link.rsplit("/", 1)[1]
    forged = invitations.URLSafeSerializer("not our secret", salt="outreach.rep-invitation").dumps({"i": 1})
    # A character in the middle of the signature: the last one partly carries padding bits.
    signed, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = (
        f"{signed}.{signature[:middle]}{'A' if signature[middle] != 'A' else 'B'}{signature[middle + 1 :]}"
    )
    for bad in (flipped, forged, "nonsense", token + "x"):
        resp = app.test_client().get(f"/invitation/{bad}", headers={"Accept-Language": "en"})
        assert resp.status_code == 400, bad
        assert "The link is not valid." in resp.get_data(as_text=True)


def test_a_new_invitation_replaces_the_old_link(app: Flask, admin: User) -> None:
    client = client_for(app, admin)
    _invite(client)
    rep = _new_rep(app)
    old = _link(app, rep.id)
    resp = client.post(f"/staff/users/{rep.id}/resend-invitation", follow_redirects=True)
    assert "A new invitation was sent to new.rep@ngo.example; earlier links no longer work." in resp.get_data(
        as_text=True
    )
    new = _link(app, rep.id)
    assert new != old
    assert app.test_client().get(old).status_code == 410
    assert app.test_client().get(new).status_code == 200
    app.test_client().post(new, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    # Once the password is set there is nothing to resend.
    resp = client.post(f"/staff/users/{rep.id}/resend-invitation", follow_redirects=True)
    assert "This representative has already set a password." in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "Choose a password of 12 to 200 characters."),
        ("qwerty123456", "qwerty123456", "one of the most commonly used"),
        ("a long new password", "a long other password", "The two passwords are not the same."),
    ],
)
def test_password_rules(app: Flask, admin: User, password: str, confirm: str, message: str) -> None:
    _invite(client_for(app, admin), language="en")
    rep = _new_rep(app)
    link = _link(app, rep.id)
    resp = app.test_client().post(
        link, data={"password": password, "confirm": confirm}, headers={"Accept-Language": "en"}
    )
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert _new_rep(app).password_hash is None
    assert app.test_client().get(link).status_code == 200  # still usable


def test_invite_form_errors(app: Flask, admin: User, rep: User) -> None:
    client = client_for(app, admin)
    resp = _invite(client, email=rep.email)
    assert resp.status_code == 422
    assert "Someone already has an account with this e-mail address." in resp.get_data(as_text=True)
    resp = _invite(client, email="not-an-address")
    assert resp.status_code == 422 and "Enter a valid e-mail address." in resp.get_data(as_text=True)
    resp = _invite(client, new_organisation="")
    assert resp.status_code == 422
    assert "Choose or name the representative&#39;s organisation." in resp.get_data(as_text=True)
    resp = _invite(client, province_code="KH-99")
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0
    # An existing organisation can be chosen from the list.
    with app.app_context():
        org_id = db.session.get(User, rep.id).organisation_id  # type: ignore[union-attr]
    assert _invite(client, organisation_id=str(org_id), new_organisation="").status_code == 303
    assert _new_rep(app).organisation_id == org_id


def test_only_admins_invite(app: Flask, officer: User) -> None:
    assert _invite(client_for(app, officer)).status_code == 403
    with app.app_context():
        staff = db.session.get(User, officer.id)
        with pytest.raises(NotAllowed):
            invitations.invite_rep(
                invitations.RepInput(email="x@ngo.example", name="", organisation="X", province_code="KH-12"),
                staff,
            )
        with pytest.raises(NotAllowed):
            invitations.resend_invitation(staff, staff)
