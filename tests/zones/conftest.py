"""Fixtures for the zone tests: an officer and an admin, Cambodia's today, the Twilio pipeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.models import User, ZoneChange
from outreach.zones import operations
from tests.alerts.conftest import fake_twilio, twilio_app  # noqa: F401  (shared pipeline fixtures)
from tests.checkins.conftest import make_checkin  # noqa: F401  (shared fixture)


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="김영사", phone="+85512000101", language="ko")


@pytest.fixture
def admin(make_user: Callable[..., Any]) -> User:
    return make_user("admin", name="박관리", phone="+85512000109", language="ko")


@pytest.fixture
def today() -> date:
    return cambodia_today()


def set_level(
    user: User, area: str, level: str, *, since: date, expires_on: date | None = None, reason: str = "test"
) -> ZoneChange:
    """Ask for a level as ``user`` (in the caller's app context) and flush."""
    actor = db.session.get(User, user.id)
    assert actor is not None
    data = operations.LevelInput(area, level, since, expires_on, reason)
    return operations.set_level(data, actor=actor)
