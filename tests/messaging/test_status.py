"""The guarded state machine: never backwards, never out of a final state; atomic claims."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.messaging import status
from outreach.models import FINAL_STATUSES, Message, MessageStatus, OptOut, utcnow
from tests.messaging.conftest import add_message, message_row, status_of

S = MessageStatus


def _force(app: Flask, message_id: int, to: MessageStatus) -> None:
    """Put a message in a status directly (test set-up only)."""
    with app.app_context():
        db.session.execute(sa.update(Message).where(Message.id == message_id).values(status=to))
        db.session.commit()


def _transition(app: Flask, message_id: int, to: MessageStatus, **fields: object) -> bool:
    with app.app_context():
        moved = status.transition(message_id, to, **fields)
        db.session.commit()
        return moved


def test_transition_table(app: Flask) -> None:
    """Every (from, to) pair: it moves exactly when the table allows, and never out of a final state."""
    pairs = [(start, target) for start in S for target in S]
    ids = {pair: add_message(app, status=pair[0]) for pair in pairs}
    for (start, target), message_id in ids.items():
        moved = _transition(app, message_id, target)
        assert moved == (start in status.ALLOWED_FROM[target]), (start, target)
        assert status_of(app, message_id) == (target if moved else start)
        if start in FINAL_STATUSES or start == target:
            assert not moved, (start, target)


def test_sending_may_jump_to_delivered_and_stamps_sent(app: Flask) -> None:
    message_id = add_message(app, status=S.SENDING)
    assert _transition(app, message_id, S.DELIVERED)
    row = message_row(app, message_id)
    assert row.delivered_at is not None and row.sent_at is not None


def test_bulk_transitions_respect_the_guard(app: Flask) -> None:
    ids = [add_message(app, status=s) for s in (S.PENDING, S.SENDING, S.DELIVERED)]
    with app.app_context():
        moved = status.transition_ids(ids, S.SKIPPED, error_code="cancelled")
        count = status.transition_many(S.FAILED, [{"id": i, "error_code": "21211"} for i in ids])
        db.session.commit()
    assert moved == ids[:2]
    assert count == 0  # skipped and delivered are final; pending cannot fail
    assert [status_of(app, i) for i in ids] == [S.SKIPPED, S.SKIPPED, S.DELIVERED]
    assert message_row(app, ids[0]).error_code == "cancelled"


def test_claim_takes_only_due_pending_messages(app: Flask) -> None:
    due = add_message(app)
    later = add_message(app, next_attempt_at=utcnow() + timedelta(minutes=5))
    retry_due = add_message(app, next_attempt_at=utcnow() - timedelta(seconds=1), attempts=1)
    sent = add_message(app, status=S.SENT)
    with app.app_context():
        claimed = status.claim([due, later, retry_due, sent])
        again = status.claim([due, later, retry_due, sent])
        db.session.commit()
    assert [m.id for m in claimed] == [due, retry_due]
    assert [m.attempts for m in claimed] == [1, 2]
    assert all(m.claimed_at is not None for m in claimed)
    assert again == []
    assert status_of(app, later) == S.PENDING


@pytest.mark.postgres_only
def test_concurrent_claims_never_share_a_message(app: Flask) -> None:
    ids = [add_message(app) for _ in range(300)]
    results: list[list[int]] = []
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                barrier.wait()
                claimed = status.claim(ids)  # each thread: its own session and connection
                db.session.commit()
                results.append([m.id for m in claimed])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    flat = [i for r in results for i in r]
    assert len(flat) == len(set(flat)) == 300


# --- provider status -------------------------------------------------------------------------------


def _apply(app: Flask, message_id: int | None, sid: str | None, st: str, code: str | None = None) -> bool:
    with app.app_context():
        moved = status.apply_provider_status(message_id, sid, st, code)
        db.session.commit()
        return moved


def test_callbacks_out_of_order_never_move_backwards(app: Flask) -> None:
    message_id = add_message(app, status=S.SENDING)
    assert _apply(app, message_id, "SM1", "delivered")
    assert not _apply(app, message_id, "SM1", "sent")
    assert not _apply(app, message_id, "SM1", "queued")
    assert not _apply(app, message_id, "SM1", "failed", "30008")
    row = message_row(app, message_id)
    assert (row.status, row.provider_sid, row.error_code) == (S.DELIVERED, "SM1", None)


def test_duplicated_callbacks_apply_once(app: Flask) -> None:
    message_id = add_message(app, status=S.SENDING)
    assert _apply(app, message_id, "SM2", "sent")
    assert not _apply(app, message_id, "SM2", "sent")
    assert _apply(app, None, "SM2", "undelivered", "30006")
    assert not _apply(app, None, "SM2", "undelivered", "30006")
    assert not _apply(app, None, "SM2", "delivered")
    row = message_row(app, message_id)
    assert (row.status, row.error_code) == (S.UNDELIVERED, "30006")
    assert row.failed_at is not None


def test_matched_by_our_id_before_the_sid_is_stored(app: Flask) -> None:
    message_id = add_message(app, status=S.SENDING)
    assert not _apply(app, None, "SM3", "sent")  # by sid alone: not known yet
    assert _apply(app, message_id, "SM3", "sent")
    assert message_row(app, message_id).provider_sid == "SM3"


def test_a_sid_already_taken_is_not_copied(app: Flask) -> None:
    add_message(app, status=S.SENT, provider_sid="SM4")
    other = add_message(app, status=S.SENDING)
    assert _apply(app, other, "SM4", "delivered")  # the status applies ...
    assert message_row(app, other).provider_sid is None  # ... the duplicate sid does not


def test_unsubscribed_callback_opts_the_number_out(app: Flask) -> None:
    message_id = add_message(app, status=S.SENT, to_address="+85512999999", provider_sid="SM5")
    assert _apply(app, None, "SM5", "failed", "21610")
    with app.app_context():
        optouts = db.session.execute(sa.select(OptOut.channel, OptOut.address, OptOut.source)).all()
    assert [tuple(o) for o in optouts] == [("sms", "+85512999999", "provider")]
    assert status_of(app, message_id) == S.FAILED


def test_unknown_status_changes_nothing(app: Flask, make_app: Callable[..., Flask]) -> None:
    message_id = add_message(app, status=S.SENT, provider_sid="SM6")
    assert not _apply(app, None, "SM6", "teleported")
    assert status_of(app, message_id) == S.SENT
