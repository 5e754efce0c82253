"""The opt-out set the send pipeline asks at each hand-off: kept with the database, rebuilt from it
when Redis lost it, changed only by what commits, and a STOP answered only after hand-offs to that
number already under way have reached the provider."""

from __future__ import annotations

import itertools
import threading
import time

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from outreach.extensions import db
from outreach.messaging.optouts import COMPLETE, MIRROR_KEY, hand_off_permit, opt_out
from tests.conftest import post_twilio

_sids = itertools.count(1)


def text(client: FlaskClient, sender: str, body: str) -> str:
    params = {
        "MessageSid": f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
    }
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def permitted(app: Flask, address: str, channel: str = "sms") -> bool:
    with app.app_context():
        permit = hand_off_permit(channel, address)
        if permit is None:
            return False
        permit.release()
        return True


def test_stop_and_start_reach_the_set_and_a_flushed_set_is_rebuilt_from_the_database(
    app: Flask, client: FlaskClient, redis_conn: Redis
) -> None:
    assert permitted(app, "+85512640001")  # builds the (empty) set
    text(client, "+85512640001", "STOP")
    assert redis_conn.sismember(MIRROR_KEY, "sms +85512640001")
    assert not permitted(app, "+85512640001")
    assert permitted(app, "+85512640001", channel="whatsapp")  # an opt-out is per channel

    redis_conn.flushdb()  # Redis lost everything: the database still knows
    assert not permitted(app, "+85512640001")
    assert redis_conn.sismember(MIRROR_KEY, COMPLETE)
    assert permitted(app, "+85512640002")

    text(client, "+85512640001", "START")
    assert permitted(app, "+85512640001")


def test_only_committed_opt_outs_reach_the_set(app: Flask) -> None:
    assert permitted(app, "+85512650001")
    with app.app_context():
        opt_out("sms", "+85512650001")
        db.session.rollback()
    assert permitted(app, "+85512650001")
    with app.app_context():
        try:
            with db.session.begin_nested():
                opt_out("sms", "+85512650002")
                raise RuntimeError("a handler failed")
        except RuntimeError:
            pass
        opt_out("sms", "+85512650003")
        db.session.commit()
    assert permitted(app, "+85512650002")
    assert not permitted(app, "+85512650003")


def test_a_stop_is_answered_only_after_a_hand_off_under_way_has_finished(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        permit = hand_off_permit("sms", "+85512660001")  # a send job is handing a message over
    assert permit is not None
    finished: list[float] = []

    def provider_answers() -> None:
        finished.append(time.monotonic())
        permit.release()

    timer = threading.Timer(0.3, provider_answers)
    timer.start()
    text(client, "+85512660001", "STOP")
    answered = time.monotonic()
    timer.join()
    assert finished and finished[0] <= answered
    assert not permitted(app, "+85512660001")
