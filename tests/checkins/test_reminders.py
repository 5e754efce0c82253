"""Reminders and escalation: set-based, run once each and in order, never to people who answered or
opted out; escalation to the emergency contact only with consent; every step on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.checkins.jobs import run_due_checkin_steps
from outreach.checkins.operations import record_answer
from outreach.extensions import db
from outreach.models import (
    Answer,
    AnswerVia,
    CheckInEvent,
    CheckInRecipient,
    CheckInStep,
    Message,
    MessageStatus,
    OptOut,
    OutboxEntry,
    SourceKind,
    utcnow,
)
from tests.checkins.conftest import code_for, recipient
from tests.conftest import run_jobs

ESCALATION = (
    {"after_hours": 8, "action": "email"},
    {"after_hours": 10, "action": "emergency_contact"},
    {"after_hours": 12, "action": "community_rep"},
)


@pytest.fixture
def world(
    app: Flask,
    make_person: Callable[..., int],
    make_user: Callable[..., Any],
    make_checkin: Callable[..., int],
) -> dict[str, int]:
    people = {
        "answered": make_person(phone="+85512400001", language="ko", email="a@example.com"),
        "opted_out": make_person(phone="+85512400002", language="ko"),
        "c": make_person(
            phone="+85512400003", language="en", email="c@example.com", name_latin="CHOI C",
            emergency_name="Mother", emergency_phone="+821099990003", emergency_contact_consent=True,
        ),
        "d": make_person(
            phone="+85512400004", language="ko", name_ko="대원",
            emergency_name="아버지", emergency_phone="+821099990004", emergency_contact_consent=False,
        ),
        "e": make_person(phone="+85512400005", language="km", email="e@example.com", province_code="KH-17"),
    }  # fmt: skip
    make_user(
        "community_rep", name="Rep Phnom Penh", phone="+85512999001", province_code="KH-12", language="en"
    )
    with app.app_context():
        db.session.add(OptOut(channel="sms", address="+85512400002", source="keyword"))
        db.session.commit()
    checkin_id = make_checkin(channels=("sms",), reminder_hours=(2, 6), escalation=ESCALATION)
    with app.app_context():
        record_answer(recipient(checkin_id, people["answered"]), Answer.SAFE, AnswerVia.LINK)
        db.session.commit()
    return {"checkin": checkin_id, **people}


def make_due(app: Flask, checkin_id: int, *positions: int) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(CheckInStep)
            .where(CheckInStep.checkin_id == checkin_id, CheckInStep.position.in_(positions))
            .values(due_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()


def run_steps(app: Flask) -> int:
    with app.app_context():
        return run_due_checkin_steps()


def messages(kind: SourceKind, step_position: int, checkin_id: int) -> list[Message]:
    step_id = db.session.scalar(
        sa.select(CheckInStep.id).where(
            CheckInStep.checkin_id == checkin_id, CheckInStep.position == step_position
        )
    )
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.source_kind == kind, Message.source_id == step_id)
            .order_by(Message.id)
        )
    )


def test_plan_becomes_ordered_steps(app: Flask, world: dict[str, int]) -> None:
    with app.app_context():
        steps = list(
            db.session.scalars(
                sa.select(CheckInStep)
                .where(CheckInStep.checkin_id == world["checkin"])
                .order_by(CheckInStep.position)
            )
        )
        assert [s.action for s in steps] == [
            "reminder",
            "reminder",
            "email",
            "emergency_contact",
            "community_rep",
        ]
        offsets = [round((s.due_at - steps[0].due_at).total_seconds() / 3600) for s in steps]
        assert offsets == [0, 4, 6, 8, 10]
        assert all(s.done_at is None for s in steps)


def test_nothing_runs_before_it_is_due(app: Flask, world: dict[str, int]) -> None:
    assert run_steps(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_reminder_skips_those_who_answered_or_opted_out(app: Flask, world: dict[str, int]) -> None:
    make_due(app, world["checkin"], 1)
    assert run_steps(app) == 1
    with app.app_context():
        sent = messages(SourceKind.REMINDER, 1, world["checkin"])
        assert {m.person_id for m in sent} == {world["c"], world["d"], world["e"]}
        assert all(m.channel == "sms" and m.status == MessageStatus.PENDING for m in sent)
        assert recipient(world["checkin"], world["c"]).reminders_sent == 1
        assert recipient(world["checkin"], world["answered"]).reminders_sent == 0
        events = db.session.execute(sa.select(CheckInEvent.person_id, CheckInEvent.kind)).all()
        assert sorted(events) == sorted((p, "reminder") for p in (world["c"], world["d"], world["e"]))
    # Run again (another worker, a retried tick): the step ran once.
    assert run_steps(app) == 0
    with app.app_context():
        assert len(messages(SourceKind.REMINDER, 1, world["checkin"])) == 3

    # Someone answers after the reminder was queued but before it is sent: it is skipped.
    with app.app_context():
        record_answer(recipient(world["checkin"], world["d"]), Answer.SAFE, AnswerVia.SMS, "1")
        db.session.commit()
    run_jobs(app)
    with app.app_context():
        by_person = {m.person_id: m for m in messages(SourceKind.REMINDER, 1, world["checkin"])}
        assert by_person[world["d"]].status == MessageStatus.SKIPPED
        assert by_person[world["c"]].status == MessageStatus.SENT
        body = by_person[world["c"]].body or ""
        assert body.startswith("Reminder:") and "Are you safe after the flood" in body
        assert f"/c/{code_for(app, world['checkin'], world['c'])}" in body
        khmer = by_person[world["e"]].body or ""
        assert khmer.startswith("[រំលឹក]") and code_for(app, world["checkin"], world["e"]) in khmer
        outbox = {e.to_address for e in db.session.scalars(sa.select(OutboxEntry))}
        assert outbox == {"+85512400003", "+85512400005"}


def test_escalation_runs_in_order_and_respects_consent(app: Flask, world: dict[str, int]) -> None:
    make_due(app, world["checkin"], 1, 2, 3, 4, 5)
    assert run_steps(app) == 5
    with app.app_context():
        steps = list(
            db.session.scalars(
                sa.select(CheckInStep)
                .where(CheckInStep.checkin_id == world["checkin"])
                .order_by(CheckInStep.position)
            )
        )
        done = [s.done_at for s in steps]
        assert all(done) and done == sorted(done)  # type: ignore[type-var]

        email = messages(SourceKind.ESCALATION, 3, world["checkin"])
        assert {(m.person_id, m.channel, m.to_address) for m in email} == {
            (world["c"], "email", "c@example.com"),
            (world["e"], "email", "e@example.com"),
        }
        contact = messages(SourceKind.ESCALATION, 4, world["checkin"])
        # Only C consented to their emergency contact being contacted.
        assert [(m.person_id, m.channel, m.to_address) for m in contact] == [
            (world["c"], "sms", "+821099990003")
        ]
        rep = messages(SourceKind.ESCALATION, 5, world["checkin"])
        assert sorted(m.channel for m in rep) == ["email", "sms"]
        rep_email = next(m for m in rep if m.channel == "email")
        assert rep_email.person_id is None and rep_email.user_id is not None
        # The Phnom Penh representative learns about the Phnom Penh non-responders only.
        assert "CHOI C" in (rep_email.body or "") and "대원" in (rep_email.body or "")
        assert "e@example.com" not in (rep_email.body or "") and "+855" not in (rep_email.body or "")

        timeline = db.session.execute(
            sa.select(CheckInEvent.person_id, CheckInEvent.kind).order_by(CheckInEvent.id)
        ).all()
        kinds_for = lambda pid: [k for p, k in timeline if p == pid]  # noqa: E731
        assert kinds_for(world["c"]) == [
            "reminder",
            "reminder",
            "email",
            "emergency_contact",
            "community_rep",
        ]
        assert kinds_for(world["d"]) == ["reminder", "reminder", "community_rep"]
        assert kinds_for(world["e"]) == ["reminder", "reminder", "email"]
        assert kinds_for(world["answered"]) == []
        assert recipient(world["checkin"], world["c"]).escalation_level == 5

    run_jobs(app)
    with app.app_context():
        contact_message = messages(SourceKind.ESCALATION, 4, world["checkin"])[0]
        assert contact_message.status == MessageStatus.SENT
        # In the person's language (English here), naming them.
        assert "CHOI C" in (contact_message.body or "") and "emergency contact" in (
            contact_message.body or ""
        )
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxEntry)
                .where(OutboxEntry.to_address == "+821099990004")
            )
            == 0
        )


def test_a_later_step_waits_for_the_earlier_ones(app: Flask, world: dict[str, int]) -> None:
    make_due(app, world["checkin"], 3)  # e-mail escalation due, the reminders not yet
    assert run_steps(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_closing_the_checkin_cancels_remaining_steps(app: Flask, world: dict[str, int], officer: Any) -> None:
    from outreach.checkins.operations import close_checkin
    from outreach.models import CheckIn, User

    with app.app_context():
        checkin = db.session.get(CheckIn, world["checkin"])
        actor = db.session.get(User, officer.id)
        assert checkin is not None and actor is not None
        close_checkin(checkin, actor=actor)
        db.session.commit()
    make_due(app, world["checkin"], 1, 2, 3, 4, 5)
    assert run_steps(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(CheckInRecipient)
                .where(CheckInRecipient.reminders_sent > 0)
            )
            == 0
        )
