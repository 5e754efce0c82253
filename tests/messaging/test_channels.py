"""Each channel adapter against a real local server: the Twilio SDK to FakeTwilio, smtplib to FakeSMTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.messaging.channels import ChannelUnavailable, get_channel
from outreach.messaging.channels.base import LookupOutcome, Outcome, OutgoingMessage
from outreach.messaging.channels.console import ConsoleChannel
from outreach.messaging.channels.smtp_email import SMTPEmailChannel
from outreach.messaging.channels.twilio_sms import TwilioSMSChannel
from outreach.messaging.channels.twilio_whatsapp import TwilioWhatsAppChannel
from outreach.models import OutboxEntry, utcnow
from tests.conftest import TWILIO_TEST_SID, TWILIO_TEST_TOKEN
from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio

TO = "+85512345678"


def _sms(app: Flask) -> TwilioSMSChannel:
    with app.app_context():
        channel = get_channel("sms")
    assert isinstance(channel, TwilioSMSChannel)
    return channel


# --- Twilio SMS ------------------------------------------------------------------------------------


def test_sms_sent_through_the_sdk(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    channel = _sms(twilio_app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="안녕하세요 " * 20, message_id=42))
    finally:
        channel.close()
    assert result.outcome is Outcome.SENT
    (sent,) = fake_twilio.sent()
    assert result.provider_sid == sent["sid"]
    assert result.segments == int(sent["num_segments"]) == 2
    assert sent["from"] == "+15005550006"
    assert sent["status_callback"] == "http://localhost/twilio/status?m=42"
    (request,) = fake_twilio.requests
    assert request.headers["Authorization"].startswith("Basic ")


def test_messaging_service_is_used_when_configured(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio
) -> None:
    app = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32,
    )
    channel = _sms(app)
    try:
        assert channel.send(OutgoingMessage(to=TO, body="hi", message_id=1)).outcome is Outcome.SENT
    finally:
        channel.close()
    (request,) = fake_twilio.requests
    assert request.param("MessagingServiceSid") == "MG" + "1" * 32
    assert request.param("From") is None


def test_whatsapp_uses_prefixes(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    with twilio_app.app_context():
        channel = get_channel("whatsapp")
    assert isinstance(channel, TwilioWhatsAppChannel)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hello", message_id=7))
    finally:
        channel.close()
    assert result.outcome is Outcome.SENT
    (sent,) = fake_twilio.sent()
    assert sent["to"] == "whatsapp:" + TO
    assert sent["from"] == "whatsapp:+15005550006"


def test_whatsapp_needs_its_sender(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> None:
    app = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, TWILIO_WHATSAPP_FROM=None)
    with app.app_context(), pytest.raises(ChannelUnavailable):
        get_channel("whatsapp")


def test_429_is_transient_with_retry_after(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(1, status=429, code=20429, retry_after=7)
    channel = _sms(twilio_app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi", message_id=1))
    finally:
        channel.close()
    assert result.outcome is Outcome.TRANSIENT
    assert result.error_code == "20429"
    assert result.retry_after == 7.0
    assert fake_twilio.sent() == []


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
def test_server_errors_are_transient(
    twilio_app: Flask, fake_twilio: FakeTwilio, status: int, code: int
) -> None:
    fake_twilio.fail_next(1, status=status, code=code)
    channel = _sms(twilio_app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi"))
    finally:
        channel.close()
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, str(code))


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_permanent_errors(twilio_app: Flask, fake_twilio: FakeTwilio, code: int) -> None:
    fake_twilio.fail_for(TO, status=400, code=code)
    channel = _sms(twilio_app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi"))
    finally:
        channel.close()
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, str(code))


def test_dropped_response_is_unknown_not_transient(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    fake_twilio.drop_response_next(1, mode="close")
    channel = _sms(twilio_app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi", message_id=3))
    finally:
        channel.close()
    # The fake stored it: re-sending blindly would duplicate it.
    assert result.outcome is Outcome.UNKNOWN
    assert fake_twilio.count_to(TO) == 1


def test_read_timeout_is_unknown(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> None:
    app = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, TWILIO_TIMEOUT_SECONDS=0.3)
    fake_twilio.drop_response_next(1, mode="hang", hang_seconds=30)
    channel = _sms(app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi"))
    finally:
        channel.close()
    assert result.outcome is Outcome.UNKNOWN


def test_connection_refused_is_transient(make_app: Callable[..., Flask]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on that port now
    app = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=f"http://127.0.0.1:{port}")
    channel = _sms(app)
    try:
        result = channel.send(OutgoingMessage(to=TO, body="hi"))
    finally:
        channel.close()
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "connection")


def test_find_sent_asks_the_provider(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    channel = _sms(twilio_app)
    since = utcnow()
    try:
        sent = channel.send(OutgoingMessage(to=TO, body="the alert", message_id=5))
        channel.send(OutgoingMessage(to=TO, body="another text", message_id=6))
        found = channel.find_sent(OutgoingMessage(to=TO, body="the alert", message_id=5), since)
        missing = channel.find_sent(OutgoingMessage(to=TO, body="never sent", message_id=8), since)
        later = channel.find_sent(
            OutgoingMessage(to=TO, body="the alert", message_id=5), since + timedelta(hours=1)
        )
    finally:
        channel.close()
    assert found.outcome is LookupOutcome.FOUND
    assert [sid for sid, _ in found.candidates] == [sent.provider_sid]
    assert missing.outcome is LookupOutcome.NOT_FOUND
    assert later.outcome is LookupOutcome.NOT_FOUND
    (list_request,) = [r for r in fake_twilio.requests if r.method == "GET"][:1]
    assert list_request.param("To") == TO


def test_one_client_per_thread(twilio_app: Flask, fake_twilio: FakeTwilio) -> None:
    from concurrent.futures import ThreadPoolExecutor

    channel = _sms(twilio_app)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(lambda i: channel.send(OutgoingMessage(to=f"+8551200000{i}", body="x")), range(8))
            )
        clients = len(channel._http_clients)
    finally:
        channel.close()
    assert all(r.outcome is Outcome.SENT for r in results)
    assert 0 < clients <= 4  # one HTTP client per sending thread, never one per message
    assert len(fake_twilio.sent()) == 8


def test_provider_calls_are_logged_without_secrets(
    twilio_app: Flask, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    channel = _sms(twilio_app)
    try:
        channel.send(OutgoingMessage(to=TO, body="hi", message_id=9))
    finally:
        channel.close()
    text = caplog.text
    assert "twilio sms create message=9" in text
    assert TWILIO_TEST_TOKEN not in text
    assert TO not in text  # the number is masked
    assert TWILIO_TEST_SID not in text or "Authorization" not in text


# --- SMTP ------------------------------------------------------------------------------------------


def _smtp(app: Flask) -> SMTPEmailChannel:
    with app.app_context():
        channel = get_channel("email")
    assert isinstance(channel, SMTPEmailChannel)
    return channel


def test_two_emails_over_one_connection(smtp_app: Flask, fake_smtp: FakeSMTP) -> None:
    channel = _smtp(smtp_app)
    try:
        first = channel.send(
            OutgoingMessage(to="a@example.com", body="본문 하나", subject="제목", message_id=11)
        )
        second = channel.send(
            OutgoingMessage(
                to="b@example.com", body="text two", subject="Two", html="<p>two</p>", message_id=12
            )
        )
    finally:
        channel.close()
    assert first.outcome is second.outcome is Outcome.SENT
    received = fake_smtp.wait_for(2)
    assert fake_smtp.connections == 1
    assert received[0].session_id == received[1].session_id
    one, two = (r.message for r in received)
    assert one["Message-ID"] == "<outreach.11@embassy.test>" == first.provider_sid
    assert one["Subject"] == "제목"
    assert one.get_content_type() == "text/plain"
    assert one.get_content().strip() == "본문 하나"
    assert two.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in two.iter_parts()] == ["text/plain", "text/html"]
    assert received[1].rcpt_tos == ["b@example.com"]


def test_reconnects_when_the_server_dropped_the_session(smtp_app: Flask, fake_smtp: FakeSMTP) -> None:
    channel = _smtp(smtp_app)
    try:
        assert (
            channel.send(OutgoingMessage(to="a@example.com", body="one", message_id=1)).outcome
            is Outcome.SENT
        )
        fake_smtp.stop()  # closes the session we keep open
        with FakeSMTP(port=fake_smtp.port) as restarted:
            result = channel.send(OutgoingMessage(to="b@example.com", body="two", message_id=2))
            (received,) = restarted.wait_for(1)
    finally:
        channel.close()
    assert result.outcome is Outcome.SENT
    assert received.rcpt_tos == ["b@example.com"]


def test_bad_recipient_is_permanent(smtp_app: Flask, fake_smtp: FakeSMTP) -> None:
    channel = _smtp(smtp_app)
    try:
        invalid = channel.send(OutgoingMessage(to="not an address", body="x"))
        fake_smtp.fail_next(1, code=550, text="5.1.1 No such user")
        rejected = channel.send(OutgoingMessage(to="nobody@example.com", body="x"))
        fake_smtp.fail_next(1, code=451, text="4.3.0 Try again later")
        later = channel.send(OutgoingMessage(to="someone@example.com", body="x"))
        fine = channel.send(OutgoingMessage(to="someone@example.com", body="x"))
    finally:
        channel.close()
    assert (invalid.outcome, invalid.error_code) == (Outcome.PERMANENT, "invalid_email")
    assert (rejected.outcome, rejected.error_code) == (Outcome.PERMANENT, "smtp_failed")
    assert (later.outcome, later.error_code) == (Outcome.TRANSIENT, "smtp_temporary")
    assert fine.outcome is Outcome.SENT
    assert fake_smtp.connections == 1  # errors answered on the session do not cost it


def test_unreachable_mail_server_is_transient(make_app: Callable[..., Flask]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(MAIL_CHANNEL="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    channel = _smtp(app)
    try:
        result = channel.send(OutgoingMessage(to="a@example.com", body="x"))
    finally:
        channel.close()
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "smtp_connection")


def test_login_when_configured(make_app: Callable[..., Flask]) -> None:
    with FakeSMTP(credentials=("relay", "s3cret")) as smtp:
        app = make_app(
            MAIL_CHANNEL="smtp",
            SMTP_HOST=smtp.host,
            SMTP_PORT=smtp.port,
            SMTP_USERNAME="relay",
            SMTP_PASSWORD="s3cret",
        )
        channel = _smtp(app)
        try:
            assert channel.send(OutgoingMessage(to="a@example.com", body="x")).outcome is Outcome.SENT
        finally:
            channel.close()
        (received,) = smtp.wait_for(1)
    assert received.login == "relay"


# --- console ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sms", "whatsapp", "email"])
def test_console_writes_the_outbox_in_its_own_transaction(app: Flask, name: str) -> None:
    with app.app_context():
        channel = get_channel(name)
        assert isinstance(channel, ConsoleChannel)
        db.session.execute(sa.select(1))  # the caller's session has a transaction open ...
        result = channel.send(OutgoingMessage(to="+85512000009", body="hello", subject="s"))
        db.session.rollback()  # ... and rolls it back: the outbox entry stays, like a sent message
        entries = db.session.execute(sa.select(OutboxEntry)).scalars().all()
        found = channel.find_sent(OutgoingMessage(to="+85512000009", body="hello"), utcnow())
    assert result.outcome is Outcome.SENT
    assert result.provider_sid is not None and result.provider_sid.startswith("CONSOLE-")
    assert [(e.channel, e.sid, e.body) for e in entries] == [(name, result.provider_sid, "hello")]
    assert found.outcome is LookupOutcome.NOT_FOUND  # no message id: nothing to look up by


def test_channel_registry_follows_configuration(
    make_app: Callable[..., Flask], fake_twilio: FakeTwilio
) -> None:
    console = make_app()
    with console.app_context():
        assert {type(get_channel(n)).__name__ for n in ("sms", "whatsapp", "email")} == {"ConsoleChannel"}
    real = make_app(SMS_CHANNEL="twilio", TWILIO_API_BASE_URL=fake_twilio.base_url, MAIL_CHANNEL="smtp")
    with real.app_context():
        assert type(get_channel("sms")) is TwilioSMSChannel
        assert type(get_channel("whatsapp")) is TwilioWhatsAppChannel
        assert type(get_channel("email")) is SMTPEmailChannel
        with pytest.raises(ChannelUnavailable):
            get_channel("fax")
