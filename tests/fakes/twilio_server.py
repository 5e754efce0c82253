"""A fake of Twilio's 2010-04-01 Messages API, served over real HTTP on 127.0.0.1.

The real ``twilio`` SDK talks to it unchanged; only the API domain's base URL is swapped::

    from twilio.rest import Client
    from twilio.http.http_client import TwilioHttpClient

    client = Client(fake.account_sid, fake.auth_token, http_client=TwilioHttpClient(timeout=10))
    client.api.base_url = fake.base_url

Why that line is enough (twilio 9.x): ``client.api`` is created once and cached on the
client; it is a ``twilio.base.domain.Domain`` whose ``absolute_url()`` reads ``self.base_url``
on every request, and every 2010-04-01 resource (``client.messages``,
``client.api.v2010.account.messages``, list paging through ``next_page_uri``) builds its URL
through that same ``Domain`` object.  Two things defeat it: the ``TWILIO_EDGE`` /
``TWILIO_REGION`` environment variables (``ClientBase.get_hostname`` then rewrites the host
name, and would mangle ``127.0.0.1``), and an ``HTTP(S)_PROXY`` without ``127.0.0.1`` in
``NO_PROXY`` (``requests`` honours the environment).

Shapes (Message resource, list page, error body) are hand-written from Twilio's OpenAPI
description; that file is never read at run time.

Run in another process (a benchmark, a live-server test)::

    python -m tests.fakes.twilio_server --port 0 --latency-ms 150 --callbacks sent,delivered

prints one JSON line ``{"base_url", "account_sid", "auth_token", "pid"}`` and serves until
SIGTERM/SIGINT.  ``GET /_fake/stats``, ``POST /_fake/reset`` and ``POST /_fake/config``
(JSON body) let that other process inspect and steer it; :class:`FakeTwilioProcess` wraps all
of this.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import contextlib
import email.utils
import http.client
import json
import os
import random
import re
import selectors
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

# Default texts; the SDK only surfaces them in exception messages, tests match on codes.
ERROR_MESSAGES: dict[int, str] = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Carrier violation",
    30008: "Unknown error",
}

_E164 = re.compile(r"^(?:whatsapp:)?\+[1-9]\d{7,14}$")
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_BODY_CHARS = 1600
_FAILED_STATUSES = frozenset({"failed", "undelivered"})
_FINAL_OK_STATUSES = frozenset({"delivered", "read"})

# GSM 03.38 default alphabet (ESC at 0x1B excluded: it only introduces extension characters).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table characters cost two septets (ESC + char).
_GSM7_EXTENDED = frozenset("\x0c^{}\\[~]|€")


def is_gsm7(body: str) -> bool:
    """True when every character of ``body`` is encodable in the GSM-7 alphabet."""
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in body)


def sms_segments(body: str) -> int:
    """Number of SMS segments Twilio bills for ``body``.

    GSM-7: 160 septets in one segment, 153 per segment once concatenated (extension characters
    take 2 septets and are never split).  Otherwise UCS-2: 70 UTF-16 code units, 67 per
    segment once concatenated (surrogate pairs are never split, so an emoji costs 2).
    """
    if not body:
        return 1
    if is_gsm7(body):
        costs = [2 if ch in _GSM7_EXTENDED else 1 for ch in body]
        single, multi = 160, 153
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
        single, multi = 70, 67
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def rfc2822(moment: datetime) -> str:
    """Twilio's timestamp format, e.g. ``Thu, 24 Aug 2023 05:01:45 +0000``."""
    return email.utils.format_datetime(moment.astimezone(UTC))


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def error_body(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's (pre RFC-9457) error JSON, which the SDK turns into ``TwilioRestException``."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": MORE_INFO.format(code=code),
        "status": status,
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (control-surface requests under ``/_fake`` excluded)."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]
    timestamp: float  # time.monotonic()

    def param(self, name: str) -> str | None:
        """First value of ``name`` from the form body, else from the query string."""
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else None


class CallbackResult(NamedTuple):
    """A status callback the fake delivered; ``http_code`` 0 means no HTTP answer at all."""

    url: str
    status: str
    http_code: int


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str | None
    retry_after: int | None = None


@dataclass
class _Message:
    seq: int
    resource: dict[str, Any]
    sent_at: datetime  # second resolution, like the resource's date_sent
    status_callback: str | None
    media_urls: list[str]
    segments: int


@dataclass
class _CallbackJob:
    sid: str
    statuses: list[str]
    error_code: int | None = None
    final_status: str | None = None


@dataclass
class _Undeliverable:
    error_code: int
    final_status: str


@dataclass
class _Stats:
    create_attempts: int = 0
    failed_creates: int = 0
    dropped_responses: int = 0
    callbacks_posted: int = 0
    callbacks_failed: int = 0
    segments_per_second: dict[int, int] = field(default_factory=dict)
    messages_per_second: dict[int, int] = field(default_factory=dict)


CallbackTransport = Callable[[str, dict[str, str], dict[str, str]], int]
"""``(url, form_params, headers) -> http_status``: deliver a callback without a socket."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Twilio does not follow redirects on webhooks; a 3xx must show up as the app's answer.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# The empty ProxyHandler keeps http_proxy from hijacking callbacks aimed at 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open hundreds of keep-alive connections at once; the default backlog of 5
    # turns bursts into connection resets.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        self.fake = fake
        self._conn_lock = threading.Lock()
        self._live: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host with socket.getfqdn(), a reverse DNS lookup
        # that can stall for seconds in sandboxes; nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Threads are tracked (unlike ThreadingMixIn with daemon threads) so stop() can
        # unblock idle keep-alive connections and join them instead of leaking sockets.
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._conn_lock:
            self._live[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._live.pop(threading.current_thread(), None)

    def close_live_connections(self, timeout: float) -> None:
        with self._conn_lock:
            live = dict(self._live)
        for sock in live.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (timeouts, dropped connections) are expected here.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests.Session expects
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
    # adds ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "FakeTwilio/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._dispatch(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._dispatch(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._dispatch(self, "DELETE")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_twilio_error(
        self, status: int, code: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_json(status, error_body(status, code, message), headers)


class FakeTwilio:
    """Twilio Messages API fake on a real socket; see the module docstring for SDK wiring.

    Thread-safe: the server answers on one thread per connection and callbacks are posted
    from a small pool of worker threads, while the test thread inspects and steers it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_sid: str | None = None,
        auth_token: str | None = None,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        auto_callbacks: Sequence[str] = (),
        callback_delay: float = 0.0,
        callback_timeout: float = 5.0,
        callback_workers: int = 4,
        callback_transport: CallbackTransport | None = None,
        max_recorded_requests: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._account_sid = account_sid or new_sid("AC")
        self._auth_token = auth_token or uuid.uuid4().hex
        # Plain attributes: tests flip them between requests; reads are atomic.
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.auto_callbacks: list[str] = list(auto_callbacks)
        self.callback_delay = callback_delay
        self.callback_timeout = callback_timeout
        self.callback_transport = callback_transport
        self._callback_workers = callback_workers
        self._validator = RequestValidator(self._auth_token)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._jobs: collections.deque[_CallbackJob | None] = collections.deque()
        self._jobs_ready = threading.Condition(threading.Lock())

        self._seq = 0
        self._messages: dict[str, _Message] = {}
        self._by_to: dict[str, list[str]] = {}
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded_requests)
        self._total_requests = 0
        self._callback_results: list[CallbackResult] = []
        self._callback_errors: list[BaseException] = []
        self._stats = _Stats()

        self._fail_next: collections.deque[_Failure] = collections.deque()
        self._fail_for: dict[str, _Failure] = {}
        self._fail_every: tuple[int, _Failure] | None = None
        self._drop_next = 0
        self._drop_mode = "close"
        self._hang_seconds = 60.0
        self._undeliverable: dict[str, _Undeliverable] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeTwilio already started")
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._serve_thread.start()
        self._workers = [
            threading.Thread(target=self._callback_worker, daemon=True, name=f"fake-twilio-cb-{i}")
            for i in range(self._callback_workers)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        # Set first: releases handlers sleeping in latency or hanging on a dropped response.
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_live_connections(timeout=5.0)
        if self._serve_thread is not None:
            self._serve_thread.join(5.0)
            self._serve_thread = None
        with self._jobs_ready:
            self._jobs.clear()
            self._jobs.extend([None] * len(self._workers))
            self._jobs_ready.notify_all()
        for worker in self._workers:
            worker.join(self.callback_timeout + 1.0)
        self._workers = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def account_sid(self) -> str:
        return self._account_sid

    @property
    def auth_token(self) -> str:
        return self._auth_token

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def messages_uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    # -- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def sent(self) -> list[dict[str, Any]]:
        """Successfully created messages, oldest first.

        Each dict is the Message resource as currently stored (status follows callbacks), plus
        two fake-only keys Twilio's JSON does not have: ``status_callback`` and ``media_urls``.
        """
        with self._lock:
            return [self._export(m) for m in self._messages.values()]

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self._export(self._messages[sid]) for sid in self._by_to.get(number, ())]

    def count_to(self, number: str) -> int:
        with self._lock:
            return len(self._by_to.get(number, ()))

    def get(self, sid: str) -> dict[str, Any]:
        """The stored message ``sid`` (KeyError when unknown)."""
        with self._lock:
            return self._export(self._messages[sid])

    @property
    def callback_results(self) -> list[CallbackResult]:
        with self._lock:
            return list(self._callback_results)

    @property
    def callback_errors(self) -> list[BaseException]:
        """Exceptions raised by ``callback_transport`` (recorded as http_code 0)."""
        with self._lock:
            return list(self._callback_errors)

    def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` messages were created; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} messages created, wanted {count}")
            return [self._export(m) for m in self._messages.values()]

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackResult]:
        """Block until at least ``count`` callbacks were delivered (or failed to be)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._callback_results) >= count, timeout):
                raise TimeoutError(f"{len(self._callback_results)} callbacks posted, wanted {count}")
            return list(self._callback_results)

    def stats(self) -> dict[str, Any]:
        """Counters for a benchmark; also served as ``GET /_fake/stats``."""
        with self._lock:
            duplicates = {to: len(sids) for to, sids in self._by_to.items() if len(sids) >= 2}
            return {
                "total_created": len(self._messages),
                "total_requests": self._total_requests,
                "create_attempts": self._stats.create_attempts,
                "failed_creates": self._stats.failed_creates,
                "dropped_responses": self._stats.dropped_responses,
                "distinct_recipients": len(self._by_to),
                "duplicates": duplicates,
                "segments_total": sum(self._stats.segments_per_second.values()),
                "segments_per_second": {
                    str(k): v for k, v in sorted(self._stats.segments_per_second.items())
                },
                "messages_per_second": {
                    str(k): v for k, v in sorted(self._stats.messages_per_second.items())
                },
                "callbacks_posted": self._stats.callbacks_posted,
                "callbacks_failed": self._stats.callbacks_failed,
            }

    def reset(self) -> None:
        """Forget messages, requests, callback results, counters and pending fault injection.

        Configuration (``latency``, ``auto_callbacks``, credentials) is kept.
        """
        with self._lock:
            self._messages.clear()
            self._by_to.clear()
            self._requests.clear()
            self._total_requests = 0
            self._callback_results.clear()
            self._callback_errors.clear()
            self._stats = _Stats()
        self.clear_failures()
        with self._jobs_ready:
            self._jobs.clear()

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        code: int = 20429,
        message: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """The next ``n`` create requests (after auth) fail; 429s carry ``Retry-After``."""
        failure = _Failure(status, code, message, retry_after if status == 429 else None)
        with self._lock:
            self._fail_next.extend([failure] * n)

    def fail_for(self, to: str, status: int = 400, code: int = 21211, message: str | None = None) -> None:
        """Every create to ``to`` fails, e.g. 21610 unsubscribed, 21614 not a mobile number."""
        with self._lock:
            self._fail_for[to] = _Failure(status, code, message)

    def fail_every(self, k: int, status: int = 500, code: int = 20500, message: str | None = None) -> None:
        """Every ``k``-th create attempt fails (``k <= 0`` turns it off)."""
        with self._lock:
            self._fail_every = (k, _Failure(status, code, message)) if k > 0 else None

    def drop_response_next(self, n: int = 1, mode: str = "close", hang_seconds: float = 60.0) -> None:
        """Accept the next ``n`` creates (stored as sent, callbacks fire) but never answer.

        ``mode="close"`` shuts the socket right away (the SDK raises ``requests`` ConnectionError);
        ``mode="hang"`` keeps it open for ``hang_seconds`` (or until stop()), so the client hits
        its own read timeout.
        """
        if mode not in ("close", "hang"):
            raise ValueError(f"mode must be 'close' or 'hang', not {mode!r}")
        with self._lock:
            self._drop_next = n
            self._drop_mode = mode
            self._hang_seconds = hang_seconds

    def undeliverable(self, to: str, error_code: int = 30006, final_status: str = "undelivered") -> None:
        """Creates to ``to`` succeed, but auto callbacks end in ``final_status`` with ``error_code``.

        This is how carrier-side errors such as 30006 (landline) really surface: the API says 201,
        the status callback says undelivered.  Without ``auto_callbacks`` nothing is posted.
        """
        if final_status not in _FAILED_STATUSES:
            raise ValueError("final_status must be 'failed' or 'undelivered'")
        with self._lock:
            self._undeliverable[to] = _Undeliverable(error_code, final_status)

    def clear_failures(self) -> None:
        with self._lock:
            self._fail_next.clear()
            self._fail_for.clear()
            self._fail_every = None
            self._drop_next = 0
            self._undeliverable.clear()

    # -- webhooks ----------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """``X-Twilio-Signature`` for a form POST of ``params`` to ``url``, as Twilio computes it."""
        return str(self._validator.compute_signature(url, dict(params)))

    def inbound(
        self,
        url: str | Callable[[], str],
        From: str,
        To: str,
        Body: str,
        MessageSid: str | None = None,
        **extra: str,
    ) -> tuple[dict[str, str], str]:
        """Params and signature of Twilio's inbound-SMS webhook POST to ``url``.

        ``url`` is the full URL the app will see (scheme, host, port, path, query), or a callable
        producing it, for fixtures that only know their address later.  ``extra`` adds or
        overrides params (e.g. ``MessagingServiceSid``, ``FromCountry``).
        """
        full_url = url() if callable(url) else url
        sid = MessageSid or new_sid("SM")
        params: dict[str, str] = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": From,
            "To": To,
            "Body": Body,
            "NumMedia": "0",
            "NumSegments": str(sms_segments(Body)),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        params.update(extra)
        return params, self.sign(full_url, params)

    def status_params(self, sid: str, status: str, error_code: int | None = None) -> dict[str, str]:
        """Form params of a status callback for stored message ``sid``."""
        with self._lock:
            resource = self._messages[sid].resource
            return self._status_params(resource, status, error_code)

    def post_status(
        self, sid: str, status: str, error_code: int | None = None, url: str | None = None
    ) -> int:
        """Move ``sid`` to ``status`` and post its signed callback now; returns the app's HTTP status.

        ``url`` defaults to the message's StatusCallback.  0 means the app never answered.
        """
        with self._lock:
            message = self._messages[sid]
            target = url or message.status_callback
            if target is None:
                raise ValueError(f"{sid} has no StatusCallback; pass url=")
            self._apply_status(message, status, error_code)
            params = self._status_params(message.resource, status, error_code)
        return self._deliver(target, status, params)

    # -- request handling --------------------------------------------------------------------

    def _dispatch(self, handler: _Handler, method: str) -> None:
        split = urllib.parse.urlsplit(handler.path)
        path = split.path
        body = handler.read_body()
        if path.startswith("/_fake/"):
            self._control(handler, method, path, body)
            return
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        form: dict[str, list[str]] = {}
        if body and "x-www-form-urlencoded" in (handler.headers.get("Content-Type") or ""):
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        recorded = RecordedRequest(
            method=method,
            path=path,
            query=query,
            form=form,
            headers=dict(handler.headers.items()),
            timestamp=time.monotonic(),
        )
        with self._lock:
            self._requests.append(recorded)
            self._total_requests += 1

        if not self._authorized(handler.headers.get("Authorization")):
            handler.send_twilio_error(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
            return

        if match := _MESSAGES_PATH.match(path):
            if match["account"] != self.account_sid:
                handler.send_twilio_error(404, 20404, f"The requested resource {path} was not found")
            elif method == "POST":
                self._create(handler, form)
            elif method == "GET":
                self._list(handler, query)
            else:
                handler.send_twilio_error(405, 20004)
        elif match := _MESSAGE_PATH.match(path):
            if method != "GET":
                handler.send_twilio_error(405, 20004)
                return
            with self._lock:
                message = self._messages.get(match["sid"]) if match["account"] == self.account_sid else None
                payload = dict(message.resource) if message else None
            if payload is None:
                handler.send_twilio_error(404, 20404, f"The requested resource {path} was not found")
            else:
                handler.send_json(200, payload)
        else:
            handler.send_twilio_error(404, 20404, f"The requested resource {path} was not found")

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _pause(self) -> None:
        delay = self.latency
        if self.latency_jitter > 0:
            delay += random.uniform(0.0, self.latency_jitter)
        if delay > 0:
            # An Event wait rather than sleep, so stop() is not held up by slow handlers.
            self._stopping.wait(delay)

    def _create(self, handler: _Handler, form: dict[str, list[str]]) -> None:
        self._pause()

        def first(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        to = first("To")
        body = first("Body") or ""
        sender = first("From")
        service = first("MessagingServiceSid")
        media_urls = [u for u in form.get("MediaUrl", []) if u]

        payload: dict[str, Any] = {}
        job: _CallbackJob | None = None
        drop, drop_mode, hang_seconds = False, "close", 0.0
        with self._lock:
            self._stats.create_attempts += 1
            failure: _Failure | None = None
            if self._fail_next:
                failure = self._fail_next.popleft()
            elif self._fail_every and self._stats.create_attempts % self._fail_every[0] == 0:
                failure = self._fail_every[1]
            if failure is None:
                failure = self._validate(to, body, sender, service, media_urls)
            if failure is None and to in self._fail_for:
                failure = self._fail_for[to]
            if failure is not None:
                self._stats.failed_creates += 1
            else:
                assert to is not None
                message = self._store(to, body, sender, service, first("StatusCallback"), media_urls)
                payload = dict(message.resource)
                job = self._callback_job(message)
                if self._drop_next > 0:
                    self._drop_next -= 1
                    self._stats.dropped_responses += 1
                    drop, drop_mode, hang_seconds = True, self._drop_mode, self._hang_seconds

        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
            handler.send_twilio_error(failure.status, failure.code, failure.message, headers)
            return
        if job is not None:
            with self._jobs_ready:
                self._jobs.append(job)
                self._jobs_ready.notify()
        if drop:
            handler.close_connection = True
            if drop_mode == "hang":
                self._stopping.wait(hang_seconds)
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.send_json(201, payload)

    def _validate(
        self, to: str | None, body: str, sender: str | None, service: str | None, media_urls: list[str]
    ) -> _Failure | None:
        if not to:
            return _Failure(400, 21604, "A 'To' phone number is required.")
        if not _E164.match(to):
            return _Failure(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not body and not media_urls:
            return _Failure(400, 21602, None)
        if len(body) > _MAX_BODY_CHARS:
            return _Failure(400, 21617, None)
        if not sender and not service:
            return _Failure(400, 21603, None)
        return None

    def _store(
        self,
        to: str,
        body: str,
        sender: str | None,
        service: str | None,
        status_callback: str | None,
        media_urls: list[str],
    ) -> _Message:
        # Caller holds self._lock.
        now = datetime.now(UTC).replace(microsecond=0)
        stamp = rfc2822(now)
        sid = new_sid("MM" if media_urls else "SM")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        segments = sms_segments(body)
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": str(len(media_urls)),
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # A Messaging Service picks the sender later, so Twilio answers "accepted" first.
            "status": "accepted" if service and not sender else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        self._seq += 1
        message = _Message(self._seq, resource, now, status_callback, media_urls, segments)
        self._messages[sid] = message
        self._by_to.setdefault(to, []).append(sid)
        second = int(time.time())
        self._stats.segments_per_second[second] = self._stats.segments_per_second.get(second, 0) + segments
        self._stats.messages_per_second[second] = self._stats.messages_per_second.get(second, 0) + 1
        self._changed.notify_all()
        return message

    def _callback_job(self, message: _Message) -> _CallbackJob | None:
        # Caller holds self._lock.
        if not self.auto_callbacks:
            return None
        statuses = list(self.auto_callbacks)
        bad = self._undeliverable.get(message.resource["to"])
        if bad is None:
            return _CallbackJob(message.resource["sid"], statuses)
        statuses = [s for s in statuses if s not in _FINAL_OK_STATUSES]
        statuses.append(bad.final_status)
        return _CallbackJob(message.resource["sid"], statuses, bad.error_code, bad.final_status)

    def _list(self, handler: _Handler, query: dict[str, list[str]]) -> None:
        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        try:
            after, before, on = self._date_filters(query)
            page_size = min(max(int(first("PageSize") or 50), 1), 1000)
            page = max(int(first("Page") or 0), 0)
        except ValueError as exc:
            handler.send_twilio_error(400, 20001, str(exc))
            return
        to, sender = first("To"), first("From")
        token = first("PageToken")
        cursor: int | None = None
        if token and token.startswith("PA") and token[2:].isdigit():
            cursor = int(token[2:])

        def wanted(m: _Message) -> bool:
            if sender is not None and m.resource["from"] != sender:
                return False
            if after is not None and m.sent_at < after:
                return False
            if before is not None and m.sent_at > before:
                return False
            return not (on is not None and not on[0] <= m.sent_at < on[1])

        with self._lock:
            if to is not None:
                pool: Iterable[_Message] = (self._messages[sid] for sid in reversed(self._by_to.get(to, [])))
            else:
                pool = reversed(self._messages.values())
            # PageToken is a cursor (seq of the last row served), so rows created while a
            # client pages through do not shift later pages; Page alone falls back to offsets.
            skip = 0 if cursor is not None else page * page_size
            rows: list[_Message] = []
            for m in pool:
                if cursor is not None and m.seq >= cursor:
                    continue
                if not wanted(m):
                    continue
                if skip:
                    skip -= 1
                    continue
                rows.append(m)
                if len(rows) > page_size:
                    break
            has_next = len(rows) > page_size
            rows = rows[:page_size]
            payload_rows = [dict(m.resource) for m in rows]

        filters = [(k, v[0]) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken") and v]

        def page_uri(number: int, token: str | None = None) -> str:
            params = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
            if token:
                params.append(("PageToken", token))
            return f"{self.messages_uri}?{urllib.parse.urlencode(params)}"

        start = page * page_size
        handler.send_json(
            200,
            {
                "messages": payload_rows,
                "page": page,
                "page_size": page_size,
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1, f"PA{rows[-1].seq}") if has_next else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "uri": page_uri(page, token),
                "start": start,
                "end": start + max(len(payload_rows) - 1, 0),
            },
        )

    @staticmethod
    def _date_filters(
        query: dict[str, list[str]],
    ) -> tuple[datetime | None, datetime | None, tuple[datetime, datetime] | None]:
        """(inclusive lower bound, inclusive upper bound, [day start, day end)) from the query.

        The SDK sends ``DateSent>`` / ``DateSent<`` / ``DateSent`` (``date_sent_after`` etc.,
        formatted ``%Y-%m-%dT%H:%M:%SZ``); a raw ``DateSent>=2024-01-02`` query string parses
        to the same keys, and an encoded ``DateSent%3E%3D`` gives ``DateSent>=``, so all are
        accepted.  Twilio treats both bounds as inclusive ("on and after").  A date-only upper
        bound covers that whole day.
        """
        after = before = None
        on = None
        for key, values in query.items():
            if not key.startswith("DateSent") or not values:
                continue
            op = key[len("DateSent") :]
            moment, date_only = _parse_moment(values[0])
            if op in (">", ">="):
                after = moment
            elif op in ("<", "<="):
                before = moment + timedelta(days=1) - timedelta(microseconds=1) if date_only else moment
            elif op == "":
                end = moment + timedelta(days=1) if date_only else moment + timedelta(seconds=1)
                on = (moment, end)
            else:
                raise ValueError(f"Unknown parameter {key}")
        return after, before, on

    # -- callbacks ---------------------------------------------------------------------------

    def _callback_worker(self) -> None:
        while True:
            with self._jobs_ready:
                self._jobs_ready.wait_for(lambda: bool(self._jobs))
                job = self._jobs.popleft()
            if job is None:
                return
            # One job carries all statuses of one message, so they arrive in order.
            for index, status in enumerate(job.statuses):
                if self._stopping.is_set():
                    return
                if index and self.callback_delay > 0:
                    self._stopping.wait(self.callback_delay)
                error_code = job.error_code if status == job.final_status else None
                with self._lock:
                    message = self._messages.get(job.sid)
                    if message is None:  # reset() in between
                        break
                    self._apply_status(message, status, error_code)
                    params = self._status_params(message.resource, status, error_code)
                    url = message.status_callback
                if url:
                    self._deliver(url, status, params)

    def _apply_status(self, message: _Message, status: str, error_code: int | None) -> None:
        # Caller holds self._lock.
        resource = message.resource
        resource["status"] = status
        resource["date_updated"] = rfc2822(datetime.now(UTC))
        if status in _FAILED_STATUSES:
            # Twilio always reports a code with failed/undelivered; 30008 is its "unknown error".
            resource["error_code"] = error_code or 30008
            resource["error_message"] = ERROR_MESSAGES.get(resource["error_code"])
        if status in ("sent", "delivered") and resource["price"] is None:
            resource["price"] = f"-{0.0075 * message.segments:.5f}"

    def _status_params(self, resource: dict[str, Any], status: str, error_code: int | None) -> dict[str, str]:
        params = {
            "MessageSid": resource["sid"],
            "SmsSid": resource["sid"],
            "AccountSid": self.account_sid,
            "From": resource["from"] or "",
            "To": resource["to"],
            "MessageStatus": status,
            "SmsStatus": status,
            "ApiVersion": API_VERSION,
        }
        if resource["messaging_service_sid"]:
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if status in _FAILED_STATUSES:
            params["ErrorCode"] = str(error_code or 30008)
        return params

    def _deliver(self, url: str, status: str, params: dict[str, str]) -> int:
        headers = {
            "X-Twilio-Signature": self.sign(url, params),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "Accept": "*/*",
        }
        if self.callback_transport is not None:
            try:
                code = int(self.callback_transport(url, params, headers))
            except Exception as exc:
                # Kept for the test to inspect; raising here would kill a callback worker.
                with self._lock:
                    self._callback_errors.append(exc)
                code = 0
        else:
            code = self._http_post(url, params, headers)
        with self._lock:
            self._callback_results.append(CallbackResult(url, status, code))
            if 200 <= code < 300:
                self._stats.callbacks_posted += 1
            else:
                self._stats.callbacks_failed += 1
            self._changed.notify_all()
        return code

    def _http_post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.callback_timeout) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code)
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            return 0

    # -- control surface (other processes) ---------------------------------------------------

    def _control(self, handler: _Handler, method: str, path: str, body: bytes) -> None:
        if method == "GET" and path == "/_fake/stats":
            handler.send_json(200, self.stats())
        elif method == "POST" and path == "/_fake/reset":
            self.reset()
            handler.send_json(200, {"ok": True})
        elif method == "POST" and path == "/_fake/config":
            try:
                self.configure(json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                handler.send_json(400, {"error": str(exc)})
                return
            handler.send_json(200, {"ok": True})
        else:
            handler.send_json(404, {"error": f"no control endpoint {method} {path}"})

    def configure(self, config: Mapping[str, Any]) -> None:
        """Apply a JSON-able config (``POST /_fake/config``).

        Keys: ``latency``, ``latency_jitter``, ``auto_callbacks`` (list), ``callback_delay``,
        ``fail_next`` ({n, status, code, message}), ``fail_every`` ({k, status, code}),
        ``fail_for`` ({to, status, code}), ``drop_response_next`` ({n, mode}), ``clear_failures``.
        """
        known = {
            "latency",
            "latency_jitter",
            "auto_callbacks",
            "callback_delay",
            "fail_next",
            "fail_every",
            "fail_for",
            "drop_response_next",
            "clear_failures",
        }
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "latency" in config:
            self.latency = float(config["latency"])
        if "latency_jitter" in config:
            self.latency_jitter = float(config["latency_jitter"])
        if "auto_callbacks" in config:
            self.auto_callbacks = [str(s) for s in config["auto_callbacks"]]
        if "callback_delay" in config:
            self.callback_delay = float(config["callback_delay"])
        if config.get("clear_failures"):
            self.clear_failures()
        if "fail_next" in config:
            self.fail_next(**config["fail_next"])
        if "fail_every" in config:
            self.fail_every(**config["fail_every"])
        if "fail_for" in config:
            self.fail_for(**config["fail_for"])
        if "drop_response_next" in config:
            self.drop_response_next(**config["drop_response_next"])

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _export(message: _Message) -> dict[str, Any]:
        exported = dict(message.resource)
        exported["subresource_uris"] = dict(message.resource["subresource_uris"])
        exported["status_callback"] = message.status_callback
        exported["media_urls"] = list(message.media_urls)
        return exported


def _parse_moment(value: str) -> tuple[datetime, bool]:
    """(UTC datetime, is_date_only) for YYYY-MM-DD, ISO 8601 or RFC 2822 values."""
    value = value.strip()
    if _DATE_ONLY.match(value):
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid date: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Twilio documents these filters as GMT
    return moment.astimezone(UTC), False


class FakeTwilioProcess:
    """Runs ``python -m tests.fakes.twilio_server`` in a child process (for multi-process benchmarks)."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        callbacks: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self._args = [
            sys.executable,
            "-m",
            "tests.fakes.twilio_server",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--jitter-ms",
            str(jitter_ms),
            *(["--callbacks", ",".join(callbacks)] if callbacks else []),
            *extra_args,
        ]
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.account_sid = ""
        self.auth_token = ""
        self.pid = 0

    def start(self) -> Self:
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            self._args, cwd=root, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            ready = selector.select(self._startup_timeout)
        line = self._proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("fake Twilio process did not start")
        info = json.loads(line)
        self.base_url = info["base_url"]
        self.account_sid = info["account_sid"]
        self.auth_token = info["auth_token"]
        self.pid = info["pid"]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with _OPENER.open(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_fake/stats")

    def reset(self) -> None:
        self._call("POST", "/_fake/reset")

    def configure(self, **config: Any) -> None:
        self._call("POST", "/_fake/config", config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--callbacks", default="", help="comma-separated statuses, e.g. sent,delivered")
    parser.add_argument("--callback-workers", type=int, default=8)
    parser.add_argument("--account-sid")
    parser.add_argument("--auth-token")
    parser.add_argument(
        "--max-recorded-requests",
        type=int,
        default=10_000,
        help="only the newest N requests are kept, so long benchmarks do not grow memory",
    )
    args = parser.parse_args(argv)

    fake = FakeTwilio(
        host=args.host,
        port=args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        latency=args.latency_ms / 1000.0,
        latency_jitter=args.jitter_ms / 1000.0,
        auto_callbacks=[s for s in args.callbacks.split(",") if s],
        callback_workers=args.callback_workers,
        max_recorded_requests=args.max_recorded_requests,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with fake:
        info = {
            "base_url": fake.base_url,
            "account_sid": fake.account_sid,
            "auth_token": fake.auth_token,
            "pid": os.getpid(),
        }
        print(json.dumps(info), flush=True)
        while not done.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
