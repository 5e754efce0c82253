"""A call for help that arrives while the database is away is kept, answered at once, and acted on
as soon as the database answers: the case opens, the duty officer is paged, the person gets the
answer the router gives — once, however often Twilio or the drainer repeats itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis

from outreach.extensions import db
from outreach.messaging.inbound_spool import drain_inbound, spool_inbound, spooled_inbound_count
from outreach.messaging.recovery import sweep
from outreach.models import Case, InboundMessage, User
from tests.alerts.test_recovery import proxied
from tests.checkins.conftest import twiml_text
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN, post_twilio, run_jobs
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.twilio_server import FakeTwilio

OFFICER_PHONE = "+85512000001"


def inbound_form(sid: str, sender: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": TWILIO_TEST_SID,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
    }


@pytest.fixture
def officer(make_user: Callable[..., Any]) -> User:
    return make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")


@pytest.mark.postgres_only
def test_an_sos_during_a_database_outage_is_answered_kept_and_acted_on_once(
    make_app: Callable[..., Flask],
    database_url: str,
    make_person: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    make_person(phone="+85512345601", language="ko")
    target = urlsplit(database_url)
    with (
        TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy,
        FakeTwilio(account_sid=TWILIO_TEST_SID, auth_token=TWILIO_TEST_TOKEN) as fake,
    ):
        web = make_app(
            DATABASE_URL=proxied(database_url, proxy.port),
            SMS_CHANNEL="twilio",
            TWILIO_API_BASE_URL=fake.base_url,
        )
        client = web.test_client()
        sos = inbound_form("SM" + "7" * 32, "+85512345601", "도와주세요 갇혀 있어요")
        proxy.cut()
        # Answered at once, in the language the text is written in, without claiming more than is true.
        first = twiml_text(post_twilio(client, "/twilio/sms", sos))
        assert "대사관" in first and "117" in first
        # Twilio (or the carrier) delivers the same message again while the database is still away.
        assert "117" in twiml_text(post_twilio(client, "/twilio/sms", sos))
        # A stranger writing in English is answered in English.
        question = inbound_form("SM" + "8" * 32, "+85599000333", "Is the embassy open today?")
        assert "117" in twiml_text(post_twilio(client, "/twilio/sms", question))
        assert spooled_inbound_count(redis_conn) == 3
        assert fake.count_to(OFFICER_PHONE) == 0
        proxy.restore()

        with web.app_context():
            report = sweep()
            assert report.inbound_routed == 3 and not report.errors
            # Routed once: the repeated delivery is the same stored message.
            assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 2
            cases = db.session.scalars(sa.select(Case)).all()
            assert len(cases) == 1 and cases[0].opened_via == "sos_keyword"
        run_jobs(web)
    assert spooled_inbound_count(redis_conn) == 0
    # The duty officer was paged, and the person got the router's answer, each exactly once.
    assert fake.count_to(OFFICER_PHONE) == 1
    to_person = fake.sent_to("+85512345601")
    assert len(to_person) == 1 and "당직" in to_person[0]["body"]
    # The stranger's question went to the inbox; their acknowledgement was sent once as well.
    assert fake.count_to("+85599000333") == 1


def test_the_drain_routes_each_message_once_and_drops_what_it_cannot_read(
    app: Flask, make_person: Callable[..., int], officer: User, redis_conn: Redis
) -> None:
    make_person(phone="+85512345602", language="en")
    form = inbound_form("SM" + "9" * 32, "+85512345602", "SOS")
    with app.app_context():
        spool_inbound(form)
        spool_inbound(form)
        redis_conn.rpush("outreach:inbound-spool", b"not json")
        assert drain_inbound() == 2  # the unreadable entry is dropped, not counted
        assert spooled_inbound_count() == 0 and drain_inbound() == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
        replies = db.session.execute(
            sa.text("SELECT to_address, language FROM message WHERE source_kind = 'reply'")
        ).all()
        assert [tuple(r) for r in replies] == [("+85512345602", "en")]
