"""Retention: travelers are anonymised a configurable number of days after departure, unless a case
about them is open; the job is periodic, idempotent and logged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from rq import Queue

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    Case,
    CaseStatus,
    InboundMessage,
    Message,
    MessageStatus,
    Person,
    PersonStatus,
    PhoneNumber,
    RegistrationConversation,
    SourceKind,
    utcnow,
)
from outreach.registry.jobs import retention
from outreach.registry.operations import anonymise_departed_travelers
from outreach.schedule import load_periodic_jobs
from tests.conftest import run_jobs


def _traveler(make_person: Callable[..., int], days_ago: int, **kwargs: object) -> int:
    today = utcnow().date()
    return make_person(
        status=PersonStatus.TRAVELER,
        arrival_date=today - timedelta(days=days_ago + 7),
        departure_date=today - timedelta(days=days_ago),
        **kwargs,
    )


def _alive(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Person.id).where(Person.deleted_at.is_(None))))


def test_departed_travelers_are_anonymised_unless_a_case_is_open(
    app: Flask, make_person: Callable[..., int]
) -> None:
    gone = _traveler(make_person, 31, phone="+85512000001", email="gone@example.org")
    recent = _traveler(make_person, 29)
    resident = make_person(status=PersonStatus.RESIDENT, departure_date=utcnow().date() - timedelta(days=90))
    open_case = _traveler(make_person, 60)
    acknowledged = _traveler(make_person, 60)
    resolved = _traveler(make_person, 60)
    no_date = make_person(status=PersonStatus.TRAVELER)
    with app.app_context():
        db.session.add_all(
            [
                Case(person_id=open_case, opened_via="staff", status=CaseStatus.OPEN),
                Case(person_id=acknowledged, opened_via="staff", status=CaseStatus.ACKNOWLEDGED),
                Case(person_id=resolved, opened_via="staff", status=CaseStatus.RESOLVED, summary="괜찮아짐"),
                Message(
                    source_kind=SourceKind.ALERT,
                    source_id=1,
                    person_id=gone,
                    channel="sms",
                    to_address="+85512000001",
                    body="홍수 경보",
                    status=MessageStatus.DELIVERED,
                ),
                InboundMessage(
                    provider_sid="SMr1",
                    channel="sms",
                    from_address="+85512000001",
                    body="고마워요",
                    person_id=gone,
                ),
            ]
        )
        db.session.commit()
        ids = anonymise_departed_travelers(30)
        db.session.commit()
    assert sorted(ids) == sorted([gone, resolved])
    assert _alive(app) == {recent, resident, open_case, acknowledged, no_date}
    with app.app_context():
        tomb = db.session.get(Person, gone)
        assert tomb is not None
        assert (tomb.name_ko, tomb.email, tomb.departure_date, tomb.province_code) == (None, None, None, None)
        assert tomb.link_generation == 1
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(PhoneNumber).where(PhoneNumber.person_id == gone)
            )
            == 0
        )
        message = db.session.scalars(sa.select(Message)).one()
        assert (message.to_address, message.body, message.person_id) == (None, None, gone)
        assert db.session.scalars(sa.select(InboundMessage.body)).one() == ""
        # The case history keeps its shape.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 3
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "registry.retention")
        ).one()
        assert event.details["count"] == 2 and event.details["days"] == 30


def test_the_job_uses_the_configured_days_and_is_idempotent(
    make_app: Callable[..., Flask], make_person: Callable[..., int], app: Flask
) -> None:
    ten = _traveler(make_person, 11)
    five = _traveler(make_person, 5)
    custom = make_app(RETENTION_DAYS_AFTER_DEPARTURE=10)
    with custom.app_context():
        assert retention() == 1
        assert retention() == 0
    assert _alive(app) == {five}
    assert ten not in _alive(app)


def test_retention_is_a_periodic_job_run_by_a_worker(
    app: Flask, make_person: Callable[..., int], redis_conn: object
) -> None:
    job = load_periodic_jobs()["retention"]
    assert (job.queue, job.every_seconds, job.func) == ("default", 3600, retention)
    gone = _traveler(make_person, 40)
    with app.app_context():
        # A conversation abandoned two days ago is deleted too (it holds a name and a number).
        db.session.add(
            RegistrationConversation(
                address="+85512999000",
                channel="sms",
                language="ko",
                step="province",
                data={"name_ko": "홍길동"},
                expires_at=utcnow() - timedelta(days=1, minutes=1),
            )
        )
        db.session.commit()
        Queue("default", connection=redis_conn).enqueue(job.func)  # type: ignore[arg-type]
    run_jobs(app, ["default"])
    assert gone not in _alive(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RegistrationConversation)) == 0
