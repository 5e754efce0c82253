"""The progress page: counts by status, rate, time left, failures by code explained, CSV for phone calls."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from outreach.alerts import progress
from outreach.extensions import db
from outreach.models import User
from tests.alerts.conftest import alert_messages, drain, get_alert, send_alert_now
from tests.conftest import login, run_jobs
from tests.fakes.twilio_server import FakeTwilio


def test_progress_counts_and_failures(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    for i in range(6):
        make_person(phone=f"+8551260000{i}", name_ko='=HYPERLINK("http://x")' if i == 1 else f"사람{i}")
    fake_twilio.fail_for("+85512600001", status=400, code=21211)
    fake_twilio.fail_for("+85512600002", status=400, code=21211)
    fake_twilio.fail_for("+85512600003", status=400, code=21614)
    alert_id = make_alert()
    send_alert_now(twilio_app, alert_id, officer)
    with twilio_app.app_context():
        before = progress.alert_progress(get_alert(alert_id))
        assert before.total == 0 and before.status == "dispatching" and before.percent == 0.0
    run_jobs(twilio_app, ["default"])
    with twilio_app.app_context():
        queued = progress.alert_progress(get_alert(alert_id))
        assert queued.total == 6 and queued.counts["pending"] == 6 and queued.seconds_left is None
    drain(twilio_app, alert_id)
    with twilio_app.app_context():
        done = progress.alert_progress(get_alert(alert_id))
    assert done.status == "completed"
    assert done.counts["sent"] == 3 and done.counts["failed"] == 3 and done.done == 6
    assert done.percent == 100.0
    assert done.rate > 0  # sent in the last 30 seconds
    assert [(f.code, f.count) for f in done.failures] == [("21211", 2), ("21614", 1)]

    client = twilio_app.test_client()
    login(client, officer)  # a Korean-speaking officer reads the explanations in Korean
    data = client.get(f"/staff/alerts/{alert_id}/progress.json").get_json()
    assert data["counts"]["failed"] == 3 and data["status"] == "completed" and data["percent"] == 100.0
    assert data["failures"][0]["code"] == "21211" and data["failures"][0]["explanation"]

    page = client.get(f"/staff/alerts/{alert_id}/progress").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page  # finished: no need to refresh
    assert "/static/alerts-progress.js" in page and 'id="count-failed">3<' in page

    response = client.get(f"/staff/alerts/{alert_id}/failures.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == progress.CSV_HEADER
    by_address = {row[5]: row for row in rows[1:]}
    # E.164 numbers are plain numbers to a spreadsheet (no formula), so they stay dialable.
    assert set(by_address) == {"+85512600001", "+85512600002", "+85512600003"}
    assert by_address["+85512600001"][2] == '\'=HYPERLINK("http://x")'  # no formula injection
    assert by_address["+85512600003"][9] == "21614"


def test_progress_page_refreshes_without_javascript_while_sending(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
) -> None:
    make_person()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    login(client, officer)
    page = client.get(f"/staff/alerts/{alert_id}/progress").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert 'id="cancel-button"' in page
    script = client.get("/static/alerts-progress.js")
    assert script.status_code == 200 and b"fetch(" in script.data
    script.close()


def test_rate_and_time_left(
    app: Flask, make_person: Callable[..., int], make_alert: Callable[..., int], officer: User
) -> None:
    from datetime import timedelta

    from outreach.messaging import status as message_status
    from outreach.models import MessageStatus, utcnow

    for _ in range(40):
        make_person()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    with app.app_context():
        ids = [m.id for m in alert_messages(alert_id)]
        message_status.claim(ids[:30])
        message_status.transition_ids(ids[:30], MessageStatus.SENT, sent_at=utcnow() - timedelta(seconds=10))
        db.session.commit()
        p = progress.alert_progress(get_alert(alert_id))
    # 30 messages sent over the last 10 seconds (the window is 30, but sending began 10 seconds ago).
    assert p.rate == pytest.approx(3.0, rel=0.05)
    assert p.seconds_left == pytest.approx(10 / 3.0, rel=0.05)
