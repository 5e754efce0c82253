"""Tests of the fakes themselves, through the real twilio SDK and smtplib (no app involved)."""

from __future__ import annotations

import base64
import json
import re
import smtplib
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio, FakeTwilioProcess, rfc2822, sms_segments

TO = "+85512345678"
OTHER = "+85598765432"
FROM = "+15005550006"
SID_RE = re.compile(r"^SM[0-9a-f]{32}$")

# The urllib opener used here must ignore proxy settings, like the fake's own one does.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def make_client(fake: FakeTwilio, token: str | None = None, timeout: float = 10) -> Client:
    client = Client(fake.account_sid, token or fake.auth_token, http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = fake.base_url
    return client


def close_client(client: Client) -> None:
    session = client.http_client.session
    if session is not None:
        session.close()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    sdk = make_client(fake)
    yield sdk
    close_client(sdk)


def raw_request(
    url: str, *, method: str = "GET", auth: tuple[str, str] | None = None, form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers.items()), json.loads(exc.read())


class CallbackReceiver:
    """A stand-in for the app's status-callback endpoint: validates signatures, records posts."""

    def __init__(self, auth_token: str, expected: int, answer: int = 204) -> None:
        self.validator = RequestValidator(auth_token)
        self.expected = expected
        self.answer = answer
        self.received: list[tuple[dict[str, str], bool]] = []
        self.done = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                url = receiver.url_for(self.path)
                valid = receiver.validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
                with receiver._lock:
                    receiver.received.append((params, bool(valid)))
                    if len(receiver.received) >= receiver.expected:
                        receiver.done.set()
                self.send_response(receiver.answer if valid else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> CallbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


# -- Twilio: create -------------------------------------------------------------------------


def test_create_through_sdk_is_recorded(fake: FakeTwilio, client: Client) -> None:
    message = client.messages.create(to=TO, from_=FROM, body="hello", status_callback="https://app.test/cb")

    assert SID_RE.match(message.sid)
    assert message.status == "queued"
    assert message.to == TO
    assert message.from_ == FROM
    assert message.account_sid == fake.account_sid
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.direction == "outbound-api"
    assert message.api_version == "2010-04-01"
    assert message.price is None and message.error_code is None and message.error_message is None
    assert isinstance(message.date_created, datetime) and message.date_created.tzinfo is not None
    assert message.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{message.sid}.json"

    (sent,) = fake.sent()
    assert sent["sid"] == message.sid
    assert sent["status_callback"] == "https://app.test/cb"
    assert fake.sent_to(TO) == [sent]
    assert fake.count_to(TO) == 1
    assert fake.count_to(OTHER) == 0

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.form == {
        "To": [TO],
        "From": [FROM],
        "Body": ["hello"],
        "StatusCallback": ["https://app.test/cb"],
    }
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.timestamp <= time.monotonic()


def test_messaging_service_create_is_accepted(fake: FakeTwilio, client: Client) -> None:
    service = "MG" + "a" * 32
    message = client.messages.create(to=TO, messaging_service_sid=service, body="hi")
    assert message.status == "accepted"
    assert message.messaging_service_sid == service
    assert message.from_ is None


def test_bad_token_is_20003(fake: FakeTwilio) -> None:
    bad = make_client(fake, token="0" * 32)
    try:
        with pytest.raises(TwilioRestException) as info:
            bad.messages.create(to=TO, from_=FROM, body="x")
    finally:
        close_client(bad)
    assert info.value.status == 401
    assert info.value.code == 20003
    assert fake.sent() == []
    assert len(fake.requests) == 1  # rejected requests are recorded too


def test_fail_next_429_then_recovers(fake: FakeTwilio, client: Client) -> None:
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as info:
            client.messages.create(to=TO, from_=FROM, body="x")
        assert info.value.status == 429
        assert info.value.code == 20429
    assert client.messages.create(to=TO, from_=FROM, body="x").status == "queued"
    assert fake.count_to(TO) == 1

    fake.fail_next(1, retry_after=7)
    status, headers, body = raw_request(
        fake.base_url + fake.messages_uri,
        method="POST",
        auth=(fake.account_sid, fake.auth_token),
        form={"To": TO, "From": FROM, "Body": "x"},
    )
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert body == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }


def test_fail_for_number(fake: FakeTwilio, client: Client) -> None:
    fake.fail_for(OTHER)
    fake.fail_for("+85511111111", code=21610)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=OTHER, from_=FROM, body="x")
    assert (info.value.status, info.value.code) == (400, 21211)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to="+85511111111", from_=FROM, body="x")
    assert info.value.code == 21610
    client.messages.create(to=TO, from_=FROM, body="x")

    fake.clear_failures()
    client.messages.create(to=OTHER, from_=FROM, body="x")
    assert [m["to"] for m in fake.sent()] == [TO, OTHER]


def test_fail_every(fake: FakeTwilio, client: Client) -> None:
    fake.fail_every(3)
    outcomes = []
    for _ in range(6):
        try:
            client.messages.create(to=TO, from_=FROM, body="x")
            outcomes.append("ok")
        except TwilioRestException as exc:
            outcomes.append(f"{exc.status}/{exc.code}")
    assert outcomes == ["ok", "ok", "500/20500", "ok", "ok", "500/20500"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "+1", "from_": FROM, "body": "x"}, 21211),
        ({"to": "012345678", "from_": FROM, "body": "x"}, 21211),
        ({"to": TO, "from_": FROM, "body": ""}, 21602),
        ({"to": TO, "body": "x"}, 21603),
        ({"to": TO, "from_": FROM, "body": "a" * 1601}, 21617),
    ],
)
def test_validation_errors(fake: FakeTwilio, client: Client, kwargs: dict[str, str], code: int) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(**kwargs)
    assert (info.value.status, info.value.code) == (400, code)
    assert fake.sent() == []


def test_whatsapp_address_is_accepted(client: Client) -> None:
    assert (
        client.messages.create(to="whatsapp:" + TO, from_="whatsapp:" + FROM, body="x").to == "whatsapp:" + TO
    )


def test_latency_delays_answer(fake: FakeTwilio, client: Client) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    client.messages.create(to=TO, from_=FROM, body="x")
    assert time.monotonic() - started >= 0.2


# -- Twilio: list and fetch -----------------------------------------------------------------


def test_list_by_to_and_date_sent_after(fake: FakeTwilio, client: Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    mine = [client.messages.create(to=TO, from_=FROM, body=f"m{i}").sid for i in range(3)]
    client.messages.create(to=OTHER, from_=FROM, body="not mine")

    listed = client.messages.list(to=TO, date_sent_after=before)
    assert [m.sid for m in listed] == list(reversed(mine))  # newest first

    (request,) = [r for r in fake.requests if r.method == "GET"]
    assert request.query["To"] == [TO]
    assert request.query["DateSent>"] == [before.strftime("%Y-%m-%dT%H:%M:%SZ")]

    assert client.messages.list(to=TO, date_sent_after=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(client.messages.list(to=TO, date_sent_before=datetime.now(UTC) + timedelta(hours=1))) == 3
    assert client.messages.list(to=TO, date_sent_before=before - timedelta(hours=1)) == []
    assert len(client.messages.list(from_=FROM)) == 4


def test_list_date_only_filters_and_page_shape(fake: FakeTwilio, client: Client) -> None:
    created = client.messages.create(to=TO, from_=FROM, body="x")
    today = created.date_sent.astimezone(UTC).date().isoformat()  # not now(): midnight races
    base = fake.base_url + fake.messages_uri
    auth = (fake.account_sid, fake.auth_token)
    for query in (
        f"To=%2B85512345678&DateSent%3E={today}",
        f"To=%2B85512345678&DateSent%3E%3D={today}",
        f"To=%2B85512345678&DateSent%3C%3D={today}",
        f"To=%2B85512345678&DateSent={today}",
    ):
        status, _, page = raw_request(f"{base}?{query}", auth=auth)
        assert status == 200, query
        assert len(page["messages"]) == 1, query
    status, _, page = raw_request(f"{base}?DateSent%3E=2999-01-01", auth=auth)
    assert page["messages"] == []
    assert {
        "page",
        "page_size",
        "first_page_uri",
        "next_page_uri",
        "previous_page_uri",
        "uri",
        "start",
        "end",
    } <= set(page)
    status, _, error = raw_request(f"{base}?DateSent%3E=yesterday", auth=auth)
    assert status == 400 and error["code"] == 20001


def test_list_pages_through_sdk(fake: FakeTwilio, client: Client) -> None:
    sids = [client.messages.create(to=TO, from_=FROM, body=str(i)).sid for i in range(5)]
    listed = client.messages.list(to=TO, page_size=2)
    assert [m.sid for m in listed] == list(reversed(sids))
    page_requests = [r for r in fake.requests if r.method == "GET"]
    assert len(page_requests) == 3
    assert page_requests[1].query["PageToken"][0].startswith("PA")

    first = client.messages.page(to=TO, page_size=2)
    assert first._payload["page"] == 0 and first._payload["start"] == 0 and first._payload["end"] == 1
    assert first._payload["previous_page_uri"] is None
    assert first._payload["next_page_uri"].startswith(fake.messages_uri + "?")


def test_fetch(fake: FakeTwilio, client: Client) -> None:
    created = client.messages.create(to=TO, from_=FROM, body="x")
    fetched = client.messages(created.sid).fetch()
    assert fetched.sid == created.sid and fetched.body == "x"

    with pytest.raises(TwilioRestException) as info:
        client.messages("SM" + "0" * 32).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)


# -- Twilio: dropped responses --------------------------------------------------------------


def test_drop_response_close_raises_but_message_is_sent(fake: FakeTwilio, client: Client) -> None:
    fake.drop_response_next(1)
    started = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.messages.create(to=TO, from_=FROM, body="lost answer")
    assert fake.count_to(TO) == 1

    # What reconciliation does: ask Twilio what it has for the number since the attempt.
    (found,) = client.messages.list(to=TO, date_sent_after=started)
    assert found.sid == fake.sent()[0]["sid"]
    assert client.messages.create(to=TO, from_=FROM, body="answered").status == "queued"


def test_drop_response_hang_times_out(fake: FakeTwilio) -> None:
    impatient = make_client(fake, timeout=0.3)
    fake.drop_response_next(1, mode="hang")
    try:
        with pytest.raises(requests.exceptions.Timeout):
            impatient.messages.create(to=TO, from_=FROM, body="x")
    finally:
        close_client(impatient)
    assert fake.count_to(TO) == 1
    assert fake.stats()["dropped_responses"] == 1


# -- Twilio: callbacks ----------------------------------------------------------------------


def test_auto_callbacks_are_signed(fake: FakeTwilio, client: Client) -> None:
    fake.auto_callbacks = ["sent", "delivered"]
    with CallbackReceiver(fake.auth_token, expected=2) as receiver:
        url = receiver.url_for("/twilio/status?tenant=kh")
        message = client.messages.create(to=TO, from_=FROM, body="x", status_callback=url)
        assert receiver.done.wait(10)

    statuses = [params["MessageStatus"] for params, _ in receiver.received]
    assert statuses == ["sent", "delivered"]
    assert all(valid for _, valid in receiver.received)
    params = receiver.received[0][0]
    assert params == {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "AccountSid": fake.account_sid,
        "From": FROM,
        "To": TO,
        "MessageStatus": "sent",
        "SmsStatus": "sent",
        "ApiVersion": "2010-04-01",
    }
    assert fake.wait_for_callbacks(2) == [(url, "sent", 204), (url, "delivered", 204)]
    assert client.messages(message.sid).fetch().status == "delivered"


def test_undeliverable_number_reports_error_code(fake: FakeTwilio, client: Client) -> None:
    fake.auto_callbacks = ["sent", "delivered"]
    fake.undeliverable(TO, error_code=30006)
    with CallbackReceiver(fake.auth_token, expected=2) as receiver:
        message = client.messages.create(to=TO, from_=FROM, body="x", status_callback=receiver.url_for("/cb"))
        assert receiver.done.wait(10)
    final = receiver.received[-1][0]
    assert (final["MessageStatus"], final["ErrorCode"]) == ("undelivered", "30006")
    assert all(valid for _, valid in receiver.received)
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30006)


def test_post_status_on_demand(fake: FakeTwilio, client: Client) -> None:
    with CallbackReceiver(fake.auth_token, expected=1, answer=200) as receiver:
        message = client.messages.create(to=TO, from_=FROM, body="x", status_callback=receiver.url_for("/cb"))
        assert fake.post_status(message.sid, "failed", error_code=30003) == 200
    params, valid = receiver.received[0]
    assert valid
    assert (params["MessageStatus"], params["ErrorCode"]) == ("failed", "30003")
    assert fake.get(message.sid)["status"] == "failed"
    # Nobody listening any more: the fake reports "no HTTP answer" instead of raising.
    assert fake.post_status(message.sid, "failed", error_code=30003) == 0


def test_callback_transport_replaces_http(client: Client) -> None:
    delivered: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def transport(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        delivered.append((url, params, headers))
        if params["MessageStatus"] == "delivered":
            raise RuntimeError("app blew up")
        return 200

    with FakeTwilio(auto_callbacks=["sent", "delivered"], callback_transport=transport) as fake:
        sdk = make_client(fake)
        try:
            sdk.messages.create(to=TO, from_=FROM, body="x", status_callback="https://app.test/cb")
        finally:
            close_client(sdk)
        results = fake.wait_for_callbacks(2)
        assert results == [("https://app.test/cb", "sent", 200), ("https://app.test/cb", "delivered", 0)]
        assert [str(e) for e in fake.callback_errors] == ["app blew up"]
        url, params, headers = delivered[0]
        assert RequestValidator(fake.auth_token).validate(url, params, headers["X-Twilio-Signature"])


def test_inbound_params_are_signed(fake: FakeTwilio) -> None:
    url = "https://app.test/twilio/inbound"
    params, signature = fake.inbound(lambda: url, From=TO, To=FROM, Body="STOP")
    assert RequestValidator(fake.auth_token).validate(url, params, signature)
    assert SID_RE.match(params["MessageSid"])
    assert params["MessageSid"] == params["SmsSid"] == params["SmsMessageSid"]
    assert (params["From"], params["To"], params["Body"]) == (TO, FROM, "STOP")
    assert (params["NumMedia"], params["NumSegments"], params["SmsStatus"]) == ("0", "1", "received")
    assert params["AccountSid"] == fake.account_sid
    assert fake.sign(url, params) == signature
    assert not RequestValidator(fake.auth_token).validate(url + "x", params, signature)


# -- segments, stats, subprocess ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("가" * 70, 1),
        ("가" * 71, 2),
        ("€" * 80, 1),  # extension characters cost two septets
        ("€" * 81, 2),
        ("😀" * 35, 1),  # astral characters are two UTF-16 code units
        ("😀" * 36, 2),
    ],
)
def test_segments(body: str, segments: int) -> None:
    assert sms_segments(body) == segments


def test_segments_in_resource_and_stats(fake: FakeTwilio, client: Client) -> None:
    assert client.messages.create(to=TO, from_=FROM, body="가" * 71).num_segments == "2"
    client.messages.create(to=TO, from_=FROM, body="a")
    stats = fake.stats()
    assert stats["total_created"] == 2
    assert stats["duplicates"] == {TO: 2}
    assert stats["segments_total"] == 3
    assert sum(stats["segments_per_second"].values()) == 3
    fake.reset()
    assert fake.stats()["total_created"] == 0 and fake.requests == []


def test_rfc2822_format() -> None:
    assert rfc2822(datetime(2023, 8, 24, 5, 1, 45, tzinfo=UTC)) == "Thu, 24 Aug 2023 05:01:45 +0000"


def test_subprocess_entry_point() -> None:
    with FakeTwilioProcess(latency_ms=1) as proc:
        client = Client(proc.account_sid, proc.auth_token, http_client=TwilioHttpClient(timeout=10))
        client.api.base_url = proc.base_url
        try:
            for _ in range(2):
                client.messages.create(to=TO, from_=FROM, body="x")
        finally:
            close_client(client)
        stats = proc.stats()
        assert stats["total_created"] == 2
        assert stats["duplicates"] == {TO: 2}
        proc.configure(fail_next={"n": 1})
        proc.reset()  # also clears the pending failure
        assert proc.stats()["total_created"] == 0


# -- SMTP -----------------------------------------------------------------------------------


def _email(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "outreach@example.test"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("안녕하세요 — 본문")
    return message


def test_smtp_two_messages_one_connection() -> None:
    with FakeSMTP() as smtp:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as conn:
            conn.send_message(_email("a@example.test", "첫 번째"))
            conn.send_message(_email("b@example.test", "second"))
        first, second = smtp.wait_for(2)
        assert smtp.connections == 1
        assert first.mail_from == "outreach@example.test"
        assert first.rcpt_tos == ["a@example.test"]
        assert first.message["Subject"] == "첫 번째"
        assert first.message.get_content().strip() == "안녕하세요 — 본문"
        assert first.session_id == second.session_id

        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as conn:
            conn.send_message(_email("c@example.test", "third"))
        assert smtp.wait_for(3)[2].session_id != first.session_id
        assert smtp.connections == 2

        smtp.reset()
        assert smtp.messages == [] and smtp.connections == 0


def test_smtp_wait_for_times_out() -> None:
    with FakeSMTP() as smtp, pytest.raises(TimeoutError):
        smtp.wait_for(1, timeout=0.05)


def test_smtp_auth_and_rejection() -> None:
    with FakeSMTP(credentials=("mailer", "s3cret")) as smtp:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as conn:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                conn.login("mailer", "wrong")
            conn.login("mailer", "s3cret")
            smtp.fail_next(1)
            with pytest.raises(smtplib.SMTPDataError) as info:
                conn.send_message(_email("a@example.test", "rejected"))
            assert info.value.smtp_code == 451
            conn.send_message(_email("a@example.test", "accepted"))
        (received,) = smtp.wait_for(1)
        assert received.login == "mailer"
        assert received.message["Subject"] == "accepted"
