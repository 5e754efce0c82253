"""The audience filter: provinces, statuses, languages, presence; never deleted, never without consent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Flask

from outreach.alerts.audience import audience_person_ids, count_audience, validate_audience
from outreach.extensions import db
from outreach.models import utcnow
from tests.alerts.conftest import TODAY


def ids(audience: dict[str, Any], today: date = TODAY) -> set[int]:
    return set(db.session.scalars(audience_person_ids(audience, today=today)))


def test_filters_combine(app: Flask, make_person: Callable[..., int]) -> None:
    pp_ko = make_person(province_code="KH-12", language="ko", status="resident")
    pp_en_traveler = make_person(province_code="KH-12", language="en", status="traveler")
    sr_km = make_person(province_code="KH-17", language="km", status="resident")
    with app.app_context():
        assert ids({}) == {pp_ko, pp_en_traveler, sr_km}
        assert ids({"provinces": ["KH-12"]}) == {pp_ko, pp_en_traveler}
        assert ids({"statuses": ["traveler"]}) == {pp_en_traveler}
        assert ids({"languages": ["ko", "km"]}) == {pp_ko, sr_km}
        assert ids({"provinces": ["KH-12", "KH-17"], "statuses": ["resident"], "languages": ["km"]}) == {
            sr_km
        }


def test_present_only_uses_arrival_and_departure(app: Flask, make_person: Callable[..., int]) -> None:
    here = make_person(arrival_date=TODAY - timedelta(days=3), departure_date=TODAY)
    unknown_dates = make_person()
    left = make_person(arrival_date=TODAY - timedelta(days=10), departure_date=TODAY - timedelta(days=1))
    not_yet = make_person(arrival_date=TODAY + timedelta(days=1))
    with app.app_context():
        assert ids({"present_only": True}) == {here, unknown_dates}
        assert ids({"present_only": False}) == {here, unknown_dates, left, not_yet}


def test_never_deleted_or_without_consent(app: Flask, make_person: Callable[..., int]) -> None:
    kept = make_person()
    make_person(consent_at=None, consent_method=None, consent_version=None)
    make_person(deleted_at=utcnow())
    with app.app_context():
        assert ids({}) == {kept}


def test_counts_by_province_language_and_channel(app: Flask, make_person: Callable[..., int]) -> None:
    make_person(province_code="KH-12", language="ko", email="a@example.com", whatsapp=True)
    make_person(province_code="KH-12", language="en")
    make_person(province_code="KH-17", language="ko", email="b@example.com")
    with app.app_context():
        counts = count_audience({}, today=TODAY)
    assert counts.total == 3
    assert dict(counts.by_province) == {"KH-12": 2, "KH-17": 1}
    assert counts.by_province[0] == ("KH-12", 2)  # biggest first
    assert counts.by_language == {"ko": 2, "en": 1}
    assert counts.by_channel == {"sms": 3, "whatsapp": 1, "email": 2}


def test_unknown_values_are_refused(app: Flask) -> None:
    import pytest

    from outreach.alerts.audience import AudienceError

    with app.app_context():
        assert validate_audience({"provinces": ["KH-12", "KH-12"], "present_only": 1}) == {
            "provinces": ["KH-12"],
            "statuses": [],
            "languages": [],
            "present_only": True,
        }
        for bad in ({"provinces": ["KH-99"]}, {"statuses": ["tourist"]}, {"languages": ["fr"]}):
            with pytest.raises(AudienceError):
                validate_audience(bad)
