"""Fixtures for the grievance tests: representatives of two organisations, staff, and submissions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.grievances import operations
from outreach.models import AuditEvent, Grievance, Message, User
from tests.conftest import login
from tests.fakes.smtp_server import FakeSMTP

ORG_A = "Phnom Penh Korean Association"
ORG_B = "Sihanoukville Korean Community"


def valid_data(**overrides: Any) -> dict[str, Any]:
    """What a representative fills in on the form (form field names and values)."""
    data: dict[str, Any] = {
        "category": "scam_recruitment",
        "province_code": "KH-18",
        "title": "Workers held in a compound",
        "description": "Twelve people were recruited with a fake job offer and cannot leave.",
        "people_affected": "12",
        "urgency": "high",
        "contact_info": "",
        "police_sharing_consent": "yes",
    }
    data.update(overrides)
    return data


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def rep(make_user: Callable[..., Any]) -> User:
    """A representative of organisation A who reads English (most assertions are on English text)."""
    return make_user(
        "community_rep", organisation=ORG_A, province_code="KH-12", language="en", name="Rep Kim"
    )


@pytest.fixture
def ko_rep(make_user: Callable[..., Any]) -> User:
    """Another representative of organisation A, who reads Korean."""
    return make_user("community_rep", organisation=ORG_A, province_code="KH-12", language="ko", name="김대표")


@pytest.fixture
def km_rep(make_user: Callable[..., Any]) -> User:
    """Another representative of organisation A, who reads Khmer."""
    return make_user("community_rep", organisation=ORG_A, province_code="KH-12", language="km", name="Sokha")


@pytest.fixture
def other_rep(make_user: Callable[..., Any]) -> User:
    return make_user("community_rep", organisation=ORG_B, province_code="KH-18", language="ko")


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="Officer Park", language="en")


@pytest.fixture
def admin(make_user: Callable[..., Any]) -> User:
    return make_user("admin", name="Admin Lee", language="en")


def client_for(app: Flask, user: User | None, *, lang: str | None = None) -> FlaskClient:
    client = app.test_client()
    if user is not None:
        login(client, user)
    if lang:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    return client


@pytest.fixture
def submit(app: Flask) -> Callable[..., int]:
    """Submit a grievance through the operation (as the API or the form would); returns its id."""

    def factory(user: User, *, created_at: datetime | None = None, **overrides: Any) -> int:
        with app.app_context():
            me = db.session.get(User, user.id)
            assert me is not None
            grievance = operations.submit_grievance(me, valid_data(**overrides))
            if created_at is not None:
                grievance.created_at = created_at
            db.session.commit()
            return grievance.id

    return factory


def load(app: Flask, grievance_id: int) -> Grievance:
    with app.app_context():
        grievance = db.session.get(Grievance, grievance_id)
        assert grievance is not None
        db.session.expunge(grievance)
        return grievance


def audit_actions(app: Flask, grievance_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.target_type == "grievance", AuditEvent.target_id == grievance_id)
                .order_by(AuditEvent.id)
            )
        )


def messages_to(app: Flask, user: User) -> list[Message]:
    with app.app_context():
        rows = list(
            db.session.scalars(sa.select(Message).where(Message.user_id == user.id).order_by(Message.id))
        )
        for row in rows:
            db.session.expunge(row)
        return rows


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1)


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp: FakeSMTP) -> Flask:
    """An app that sends e-mail over SMTP to the local fake server."""
    return make_app(
        MAIL_CHANNEL="smtp",
        SMTP_HOST=smtp.host,
        SMTP_PORT=smtp.port,
        MAIL_FROM="Embassy <embassy@outreach.example>",
    )
