"""One "present today", by Cambodia's date (Asia/Phnom_Penh), for the check-in's recipients and its messages.

At 01:00 in Phnom Penh it is still 18:00 of the previous day in UTC: a person arriving "today" is
present, one who left "yesterday" is not, whatever the UTC date says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import AlertStatus, CheckIn, CheckInRecipient, Message, SourceKind, User
from outreach.registry.presence import cambodia_today
from tests.conftest import login, run_jobs

#: 01:00 on 8 March in Phnom Penh.
CAMBODIA_1AM = datetime(2027, 3, 7, 18, 0, tzinfo=UTC)
TODAY_KH = date(2027, 3, 8)


def test_cambodia_today_is_seven_hours_ahead_of_utc() -> None:
    assert cambodia_today(CAMBODIA_1AM) == TODAY_KH
    assert cambodia_today(CAMBODIA_1AM - timedelta(hours=1, seconds=1)) == TODAY_KH - timedelta(days=1)


def test_present_only_checkin_at_1am_cambodia_picks_the_same_people_as_its_messages(
    app: Flask,
    client: FlaskClient,
    officer: User,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
) -> None:
    with time_machine.travel(CAMBODIA_1AM, tick=True):
        # Arrives today in Cambodia (the UTC date is still yesterday): present.
        arrived_today = make_person(phone="+85512610001", arrival_date=TODAY_KH)
        # Left yesterday in Cambodia (which is "today" in UTC): gone.
        left_yesterday = make_person(phone="+85512610002", departure_date=TODAY_KH - timedelta(days=1))
        # Leaves today: still here until the day is over.
        leaves_today = make_person(phone="+85512610003", departure_date=TODAY_KH)
        # Arrives tomorrow: not here yet.
        make_person(phone="+85512610004", arrival_date=TODAY_KH + timedelta(days=1))
        checkin_id = make_checkin(audience={"present_only": True}, dispatch=False)

        login(client, officer)
        assert client.post(f"/staff/checkins/{checkin_id}/submit").status_code in (302, 303)
        with app.app_context():
            checkin = db.session.get(CheckIn, checkin_id)
            assert checkin is not None
            alert_id = checkin.alert_id
            # A small Moderate check-in goes out on submit; the count it was approved on is Cambodia's too.
            assert checkin.alert.status == AlertStatus.DISPATCHING
            assert checkin.alert.recipient_count == 2
        run_jobs(app)

        with app.app_context():
            recipients = set(
                db.session.scalars(
                    sa.select(CheckInRecipient.person_id).where(CheckInRecipient.checkin_id == checkin_id)
                )
            )
            messaged = set(
                db.session.scalars(
                    sa.select(Message.person_id).where(
                        Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id
                    )
                )
            )
    assert recipients == {arrived_today, leaves_today}
    assert messaged == recipients
    assert left_yesterday not in messaged


def test_people_filter_present_uses_cambodia_date(
    app: Flask, client: FlaskClient, officer: User, make_person: Callable[..., Any]
) -> None:
    with time_machine.travel(CAMBODIA_1AM, tick=True):
        make_person(phone="+85512620001", name_latin="ARRIVED TODAY", arrival_date=TODAY_KH)
        make_person(
            phone="+85512620002", name_latin="LEFT YESTERDAY", departure_date=TODAY_KH - timedelta(days=1)
        )
        login(client, officer)
        page = client.get("/staff/people?present=1").get_data(as_text=True)
    assert "ARRIVED TODAY" in page
    assert "LEFT YESTERDAY" not in page
