"""Item 5 of the security issue: one global hourly budget of SMS that unauthenticated actions may
cause (PUBLIC_SMS_PER_HOUR); past it the SMS is held for an officer, and staff sends never count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import AuditEvent, Message, MessageStatus, Person, PhoneNumber
from tests.alerts.conftest import callbacks_into
from tests.conftest import enrol_totp, login, run_jobs
from tests.fakes.twilio_server import FakeTwilio
from tests.registry.conftest import registration


def _numbers(n: int) -> list[str]:
    return [f"+8551234560{i}" for i in range(1, n + 1)]


def _budget_app(make_app: Callable[..., Flask], fake: FakeTwilio) -> Flask:
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake.base_url,
        TWILIO_TIMEOUT_SECONDS=5.0,
        SEND_RETRY_BASE_SECONDS=0.0,
        PUBLIC_SMS_PER_HOUR=3,
    )
    callbacks_into(app, fake)
    return app


def _register_four(app: Flask) -> None:
    client = app.test_client()
    for number in _numbers(4):
        local = "0" + number.removeprefix("+855")
        data = registration(phone=local, phone_other=None, whatsapp=None, email=None)
        assert client.post("/register", data=data).status_code == 302
    run_jobs(app)


def _held(app: Flask) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Message).where(Message.status == MessageStatus.HELD)))
        db.session.expunge_all()
        return rows


def test_the_fourth_public_sms_is_held_and_an_officer_sends_it(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio, make_user: Callable[..., Any]
) -> None:
    app = _budget_app(make_app, fake_twilio)
    _register_four(app)
    first, second, third, fourth = _numbers(4)
    assert [fake_twilio.count_to(n) for n in (first, second, third)] == [1, 1, 1]
    assert fake_twilio.count_to(fourth) == 0  # nothing reached the provider
    held = _held(app)
    assert [m.to_address for m in held] == [fourth]

    officer = make_user("officer")
    enrol_totp(app, officer)
    staff = app.test_client()
    login(staff, officer)
    page = staff.get("/staff/review")
    assert page.status_code == 200 and fourth in page.get_data(as_text=True)
    assert staff.post(f"/staff/review/{held[0].id}/send").status_code == 302
    run_jobs(app)
    assert fake_twilio.count_to(fourth) == 1
    assert _held(app) == []
    assert fourth not in staff.get("/staff/review").get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == officer.id))
        assert "message.release" in set(actions)
    # Sending twice is refused: the message is no longer held.
    again = staff.post(f"/staff/review/{held[0].id}/send", follow_redirects=True)
    assert "더 이상 검토 대기 중이 아닙니다" in again.get_data(as_text=True)  # Korean by default
    run_jobs(app)
    assert fake_twilio.count_to(fourth) == 1


def test_a_discarded_message_is_never_sent_and_residents_cannot_review(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio, make_user: Callable[..., Any]
) -> None:
    app = _budget_app(make_app, fake_twilio)
    _register_four(app)
    fourth = _numbers(4)[-1]
    held = _held(app)
    assert len(held) == 1
    anonymous = app.test_client()
    assert anonymous.post(f"/staff/review/{held[0].id}/send").status_code in (302, 401, 403)
    assert _held(app) != []  # not released by an anonymous request
    admin = make_user("admin")
    enrol_totp(app, admin)
    staff = app.test_client()
    login(staff, admin)
    assert staff.post(f"/staff/review/{held[0].id}/discard").status_code == 302
    run_jobs(app)
    assert fake_twilio.count_to(fourth) == 0
    with app.app_context():
        message = db.session.get(Message, held[0].id)
        assert message is not None and message.status == MessageStatus.SKIPPED


def test_staff_sends_are_not_counted(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio, make_user: Callable[..., Any]
) -> None:
    app = _budget_app(make_app, fake_twilio)
    _register_four(app)  # the hour's budget is spent
    fourth = _numbers(4)[-1]
    officer = make_user("officer")
    enrol_totp(app, officer)
    staff = app.test_client()
    login(staff, officer)
    with app.app_context():
        person_id = db.session.scalar(
            sa.select(Person.id).join(PhoneNumber).where(PhoneNumber.e164 == _numbers(1)[0])
        )
    assert staff.post(f"/staff/people/{person_id}/send-link").status_code == 302
    run_jobs(app)
    assert fake_twilio.count_to(_numbers(1)[0]) == 2  # the registration SMS and the staff's link
    assert fake_twilio.count_to(fourth) == 0
