"""Composing: drafts, Korean required with fallback, preview counts, segments, cost, the compose form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from outreach.alerts import compose
from outreach.alerts.compose import ComposeError, ContentInput
from outreach.extensions import db
from outreach.models import Alert, AlertStatus, User
from tests.alerts.conftest import KOREAN_SHORT, TODAY, alert_input, audit_actions, get_alert
from tests.conftest import login

LONG_KOREAN = (
    "프놈펜 독립기념탑 주변에서 대규모 시위가 예정되어 있습니다. "
    "해당 지역 방문을 피하시고 안전에 유의하시기 바랍니다."
)


def test_korean_text_is_required(app: Flask, officer: User) -> None:
    with app.app_context():
        author = db.session.get(User, officer.id)
        assert author is not None
        with pytest.raises(ComposeError) as err:
            compose.create_alert(alert_input(contents={"en": ContentInput("English only")}), author=author)
        assert err.value.field == "body_ko"
        with pytest.raises(ComposeError):
            compose.create_alert(alert_input(channels=[]), author=author)
        with pytest.raises(ComposeError):
            compose.create_alert(alert_input(audience={"provinces": ["KH-99"]}), author=author)
        with pytest.raises(ComposeError):
            compose.create_alert(alert_input(contents={"ko": ContentInput("가" * 1600)}), author=author)


def test_draft_is_saved_with_contents_and_audited(app: Flask, make_alert: Callable[..., int]) -> None:
    alert_id = make_alert(contents={"ko": ContentInput(KOREAN_SHORT, "시위 안내"), "km": ContentInput("  ")})
    with app.app_context():
        alert = get_alert(alert_id)
        assert alert.status == AlertStatus.DRAFT
        assert {c.language for c in alert.contents} == {"ko"}  # an empty Khmer text is no text
        assert alert.content_for("km") is not None and alert.content_for("km").language == "ko"
        assert alert.audience == {
            "provinces": ["KH-12"],
            "statuses": [],
            "languages": [],
            "present_only": False,
        }
        assert audit_actions(alert_id) == ["alert.create"]


def test_preview_counts_segments_and_cost(
    make_app: Callable[..., Flask], make_person: Callable[..., int], officer: User
) -> None:
    app = make_app(SMS_PRICE_PER_SEGMENT=0.05)
    for _ in range(3):
        make_person(province_code="KH-12", language="ko")
    make_person(province_code="KH-12", language="en")
    make_person(province_code="KH-12", language="km")
    make_person(province_code="KH-17", language="ko")  # outside the audience
    with app.app_context():
        author = db.session.get(User, officer.id)
        assert author is not None
        alert = compose.create_alert(
            alert_input(contents={"ko": ContentInput(LONG_KOREAN), "en": ContentInput("Avoid the area.")}),
            author=author,
        )
        with force_locale("en"):  # the warnings are read in the officer's language
            preview = compose.preview(alert, today=TODAY)
        assert preview.counts.total == 5
        assert preview.counts.by_province == [("KH-12", 5)]
        assert preview.province_names == {"KH-12": "프놈펜"}
        by_lang = {p.language: p for p in preview.languages}
        assert (
            by_lang["ko"].recipients == 3 and by_lang["en"].recipients == 1 and by_lang["km"].recipients == 1
        )
        # The Korean text plus the sender tag is past 70 characters: two UCS-2 segments.
        assert by_lang["ko"].sms.body.startswith("[") and LONG_KOREAN in by_lang["ko"].sms.body
        assert by_lang["ko"].segments.encoding == "UCS-2" and by_lang["ko"].segments.segments == 2
        assert by_lang["en"].segments.encoding == "GSM-7" and by_lang["en"].segments.segments == 1
        # Khmer readers fall back to the Korean text (and its two segments).
        assert by_lang["km"].used_language == "ko" and by_lang["km"].segments.segments == 2
        assert preview.total_segments == 3 * 2 + 1 * 1 + 1 * 2
        assert preview.cost == pytest.approx(9 * 0.05)
        assert any("segments" in w for w in preview.warnings)  # the Korean SMS runs past one segment
        assert any("Korean text" in w for w in preview.warnings)  # Khmer readers get Korean


def test_short_korean_has_no_segment_warning(app: Flask, make_alert: Callable[..., int]) -> None:
    alert_id = make_alert(contents={"ko": ContentInput("시위 주의. 외출 자제 바랍니다.")})
    with app.app_context():
        with force_locale("en"):
            preview = compose.preview(get_alert(alert_id), today=TODAY)
        assert preview.languages[0].segments.segments == 1
        assert not any("segments" in w for w in preview.warnings)


def test_only_a_draft_can_be_edited(app: Flask, make_alert: Callable[..., int], officer: User) -> None:
    alert_id = make_alert("approved")
    with app.app_context():
        author = db.session.get(User, officer.id)
        assert author is not None
        with pytest.raises(ComposeError):
            compose.update_alert(get_alert(alert_id), alert_input(title="Changed"), actor=author)


FORM = {
    "title": "Flooding in Kampot",
    "severity": "Moderate",
    "body_ko": "캄폿 지역 홍수 주의",
    "subject_ko": "",
    "body_en": "",
    "subject_en": "",
    "body_km": "",
    "subject_km": "",
    "channels": ["sms", "email"],
    "provinces": ["KH-7"],
    "statuses": ["resident", "traveler"],
    "languages": [],
    "urgency": "Immediate",
    "certainty": "Likely",
    "category": "Met",
}


def test_compose_form_creates_a_draft_and_shows_the_preview(
    app: Flask, client: FlaskClient, officer: User, make_person: Callable[..., int]
) -> None:
    make_person(province_code="KH-7", language="ko", email="kampot@example.com")
    login(client, officer)
    assert client.get("/staff/alerts/new").status_code == 200
    response = client.post("/staff/alerts/new", data=FORM)
    assert response.status_code == 302
    with app.app_context():
        alert = db.session.scalars(db.select(Alert)).one()
        assert alert.title == "Flooding in Kampot"
        assert alert.channels == ["email", "sms"]
        assert alert.audience["provinces"] == ["KH-7"]
        assert str(alert.certainty) == "Likely"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "캄폿 지역 홍수 주의" in html
    assert 'id="recipient-total">1<' in html


def test_compose_form_errors_are_shown_not_500(app: Flask, client: FlaskClient, officer: User) -> None:
    login(client, officer)
    bad = {**FORM, "body_ko": "", "channels": []}
    response = client.post("/staff/alerts/new", data=bad)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalars(db.select(Alert)).first() is None
    bad = {**FORM, "provinces": ["KH-99"]}
    response = client.post("/staff/alerts/new", data=bad)
    assert response.status_code == 422


def test_edit_form_round_trips(
    app: Flask, client: FlaskClient, officer: User, make_alert: Callable[..., int]
) -> None:
    alert_id = make_alert()
    login(client, officer)
    page = client.get(f"/staff/alerts/{alert_id}/edit")
    assert page.status_code == 200 and "KH-12" in page.get_data(as_text=True)
    response = client.post(f"/staff/alerts/{alert_id}/edit", data={**FORM, "title": "Edited"})
    assert response.status_code == 302
    with app.app_context():
        assert get_alert(alert_id).title == "Edited"
        assert audit_actions(alert_id) == ["alert.create", "alert.update"]


def test_community_reps_cannot_compose(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    rep = make_user("community_rep")
    login(client, rep)
    assert client.get("/staff/alerts/new").status_code == 403
    assert client.post("/staff/alerts/new", data=FORM).status_code == 403


def test_test_send_goes_to_the_officer_only_and_can_be_repeated(
    app: Flask,
    client: FlaskClient,
    make_alert: Callable[..., int],
    make_person: Callable[..., int],
    make_user: Any,
) -> None:
    from outreach.models import Message, OutboxEntry, SourceKind
    from tests.conftest import run_jobs

    author = make_user("officer", phone="+85512000201", email="author@embassy.test", language="ko")
    make_person()  # in the audience: must get nothing from a test
    alert_id = make_alert(author=author, channels=["sms", "email"])
    login(client, author)
    for _ in range(2):  # after an edit the officer tests again
        assert client.post(f"/staff/alerts/{alert_id}/test").status_code == 302
    run_jobs(app)
    with app.app_context():
        messages = db.session.scalars(db.select(Message).order_by(Message.id)).all()
        assert {m.source_kind for m in messages} == {SourceKind.TEST}
        assert sorted((m.channel, m.to_address) for m in messages) == [
            ("email", "author@embassy.test"),
            ("email", "author@embassy.test"),
            ("sms", "+85512000201"),
            ("sms", "+85512000201"),
        ]
        outbox = db.session.scalars(db.select(OutboxEntry)).all()
        assert len(outbox) == 4
        sms = next(e for e in outbox if e.channel == "sms")
        assert sms.body.startswith("[TEST] [주캄보디아대사관] ") and KOREAN_SHORT in sms.body
        assert audit_actions(alert_id) == ["alert.create", "alert.test_send", "alert.test_send"]
        assert get_alert(alert_id).status == AlertStatus.DRAFT


def test_test_send_without_phone_or_email_says_so(
    app: Flask, client: FlaskClient, make_alert: Callable[..., int], make_user: Any
) -> None:
    author = make_user("officer", phone=None, email="nobody@embassy.test")
    alert_id = make_alert(author=author, channels=["sms"])
    login(client, author)
    response = client.post(f"/staff/alerts/{alert_id}/test", follow_redirects=True)
    assert "add a mobile number" in response.get_data(as_text=True) or "휴대전화" in response.get_data(
        as_text=True
    )
