"""POST /twilio/sms and /twilio/status: signatures, malformed input, dedupe, opt-out keywords, inbox."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.messaging import inbound
from outreach.models import AuditEvent, InboundMessage, InboundRoute, Message, MessageStatus, OptOut
from tests.conftest import post_twilio
from tests.messaging.conftest import add_message, message_row

UNKNOWN = "+85599000111"
_sids = iter(range(1, 1_000_000))


def sms(client: FlaskClient, sender: str, body: str, *, sid: str | None = None, **extra: str) -> Any:
    params = {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        **extra,
    }
    return post_twilio(client, "/twilio/sms", params)


def reply_of(response: Any) -> str | None:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    message = root.find("Message")
    return None if message is None else message.text


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def optouts(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            tuple(r) for r in db.session.execute(sa.select(OptOut.channel, OptOut.address, OptOut.source))
        ]


# --- signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_inbound_with_bad_signature_is_refused_and_writes_nothing(
    app: Flask, client: FlaskClient, signature: str
) -> None:
    params = {"MessageSid": "SM" + "1" * 32, "From": UNKNOWN, "Body": "STOP"}
    response = post_twilio(client, "/twilio/sms", params, signature=signature)
    assert response.status_code == 403
    assert count(app, InboundMessage) == 0
    assert optouts(app) == []


def test_signature_covers_the_body(app: Flask, client: FlaskClient) -> None:
    from tests.conftest import PUBLIC_BASE_URL, sign

    signed_for = {"MessageSid": "SM" + "2" * 32, "From": UNKNOWN, "Body": "hello"}
    tampered = {**signed_for, "Body": "STOP"}
    response = client.post(
        "/twilio/sms",
        data=tampered,
        headers={"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/sms", signed_for)},
    )
    assert response.status_code == 403
    assert count(app, InboundMessage) == 0


@pytest.mark.parametrize("signature", [None, "wrong"])
def test_status_with_bad_signature_changes_nothing(
    app: Flask, client: FlaskClient, signature: str | None
) -> None:
    message_id = add_message(app, status=MessageStatus.SENDING)
    params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": "delivered"}
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = client.post(f"/twilio/status?m={message_id}", data=params, headers=headers)
    assert response.status_code == 403
    assert message_row(app, message_id).status == MessageStatus.SENDING


def test_status_signature_includes_the_query_string(app: Flask, client: FlaskClient) -> None:
    from tests.conftest import PUBLIC_BASE_URL, sign

    target = add_message(app, status=MessageStatus.SENDING)
    other = add_message(app, status=MessageStatus.SENDING)
    params = {"MessageSid": "SM" + "4" * 32, "MessageStatus": "failed", "ErrorCode": "30008"}
    signature = sign(f"{PUBLIC_BASE_URL}/twilio/status?m={target}", params)
    response = client.post(
        f"/twilio/status?m={other}", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert message_row(app, other).status == MessageStatus.SENDING


# --- malformed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"From": UNKNOWN, "Body": "hi"},
        {"MessageSid": "SM" + "5" * 32, "Body": "hi"},
        {"MessageSid": "SM" + "x" * 100, "From": UNKNOWN, "Body": "hi"},
    ],
)
def test_malformed_inbound_is_400_and_writes_nothing(
    app: Flask, client: FlaskClient, params: dict[str, str]
) -> None:
    response = post_twilio(client, "/twilio/sms", params)
    assert response.status_code == 400
    assert response.data.strip()  # says why
    assert count(app, InboundMessage) == 0


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("?m=1", {"MessageStatus": "delivered"}),
        ("?m=1", {"MessageSid": "SM" + "6" * 32}),
        ("?m=abc", {"MessageSid": "SM" + "6" * 32, "MessageStatus": "delivered"}),
    ],
)
def test_malformed_status_is_400_and_changes_nothing(
    app: Flask, client: FlaskClient, query: str, params: dict[str, str]
) -> None:
    message_id = add_message(app, status=MessageStatus.SENDING)
    assert message_id == 1
    response = post_twilio(client, "/twilio/status" + query, params)
    assert response.status_code == 400
    assert message_row(app, message_id).status == MessageStatus.SENDING


# --- status callbacks ------------------------------------------------------------------------------


def test_status_callback_matched_by_our_id_then_by_sid(app: Flask, client: FlaskClient) -> None:
    message_id = add_message(app, status=MessageStatus.SENDING)
    sid = "SM" + "7" * 32
    response = post_twilio(
        client, f"/twilio/status?m={message_id}", {"MessageSid": sid, "MessageStatus": "sent"}
    )
    assert response.status_code == 204
    row = message_row(app, message_id)
    assert (row.status, row.provider_sid) == (MessageStatus.SENT, sid)
    # a later callback without m (older configuration) is matched by the sid now stored
    post_twilio(client, "/twilio/status", {"MessageSid": sid, "MessageStatus": "delivered"})
    assert message_row(app, message_id).status == MessageStatus.DELIVERED
    # and a late "sent" never moves it back
    post_twilio(client, f"/twilio/status?m={message_id}", {"MessageSid": sid, "MessageStatus": "sent"})
    assert message_row(app, message_id).status == MessageStatus.DELIVERED


def test_failed_callback_keeps_the_error_code(app: Flask, client: FlaskClient) -> None:
    message_id = add_message(app, status=MessageStatus.SENT, provider_sid="SM" + "8" * 32)
    params = {"MessageSid": "SM" + "8" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_twilio(client, f"/twilio/status?m={message_id}", params).status_code == 204
    row = message_row(app, message_id)
    assert (row.status, row.error_code) == (MessageStatus.UNDELIVERED, "30003")


def test_callback_for_an_unknown_message_is_accepted_quietly(app: Flask, client: FlaskClient) -> None:
    response = post_twilio(
        client, "/twilio/status?m=999", {"MessageSid": "SM" + "9" * 32, "MessageStatus": "sent"}
    )
    assert response.status_code == 204
    assert count(app, Message) == 0


# --- inbound ---------------------------------------------------------------------------------------


def test_same_message_sid_twice_is_stored_and_handled_once(app: Flask, client: FlaskClient) -> None:
    sid = "SM" + "a" * 32
    first = sms(client, UNKNOWN, "STOP", sid=sid)
    second = sms(client, UNKNOWN, "STOP", sid=sid)
    assert reply_of(first)
    assert reply_of(second) is None  # nothing re-run, nothing answered
    assert count(app, InboundMessage) == 1
    assert len(optouts(app)) == 1
    with app.app_context():
        audits = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert audits == ["messaging.opt_out"]


def test_stop_and_start_round_trip_in_korean(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    phone = "+85512300001"
    person_id = make_person(phone, language="ko")
    stop = reply_of(sms(client, phone, "STOP"))  # an English keyword, a Korean-speaking person
    assert stop is not None and "시작" in stop and "대사관" in stop
    with app.app_context():
        row = db.session.execute(sa.select(OptOut)).scalar_one()
        assert (row.channel, row.address, row.person_id, row.source) == ("sms", phone, person_id, "keyword")
        routed = db.session.scalars(sa.select(InboundMessage.routed_to)).all()
    assert routed == [InboundRoute.OPT_OUT]
    start = reply_of(sms(client, phone, " 시작 "))
    assert start is not None and "중지" in start
    assert optouts(app) == []


def test_stop_and_start_round_trip_in_english(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    phone = "+85512300002"
    make_person(phone, language="en")
    stop = reply_of(sms(client, phone, "Stop."))
    assert stop == (
        "You will no longer receive Korean Embassy messages on this number. "
        "Reply START to receive them again."
    )
    assert optouts(app) == [("sms", phone, "keyword")]
    start = reply_of(sms(client, phone, "start"))
    assert start == "You will receive Korean Embassy messages on this number again. Reply STOP to stop them."
    assert optouts(app) == []


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [("STOP", "Reply START"), ("중지", "시작"), ("수신거부", "시작"), ("그만", "시작"), ("ឈប់", "ចាប់ផ្តើម")],
)
def test_stop_from_an_unknown_number_is_honoured_in_the_keywords_language(
    app: Flask, client: FlaskClient, keyword: str, expected: str
) -> None:
    reply = reply_of(sms(client, UNKNOWN, keyword))
    assert reply is not None and expected in reply
    assert optouts(app) == [("sms", UNKNOWN, "keyword")]
    with app.app_context():
        assert db.session.scalar(sa.select(InboundMessage.person_id)) is None


def test_khmer_start_in_either_spelling(app: Flask, client: FlaskClient) -> None:
    for word in ("ចាប់ផ្តើម", "ចាប់ផ្ដើម"):
        sms(client, UNKNOWN, "ឈប់")
        reply = reply_of(sms(client, UNKNOWN, word))
        assert reply is not None and "ឈប់" in reply
        assert optouts(app) == []


def test_whatsapp_is_detected_from_the_prefix(app: Flask, client: FlaskClient) -> None:
    reply_of(sms(client, "whatsapp:" + UNKNOWN, "STOP", ProfileName="Hong"))
    assert optouts(app) == [("whatsapp", UNKNOWN, "keyword")]
    with app.app_context():
        message = db.session.execute(sa.select(InboundMessage)).scalar_one()
        assert (message.channel, message.from_address) == ("whatsapp", UNKNOWN)
        assert message.params["ProfileName"] == "Hong"


def test_a_sentence_with_stop_in_it_is_not_a_keyword(app: Flask, client: FlaskClient) -> None:
    reply_of(sms(client, UNKNOWN, "please stop the noise next door"))
    assert optouts(app) == []


def test_other_messages_go_to_the_inbox_and_are_acknowledged_once(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    phone = "+85512300003"
    person_id = make_person(phone, language="ko")
    first = reply_of(sms(client, phone, "여권을 잃어버렸어요"))
    second = reply_of(sms(client, phone, "어떻게 해야 하나요?"))
    assert first is not None and "대사관" in first
    assert second is None
    with app.app_context():
        rows = db.session.execute(sa.select(InboundMessage.routed_to, InboundMessage.person_id)).all()
    assert [tuple(r) for r in rows] == [(InboundRoute.INBOX, person_id)] * 2


def test_inbox_acknowledgement_follows_the_script_of_an_unknown_sender(
    app: Flask, client: FlaskClient
) -> None:
    reply = reply_of(sms(client, "+85599000222", "Hello, I need information"))
    assert reply == "Thank you. The Korean Embassy received your message; our staff will read it."


def test_a_failing_handler_loses_nothing(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: inbound.InboundContext) -> inbound.Reply | None:
        db.session.add(OptOut(channel="sms", address="+1", source="bug"))
        db.session.flush()
        raise RuntimeError("bug in a handler")

    monkeypatch.setitem(inbound.HANDLERS, "broken", (11, broken))
    reply = reply_of(sms(client, UNKNOWN, "hello"))
    assert reply is not None  # routed on to the inbox
    assert optouts(app) == []  # the broken handler's writes were rolled back alone
    with app.app_context():
        assert db.session.scalars(sa.select(InboundMessage.routed_to)).all() == [InboundRoute.INBOX]


def test_handlers_run_in_priority_order(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def keyword(ctx: inbound.InboundContext) -> inbound.Reply | None:
        seen.append(ctx.text)
        return inbound.Reply(route=InboundRoute.KEYWORD, body="noted", extra={"case": 1})

    monkeypatch.setitem(inbound.HANDLERS, "test-keyword", (11, keyword))
    assert reply_of(sms(client, UNKNOWN, "PING")) == "noted"
    assert reply_of(sms(client, UNKNOWN, "STOP")) != "noted"  # priority 10 answered first
    assert seen == ["PING"]
    with app.app_context():
        first = db.session.execute(sa.select(InboundMessage).order_by(InboundMessage.id)).scalars().first()
        assert first is not None and first.params["route"] == {"case": 1}


def test_webhooks_are_exempt_from_csrf(make_app: Callable[..., Flask]) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.test_client() as client:
        assert reply_of(sms(client, UNKNOWN, "STOP")) is not None
        response = post_twilio(
            client, "/twilio/status?m=1", {"MessageSid": "SM" + "c" * 32, "MessageStatus": "sent"}
        )
        assert response.status_code == 204
